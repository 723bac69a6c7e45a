"""The fund's life through the services: allocation, plan, loans refused with their reasons,
repayments in policy order, the group block and 代偿, write-off and recoveries, rescheduling."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from collectives import accounts, loan_batches, services
from collectives.models import FundPlan, GuarantorDebt, Instalment, Loan, ReserveAllocation
from disbursements import approval, ledger
from disbursements.reconcile import reconcile
from households.models import Village

from ..factories import pdf_upload
from .conftest import lend, publish_and_approve

pytestmark = pytest.mark.django_db
D = Decimal


def balance(village: Village, kind: str) -> Decimal:
    account = accounts.village_account(village, kind)
    return ledger.balances([account], 2017)[account.pk]


def test_approved_plan_releases_money_into_the_sub_accounts(lending_village: dict[str, Any]) -> None:
    village = lending_village["village"]
    assert balance(village, accounts.UNALLOCATED) == 0
    assert balance(village, accounts.LENDING) == D("600000.00")
    assert balance(village, accounts.EQUITY) == D("200000.00")
    assert balance(village, accounts.COOPERATIVE) == D("200000.00")
    assert reconcile(year=2017, fund=accounts.FUND)[0].problems == []


def test_only_a_poor_village_gets_a_fund_and_only_once(lending_village: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="已下拨"):
        services.fund_allocate(
            village=lending_village["village"], year=2017, actor=lending_village["city_user"]
        )
    jidi = Village.objects.get(name="吉迪村")
    with pytest.raises(ValidationError, match="不是 2017 年贫困村"):
        services.fund_allocate(village=jidi, year=2017, actor=lending_village["city_user"])


def test_plan_is_not_approved_before_its_notice_closes(lending_village: dict[str, Any]) -> None:
    jidi = Village.objects.get(name="吉迪村")
    jidi.is_poor_village = True
    jidi.save()
    from households.models import Role

    from ..factories import make_user

    users = {
        "city_user": lending_village["city_user"],
        "village_user": make_user(Role.VILLAGE, "jidi_c", village=jidi),
        "township_user": lending_village["township_user"],
    }
    fund = services.fund_allocate(village=jidi, year=2017, actor=users["city_user"])
    with pytest.raises(ValidationError, match="须等于扶持资金"):
        services.plan_draft(
            fund=fund,
            meeting_on=datetime.date(2017, 3, 1),
            attendance=40,
            minutes_scan=pdf_upload(),
            lending=D("600000"),
            equity=D("300000"),
            cooperative=D("200000"),
            actor=users["village_user"],
        )
    plan = services.plan_draft(
        fund=fund,
        meeting_on=datetime.date(2017, 3, 1),
        attendance=40,
        minutes_scan=pdf_upload(),
        lending=D("1000000"),
        equity=D("0"),
        cooperative=D("0"),
        actor=users["village_user"],
    )
    with pytest.raises(ValidationError, match="须先经公示"):
        services.plan_approve(plan=plan, actor=users["township_user"])
    assert balance(jidi, accounts.LENDING) == 0
    assert publish_and_approve(plan, users).status == FundPlan.Status.APPROVED
    assert balance(jidi, accounts.LENDING) == D("1000000.00")


def test_refusals_name_their_reason(lending_village: dict[str, Any]) -> None:
    ctx = lending_village
    with pytest.raises(ValidationError, match=re.escape("不能超过 20,000.00 元")):
        lend(ctx, "C1", "20001")
    with pytest.raises(ValidationError, match="不能超过 36 个月"):
        lend(ctx, "C1", "20000", term=37)
    with pytest.raises(ValidationError, match="不是该联保小组的在组成员"):
        lend(ctx, "C6")
    with pytest.raises(ValidationError, match="至少须有 5 户"):
        services.group_create(
            village=ctx["village"],
            name="四户小组",
            households=[ctx["households"][c] for c in ("C6", "C7")] + [ctx["households"]["C1"]] * 2,
            formed_on=datetime.date(2017, 4, 1),
            actor=ctx["village_user"],
        )
    lend(ctx, "C1", "15000")
    with pytest.raises(ValidationError, match="将超过每户上限"):
        lend(ctx, "C1", "5001")


def test_schedule_adds_up_and_repayments_revolve_the_fund(lending_village: dict[str, Any]) -> None:
    ctx = lending_village
    loan = lend(ctx, "C1", "10000", term=3)
    assert [i.principal for i in loan.instalments.all()] == [D("3333.33"), D("3333.33"), D("3333.34")]
    assert balance(ctx["village"], accounts.LENDING) == D("590000.00")
    services.repayment_record(
        loan=loan, amount=D("5000"), paid_on=datetime.date(2017, 6, 1), actor=ctx["village_user"]
    )
    first, second, _third = loan.instalments.all()
    assert (first.paid_principal, second.paid_principal) == (D("3333.33"), D("1666.67"))
    assert balance(ctx["village"], accounts.LENDING) == D("595000.00")
    with pytest.raises(ValidationError, match=re.escape("超过该笔贷款尚欠的 5,000.00 元")):
        services.repayment_record(
            loan=loan, amount=D("5000.01"), paid_on=datetime.date(2017, 6, 2), actor=ctx["village_user"]
        )
    services.repayment_record(
        loan=loan, amount=D("5000"), paid_on=datetime.date(2017, 6, 2), actor=ctx["village_user"]
    )
    loan.refresh_from_db()
    assert loan.status == Loan.Status.REPAID
    assert balance(ctx["village"], accounts.LENDING) == D("600000.00")  # lent again from here
    assert reconcile(year=2017, fund=accounts.FUND)[0].problems == []


def test_missed_instalment_blocks_the_group_until_a_member_repays_for_them(
    lending_village: dict[str, Any],
) -> None:
    ctx = lending_village
    loan = lend(ctx, "C1", "6000", term=6)
    # due 1 June; grace 5 days: overdue from 7 June
    assert services.overdue(today=datetime.date(2017, 6, 6)) == {}
    late = services.overdue(today=datetime.date(2017, 6, 20))
    assert (
        late[loan.pk].arrears == D("1000.00")
        and late[loan.pk].days == 19
        and late[loan.pk].bucket == "1–30天"
    )
    with pytest.raises(ValidationError, match="逾期未还的成员（扎西）"):
        services.loan_propose(
            group=ctx["group"],
            household=ctx["households"]["C2"],
            principal=D("5000"),
            term_months=12,
            frequency="monthly",
            purpose="种植青稞",
            actor=ctx["village_user"],
            year=2017,
            today=datetime.date(2017, 6, 20),
        )
    with pytest.raises(ValidationError, match="不能退出"):
        services.member_leave(
            member=ctx["group"].members.get(household=ctx["households"]["C3"]),
            left_on=datetime.date(2017, 6, 20),
            actor=ctx["village_user"],
        )
    services.repayment_record(
        loan=loan,
        amount=D("1000"),
        paid_on=datetime.date(2017, 6, 21),
        actor=ctx["village_user"],
        payer=ctx["households"]["C2"],
    )
    debt = GuarantorDebt.objects.get()
    assert (debt.debtor.head_name, debt.creditor.head_name, debt.amount) == ("扎西", "卓玛", D("1000.00"))
    assert services.overdue(today=datetime.date(2017, 6, 21)) == {}
    services.loan_propose(
        group=ctx["group"],
        household=ctx["households"]["C2"],
        principal=D("5000"),
        term_months=12,
        frequency="monthly",
        purpose="种植青稞",
        actor=ctx["village_user"],
        year=2017,
        today=datetime.date(2017, 6, 21),
    )


def test_maker_checker_and_contract_before_money(lending_village: dict[str, Any]) -> None:
    ctx = lending_village
    loan = services.loan_propose(
        group=ctx["group"],
        household=ctx["households"]["C3"],
        principal=D("8000"),
        term_months=10,
        frequency="bullet",
        purpose="种植玛咖，收获后一次还本",
        actor=ctx["village_user"],
        year=2017,
        today=datetime.date(2017, 5, 1),
    )
    batch = loan_batches.loan_batch_create(village=ctx["village"], loans=[loan], actor=ctx["village_user"])
    with pytest.raises(ValidationError, match="借款合同"):
        approval.advance([batch], action=loan_batches.SUBMIT, actor=ctx["village_user"])
    services.loan_contract_attach(loan=loan, scan=pdf_upload(), actor=ctx["village_user"])
    with pytest.raises(ValidationError, match="乡镇"):  # the village cannot approve its own batch
        approval.advance([batch], action=loan_batches.SUBMIT, actor=ctx["township_user"])
    approval.advance([batch], action=loan_batches.SUBMIT, actor=ctx["village_user"])
    with pytest.raises(ValidationError, match="须由乡镇办理"):
        approval.advance([batch], action=loan_batches.APPROVE, actor=ctx["village_user"])
    with pytest.raises(ValidationError, match="尚未审批通过"):
        loan_batches.loan_batch_pay(
            batch=batch, actor=ctx["township_user"], paid_on=datetime.date(2017, 5, 1)
        )
    assert balance(ctx["village"], accounts.LENDING) == D("600000.00")


def test_fee_goes_to_reserves_before_principal(lending_village: dict[str, Any]) -> None:
    from collectives.models import LendingPolicy

    LendingPolicy.objects.filter(year=2017).update(annual_fee_rate=D("0.06"))
    ctx = lending_village
    loan = lend(ctx, "C4", "12000", term=12)
    assert loan.instalments.first().fee == D("60.00")  # type: ignore[union-attr]
    repayment = services.repayment_record(
        loan=loan, amount=D("100"), paid_on=datetime.date(2017, 6, 1), actor=ctx["village_user"]
    )
    assert (repayment.fee, repayment.principal) == (D("60.00"), D("40.00"))
    assert sorted(ReserveAllocation.objects.values_list("reserve", "amount")) == [
        ("accumulation", D("24.00")),
        ("risk", D("18.00")),
        ("running", D("12.00")),
        ("welfare", D("6.00")),
    ]
    assert reconcile(year=2017, fund=accounts.FUND)[0].problems == []


def test_write_off_and_recoveries_never_exceed_it(lending_village: dict[str, Any]) -> None:
    ctx = lending_village
    loan = lend(ctx, "C5", "9000", term=9)
    services.repayment_record(
        loan=loan, amount=D("2000"), paid_on=datetime.date(2017, 6, 1), actor=ctx["village_user"]
    )
    with pytest.raises(ValidationError, match="须写明原因"):
        services.loan_write_off(loan=loan, reason=" ", actor=ctx["township_user"])
    write_off = services.loan_write_off(
        loan=loan, reason="户主因病去世，家庭无力偿还", actor=ctx["township_user"]
    )
    assert write_off.amount == D("7000.00")
    services.write_off_recover(
        write_off=write_off,
        amount=D("3000"),
        received_on=datetime.date(2018, 1, 5),
        actor=ctx["village_user"],
    )
    with pytest.raises(ValidationError, match=re.escape("超过核销后尚未收回的 4,000.00 元")):
        services.write_off_recover(
            write_off=write_off,
            amount=D("4000.01"),
            received_on=datetime.date(2018, 2, 5),
            actor=ctx["village_user"],
        )
    assert balance(ctx["village"], accounts.LENDING) == D("596000.00")
    assert reconcile(year=2017, fund=accounts.FUND)[0].problems == []


def test_rescheduling_keeps_the_original_schedule(lending_village: dict[str, Any]) -> None:
    ctx = lending_village
    loan = lend(ctx, "C1", "6000", term=6)
    services.repayment_record(
        loan=loan, amount=D("1500"), paid_on=datetime.date(2017, 6, 1), actor=ctx["village_user"]
    )
    event = services.loan_reschedule(
        loan=loan,
        term_months=10,
        frequency="bullet",
        reason="冰雹灾害，改为秋收后一次还本",
        effective_on=datetime.date(2017, 7, 1),
        actor=ctx["township_user"],
    )
    assert event.outstanding == D("4500.00")
    assert (
        Instalment.objects.filter(loan=loan, superseded_by=event).count() == 5
    )  # the unpaid ones, kept as they were
    (new,) = Instalment.objects.filter(loan=loan, superseded_by__isnull=True).exclude(
        paid_principal=D("1000")
    )
    assert (new.principal, new.due_on) == (D("4500.00"), datetime.date(2018, 5, 1))
    assert services.overdue(today=datetime.date(2017, 12, 1)) == {}
    assert reconcile(year=2017, fund=accounts.FUND)[0].problems == []
