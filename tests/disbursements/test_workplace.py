"""The officials' workplace: the batch page with its buttons and confirmations, payout recording with
the real date and reference (households left open with a reason), the to-do panel and the menu, and
the allocation preview's new money."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from disbursements.approval import advance
from disbursements.models import Batch, BatchLine, Entry, Payout, Transition
from households.models import Household, Role
from subsidies.money import services

from ..factories import jpeg_bytes, make_user

pytestmark = pytest.mark.django_db


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def page(batch: Batch) -> str:
    return reverse("admin:disbursements_batch_change", args=[batch.pk])


def act(batch: Batch, action: str) -> str:
    return reverse("admin:disbursements_batch_act", args=[batch.pk, action])


def pay(batch: Batch) -> str:
    return reverse("admin:disbursements_batch_pay", args=[batch.pk])


@pytest.fixture
def hongpo_batch(city_year: dict[str, Any]) -> Batch:
    """红坡村's tranche 1, prepared by the village: H1, H2 (李明) and H3 (王芳)."""
    services.allocate(year=2017, actor=None)
    return services.batch_prepare(
        village=city_year["hongpo"], year=2017, tranche=1, actor=city_year["village_user"]
    )


def approve(batch: Batch, data: dict[str, Any]) -> None:
    advance([batch], action="submit", actor=data["village_user"])
    advance([batch], action="verify", actor=make_user(Role.VILLAGE, "hongpo_second"))
    advance([batch], action="township_review", actor=data["township_user"])
    advance([batch], action="city_review", actor=data["city_user"])
    advance([batch], action="approve", actor=data["approver"])


def test_the_cadre_prepares_and_lands_on_the_batch_page_with_the_submit_button(
    city_year: dict[str, Any],
) -> None:
    services.allocate(year=2017, actor=None)
    liming = client_for(city_year["cadres"]["李明"])
    response = liming.post(
        "/cadre/batches/prepare/?year=2017", {"village": city_year["hongpo"].pk, "tranche": "1"}, follow=True
    )
    batch = Batch.objects.get()
    assert response.redirect_chain[-1][0] == page(batch)
    html = response.content.decode()
    assert "已准备批次" in html and "提交入户核实" in html
    # The programme's columns: 户编号, 户主, 产业, in the cadre's own lines only.
    assert "户编号" in html and "<td>H1</td>" in html and "<td>H2</td>" in html and "<td>H3</td>" not in html
    assert "下一步：<b>提交入户核实</b>" in html


def test_a_step_from_the_batch_page_confirms_count_and_total_then_moves(
    hongpo_batch: Batch, city_year: dict[str, Any]
) -> None:
    village = client_for(city_year["village_user"])
    confirm = village.get(act(hongpo_batch, "submit")).content.decode()
    total = f"{hongpo_batch.total:,.2f} 元"
    assert "共 <b>3</b> 户" in confirm and total in confirm
    response = village.post(act(hongpo_batch, "submit"), {"note": "已核对"}, follow=True)
    hongpo_batch.refresh_from_db()
    assert hongpo_batch.status == "prepared"
    html = response.content.decode()
    assert "提交入户核实：" in html and total in html
    assert "已核对" in html  # the transition log, on the page
    # Maker-checker, shown before the click: the same official cannot verify what they submitted.
    assert "审核与经办分离" in html
    refused = village.post(act(hongpo_batch, "verify"), {"note": "x"}, follow=True).content.decode()
    hongpo_batch.refresh_from_db()
    assert hongpo_batch.status == "prepared" and "审核与经办分离" in refused


def test_the_township_sends_back_with_a_reason_and_a_forged_step_changes_nothing(
    hongpo_batch: Batch, city_year: dict[str, Any]
) -> None:
    advance([hongpo_batch], action="submit", actor=city_year["village_user"])
    advance([hongpo_batch], action="verify", actor=make_user(Role.VILLAGE, "hongpo_second"))
    township = client_for(city_year["township_user"])
    html = township.get(page(hongpo_batch)).content.decode()
    assert "乡镇复核汇总" in html and "退回上一步" in html
    assert township.post(act(hongpo_batch, "send_back"), {"note": ""}, follow=True).status_code == 200
    hongpo_batch.refresh_from_db()
    assert hongpo_batch.status == "verified"  # no reason, no send-back
    township.post(act(hongpo_batch, "send_back"), {"note": "H3 种苗未落实"})
    hongpo_batch.refresh_from_db()
    assert hongpo_batch.status == "prepared"
    assert Transition.objects.filter(batch=hongpo_batch, action="send_back", note="H3 种苗未落实").exists()
    # A cadre forging the village's step: refused by the service, nothing moves.
    liming = client_for(city_year["cadres"]["李明"])
    assert liming.get(act(hongpo_batch, "verify")).status_code == 403
    liming.post(act(hongpo_batch, "verify"), {"note": "forged"})
    hongpo_batch.refresh_from_db()
    assert hongpo_batch.status == "prepared"


