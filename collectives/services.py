"""Writes of the village collective programme: every yuan through `ledger.post` in the same
transaction as its record. Lock policy: the village fund row first (it serialises the group block and
the loan cap per village), then the loan, then the accounts (by the ledger, in pk order)."""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import F, Min, Q, Sum
from django.utils import timezone

from disbursements import ledger
from disbursements.ledger import Move
from disbursements.models import Account, Notice
from disbursements.money import ZERO, to_fen
from households.models import Household, User, Village
from households.uploads import clean_upload, field_policy

from . import accounts, rules
from .models import (
    FundPlan,
    GroupMember,
    GuarantorDebt,
    Instalment,
    JointGroup,
    LendingPolicy,
    Loan,
    LoanEvent,
    ProgrammeFunding,
    Repayment,
    Reschedule,
    ReserveAllocation,
    VillageFund,
    WriteOff,
    WriteOffRecovery,
)

NOTICE_KIND = "collective_plan"

MSG_NOT_POOR = "{village}不是 2017 年贫困村，不能安排村集体经济扶持资金。"
MSG_ALREADY_FUNDED = "{village} {year} 年的扶持资金已下拨。"
MSG_CITY_ONLY = "扶持资金由市指挥部下拨。"
MSG_CITY_SHORT = (
    "市指挥部村集体经济专户余额 {have} 元，不足以向 {count} 个贫困村各下拨 {amount} 元（共需 {need} 元），"
    "未下拨。请先登记专项资金到位。"
)
MSG_VILLAGE_ONLY = "由本村村委会（村党总支）办理。"
MSG_TOWNSHIP_ONLY = "由本乡镇审批。"
MSG_SPLIT = "三项用途合计 {total} 元，须等于扶持资金 {amount} 元。"
MSG_PLAN_STATE = "方案已批准，不能重复批准。"
MSG_PLAN_NOTICE = "方案须先经公示且公示结束（无未处理异议）后，乡镇才能批准。"
MSG_PLAN_NOT_APPROVED = "资金方案尚未经乡镇批准，资金未拨入专户。"
MSG_NOT_MEMBER = "{name} 不是该联保小组的在组成员。"
MSG_NOT_VILLAGE = "{name} 不是本村的贫困户。"
MSG_GROUP_BLOCKED = "联保小组有逾期未还的成员（{names}），在还清前小组成员不能再借款。"
MSG_HOUSEHOLD_CAP = "{name} 已有未还清借款 {open} 元，再借 {amount} 元将超过每户上限 {cap} 元。"
MSG_LOAN_STATE = "该贷款当前状态为“{status}”，不能办理此事项。"
MSG_CONTRACT = "放款前须上传借款合同（含联保小组成员签字）扫描件。"
MSG_MAKER_CHECKER = "申报人不能审批自己申报的贷款。"
MSG_OVERPAY = "还款 {amount} 元超过该笔贷款尚欠的 {owed} 元。"
MSG_PAYER_GROUP = "代偿人 {name} 不是该联保小组的成员。"
MSG_REASON = "须写明原因。"
MSG_REGISTER_USED = "台账编号 {number} 已登记过一笔贷款。"
MSG_REFERENCE_USED = "凭证号 {reference} 已登记过该笔贷款的一笔还款，不能重复登记。"
MSG_RECOVERY_CAP = "收回 {amount} 元超过核销后尚未收回的 {left} 元。"
MSG_LEAVE_OPEN = "小组有未还清的贷款，成员不能退出（联保责任未了）。"
MSG_IN_GROUP = "{name} 已是 {group} 的成员。"


def policy_for(year: int) -> LendingPolicy:
    found = LendingPolicy.objects.filter(year=year).first()
    return found if found is not None else LendingPolicy(year=year)


def require(actor: User, role: str, village: Village | None, message: str) -> None:
    if actor.is_superuser:
        return
    if role == "village" and (actor.role != "village" or village is None or actor.village_id != village.pk):
        raise ValidationError(message)
    if role == "township" and (
        actor.role != "township" or village is None or actor.township_id != village.township_id
    ):
        raise ValidationError(message)
    if role == "city" and actor.role != "city":
        raise ValidationError(message)


