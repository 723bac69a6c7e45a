"""Money from the city to households: allocation, the approval chain, payouts, reconciliation."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from disbursements import ledger
from disbursements.approval import advance, send_back
from disbursements.models import Account, Batch, Entry, Payout, Transition
from households.models import Household
from subsidies.models import HouseholdPlan
from subsidies.money import services

from ..factories import jpeg_upload

pytestmark = pytest.mark.django_db
TODAY = datetime.date(2017, 5, 1)


def balance_of(account: Account, year: int = 2017) -> Decimal:
    return ledger.balances([account], year)[account.pk]


def test_allocation_follows_eligible_households_down_every_level(city_year: dict[str, Any]) -> None:
    result = services.allocate(year=2017, actor=city_year["city_user"])
    # 6 eligible: H1 H2 H3 J1 J2(2016 + 巩固提升) T1; X1 (2015) is not.
    assert result.households == 6
    assert result.target_total == Decimal("18000.00")
    township = Account.objects.get(kind="township", township__name="建塘镇")
    assert balance_of(township) == 0  # all passed on
    village = Account.objects.get(kind="village", village__name="红坡村")
    assert balance_of(village) == 0
    limings = Account.objects.get(kind="cadre", holder=city_year["cadres"]["李明"], village__name="红坡村")
    assert balance_of(limings) == Decimal("6000.00")  # H1, H2 (X1 is not eligible)
    wangfang_jidi = Account.objects.get(
        kind="cadre", holder=city_year["cadres"]["王芳"], village__name="吉迪村"
    )
    assert balance_of(wangfang_jidi) == Decimal("6000.00")
    city, problems = services.reconcile(year=2017)
    assert problems == []
    assert city.allocated == Decimal("18000.00") and city.passed_on == Decimal("18000.00")


def test_allocation_is_idempotent_and_posts_only_the_difference(
    city_year: dict[str, Any], import_rows
) -> None:  # type: ignore[no-untyped-def]
    services.allocate(year=2017, actor=None)
    entries = Entry.objects.count()
    again = services.allocate(year=2017, actor=None)
    assert again.moves == [] and Entry.objects.count() == entries
    # A roster change: H2 turns out to have exited in 2015, T1 moves to 虎跳峡镇's 长胜村 (same township).
    Household.objects.filter(code="H2").update(exit_year=2015)
    diff = services.allocate(year=2017, actor=None)
    moved = {(m.source.name, m.target.name, m.amount) for m in diff.moves}
    assert ("李明（红坡村）", "红坡村", Decimal("3000.00")) in moved  # returned up level by level
    assert ("香格里拉市产业扶贫指挥部", "财政专项扶贫资金", Decimal("3000.00")) in moved
    assert services.reconcile(year=2017)[1] == []
    assert services.allocate(year=2017, actor=None).moves == []


def test_dry_run_allocation_posts_nothing(city_year: dict[str, Any]) -> None:
    result = services.allocate(year=2017, actor=None, dry_run=True)
    assert result.amount_moved > 0
    assert not Entry.objects.exists() and not Account.objects.exists()


def run_chain(batch: Batch, data: dict[str, Any], preparer: Any) -> None:
    advance([batch], action="submit", actor=preparer)
    advance([batch], action="verify", actor=data["village_user"], note="入户核实：种苗已落实")
    advance([batch], action="township_review", actor=data["township_user"])
    advance([batch], action="city_review", actor=data["city_user"])
    advance([batch], action="approve", actor=data["approver"])


def test_tranche_one_goes_through_every_step_and_pays_once(city_year: dict[str, Any]) -> None:
    services.allocate(year=2017, actor=None)
    liming = city_year["cadres"]["李明"]
    batch = services.batch_prepare(village=city_year["hongpo"], year=2017, tranche=1, actor=liming)
    assert batch.line_count == 2 and batch.total == Decimal("2100.00")  # H1 900 + H2 1,200
    assert set(
        HouseholdPlan.objects.filter(status="submitted").values_list("household__code", flat=True)
    ) == {"H1", "H2"}
    run_chain(batch, city_year, liming)
    assert [t.action for t in Transition.objects.filter(batch=batch)] == [
        "submit",
        "verify",
        "township_review",
        "city_review",
        "approve",
    ]
    assert HouseholdPlan.objects.get(household__code="H1").status == "approved"
    result = services.payouts_record(batch=batch, actor=liming, paid_on=TODAY)
    assert result.paid == 2 and result.batch_paid
    batch.refresh_from_db()
    assert batch.status == "paid"
    with pytest.raises(ValidationError, match="已全部兑现"):
        services.payouts_record(batch=batch, actor=liming, paid_on=TODAY)  # a double click
    assert Payout.objects.count() == 2
    h1 = Account.objects.get(kind="household", grant_household__household__code="H1")
    assert balance_of(h1) == Decimal("900.00")
    city, problems = services.reconcile(year=2017)
    assert problems == []
    jiantang = next(t for t in city.children if t.name == "建塘镇")
    hongpo = next(v for v in jiantang.children if v.name == "红坡村")
    assert hongpo.paid == Decimal("2100.00") and hongpo.held == hongpo.allocated - Decimal("2100.00")


def test_maker_checker_order_role_and_scope_are_enforced_by_the_server(city_year: dict[str, Any]) -> None:
    liming = city_year["cadres"]["李明"]
    batch = services.batch_prepare(village=city_year["hongpo"], year=2017, tranche=1, actor=liming)
    with pytest.raises(ValidationError, match="不能办理“乡镇复核汇总”"):
        advance([batch], action="township_review", actor=city_year["township_user"])  # out of order
    with pytest.raises(ValidationError, match="须由村委会"):
        advance([batch], action="verify", actor=liming)  # wrong role
    advance([batch], action="submit", actor=liming)
    # A village official who is also the maker of the previous step: build one by making them submit.
    from households.models import Role

    from ..factories import make_user

    other_village = make_user(Role.VILLAGE, village=city_year["jidi"])
    with pytest.raises(ValidationError, match="管辖范围"):
        advance([batch], action="verify", actor=other_village)  # another village's official
    advance([batch], action="verify", actor=city_year["village_user"])
    with pytest.raises(ValidationError, match="理由"):
        send_back([batch], actor=city_year["township_user"], reason=" ")
    send_back([batch], actor=city_year["township_user"], reason="H2 养羊数量与实地不符")
    batch.refresh_from_db()
    assert batch.status == "prepared"
    # The village official verified last time; after the send-back it waits for verification again,
    # and the township user who sent it back is not the one to verify it.
    with pytest.raises(ValidationError, match="同一人不能办理下一步"):
        advance(
            [batch], action="verify", actor=_as_village_role(city_year["township_user"], city_year["hongpo"])
        )


def _as_village_role(user: Any, village: Any) -> Any:
    user.role, user.village, user.township = "village", village, village.township
    user.save()
    return user


def test_tranche_two_needs_tranche_one_paid_and_tranche_three_goes_through_settlement(
    city_year: dict[str, Any],
) -> None:
    services.allocate(year=2017, actor=None)
    liming = city_year["cadres"]["李明"]
    with pytest.raises(ValidationError, match="第一期已兑现"):
        services.batch_prepare(village=city_year["hongpo"], year=2017, tranche=2, actor=liming)
    with pytest.raises(ValidationError, match="产后结算"):
        services.batch_prepare(village=city_year["hongpo"], year=2017, tranche=3, actor=liming)
    first = services.batch_prepare(village=city_year["hongpo"], year=2017, tranche=1, actor=liming)
    with pytest.raises(ValidationError, match="没有可列入"):
        services.batch_prepare(
            village=city_year["hongpo"], year=2017, tranche=1, actor=liming
        )  # already in a batch
    run_chain(first, city_year, liming)
    services.payouts_record(batch=first, actor=liming, paid_on=TODAY)
    second = services.batch_prepare(village=city_year["hongpo"], year=2017, tranche=2, actor=liming)
    assert second.total == Decimal("700.00")  # H1 300 + H2 400


def test_payout_without_allocated_money_is_refused_and_writes_nothing(city_year: dict[str, Any]) -> None:
    liming = city_year["cadres"]["李明"]
    batch = services.batch_prepare(village=city_year["hongpo"], year=2017, tranche=1, actor=liming)
    run_chain(batch, city_year, liming)
    with pytest.raises(ValidationError, match="余额不足"):
        services.payouts_record(batch=batch, actor=liming, paid_on=TODAY)
    assert not Payout.objects.exists() and not Entry.objects.exists()


def test_a_wrong_entry_is_reversed_never_edited(city_year: dict[str, Any]) -> None:
    services.allocate(year=2017, actor=None)
    entry = Entry.objects.filter(kind="allocation").first()
    assert entry is not None
    with pytest.raises(RuntimeError):
        entry.memo = "改"
        entry.save()
    with pytest.raises(RuntimeError):
        entry.delete()
    reversal = ledger.reverse(entry, actor=city_year["city_user"], reason="测试冲正")
    assert reversal.amount == entry.amount and reversal.source_id == entry.target_id
    with pytest.raises(ValidationError, match="已冲正过"):
        ledger.reverse(entry, actor=city_year["city_user"], reason="再冲")


def test_approving_many_batches_costs_a_constant_number_of_queries(city_year: dict[str, Any]) -> None:
    liming, wang = city_year["cadres"]["李明"], city_year["cadres"]["王芳"]
    small = [services.batch_prepare(village=city_year["hongpo"], year=2017, tranche=1, actor=liming)]
    advance(small, action="submit", actor=liming)
    advance(small, action="verify", actor=city_year["village_user"])
    with CaptureQueriesContext(connection) as one:
        advance(small, action="township_review", actor=city_year["township_user"])
    many = [
        services.batch_prepare(village=city_year["hongpo"], year=2017, tranche=1, actor=wang),
        services.batch_prepare(village=city_year["jidi"], year=2017, tranche=1, actor=wang),
    ]
    advance(many, action="submit", actor=wang)
    from households.models import Role

    from ..factories import make_user

    jidi_official = make_user(Role.VILLAGE, village=city_year["jidi"])
    advance([many[0]], action="verify", actor=city_year["village_user"])
    advance([many[1]], action="verify", actor=jidi_official)
    with CaptureQueriesContext(connection) as two:
        advance(many, action="township_review", actor=city_year["township_user"])
    assert len(two.captured_queries) == len(one.captured_queries)


def test_allocate_and_reconcile_commands(city_year: dict[str, Any]) -> None:
    import io
    import json

    from django.core.management import call_command

    out = io.StringIO()
    call_command("allocate", "--year", "2017", "--dry-run", stdout=out)
    assert "将记账" in out.getvalue() and not Entry.objects.exists()
    call_command("allocate", "--year", "2017", stdout=(out := io.StringIO()))
    assert "符合条件 6 户，应下拨 18,000.00 元" in out.getvalue()
    assert "逐笔明细：加 --verbosity 2" in out.getvalue() and "红坡村 →" not in out.getvalue()
    call_command("allocate", "--year", "2017", stdout=(out := io.StringIO()))
    assert "无需下拨" in out.getvalue()
    call_command("reconcile", "--year", "2017", "--json", stdout=(out := io.StringIO()))
    report = json.loads(out.getvalue())
    jiantang = next(t for t in report if t["township"] == "建塘镇")
    assert (
        jiantang["allocated"] == "15000.00"
        and jiantang["passed_on"] == "15000.00"
        and jiantang["held"] == "0.00"
    )
    hongpo = next(v for v in jiantang["villages"] if v["village"] == "红坡村")
    assert set(hongpo) >= {"village", "allocated", "passed_on", "paid", "recovered", "held"}
    assert hongpo["allocated"] == "9000.00"


def test_reconcile_exits_1_and_names_the_difference(city_year: dict[str, Any]) -> None:
    import io

    from django.core.management import call_command

    services.allocate(year=2017, actor=None)
    # Tamper with the books behind the ledger's back: a raw update the services would never do.
    entry = Entry.objects.filter(
        kind="allocation", target__kind="village", target__village__name="红坡村"
    ).get()
    Entry.objects.filter(pk=entry.pk).update(amount=entry.amount - Decimal("0.01"))
    err = io.StringIO()
    with pytest.raises(SystemExit) as exit_info:
        call_command("reconcile", "--year", "2017", stdout=io.StringIO(), stderr=err)
    assert exit_info.value.code == 1
    assert "差 0.01 元" in err.getvalue() or "差 -0.01 元" in err.getvalue()


def test_paying_a_batch_costs_the_same_queries_for_3_or_60_households() -> None:
    from subsidies.money.bench_support import approved_batch

    counts = []
    for size, village, prefix in ((3, "红坡村", "QA"), (60, "吉迪村", "QB")):
        batch = approved_batch(households=size, village_name=village, prefix=prefix)
        assert batch.line_count == size
        with CaptureQueriesContext(connection) as ctx:
            result = services.payouts_record(batch=batch, actor=batch.created_by, paid_on=TODAY)
        assert result.paid == size and result.batch_paid
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], counts


def test_verification_in_the_admin_records_the_note_and_photos(city_year: dict[str, Any]) -> None:
    from django.test import Client

    liming = city_year["cadres"]["李明"]
    batch = services.batch_prepare(village=city_year["hongpo"], year=2017, tranche=1, actor=liming)
    advance([batch], action="submit", actor=liming)
    client = Client()
    client.force_login(city_year["village_user"])
    page = client.post("/admin/disbursements/batch/", {"action": "do_verify", "_selected_action": [batch.pk]})
    assert "入户核实照片" in page.content.decode()  # the confirmation page asks for the note and photos
    batch.refresh_from_db()
    assert batch.status == "prepared"  # nothing happened yet
    client.post(
        "/admin/disbursements/batch/",
        {
            "action": "do_verify",
            "_selected_action": [batch.pk],
            "confirm": "yes",
            "note": "两户种苗已到位",
            "attachment": jpeg_upload("入户核实.jpg"),
        },
    )
    batch.refresh_from_db()
    transition = Transition.objects.get(batch=batch, action="verify")
    assert batch.status == "verified" and transition.note == "两户种苗已到位"
    assert (transition.attachment.name or "").startswith("transitions/")


def test_payouts_can_be_recorded_as_bank_transfers(city_year: dict[str, Any]) -> None:
    services.allocate(year=2017, actor=None)
    liming = city_year["cadres"]["李明"]
    batch = services.batch_prepare(village=city_year["hongpo"], year=2017, tranche=1, actor=liming)
    run_chain(batch, city_year, liming)
    services.payouts_record(batch=batch, actor=liming, paid_on=TODAY, method="bank")
    assert set(Payout.objects.values_list("method", flat=True)) == {"bank"}