def test_another_areas_batch_is_not_found(hongpo_batch: Batch, city_year: dict[str, Any]) -> None:
    zhangwei = client_for(city_year["cadres"]["张伟"])  # 虎跳峡镇
    assert zhangwei.get(page(hongpo_batch)).status_code == 404
    assert zhangwei.get(pay(hongpo_batch)).status_code == 404
    assert zhangwei.post(act(hongpo_batch, "submit")).status_code == 404


def test_payouts_with_the_real_date_reference_and_a_household_left_open(
    hongpo_batch: Batch, city_year: dict[str, Any]
) -> None:
    approve(hongpo_batch, city_year)
    village = client_for(city_year["village_user"])
    lines = {line.account.name: line for line in BatchLine.objects.filter(batch=hongpo_batch)}
    h3 = next(line for name, line in lines.items() if "H3" in name or line.amount == Decimal("1200.00"))
    others = [line for line in lines.values() if line.pk != h3.pk]
    paid_on = (timezone.localdate() - datetime.timedelta(days=2)).isoformat()
    form = {
        "paid_on": paid_on,
        "method": "bank",
        "reference": "NX20170715",
        **{f"pay-{line.pk}": "1" for line in others},
        f"reason-{h3.pk}": "外出务工",
    }
    # Unticked without a reason: refused, naming the household; nothing recorded.
    missing = village.post(pay(hongpo_batch), {**form, f"reason-{h3.pk}": "", "stage": "confirm"})
    assert "须写明原因" in missing.content.decode() and h3.account.name in missing.content.decode()
    # A date in the future: refused.
    future = (timezone.localdate() + datetime.timedelta(days=1)).isoformat()
    assert (
        "晚于今天"
        in village.post(pay(hongpo_batch), {**form, "paid_on": future, "stage": "confirm"}).content.decode()
    )
    # The confirmation shows what will be recorded: count and total.
    confirm = village.post(pay(hongpo_batch), {**form, "stage": "confirm"}).content.decode()
    total = sum((line.amount for line in others), Decimal("0.00"))
    assert f"兑现 <b>{len(others)}</b> 户" in confirm and f"{total:,.2f} 元" in confirm
    assert "外出务工" in confirm and not Payout.objects.exists()
    receipt = jpeg_bytes()
    from django.core.files.uploadedfile import SimpleUploadedFile

    done = village.post(
        pay(hongpo_batch),
        {**form, "stage": "record", "receipt": SimpleUploadedFile("roll.jpg", receipt, "image/jpeg")},
        follow=True,
    ).content.decode()
    assert f"已登记兑现 {len(others)} 户" in done and "1 户未兑现" in done
    payouts = list(Payout.objects.all())
    assert {p.paid_on.isoformat() for p in payouts} == {paid_on}
    assert {p.reference for p in payouts} == {"NX20170715"} and all(p.method == "bank" for p in payouts)
    assert all(p.receipt.name for p in payouts)
    h3.refresh_from_db()
    hongpo_batch.refresh_from_db()
    assert h3.unpaid_reason == "外出务工" and hongpo_batch.status == "approved"
    assert "未兑现：外出务工" in village.get(page(hongpo_batch)).content.decode()
    # A double submit of the same recording pays nobody twice.
    village.post(pay(hongpo_batch), {**form, "stage": "record"})
    assert Payout.objects.count() == len(others)
    # Later, the household comes back: paid from the same batch, which is then paid in full.
    village.post(
        pay(hongpo_batch),
        {
            "paid_on": timezone.localdate().isoformat(),
            "method": "cash",
            f"pay-{h3.pk}": "1",
            "stage": "record",
        },
    )
    hongpo_batch.refresh_from_db()
    h3.refresh_from_db()
    assert hongpo_batch.status == "paid" and h3.unpaid_reason == ""
    assert services.reconcile(year=2017)[1] == []