# --- the fund and its plan -------------------------------------------------------------------------


@transaction.atomic
def budget_receive(
    *, year: int, amount: Decimal, received_on: datetime.date, reference: str, actor: User | None
) -> ProgrammeFunding:
    """市级专项资金到位: the programme's money arrives in city HQ's account of the fund."""
    if actor is not None:
        require(actor, "city", None, MSG_CITY_ONLY)
    amount = to_fen(amount)
    if amount <= 0:
        raise ValidationError("到位金额必须大于零。")
    reference = reference.strip()[:64]
    if not reference:
        raise ValidationError("请填写专项资金到位的文号或凭证号（同一文号只登记一次）。")
    # One arrival per document: a double click, a resent form or a second run of the command with the
    # same 文号 must not credit city HQ twice (the unique constraint catches two at once).
    twice = ValidationError(f"文号/凭证号“{reference}”的 {year} 年专项资金到位已登记过，未重复登记。")
    if ProgrammeFunding.objects.filter(year=year, reference=reference).exists():
        raise twice
    (entry,) = ledger.post(
        [Move(accounts.source(), accounts.city_account(), amount, accounts.E_BUDGET, reference)],
        year=year,
        actor=actor,
    )
    try:
        with transaction.atomic():
            return ProgrammeFunding.objects.create(
                year=year,
                amount=amount,
                received_on=received_on,
                reference=reference,
                entry=entry,
                recorded_by=actor,
            )
    except IntegrityError:
        raise twice from None  # the outer transaction rolls the ledger entry back with it


def city_balance(year: int) -> Decimal:
    purse = accounts.city_account()
    return ledger.balances([purse], year)[purse.pk]


@transaction.atomic
def fund_allocate(*, village: Village, year: int, actor: User) -> VillageFund:
    """市指挥部下拨: one poor village's revolving fund for the year (see `funds_allocate_all`)."""
    if not village.is_poor_village:
        raise ValidationError(MSG_NOT_POOR.format(village=village.name))
    if VillageFund.objects.filter(village=village, year=year).exists():
        raise ValidationError(MSG_ALREADY_FUNDED.format(village=village.name, year=year))
    (fund,) = _allocate([village], year=year, actor=actor)
    return fund


@transaction.atomic
def funds_allocate_all(*, year: int, actor: User | None) -> list[VillageFund]:
    """市指挥部一次下拨: every poor village without a fund for the year gets the policy's amount from
    city HQ's account, or none does (the account must hold all of it). Idempotent: a second run finds
    nothing left to fund and returns []. Set-based: a fixed number of queries for any number of
    villages."""
    purse = _lock_city_account(actor)
    funded = VillageFund.objects.filter(year=year).values("village")
    villages = list(Village.objects.filter(is_poor_village=True).exclude(pk__in=funded).order_by("pk"))
    if not villages:
        return []
    return _allocate(villages, year=year, actor=actor, purse=purse)


def _lock_city_account(actor: User | None) -> Any:
    if actor is not None:
        require(actor, "city", None, MSG_CITY_ONLY)
    purse = accounts.city_account()
    # Allocations are serialised on city HQ's account: the balance read below cannot change meanwhile.
    list(Account.objects.select_for_update(no_key=True).filter(pk=purse.pk).order_by("pk").values_list("pk"))
    return purse


def _allocate(
    villages: list[Village], *, year: int, actor: User | None, purse: Any = None
) -> list[VillageFund]:
    purse = purse or _lock_city_account(actor)
    amount = to_fen(policy_for(year).fund_amount)
    need = amount * len(villages)
    have = ledger.balances([purse], year)[purse.pk]
    if need > have:
        raise ValidationError(
            MSG_CITY_SHORT.format(
                have=f"{have:,.2f}", count=len(villages), amount=f"{amount:,.2f}", need=f"{need:,.2f}"
            )
        )
    purses = accounts.unallocated_accounts(villages)
    entries = ledger.post(
        [Move(purse, purses[v.pk], amount, accounts.E_FUNDING) for v in villages],
        year=year,
        actor=actor,
    )
    try:
        with transaction.atomic():
            return VillageFund.objects.bulk_create(
                [
                    VillageFund(village=v, year=year, amount=amount, entry=entry, allocated_by=actor)
                    for v, entry in zip(villages, entries, strict=True)
                ]
            )
    except IntegrityError:
        raise ValidationError("有村的扶持资金已由他人下拨，请刷新后重试。") from None


