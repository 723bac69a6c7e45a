"""Loans on the shared approval mechanism (`collective_loan`): the village submits a batch, the
township approves and pays it; forged ids, double submits and double payments change nothing; every
check of a loan is made again when the money moves."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from collectives import accounts, loan_batches, services
from collectives.models import Loan
from disbursements import approval, ledger
from disbursements.models import Batch, Payout, Transition
from disbursements.payouts import payout_reverse
from disbursements.reconcile import reconcile
from households.models import Role, Village

from ..factories import make_user, pdf_upload, roster_row
from .conftest import disburse

pytestmark = pytest.mark.django_db
D = Decimal
MAY = datetime.date(2017, 5, 1)


def propose(ctx: dict[str, Any], code: str, amount: str, term: int = 12, today: datetime.date = MAY) -> Loan:
    loan = services.loan_propose(
        group=ctx["group"],
        household=ctx["households"][code],
        principal=D(amount),
        term_months=term,
        frequency="monthly",
        purpose="养殖牦牛",
        actor=ctx["village_user"],
        year=2017,
        today=today,
    )
    return services.loan_contract_attach(loan=loan, scan=pdf_upload(), actor=ctx["village_user"])


def lending_balance(village: Village) -> Decimal:
    account = accounts.village_account(village, accounts.LENDING)
    return ledger.balances([account], 2017)[account.pk]


def test_village_submits_township_approves_and_pays_a_batch_of_loans(
    lending_village: dict[str, Any],
) -> None:
    ctx = lending_village
    loans = [propose(ctx, "C1", "12000"), propose(ctx, "C2", "8000.50")]
    batch = loan_batches.loan_batch_create(village=ctx["village"], loans=loans, actor=ctx["village_user"])
    assert (batch.kind, batch.status, batch.total, batch.line_count) == (
        "collective_loan",
        "draft",
        D("20000.50"),
        2,
    )
    lines = list(batch.lines.order_by("pk"))
    details = batch.batch_kind.hooks.describe_lines(batch, lines)
    assert details.headers[0] == "户编号"
    assert [details.cells[line.pk][0] for line in lines] == ["C1", "C2"]
    assert [o.action for o in approval.offers(batch, ctx["village_user"])] == [loan_batches.SUBMIT]
    assert approval.offers(batch, ctx["township_user"]) == []
    (batch,) = approval.advance([batch], action=loan_batches.SUBMIT, actor=ctx["village_user"])
    assert [o.action for o in approval.offers(batch, ctx["township_user"])] == [loan_batches.APPROVE]
    approval.advance([batch], action=loan_batches.APPROVE, actor=ctx["township_user"])
    assert lending_balance(ctx["village"]) == D("600000.00")  # approved, not yet paid
    result = loan_batches.loan_batch_pay(batch=batch, actor=ctx["township_user"], paid_on=MAY)
    assert (result.paid, result.amount, result.batch_paid) == (2, D("20000.50"), True)
    assert lending_balance(ctx["village"]) == D("579999.50")
    for loan in Loan.objects.filter(pk__in=[loan.pk for loan in loans]):
        assert loan.status == Loan.Status.DISBURSED and loan.disbursed_on == MAY
        assert loan.approved_by == ctx["township_user"]
        assert sum(i.principal for i in loan.instalments.all()) == loan.principal
    assert list(Transition.objects.filter(batch=batch).order_by("pk").values_list("action", flat=True)) == [
        loan_batches.SUBMIT,
        loan_batches.APPROVE,
        "pay",
    ]
    assert reconcile(year=2017, fund=accounts.FUND)[0].problems == []
    # A second click on 放款 pays nothing twice.
    with pytest.raises(ValidationError, match="已全部兑现"):
        loan_batches.loan_batch_pay(batch=batch, actor=ctx["township_user"], paid_on=MAY)
    assert lending_balance(ctx["village"]) == D("579999.50")
    # A paid loan is repaid or written off, never reversed.
    payout = Payout.objects.filter(line__batch=batch).first()
    assert payout is not None
    with pytest.raises(ValidationError, match="不能冲正"):
        payout_reverse(payout=payout, actor=ctx["township_user"], reason="录错")


def test_another_villages_loans_and_double_submits_are_refused(
    lending_village: dict[str, Any], import_rows: Any
) -> None:
    ctx = lending_village
    assert import_rows([roster_row(户编号="J1", 户主姓名="阿旺次仁多吉", 村委会="吉迪村")]).ok
    jidi = Village.objects.get(name="吉迪村")
    jidi_user = make_user(Role.VILLAGE, "jidi_c", village=jidi)
    loan = propose(ctx, "C1", "5000")
    with pytest.raises(ValidationError, match="本村村委会"):
        loan_batches.loan_batch_create(village=ctx["village"], loans=[loan], actor=jidi_user)
    with pytest.raises(ValidationError, match="不在您的管辖范围内"):  # a forged id of 红坡村's loan
        loan_batches.loan_batch_create(village=jidi, loans=[loan], actor=jidi_user)
    with pytest.raises(ValidationError, match="本村村委会"):
        loan_batches.loan_batch_create(village=ctx["village"], loans=[loan], actor=ctx["township_user"])
    first = loan_batches.loan_batch_create(village=ctx["village"], loans=[loan], actor=ctx["village_user"])
    with pytest.raises(ValidationError, match="尚未列入放款批次"):
        loan_batches.loan_batch_create(village=ctx["village"], loans=[loan], actor=ctx["village_user"])
    assert Batch.objects.filter(kind=loan_batches.KIND).count() == 1
    approval.advance([first], action=loan_batches.SUBMIT, actor=ctx["village_user"])
    with pytest.raises(ValidationError, match="不能办理"):  # submitted twice
        approval.advance([first], action=loan_batches.SUBMIT, actor=ctx["village_user"])
    with pytest.raises(ValidationError, match="不在您的管辖范围内"):  # another village's user
        approval.advance([first], action=loan_batches.SUBMIT, actor=jidi_user)
    with pytest.raises(ValidationError, match="须由乡镇"):
        loan_batches.loan_batch_pay(batch=first, actor=ctx["village_user"], paid_on=MAY)


def test_the_group_block_and_the_cap_are_checked_again_when_the_money_moves(
    lending_village: dict[str, Any],
) -> None:
    ctx = lending_village
    (late,) = disburse(ctx, [propose(ctx, "C1", "6000", term=6)], MAY)
    waiting = propose(ctx, "C2", "5000")
    batch = loan_batches.loan_batch_create(village=ctx["village"], loans=[waiting], actor=ctx["village_user"])
    approval.advance([batch], action=loan_batches.SUBMIT, actor=ctx["village_user"])
    approval.advance([batch], action=loan_batches.APPROVE, actor=ctx["township_user"])
    before = lending_balance(ctx["village"])
    # 扎西 misses the 1 June instalment: on 20 June nobody in the group may receive money.
    with pytest.raises(ValidationError, match="逾期未还的成员（扎西）"):
        loan_batches.loan_batch_pay(
            batch=batch, actor=ctx["township_user"], paid_on=datetime.date(2017, 6, 20)
        )
    assert lending_balance(ctx["village"]) == before
    assert Loan.objects.get(pk=waiting.pk).status == Loan.Status.PROPOSED
    # A member pays for him (代偿): the block lifts and the loan is paid.
    services.repayment_record(
        loan=late,
        amount=D("1000"),
        paid_on=datetime.date(2017, 6, 21),
        actor=ctx["village_user"],
        payer=ctx["households"]["C2"],
    )
    loan_batches.loan_batch_pay(batch=batch, actor=ctx["township_user"], paid_on=datetime.date(2017, 6, 21))
    assert lending_balance(ctx["village"]) == before + D("1000") - D("5000")
    assert Loan.objects.get(pk=waiting.pk).status == Loan.Status.DISBURSED


def test_a_batch_without_the_contract_does_not_reach_the_township(lending_village: dict[str, Any]) -> None:
    ctx = lending_village
    loan = services.loan_propose(
        group=ctx["group"],
        household=ctx["households"]["C3"],
        principal=D("3000"),
        term_months=6,
        frequency="bullet",
        purpose="种植玛咖",
        actor=ctx["village_user"],
        year=2017,
        today=MAY,
    )
    batch = loan_batches.loan_batch_create(village=ctx["village"], loans=[loan], actor=ctx["village_user"])
    with pytest.raises(ValidationError, match="次仁：尚未上传借款合同"):
        approval.advance([batch], action=loan_batches.SUBMIT, actor=ctx["village_user"])
    assert Batch.objects.get(pk=batch.pk).status == "draft"
