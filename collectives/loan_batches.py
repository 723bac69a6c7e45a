"""Joint-guarantee loans on the shared approval mechanism: the `collective_loan` batch kind.

The village (村委会) puts one or more proposed loans into a batch and submits it; the township
approves it on the generic batch page (maker-checker: the village's submitter is never the
approver); the township then records the payment (放款), which moves each loan's principal from the
village's lending sub-account to the borrower's loan account through the ledger. Every check of a
loan is made again under the locks when the money moves: the contract scan, the group block (no
loan to a member of a group with an overdue member), the household cap and the lending sub-account
never below zero (`ledger.post`). Registered in `registration.py`; `disbursements` never imports it.

Lock order (as in `services`): the village fund row, then the loans, then the accounts (ledger).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction

from disbursements.approval import BatchHooks, BatchKind, LineDetails, Step
from disbursements.models import Account, Batch, BatchLine, Payout
from disbursements.money import ZERO, to_fen
from disbursements.payouts import PayoutResult
from disbursements.payouts import payouts_record as record_payouts
from households.models import User, Village
from households.scoping import scoped

from . import accounts, rules, services
from .models import Instalment, Loan, LoanEvent, VillageFund

KIND = "collective_loan"
SUBMIT = "loan_submit"
APPROVE = "loan_approve"

MSG_NO_LOANS = "请至少选择一笔待审批的贷款。"
MSG_NOT_OPEN = "{names}：不是本村待审批、且尚未列入放款批次的贷款。"
MSG_ONE_PER_HOUSEHOLD = "{name} 在本批次中有两笔贷款，每户每批只能列一笔。"
MSG_NO_CONTRACT = "{names}：尚未上传借款合同（含联保小组成员签字）扫描件，合同在先、放款在后。"
MSG_ONE_YEAR = "一个放款批次只能包含同一年度资金的贷款。"
MSG_NO_REVERSAL = "联保贷款已放出，不能冲正；请按还款、调整还款计划或核销办理。"

STATUSES = {
    "draft": "村委会准备中",
    "submitted": "待乡镇审批",
    "approved": "乡镇已批准，待放款",
    "paid": "已放款",
}
STEPS = (
    Step(SUBMIT, "draft", "submitted", frozenset({"village"}), "提交乡镇审批（联保贷款）"),
    Step(APPROVE, "submitted", "approved", frozenset({"township"}), "乡镇审批（联保贷款）"),
)


def _loans(lines: Iterable[BatchLine]) -> dict[int, Loan]:
    return {
        loan.line_id: loan  # type: ignore[misc]
        for loan in Loan.objects.filter(line__in=list(lines)).select_related("household", "group", "village")
    }


def _loans_of(batches: Iterable[Batch]) -> list[Loan]:
    return list(
        Loan.objects.filter(line__batch__in=list(batches), line__cancelled_at__isnull=True)
        .select_related("household")
        .order_by("pk")
    )


def _refuse_without_contract(loans: Iterable[Loan]) -> None:
    missing = [loan.household.head_name for loan in loans if not loan.contract_scan]
    if missing:
        raise ValidationError(MSG_NO_CONTRACT.format(names="、".join(missing)))


class LoanHooks(BatchHooks):
    def before_step(self, batches: list[Batch], step: Step) -> None:
        _refuse_without_contract(_loans_of(batches))

    def after_step(self, batches: list[Batch], step: Step, actor: User) -> None:
        loans = _loans_of(batches)
        if step.action == APPROVE:
            Loan.objects.filter(pk__in=[loan.pk for loan in loans]).update(approved_by=actor)
        action = "提交乡镇审批" if step.action == SUBMIT else "乡镇审批"
        LoanEvent.objects.bulk_create([LoanEvent(loan=loan, action=action, actor=actor) for loan in loans])

    def check_payments(self, batch: Batch, lines: list[BatchLine], actor: User) -> None:
        """Under the village fund's lock (it serialises loans per village): each loan still proposed
        and with its contract. The group block and the cap follow in `after_paid`, on the payment's
        date."""
        village = Village.objects.get(pk=batch.village_id)  # type: ignore[misc]
        VillageFund.objects.select_for_update(no_key=True).filter(village=village, year=batch.year).order_by(
            "pk"
        ).first()
        by_line = _loans(lines)
        locked = {
            loan.pk: loan
            for loan in Loan.objects.select_for_update(no_key=True, of=("self",))
            .filter(pk__in=[loan.pk for loan in by_line.values()])
            .select_related("household", "group")
            .order_by("pk")
        }
        problems = [
            f"{loan.household.head_name}：{loan.get_status_display()}"
            for loan in locked.values()
            if loan.status != Loan.Status.PROPOSED
        ]
        if problems:
            raise ValidationError(problems)
        _refuse_without_contract(locked.values())

    def sources(self, batch: Batch, lines: list[BatchLine]) -> dict[int, Account]:
        lending = accounts.village_account(batch.village, accounts.LENDING)  # type: ignore[arg-type]
        return {line.pk: lending for line in lines}

    def memo(self, batch: Batch, line: BatchLine, method_label: str) -> str:
        return f"联保贷款放款（{method_label}）"

    def describe_lines(self, batch: Batch, lines: list[BatchLine]) -> LineDetails:
        cells = {
            line_id: (
                loan.household.code,
                loan.household.head_name,
                loan.group.name,
                f"{loan.term_months} 个月",
                str(rules.FREQUENCIES.get(loan.frequency, loan.frequency)),
                loan.purpose,
                "已上传" if loan.contract_scan else "未上传",
            )
            for line_id, loan in _loans(lines).items()
        }
        return LineDetails(("户编号", "借款户", "联保小组", "期限", "还款方式", "用途", "借款合同"), cells)

    def after_paid(self, batch: Batch, payouts: list[Payout], actor: User) -> None:
        """The group block and the household cap, judged on the day the money moves (still under the
        village fund's lock; a refusal here undoes the whole payment); then the loans are out and
        their schedules start on that day."""
        by_line = {p.line_id: p for p in payouts}
        loans = list(Loan.objects.filter(line_id__in=list(by_line)).select_related("household", "group"))
        problems: list[str] = []
        for loan in loans:
            try:
                services.refuse_if_blocked(
                    loan.group,
                    loan.household,
                    loan.principal,
                    by_line[loan.line_id].paid_on,  # type: ignore[index]
                    excluding=loan.pk,
                )
            except ValidationError as exc:
                problems.extend(f"{loan.household.head_name}：{m}" for m in exc.messages)
        if problems:
            raise ValidationError(problems)
        instalments: list[Instalment] = []
        for loan in loans:
            payout = by_line[loan.line_id]  # type: ignore[index]
            loan.status, loan.entry_id = Loan.Status.DISBURSED, payout.entry_id
            loan.disbursed_on = payout.paid_on
            instalments.extend(
                Instalment(loan=loan, number=i.number, due_on=i.due_on, principal=i.principal, fee=i.fee)
                for i in rules.schedule(
                    to_fen(loan.principal), loan.term_months, loan.frequency, payout.paid_on, loan.fee_rate
                )
            )
        Loan.objects.bulk_update(loans, ["status", "entry", "disbursed_on"])
        Instalment.objects.bulk_create(instalments)
        LoanEvent.objects.bulk_create([LoanEvent(loan=loan, action="放款", actor=actor) for loan in loans])

    def before_reverse(self, payout: Payout, actor: User) -> None:
        raise ValidationError(MSG_NO_REVERSAL)


BATCH_KIND = BatchKind(
    code=KIND,
    label="联保小额贷款放款",
    fund=accounts.FUND,
    steps=STEPS,
    pay_roles=frozenset({"township"}),
    payment_entry_kind=accounts.E_LOAN,
    statuses=STATUSES,
    hooks=LoanHooks(),
    unit="笔",
)


# --- services ---------------------------------------------------------------------------------------


@transaction.atomic
def loan_batch_create(*, village: Village, loans: Iterable[Loan], actor: User) -> Batch:
    """村委会: a draft batch of the village's proposed loans not yet in a batch (the actor's scope);
    submitted with `approval.advance(action=SUBMIT)` or the batch page's button."""
    services.require(actor, "village", village, services.MSG_VILLAGE_ONLY)
    ids = sorted({loan.pk for loan in loans})
    if not ids:
        raise ValidationError(MSG_NO_LOANS)
    list(VillageFund.objects.select_for_update(no_key=True).filter(village=village).order_by("pk"))
    rows = list(
        scoped(Loan.objects.select_for_update(no_key=True, of=("self",)), actor)
        .filter(pk__in=ids, village=village, status=Loan.Status.PROPOSED, line__isnull=True)
        .select_related("household", "fund")
        .order_by("pk")
    )
    if len(rows) != len(ids):
        found = {loan.pk for loan in rows}
        names = [
            str(loan)
            for loan in scoped(Loan.objects.filter(pk__in=ids), actor).select_related("household")
            if loan.pk not in found
        ]
        raise ValidationError(MSG_NOT_OPEN.format(names="、".join(names) or "有贷款不在您的管辖范围内"))
    years = {loan.fund.year for loan in rows}
    if len(years) != 1:
        raise ValidationError(MSG_ONE_YEAR)
    seen: set[int] = set()
    for loan in rows:
        if loan.household_id in seen:
            raise ValidationError(MSG_ONE_PER_HOUSEHOLD.format(name=loan.household.head_name))
        seen.add(loan.household_id)
    borrowers = {loan.pk: accounts.borrower_account(loan.household) for loan in rows}
    total = sum((to_fen(loan.principal) for loan in rows), ZERO)
    batch = Batch.objects.create(
        kind=KIND,
        year=years.pop(),
        township_id=village.township_id,
        village=village,
        created_by=actor,
        total=total,
        line_count=len(rows),
    )
    lines = BatchLine.objects.bulk_create(
        [BatchLine(batch=batch, account=borrowers[loan.pk], amount=to_fen(loan.principal)) for loan in rows]
    )
    for loan, line in zip(rows, lines, strict=True):
        # Compare-and-set: a loan taken into another batch meanwhile refuses the whole batch.
        if Loan.objects.filter(pk=loan.pk, line__isnull=True).update(line=line) != 1:
            raise ValidationError(MSG_NOT_OPEN.format(names=str(loan)))
    return batch


def loan_batch_pay(
    *,
    batch: Batch,
    actor: User,
    paid_on: datetime.date,
    reference: str = "",
    method: str = Payout.Method.BANK,
) -> PayoutResult:
    """乡镇放款: every loan of the approved batch, through the one payout recorder."""
    return record_payouts(batch=batch, actor=actor, paid_on=paid_on, method=method, reference=reference)