@transaction.atomic
def plan_draft(
    *,
    fund: VillageFund,
    meeting_on: datetime.date,
    attendance: int,
    minutes_scan: UploadedFile,
    lending: Decimal,
    equity: Decimal,
    cooperative: Decimal,
    actor: User,
) -> FundPlan:
    """村党总支 drafts the plan after the villager meeting: the split between the three uses."""
    require(actor, "village", fund.village, MSG_VILLAGE_ONLY)
    split = [to_fen(lending), to_fen(equity), to_fen(cooperative)]
    if sum(split, ZERO) != fund.amount:
        raise ValidationError(
            MSG_SPLIT.format(total=f"{sum(split, ZERO):,.2f}", amount=f"{fund.amount:,.2f}")
        )
    if attendance < 1:
        raise ValidationError("参会人数至少 1 人。")
    checked = clean_upload(minutes_scan, *field_policy(FundPlan, "minutes_scan"))
    existing = FundPlan.objects.select_for_update().filter(fund=fund).first()
    if existing is not None and existing.status != FundPlan.Status.DRAFT:
        raise ValidationError(MSG_PLAN_STATE)
    plan = existing or FundPlan(fund=fund, village=fund.village, drafted_by=actor)
    plan.meeting_on, plan.attendance = meeting_on, attendance
    plan.lending, plan.equity, plan.cooperative = split
    plan.minutes_scan = checked
    plan.drafted_by = actor
    plan.full_clean(exclude=["lending_entry", "equity_entry", "cooperative_entry"])
    plan.save()
    return plan


def plan_notice_closed(plan: FundPlan) -> bool:
    return Notice.objects.filter(
        kind=NOTICE_KIND, year=plan.fund.year, village=plan.village, status=Notice.Status.CLOSED
    ).exists()


@transaction.atomic
def plan_approve(*, plan: FundPlan, actor: User) -> FundPlan:
    """乡镇批准: only after the 公示 is over; releases the money into the three sub-accounts."""
    require(actor, "township", plan.village, MSG_TOWNSHIP_ONLY)
    locked = FundPlan.objects.select_for_update().select_related("fund", "village").get(pk=plan.pk)
    if locked.status != FundPlan.Status.DRAFT:
        raise ValidationError(MSG_PLAN_STATE)
    if locked.drafted_by_id == actor.pk:
        raise ValidationError("草拟人不能批准自己的方案。")
    if not plan_notice_closed(locked):
        raise ValidationError(MSG_PLAN_NOTICE)
    subs = accounts.sub_accounts(locked.village)
    pot = subs[accounts.UNALLOCATED]
    wanted = [
        ("lending_entry", accounts.LENDING, accounts.E_RELEASE_LENDING, locked.lending),
        ("equity_entry", accounts.EQUITY, accounts.E_RELEASE_EQUITY, locked.equity),
        ("cooperative_entry", accounts.COOPERATIVE, accounts.E_RELEASE_COOPERATIVE, locked.cooperative),
    ]
    live = [(f, Move(pot, subs[k], a, e, "资金方案批准")) for f, k, e, a in wanted if a > 0]
    entries = ledger.post([m for _, m in live], year=locked.fund.year, actor=actor)
    for (field, _move), entry in zip(live, entries, strict=True):
        setattr(locked, field, entry)
    locked.status = FundPlan.Status.APPROVED
    locked.approved_by, locked.approved_at = actor, timezone.now()
    locked.save()
    return locked


@transaction.atomic
def implementation_record(*, plan: FundPlan, scan: UploadedFile, actor: User) -> FundPlan:
    """The township's 乡镇村集体经济产业发展实施方案 (scan), to be filed by city HQ."""
    require(actor, "township", plan.village, MSG_TOWNSHIP_ONLY)
    plan.implementation_scan = clean_upload(scan, *field_policy(FundPlan, "implementation_scan"))
    plan.save(update_fields=["implementation_scan"])
    return plan


