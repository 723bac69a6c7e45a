"""The steps of a village fund's year as admin pages (`collectives/admin.py`): each page calls its
service, and a refusal — the wrong role, another area's id, a forged choice, a rule — comes back on
the page in Chinese with nothing changed, never a 500."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from collectives import services
from collectives.models import (
    CorrectionItem,
    EquityStake,
    FundPlan,
    GuarantorDebt,
    JointGroup,
    Loan,
    Repayment,
    SupervisionVisit,
)
from households.models import Household, Role, Village

from ..factories import jpeg_upload, make_user, pdf_upload, roster_row
from .conftest import lend

pytestmark = pytest.mark.django_db


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def other_village(import_rows: Any) -> dict[str, Any]:
    """吉迪村 (also 建塘镇), poor, with its own village user and one household."""
    assert import_rows([roster_row(户编号="J1", 户主姓名="农布次仁", 村委会="吉迪村")]).ok
    village = Village.objects.get(name="吉迪村")
    village.is_poor_village = True
    village.save()
    return {"village": village, "user": make_user(Role.VILLAGE, "jidi_v", village=village)}


def test_another_villages_ids_are_not_found_and_change_nothing(
    lending_village: dict[str, Any], other_village: dict[str, Any]
) -> None:
    ctx = lending_village
    loan = lend(ctx, "C1", "6000", term=6)
    intruder = client_for(other_village["user"])
    repay = intruder.post(
        f"/admin/collectives/loan/{loan.pk}/repay/",
        {"amount": "500", "paid_on": "2017-06-01", "payer": loan.household_id},
    )
    assert repay.status_code == 404
    plan = intruder.post(f"/admin/collectives/villagefund/{ctx['fund'].pk}/plan/", {"attendance": "1"})
    assert plan.status_code == 404
    assert not Repayment.objects.exists()


def test_a_role_that_does_not_do_the_step_is_refused(lending_village: dict[str, Any]) -> None:
    ctx = lending_village
    township = client_for(ctx["township_user"])
    page = township.get(f"/admin/collectives/villagefund/{ctx['fund'].pk}/plan/")
    assert page.status_code == 403
    forged = township.post(
        "/admin/collectives/jointgroup/add/",
        {"name": "乡镇伪造小组", "formed_on": "2017-04-01", "households": [ctx["households"]["C6"].pk]},
    )
    assert forged.status_code == 403
    assert not JointGroup.objects.filter(name="乡镇伪造小组").exists()


def test_the_village_drafts_its_plan_and_a_wrong_split_is_refused_in_chinese(import_rows: Any) -> None:
    assert import_rows([roster_row(户编号="C1")]).ok
    village = Village.objects.get(name="红坡村")
    village.is_poor_village = True
    village.save()
    city, village_user = make_user(Role.CITY, "city_p"), make_user(Role.VILLAGE, "hongpo_p")
    services.budget_receive(
        year=2017, amount=Decimal("1000000"), received_on=datetime.date(2017, 3, 1), reference="A", actor=city
    )
    fund = services.fund_allocate(village=village, year=2017, actor=city)
    client = client_for(village_user)
    url = f"/admin/collectives/villagefund/{fund.pk}/plan/"
    data = {"meeting_on": "2017-03-10", "attendance": "86", "lending": "600000", "equity": "200000"}
    wrong = client.post(url, {**data, "cooperative": "100000", "minutes_scan": pdf_upload("m.pdf")})
    assert wrong.status_code == 200
    assert "三项用途合计 900,000.00 元，须等于扶持资金 1,000,000.00 元" in wrong.content.decode()
    not_a_scan = client.post(
        url, {**data, "cooperative": "200000", "minutes_scan": SimpleUploadedFile("m.pdf", b"MZ\x90\x00")}
    )
    assert not_a_scan.status_code == 200 and not FundPlan.objects.exists()
    done = client.post(url, {**data, "cooperative": "200000", "minutes_scan": pdf_upload("m.pdf")})
    plan = FundPlan.objects.get()
    assert done.status_code == 302 and done["Location"].endswith(f"/fundplan/{plan.pk}/change/")
    assert (plan.lending, plan.attendance) == (Decimal("600000.00"), 86)


def test_a_payer_outside_the_group_is_refused_and_a_member_paying_is_a_guarantor_debt(
    lending_village: dict[str, Any],
) -> None:
    ctx = lending_village
    loan = lend(ctx, "C1", "6000", term=6)
    village = client_for(ctx["village_user"])
    url = f"/admin/collectives/loan/{loan.pk}/repay/"
    outsider = ctx["households"]["C7"]  # of the village, not of the group
    refused = village.post(url, {"amount": "1000", "paid_on": "2017-06-01", "payer": outsider.pk})
    assert refused.status_code == 200 and "选择一个有效的选项" in refused.content.decode()
    too_much = village.post(url, {"amount": "6000.01", "paid_on": "2017-06-01", "payer": loan.household_id})
    assert "超过该笔贷款尚欠的 6,000.00 元" in too_much.content.decode()
    assert not Repayment.objects.exists()
    member = ctx["households"]["C2"]
    done = village.post(url, {"amount": "1000", "paid_on": "2017-06-01", "payer": member.pk}, follow=True)
    assert (
        f"已登记 {member.head_name} 代 {loan.household.head_name} 还款 1,000.00 元（代偿）"
        in done.content.decode()
    )
    debt = GuarantorDebt.objects.get()
    assert (debt.debtor_id, debt.creditor_id, debt.amount) == (
        loan.household_id,
        member.pk,
        Decimal("1000.00"),
    )


def test_the_loan_form_names_the_overdue_member_and_lends_nothing(lending_village: dict[str, Any]) -> None:
    ctx = lending_village
    late = lend(ctx, "C1", "6000", term=6)  # from 1 May 2017: overdue today
    village = client_for(ctx["village_user"])
    blocked = village.post(
        "/admin/collectives/loan/add/",
        {
            "group": ctx["group"].pk,
            "household": ctx["households"]["C2"].pk,
            "principal": "5000",
            "term_months": "12",
            "frequency": "monthly",
            "purpose": "养殖藏香猪",
        },
    )
    assert blocked.status_code == 200
    assert f"联保小组有逾期未还的成员（{late.household.head_name}）" in blocked.content.decode()
    assert Loan.objects.count() == 1
    listed = village.get("/admin/collectives/jointgroup/").content.decode()
    assert late.household.head_name in listed


def test_supervision_visit_notice_and_closing_an_item_only_with_evidence(
    lending_village: dict[str, Any],
) -> None:
    ctx = lending_village
    township = client_for(ctx["township_user"])
    bad_item = township.post(
        "/admin/collectives/supervisionvisit/add/",
        {
            "village": ctx["fund"].pk,
            "visited_on": "2017-06-20",
            "inspectors": "乡政府、村党总支、驻村工作组",
            "findings": "借款台账未按月登记。",
            "items": "补登借款台账，七月五日",
        },
    )
    assert "第 1 行 整改期限 “七月五日”" in bad_item.content.decode()
    assert not SupervisionVisit.objects.exists()
    township.post(
        "/admin/collectives/supervisionvisit/add/",
        {
            "village": ctx["fund"].pk,
            "visited_on": "2017-06-20",
            "inspectors": "乡政府、村党总支、驻村工作组",
            "findings": "借款台账未按月登记。",
            "items": "补登借款台账，2017-07-05",
            "photo": jpeg_upload(),
        },
    )
    visit = SupervisionVisit.objects.get()
    assert visit.notice_pdf and visit.notice_pdf.open("rb").read(4) == b"%PDF"
    item = CorrectionItem.objects.get()
    village = client_for(ctx["village_user"])
    url = f"/admin/collectives/correctionitem/{item.pk}/close/"
    without = village.post(url, {"closed_on": "2017-07-04"})
    assert without.status_code == 200 and CorrectionItem.objects.get().closed_on is None
    village.post(url, {"closed_on": "2017-07-04", "evidence": pdf_upload("ledger.pdf")})
    assert CorrectionItem.objects.get().closed_on == datetime.date(2017, 7, 4)


def test_equity_dividend_shares_name_the_bad_line(lending_village: dict[str, Any]) -> None:
    ctx = lending_village
    village = client_for(ctx["village_user"])
    partner = services_counterparty()
    village.post(
        "/admin/collectives/equitystake/add/",
        {
            "fund": ctx["fund"].pk,
            "counterparty": partner.pk,
            "principal": "150000",
            "invested_on": "2017-05-10",
            "agreement_scan": pdf_upload("agreement.pdf"),
        },
    )
    stake = EquityStake.objects.get()
    url = f"/admin/collectives/equitystake/{stake.pk}/dividend/"
    data = {"year": "2017", "amount": "9000", "received_on": "2017-12-20"}
    bad = village.post(url, {**data, "shares": "C1，3000\nNOPE，3000"})
    assert "第 2 行 户编号 “NOPE”：不是本村的贫困户。" in bad.content.decode()
    village.post(url, {**data, "shares": "C1，3000\nC2, 3000.00"})
    assert sorted(stake.dividends.get().shares.values_list("amount", flat=True)) == [Decimal("3000.00")] * 2
    assert Household.objects.get(code="C1").pk in stake.dividends.get().shares.values_list(
        "household", flat=True
    )


def services_counterparty() -> Any:
    from collectives.models import Counterparty

    return Counterparty.objects.create(name="香格里拉藏香猪专业合作社", kind="cooperative")


def test_the_report_is_generated_submitted_published_at_three_levels_and_accepted(
    lending_village: dict[str, Any],
) -> None:
    ctx = lending_village
    lend(ctx, "C1", "6000", term=6)
    village = client_for(ctx["village_user"])
    village.post(f"/admin/collectives/villagefund/{ctx['fund'].pk}/report/", {"as_of": "2017-12-31"})
    report = ctx["fund"].report
    township = client_for(ctx["township_user"])
    township.post(f"/admin/collectives/yearendreport/{report.pk}/submit/", {"submitted_on": "2018-01-05"})
    group = Household.objects.get(code="C1").group
    published = township.post(
        f"/admin/collectives/yearendreport/{report.pk}/publish/",
        {"start": "2018-01-06", "days": "10", "groups": [group.pk]},
        follow=True,
    )
    assert "已印发 3 份公示" in published.content.decode()
    city = client_for(make_user(Role.CITY, "city_accept"))
    early_village = village.post(
        f"/admin/collectives/yearendreport/{report.pk}/accept/",
        {"outcome": "passed", "accepted_on": "2018-02-20"},
    )
    assert early_village.status_code == 403
    city.post(
        f"/admin/collectives/yearendreport/{report.pk}/accept/",
        {"outcome": "passed", "note": "账实相符", "accepted_on": "2018-02-20"},
    )
    report.refresh_from_db()
    assert (report.submitted_on, report.outcome) == (datetime.date(2018, 1, 5), "passed")


def test_a_member_leaves_only_while_the_group_has_no_open_loan(lending_village: dict[str, Any]) -> None:
    ctx = lending_village
    member = ctx["group"].members.get(household=ctx["households"]["C5"])
    village = client_for(ctx["village_user"])
    url = f"/admin/collectives/jointgroup/member/{member.pk}/leave/"
    lend(ctx, "C1", "6000", term=6)
    refused = village.post(url, {"left_on": "2017-06-01"})
    assert services.MSG_LEAVE_OPEN in refused.content.decode()
    member.refresh_from_db()
    assert member.left_on is None


def test_cooperative_spending_needs_its_voucher_and_moves_the_sub_account(
    lending_village: dict[str, Any],
) -> None:
    from collectives.models import CooperativeTransaction

    ctx = lending_village
    village = client_for(ctx["village_user"])
    data = {
        "fund": ctx["fund"].pk,
        "kind": "spending",
        "amount": "80000",
        "occurred_on": "2017-06-01",
        "purpose": "购置青稞加工设备",
    }
    missing = village.post("/admin/collectives/cooperativetransaction/add/", data)
    assert missing.status_code == 200 and not CooperativeTransaction.objects.exists()
    done = village.post(
        "/admin/collectives/cooperativetransaction/add/",
        {**data, "voucher_scan": pdf_upload("v.pdf")},
        follow=True,
    )
    assert "已登记支出 80,000.00 元：购置青稞加工设备。" in done.content.decode()


def test_a_repayment_form_sent_twice_is_recorded_once(lending_village: dict[str, Any]) -> None:
    """A double click (or the page sent again) posts the same form twice: one repayment, and the second
    request says so; a refused form's token is not used up, so the corrected form goes through."""
    ctx = lending_village
    loan = lend(ctx, "C1", "6000", term=6)
    village = client_for(ctx["village_user"])
    url = f"/admin/collectives/loan/{loan.pk}/repay/"
    page = village.get(url)
    token = page.context["once_token"]
    assert f'value="{token}"' in page.content.decode()
    refused = village.post(
        url, {"amount": "6000.01", "paid_on": "2017-06-01", "payer": loan.household_id, "_once": token}
    )
    assert "超过该笔贷款尚欠" in refused.content.decode()
    form = {"amount": "1000", "paid_on": "2017-06-01", "payer": loan.household_id, "_once": token}
    first = village.post(url, form)
    assert first.status_code == 302
    again = village.post(url, form)
    assert again.status_code == 200 and "这张表单已经提交过一次，未重复办理" in again.content.decode()
    assert Repayment.objects.filter(loan=loan).count() == 1
    assert services.outstanding(loan) == Decimal("5000.00")