def test_the_cadre_pays_only_their_own_households(hongpo_batch: Batch, city_year: dict[str, Any]) -> None:
    approve(hongpo_batch, city_year)
    liming = client_for(city_year["cadres"]["李明"])
    html = liming.get(pay(hongpo_batch)).content.decode()
    assert "待兑现 2 户" in html  # H1, H2; not 王芳's H3
    theirs = BatchLine.objects.exclude(account__holder=city_year["cadres"]["李明"]).get(batch=hongpo_batch)
    liming.post(
        pay(hongpo_batch),
        {
            "paid_on": timezone.localdate().isoformat(),
            "method": "cash",
            f"pay-{theirs.pk}": "1",
            "stage": "record",
        },
    )
    assert not Payout.objects.filter(line=theirs).exists()


def test_the_to_do_panel_says_what_waits_for_each_role(
    hongpo_batch: Batch, city_year: dict[str, Any]
) -> None:
    village = client_for(city_year["village_user"])
    home = village.get(reverse("admin:index")).content.decode()
    assert f"待我办理的拨付批次：<b>1</b> 批，{hongpo_batch.total:,.2f} 元" in home
    assert "?queue=mine&amp;year=2017" in home
    township = client_for(city_year["township_user"])
    assert "目前没有等您办理的事项" in township.get(reverse("admin:index")).content.decode()
    # The letters: 15 April 2017 is long past, every demo letter is signed; unsign one.
    from subsidies.models import CommitmentLetter

    CommitmentLetter.objects.filter(plan=city_year["plans"]["H1"]).delete()
    home = client_for(city_year["cadres"]["李明"]).get(reverse("admin:index")).content.decode()
    assert "4 月 15 日后仍未签订到户承诺书的计划：<b>1</b> 户" in home
    # The dashboard shows the same panel.
    assert "待我办理的拨付批次" in village.get("/dashboard/?year=2017").content.decode()


def test_the_menu_has_allocation_and_reconciliation_with_a_year(city_year: dict[str, Any]) -> None:
    city = client_for(city_year["city_user"]).get(reverse("admin:index")).content.decode()
    assert 'formaction="/admin/subsidies/grantline/allocate/"' in city
    assert 'formaction="/admin/disbursements/account/reconcile/"' in city
    assert 'name="year"' in city
    cadre = client_for(city_year["cadres"]["李明"]).get(reverse("admin:index")).content.decode()
    assert "资金下拨" not in cadre and "资金对账" not in cadre


def test_the_allocation_preview_shows_new_money_apart_from_the_entries_per_level(
    city_year: dict[str, Any],
) -> None:
    html = (
        client_for(city_year["city_user"])
        .get("/admin/subsidies/grantline/allocate/?year=2017")
        .content.decode()
    )
    # 6 households × 3,000 = 18,000 of new money, booked once per level (city, township, village, cadre).
    assert "需新增资金：<strong>18,000.00 元</strong>" in html
    assert "市指挥部 → 乡镇" in html and "村委会 → 挂包干部" in html
    result = services.allocate(year=2017, actor=None, dry_run=True)
    assert result.new_money == Decimal("18000.00")
    assert result.amount_moved == Decimal("72000.00")  # the old, misleading sum of every level


def test_the_allocation_preview_says_money_goes_back_when_households_fell_away(
    city_year: dict[str, Any],
) -> None:
    services.allocate(year=2017, actor=None)
    Household.objects.filter(code="H2").update(exit_year=2015)  # no longer eligible
    html = (
        client_for(city_year["city_user"])
        .get("/admin/subsidies/grantline/allocate/?year=2017")
        .content.decode()
    )
    assert "本次需退回资金来源：<strong>3,000.00 元</strong>" in html
    assert "-3,000.00" not in html


def test_only_city_hq_may_post_an_allocation_even_with_a_forged_form(city_year: dict[str, Any]) -> None:
    for user in (city_year["township_user"], city_year["village_user"], city_year["approver"]):
        response = client_for(user).post(
            "/admin/subsidies/grantline/allocate/?year=2017", {"year": "2017", "confirm": "yes"}
        )
        assert response.status_code == 403
    assert not Entry.objects.exists()