@transaction.atomic
def implementation_file(*, plan: FundPlan, filed_on: datetime.date, actor: User) -> FundPlan:
    require(actor, "city", plan.village, MSG_CITY_ONLY)
    if not plan.implementation_scan:
        raise ValidationError("乡镇尚未上传实施方案。")
    plan.city_filed_on, plan.city_filed_by = filed_on, actor
    plan.save(update_fields=["city_filed_on", "city_filed_by"])
    return plan


# --- joint-guarantee groups ------------------------------------------------------------------------


@transaction.atomic
def group_create(
    *, village: Village, name: str, households: list[Household], formed_on: datetime.date, actor: User
) -> JointGroup:
    require(actor, "village", village, MSG_VILLAGE_ONLY)
    policy = policy_for(formed_on.year).as_rules()
    problems = rules.group_problems(len({h.pk for h in households}), policy)
    for household in households:
        if household.village_id != village.pk:
            problems.append(MSG_NOT_VILLAGE.format(name=household.head_name))
    if problems:
        raise ValidationError(problems)
    group = JointGroup.objects.create(village=village, name=name, formed_on=formed_on)
    for household in households:
        current = (
            GroupMember.objects.filter(household=household, left_on__isnull=True)
            .select_related("group")
            .first()
        )
        if current is not None:
            raise ValidationError(MSG_IN_GROUP.format(name=household.head_name, group=current.group))
        GroupMember.objects.create(group=group, household=household, joined_on=formed_on)
    return group


@transaction.atomic
def member_leave(*, member: GroupMember, left_on: datetime.date, actor: User) -> GroupMember:
    require(actor, "village", member.group.village, MSG_VILLAGE_ONLY)
    open_loans = Loan.objects.filter(
        group=member.group, status__in=[Loan.Status.PROPOSED, Loan.Status.DISBURSED]
    )
    if open_loans.exists():
        raise ValidationError(MSG_LEAVE_OPEN)
    member.left_on = left_on
    member.full_clean()
    member.save(update_fields=["left_on"])
    return member


# --- overdue (set-based: one query whatever the number of loans) -----------------------------------


@dataclass(frozen=True)
class Overdue:
    loan_id: int
    arrears: Decimal
    oldest_due: datetime.date
    days: int

    @property
    def bucket(self) -> str:
        return rules.bucket(self.days)


def overdue(loans: object = None, *, today: datetime.date, year: int | None = None) -> dict[int, Overdue]:
    """Overdue loans among `loans` (a Loan queryset; None: all): arrears past the grace period above
    the tolerance, with their days past due. One aggregate query over the live instalments."""
    policy = policy_for(year or today.year)
    cutoff = today - datetime.timedelta(days=policy.grace_days)
    unpaid = F("principal") + F("fee") - F("paid_principal") - F("paid_fee")
    rows = Instalment.objects.filter(
        superseded_by__isnull=True,
        due_on__lt=cutoff,
        loan__status=Loan.Status.DISBURSED,
    ).filter(Q(paid_principal__lt=F("principal")) | Q(paid_fee__lt=F("fee")))
    if loans is not None:
        rows = rows.filter(loan__in=loans)  # type: ignore[misc]
    result = {}
    for loan_id, arrears, oldest in (
        rows.values("loan")
        .annotate(arrears=Sum(unpaid), oldest=Min("due_on"))
        .values_list("loan", "arrears", "oldest")
    ):
        arrears = to_fen(Decimal(str(arrears)))
        if arrears > policy.arrears_tolerance:
            result[loan_id] = Overdue(loan_id, arrears, oldest, (today - oldest).days)
    return result


def group_overdue_members(group: JointGroup, today: datetime.date) -> list[str]:
    late = overdue(Loan.objects.filter(group=group), today=today)
    if not late:
        return []
    return sorted(Loan.objects.filter(pk__in=late).values_list("household__head_name", flat=True).distinct())


# --- loans ------------------------------------------------------------------------------------------


def _open_principal(household: Household, excluding: int | None = None) -> Decimal:
    total = ZERO
    loans = Loan.objects.filter(household=household, status__in=[Loan.Status.PROPOSED, Loan.Status.DISBURSED])
    if excluding is not None:
        loans = loans.exclude(pk=excluding)
    for loan in loans:
        total += outstanding(loan)
    return total


def outstanding(loan: Loan) -> Decimal:
    """Principal still owed: disbursed principal − repaid − written off (0 before disbursal: all of it)."""
    if loan.status == Loan.Status.PROPOSED:
        return to_fen(loan.principal)
    repaid = sum((to_fen(p) for p in loan.repayments.values_list("principal", flat=True)), ZERO)
    written = to_fen(loan.write_off.amount) if hasattr(loan, "write_off") else ZERO
    return to_fen(loan.principal) - repaid - written


def refuse_if_blocked(
    loan_group: JointGroup,
    household: Household,
    principal: Decimal,
    today: datetime.date,
    *,
    excluding: int | None = None,
) -> None:
    """The group block and the household cap (`excluding`: the loan being paid, counted once)."""
    policy = policy_for(today.year)
    late = group_overdue_members(loan_group, today)
    if late:
        raise ValidationError(MSG_GROUP_BLOCKED.format(names="、".join(late)))
    already = _open_principal(household, excluding)
    if already + to_fen(principal) > policy.loan_cap:
        raise ValidationError(
            MSG_HOUSEHOLD_CAP.format(
                name=household.head_name,
                open=f"{already:,.2f}",
                amount=f"{to_fen(principal):,.2f}",
                cap=f"{policy.loan_cap:,.2f}",
            )
        )


@transaction.atomic
def loan_propose(
    *,
    group: JointGroup,
    household: Household,
    principal: Decimal,
    term_months: int,
    frequency: str,
    purpose: str,
    actor: User,
    year: int,
    today: datetime.date | None = None,
    register_no: str = "",
) -> Loan:
    """村委会申报: a loan to a member of a joint group; refused with the reason when a rule forbids it.
    `register_no`: the loan's number in the village's paper register (台账编号), unique in the village."""
    today = today or timezone.localdate()
    require(actor, "village", group.village, MSG_VILLAGE_ONLY)
    fund = VillageFund.objects.select_for_update().filter(village=group.village, year=year).first()
    if fund is None or not FundPlan.objects.filter(fund=fund, status=FundPlan.Status.APPROVED).exists():
        raise ValidationError(MSG_PLAN_NOT_APPROVED)
    policy = policy_for(year)
    problems = rules.loan_problems(principal, term_months, frequency, policy.as_rules())
    if problems:
        raise ValidationError(problems)
    if not GroupMember.objects.filter(group=group, household=household, left_on__isnull=True).exists():
        raise ValidationError(MSG_NOT_MEMBER.format(name=household.head_name))
    size = GroupMember.objects.filter(group=group, left_on__isnull=True).count()
    size_problems = rules.group_problems(size, policy.as_rules())
    if size_problems:
        raise ValidationError(size_problems)
    if not purpose.strip():
        raise ValidationError("须写明借款用途（种养殖产业）。")
    refuse_if_blocked(group, household, principal, today)
    if (
        register_no.strip()
        and Loan.objects.filter(village=group.village, register_no=register_no.strip()).exists()
    ):
        raise ValidationError(MSG_REGISTER_USED.format(number=register_no.strip()))
    loan = Loan.objects.create(
        fund=fund,
        village=group.village,
        group=group,
        household=household,
        principal=to_fen(principal),
        term_months=term_months,
        frequency=frequency,
        fee_rate=policy.annual_fee_rate,
        purpose=purpose.strip(),
        proposed_by=actor,
        register_no=register_no.strip(),
    )
    LoanEvent.objects.create(loan=loan, action="申报", actor=actor, note=f"{loan.principal:,.2f} 元")
    return loan


@transaction.atomic
def loan_contract_attach(*, loan: Loan, scan: UploadedFile, actor: User) -> Loan:
    """村委会 uploads the signed contract (借款合同，含联保小组成员签字) of a proposed loan; the money
    moves only through a `collective_loan` batch (`loan_batches`), which requires it."""
    require(actor, "village", loan.village, MSG_VILLAGE_ONLY)
    checked = clean_upload(scan, *field_policy(Loan, "contract_scan"))
    locked = Loan.objects.select_for_update().get(pk=loan.pk)
    if locked.status != Loan.Status.PROPOSED:
        raise ValidationError(MSG_LOAN_STATE.format(status=locked.get_status_display()))
    locked.contract_scan = checked
    locked.save(update_fields=["contract_scan"])
    LoanEvent.objects.create(loan=locked, action="上传借款合同", actor=actor)
    return locked


def _live_instalments(loan: Loan) -> list[Instalment]:
    return list(
        loan.instalments.select_for_update().filter(superseded_by__isnull=True).order_by("due_on", "number")
    )


@transaction.atomic
def repayment_record(
    *,
    loan: Loan,
    amount: Decimal,
    paid_on: datetime.date,
    actor: User,
    payer: Household | None = None,
    reference: str = "",
) -> Repayment:
    """还款 (full, partial or early), applied in policy order: oldest instalment, fee before principal.
    Principal goes back into the lending sub-account (the fund revolves); the fee into the reserves.
    A member paying for another (代偿) is recorded as a debt between the two."""
    if actor.role not in ("village", "township") and not actor.is_superuser:
        raise ValidationError("还款由村委会或乡镇登记。")
    require(actor, actor.role if not actor.is_superuser else "village", loan.village, MSG_VILLAGE_ONLY)
    amount = to_fen(amount)
    if amount <= 0:
        raise ValidationError("还款金额必须大于零。")
    locked = Loan.objects.select_for_update().select_related("household", "village", "fund").get(pk=loan.pk)
    if locked.status != Loan.Status.DISBURSED:
        raise ValidationError(MSG_LOAN_STATE.format(status=locked.get_status_display()))
    payer = payer or locked.household
    reference = reference.strip()
    if reference and Repayment.objects.filter(loan=locked, reference=reference).exists():
        raise ValidationError(MSG_REFERENCE_USED.format(reference=reference))
    if (
        payer.pk != locked.household_id
        and not GroupMember.objects.filter(
            group=locked.group_id, household=payer, left_on__isnull=True
        ).exists()
    ):
        raise ValidationError(MSG_PAYER_GROUP.format(name=payer.head_name))
    live = _live_instalments(locked)
    dues = [
        rules.Due(i.pk, to_fen(i.fee) - to_fen(i.paid_fee), to_fen(i.principal) - to_fen(i.paid_principal))
        for i in live
    ]
    applied, left = rules.apply_repayment(amount, dues)
    if left > 0:
        owed = sum((d.fee + d.principal for d in dues), ZERO)
        raise ValidationError(MSG_OVERPAY.format(amount=f"{amount:,.2f}", owed=f"{owed:,.2f}"))
    by_pk = {i.pk: i for i in live}
    for part in applied:
        instalment = by_pk[part.key]
        instalment.paid_fee = to_fen(instalment.paid_fee) + part.fee
        instalment.paid_principal = to_fen(instalment.paid_principal) + part.principal
    Instalment.objects.bulk_update([by_pk[p.key] for p in applied], ["paid_fee", "paid_principal"])
    principal = sum((p.principal for p in applied), ZERO)
    fee = sum((p.fee for p in applied), ZERO)
    year = locked.fund.year
    repayment = Repayment(
        loan=locked,
        payer=payer,
        paid_on=paid_on,
        amount=amount,
        principal=principal,
        fee=fee,
        reference=reference,
        recorded_by=actor,
    )
    if principal:
        (repayment.principal_entry,) = ledger.post(
            [
                Move(
                    accounts.borrower_account(locked.household),
                    accounts.village_account(locked.village, accounts.LENDING),
                    principal,
                    accounts.E_REPAYMENT,
                    f"还本 {locked.household.code}",
                )
            ],
            year=year,
            actor=actor,
        )
    repayment.save()
    if fee:
        parts = rules.split_fee(fee, policy_for(year).as_rules().reserve_split)
        labels = dict(ReserveAllocation.Reserve.choices)
        inflow = accounts.village_account(locked.village, accounts.INFLOW)
        live_parts = [(name, part) for name, part in parts.items() if part > 0]
        entries = ledger.post(
            [
                Move(
                    inflow,
                    accounts.reserve_account(locked.village, name, str(labels[name])),
                    part,
                    accounts.E_FEE,
                )
                for name, part in live_parts
            ],
            year=year,
            actor=actor,
        )
        ReserveAllocation.objects.bulk_create(
            [
                ReserveAllocation(repayment=repayment, reserve=name, amount=part, entry=entry)
                for (name, part), entry in zip(live_parts, entries, strict=True)
            ]
        )
    if payer.pk != locked.household_id:
        GuarantorDebt.objects.create(
            repayment=repayment, debtor=locked.household, creditor=payer, amount=amount
        )
        LoanEvent.objects.create(
            loan=locked, action="代偿", actor=actor, note=f"{payer.head_name} 代偿 {amount:,.2f} 元"
        )
    else:
        LoanEvent.objects.create(loan=locked, action="还款", actor=actor, note=f"{amount:,.2f} 元")
    if outstanding(locked) == 0 and all(to_fen(i.paid_fee) >= to_fen(i.fee) for i in live):
        locked.status = Loan.Status.REPAID
        locked.save(update_fields=["status"])
    return repayment


@transaction.atomic
def loan_reschedule(
    *,
    loan: Loan,
    term_months: int,
    frequency: str,
    reason: str,
    effective_on: datetime.date,
    actor: User,
) -> Reschedule:
    """调整还款计划: approved by the township with a reason; the unpaid instalments are kept as they
    were (superseded) and a new schedule covers what is still owed."""
    require(actor, "township", loan.village, MSG_TOWNSHIP_ONLY)
    if not reason.strip():
        raise ValidationError(MSG_REASON)
    locked = Loan.objects.select_for_update().get(pk=loan.pk)
    if locked.status != Loan.Status.DISBURSED:
        raise ValidationError(MSG_LOAN_STATE.format(status=locked.get_status_display()))
    policy = policy_for(locked.fund.year).as_rules()
    live = [i for i in _live_instalments(locked) if i.paid_principal < i.principal or i.paid_fee < i.fee]
    owed = sum((to_fen(i.principal) - to_fen(i.paid_principal) for i in live), ZERO)
    fee_owed = sum((to_fen(i.fee) - to_fen(i.paid_fee) for i in live), ZERO)
    problems = rules.loan_problems(owed, term_months, frequency, policy)
    if problems:
        raise ValidationError(problems)
    event = Reschedule.objects.create(
        loan=locked,
        reason=reason.strip(),
        term_months=term_months,
        frequency=frequency,
        outstanding=owed,
        effective_on=effective_on,
        approved_by=actor,
    )
    Instalment.objects.filter(pk__in=[i.pk for i in live]).update(superseded_by=event)
    # The unpaid parts of superseded instalments are no longer owed on them: carry what was paid
    # into the superseded rows as history, and start the new schedule from what is still owed.
    base = max((i.number for i in locked.instalments.all()), default=0)
    new = rules.schedule(owed, term_months, frequency, effective_on, locked.fee_rate)
    Instalment.objects.bulk_create(
        [
            Instalment(
                loan=locked,
                number=base + n.number,
                due_on=n.due_on,
                principal=n.principal,
                fee=n.fee + (fee_owed if n.number == 1 else ZERO),
            )
            for n in new
        ]
    )
    LoanEvent.objects.create(
        loan=locked,
        action="调整计划",
        actor=actor,
        note=f"{reason.strip()}；剩余本金 {owed:,.2f} 元，{term_months} 个月",
    )
    return event


@transaction.atomic
def loan_write_off(*, loan: Loan, reason: str, actor: User) -> WriteOff:
    """核销 by the township with a reason: what is still owed leaves the lending book for the write-off
    account, from which later recoveries come back (never more than was written off)."""
    require(actor, "township", loan.village, MSG_TOWNSHIP_ONLY)
    if not reason.strip():
        raise ValidationError(MSG_REASON)
    locked = Loan.objects.select_for_update().select_related("household", "village", "fund").get(pk=loan.pk)
    if locked.status != Loan.Status.DISBURSED:
        raise ValidationError(MSG_LOAN_STATE.format(status=locked.get_status_display()))
    amount = outstanding(locked)
    if amount <= 0:
        raise ValidationError("该贷款没有未还本金。")
    (entry,) = ledger.post(
        [
            Move(
                accounts.borrower_account(locked.household),
                accounts.village_account(locked.village, accounts.WRITTEN_OFF),
                amount,
                accounts.E_WRITE_OFF,
                reason.strip()[:200],
            )
        ],
        year=locked.fund.year,
        actor=actor,
    )
    write_off = WriteOff.objects.create(
        loan=locked, amount=amount, reason=reason.strip(), entry=entry, approved_by=actor
    )
    locked.status = Loan.Status.WRITTEN_OFF
    locked.save(update_fields=["status"])
    LoanEvent.objects.create(loan=locked, action="核销", actor=actor, note=reason.strip())
    return write_off


@transaction.atomic
def write_off_recover(
    *, write_off: WriteOff, amount: Decimal, received_on: datetime.date, actor: User
) -> WriteOffRecovery:
    loan = write_off.loan
    if actor.role not in ("village", "township") and not actor.is_superuser:
        raise ValidationError("收回由村委会或乡镇登记。")
    require(actor, actor.role if not actor.is_superuser else "village", loan.village, MSG_VILLAGE_ONLY)
    locked = WriteOff.objects.select_for_update().get(pk=write_off.pk)
    amount = to_fen(amount)
    recovered = sum((to_fen(a) for a in locked.recoveries.values_list("amount", flat=True)), ZERO)
    left = to_fen(locked.amount) - recovered
    if amount <= 0 or amount > left:
        raise ValidationError(MSG_RECOVERY_CAP.format(amount=f"{amount:,.2f}", left=f"{left:,.2f}"))
    (entry,) = ledger.post(
        [
            Move(
                accounts.village_account(loan.village, accounts.WRITTEN_OFF),
                accounts.village_account(loan.village, accounts.LENDING),
                amount,
                accounts.E_RECOVERY,
            )
        ],
        year=loan.fund.year,
        actor=actor,
    )
    LoanEvent.objects.create(loan=loan, action="核销后收回", actor=actor, note=f"{amount:,.2f} 元")
    return WriteOffRecovery.objects.create(
        write_off=locked, amount=amount, received_on=received_on, entry=entry, recorded_by=actor
    )


def portfolio(village_ids: list[int] | None, *, today: datetime.date) -> dict[int, dict[str, Decimal]]:
    """Per village: principal out, repaid, outstanding, written off, and outstanding principal at risk
    per ageing bucket (PAR). Set-based: a fixed number of queries whatever the number of loans."""
    loans = Loan.objects.exclude(status=Loan.Status.PROPOSED)
    if village_ids is not None:
        loans = loans.filter(village_id__in=village_ids)
    result: dict[int, dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    village_of = {}
    for pk, village_id, principal in loans.values_list("pk", "village_id", "principal"):
        village_of[pk] = village_id
        result[village_id]["out"] += to_fen(principal)
    for loan_id, principal in Repayment.objects.filter(loan__in=loans).values_list("loan", "principal"):
        result[village_of[loan_id]]["repaid"] += to_fen(principal)
    written_by_loan = dict(WriteOff.objects.filter(loan__in=loans).values_list("loan", "amount"))
    for loan_id, amount in written_by_loan.items():
        result[village_of[loan_id]]["written_off"] += to_fen(amount)
    late_loans = overdue(loans, today=today)
    # Principal at risk: what the overdue loans still owe on their live schedule (one aggregate).
    per_loan_open = {
        loan_id: to_fen(Decimal(str(amount)))
        for loan_id, amount in Instalment.objects.filter(
            loan__in=list(late_loans), superseded_by__isnull=True
        )
        .values("loan")
        .annotate(open=Sum(F("principal") - F("paid_principal")))
        .values_list("loan", "open")
    }
    for late in late_loans.values():
        result[village_of[late.loan_id]][late.bucket] += per_loan_open.get(late.loan_id, ZERO)
        result[village_of[late.loan_id]]["late_loans"] += 1
    for values in result.values():
        values["outstanding"] = values["out"] - values["repaid"] - values["written_off"]
    return result
