"""After the production cycle (rules.md §3, our reading): the benefit analysis, the 以奖代补 reward,
recovery of money from households that did not farm, and the equity option (入股分红).

The reward tops what was paid up to min(G, V), V the rules applied to the verified quantities
(`rules.settle`, which also words it as a sentence).
Inactive → no more money, a recovery order for all that was paid. V below what was paid → the
shortfall waits for the township's decision; nothing is recovered silently.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from disbursements import ledger
from disbursements.models import Batch
from disbursements.payouts import REVERSER_ROLES
from households.models import Household, Organisation, User, Village
from households.scoping import scoped
from households.uploads import clean_upload, field_policy

from .. import rules
from .. import services as plan_services
from ..models import (
    BenefitAnalysis,
    Dividend,
    EquityInvestment,
    HouseholdPlan,
    PlanStatus,
    RecoveryOrder,
    RecoveryRepayment,
)
from . import guard as grant
from .accounts import (
    E_EQUITY,
    E_EQUITY_RETURN,
    E_EQUITY_TRANSFER,
    E_RECOVERY,
    TOWNSHIP_FINANCE,
    holder_account,
    household_accounts,
    partner_account,
    township_accounts,
)
from .batches import Item, create_batch

ZERO = Decimal("0.00")

MSG_ROLE_CADRE = "产业扶持分析表由挂包干部填写。"
MSG_NO_PAYOUT = "该户尚未兑现任何资金，无需产后结算。"
MSG_ALREADY_SETTLED = "该户已列入以奖代补批次，分析表不能再改。"
MSG_RECOVERY_ROLE = "收回通知由村委会/驻村工作队提出。"
MSG_PARTNER_OUT_OF_SCOPE = "所选入股企业/合作社不是本乡镇监管或与本地贫困户已有联系的组织，请重新选择。"
MSG_APPROVE_ROLE = "收回通知由乡镇审批。"
MSG_DECIDE_ROLE = "差额是否收回由乡镇决定。"
MSG_EQUITY_PAID = "该户已有到户资金兑现，不能再改为入股。"
MSG_STAGE_ANALYSIS = "第二期（产中）资金尚未兑现，产后才填写产业扶持分析表。"


def paid_so_far(household_id: int, year: int) -> Decimal:
    """What the household has received this year (cash, rewards, equity), from the ledger."""
    return grant.household_money([household_id], year)[household_id].received


def _scoped_household(household: Household, actor: User) -> Household:
    found = scoped(Household.objects.select_for_update(no_key=True), actor).filter(pk=household.pk).first()
    if found is None:
        raise ValidationError("该户不在您的管辖范围内。")
    return found


@transaction.atomic
def analysis_record(
    *,
    plan: HouseholdPlan,
    actor: User,
    actual_planting_area: Decimal,
    actual_species: str,
    actual_quantity: Decimal,
    sales_income: Decimal,
    costs: Decimal,
    assessment: str,
    output: str = "",
    notes: str = "",
    photo: UploadedFile | None = None,
) -> BenefitAnalysis:
    """The cadre's 产业扶持分析表; computes the verified entitlement, the reward and any shortfall."""
    if actor.role != "cadre":
        raise ValidationError(MSG_ROLE_CADRE)
    checked_photo = clean_upload(photo, *field_policy(BenefitAnalysis, "photo")) if photo else None
    household = _scoped_household(plan.household, actor)
    money = grant.household_money([household.pk], plan.year)[household.pk]
    if money.plan is None or money.plan.pk != plan.pk:
        raise ValidationError("只能对本年度正在执行的计划填写分析表。")
    if 3 in money.lined_tranches:
        raise ValidationError(MSG_ALREADY_SETTLED)
    if money.equity or money.has_equity_record:
        raise ValidationError("入股分红户不填产业扶持分析表（不发放以奖代补）。")
    if RecoveryOrder.objects.filter(household=household, year=plan.year).exists():
        raise ValidationError("该户已有收回通知，分析表不能再改。")
    if 1 not in money.paid_tranches:
        raise ValidationError(MSG_NO_PAYOUT)
    if 2 not in money.paid_tranches and rules.to_fen(plan.tranche2) > 0:
        raise ValidationError(MSG_STAGE_ANALYSIS)
    paid = money.received
    granted = rules.to_fen(plan.grant_total)
    verified = ZERO
    checked: list[str] = []  # how the verified entitlement was computed, in the rules' own words
    if assessment == BenefitAnalysis.Assessment.ACTIVE:
        facts = rules.PlanFacts(
            planting_area=actual_planting_area,
            crops=plan.crops or "种植",
            breeding=[(actual_species, actual_quantity)] if actual_species else [],
        )
        try:
            quote = rules.quote(
                plan.policy.terms(),
                facts,
                exit_year=household.exit_year,
                consolidation=household.consolidation,
            )
            verified = quote.total
            checked = [f"（核实）{line}" for line in quote.lines[1:-1]]
        except rules.PlanRefused as exc:
            checked = [f"（核实）{exc}。"]
    elif assessment != BenefitAnalysis.Assessment.INACTIVE:
        raise ValidationError("评价应为“积极发展产业”或“不积极主动进行种养殖产业发展”。")
    settled = rules.settle(
        grant=granted,
        received=paid,
        paid=money.paid_amounts,
        active=assessment == BenefitAnalysis.Assessment.ACTIVE,
        verified=verified,
    )
    reward, shortfall = settled.reward, settled.shortfall
    lines = [*settled.lines, *checked]
    net = rules.to_fen(sales_income) - rules.to_fen(costs)
    analysis = BenefitAnalysis.objects.filter(plan=plan).first() or BenefitAnalysis(plan=plan)
    analysis.actual_planting_area = rules.to_fen(actual_planting_area)
    analysis.actual_species = actual_species
    analysis.actual_quantity = rules.to_fen(actual_quantity)
    analysis.output = output
    analysis.sales_income = rules.to_fen(sales_income)
    analysis.costs = rules.to_fen(costs)
    analysis.net_income = net
    analysis.income_per_member = rules.to_fen(net / household.size)
    analysis.assessment = assessment
    analysis.notes = notes
    if checked_photo is not None:
        analysis.photo = checked_photo
    analysis.verified_entitlement = verified
    analysis.paid_before = paid
    analysis.reward = reward
    analysis.shortfall = shortfall
    analysis.decision = BenefitAnalysis.Decision.PENDING if shortfall else BenefitAnalysis.Decision.NONE
    analysis.filled_by = actor
    analysis.filled_at = timezone.now()
    analysis.explanation = lines
    analysis.full_clean()
    analysis.save()
    return analysis


@transaction.atomic
def reward_batch_prepare(*, village: Village, year: int, actor: User) -> Batch:
    """以奖代补 batch (tranche 3) of the village's active households with a reward; same chain as tranches.

    Each line is the reward due now: max(0, min(G, V) − what the household has received), read from
    the ledger under the households' locks; it is checked once more when it is paid.
    """
    if actor.role not in ("cadre", "village"):
        raise ValidationError("批次由挂包干部或村委会准备。")
    household_ids = list(
        scoped(Household.objects.filter(village=village), actor).values_list("pk", flat=True)
    )
    grant.lock_households(household_ids)
    households = {h.pk: h for h in Household.objects.filter(pk__in=household_ids)}
    items: list[Item] = []
    for money in grant.household_money(household_ids, year).values():
        if money.plan is None or money.analysis is None or 3 in money.lined_tranches:
            continue
        due = money.reward_due()
        if due > 0 and money.plan.commitment_signed:
            items.append(Item(households[money.household_id], money.plan, due))
    if not items:
        raise ValidationError(
            f"{village.name} 没有待列入以奖代补的户（须有产业扶持分析表且评价为积极、核实有奖励）。"
        )
    return create_batch(village=village, year=year, tranche=3, actor=actor, items=items)


# --- recovery -------------------------------------------------------------------------------------


@transaction.atomic
def recovery_raise(
    *, household: Household, year: int, actor: User, reason: str, amount: Decimal | None = None
) -> RecoveryOrder:
    """The village work team raises a recovery order: by default, everything paid and not yet ordered."""
    if actor.role != "village":
        raise ValidationError(MSG_RECOVERY_ROLE)
    household = _scoped_household(household, actor)
    return _recovery_order(household=household, year=year, actor=actor, reason=reason, amount=amount)


def _recovery_order(
    *, household: Household, year: int, actor: User, reason: str, amount: Decimal | None
) -> RecoveryOrder:
    """Every recovery order of a household-year together never exceeds what it received (locked)."""
    money = grant.household_money([household.pk], year)[household.pk]
    if money.equity or money.has_equity_record:
        raise ValidationError("入股户的补助已作为股金划转合作方，不能提出收回；如入股有误，请冲正入股。")
    open_amount = money.received - money.ordered
    amount = rules.to_fen(amount if amount is not None else open_amount)
    if amount <= 0:
        raise ValidationError("没有可收回的金额。")
    if amount > open_amount:
        raise ValidationError(
            f"收回金额不能超过已拨付 {rules.yuan(money.received)} 元减去已有收回通知 "
            f"{rules.yuan(money.ordered)} 元，即 {rules.yuan(max(ZERO, open_amount))} 元。"
        )
    if not reason.strip():
        raise ValidationError("请写明收回原因。")
    return RecoveryOrder.objects.create(
        household=household, year=year, amount=amount, reason=reason.strip(), raised_by=actor
    )


@transaction.atomic
def recovery_approve(*, order: RecoveryOrder, actor: User) -> RecoveryOrder:
    if actor.role != "township":
        raise ValidationError(MSG_APPROVE_ROLE)
    locked = scoped(RecoveryOrder.objects.select_for_update(no_key=True), actor).filter(pk=order.pk).first()
    if locked is None:
        raise ValidationError("该收回通知不在您的管辖范围内。")
    if locked.raised_by_id == actor.pk:
        raise ValidationError("提出人不能审批自己的收回通知。")
    if (
        RecoveryOrder.objects.filter(pk=locked.pk, status=RecoveryOrder.Status.RAISED).update(
            status=RecoveryOrder.Status.APPROVED, approved_by=actor, approved_at=timezone.now()
        )
        != 1
    ):
        raise ValidationError("该收回通知已被处理。")
    locked.refresh_from_db()
    return locked


@transaction.atomic
def recovery_repay(
    *, order: RecoveryOrder, amount: Decimal, received_on: datetime.date, actor: User
) -> RecoveryRepayment:
    """Money comes back: household → 乡财政 through the ledger; the order closes when fully repaid."""
    if actor.role not in ("village", "township"):
        raise ValidationError("收回资金由村委会或乡镇登记。")
    locked = scoped(RecoveryOrder.objects.select_for_update(no_key=True), actor).filter(pk=order.pk).first()
    if locked is None:
        raise ValidationError("该收回通知不在您的管辖范围内。")
    if locked.status != RecoveryOrder.Status.APPROVED:
        raise ValidationError("收回通知须先经乡镇审批，且尚未收齐。")
    repaid = _repaid(locked)
    amount = rules.to_fen(amount)
    if amount <= 0 or amount > locked.amount - repaid:
        raise ValidationError(f"本次收回应在 0.01 至 {locked.amount - repaid} 元之间。")
    household = locked.household
    source = household_accounts([household])[household.pk]
    target = township_accounts(TOWNSHIP_FINANCE)[household.village.township_id]
    (entry,) = ledger.post(
        [ledger.Move(source, target, amount, E_RECOVERY, f"收回：{locked.reason}")],
        year=locked.year,
        actor=actor,
    )
    repayment = RecoveryRepayment.objects.create(
        order=locked, entry=entry, amount=amount, received_on=received_on
    )
    if repaid + amount == locked.amount:
        RecoveryOrder.objects.filter(pk=locked.pk).update(status=RecoveryOrder.Status.REPAID)
    return repayment


def _repaid(order: RecoveryOrder) -> Decimal:
    total = order.repayments.filter(reversed_at__isnull=True).aggregate(total=Sum("amount"))["total"]
    return rules.to_fen(total or 0)


@transaction.atomic
def repayment_reverse(*, repayment: RecoveryRepayment, actor: User, reason: str) -> RecoveryRepayment:
    """冲正 of a repayment recorded by mistake: the money goes back from 乡财政 to the household's
    account and the order is open again."""
    reason = _check_reverser(actor, reason)
    locked = (
        scoped(RecoveryRepayment.objects.select_for_update(no_key=True, of=("self",)), actor)
        .filter(pk=repayment.pk)
        .select_related("entry", "order")
        .first()
    )
    if locked is None:
        raise ValidationError("该收回记录不在您的管辖范围内。")
    if locked.is_reversed:
        raise ValidationError("该收回记录已冲正。")
    ledger.reverse(locked.entry, actor=actor, reason=reason, with_record=True)
    RecoveryRepayment.objects.filter(pk=locked.pk).update(
        reversed_at=timezone.now(), reversed_by=actor, reversal_reason=reason
    )
    RecoveryOrder.objects.filter(pk=locked.order_id, status=RecoveryOrder.Status.REPAID).update(
        status=RecoveryOrder.Status.APPROVED
    )
    locked.refresh_from_db()
    return locked


@transaction.atomic
def shortfall_decide(*, analysis: BenefitAnalysis, recover: bool, actor: User) -> BenefitAnalysis:
    """The township decides on a verified entitlement below what was paid; recovery only if it says so."""
    if actor.role != "township":
        raise ValidationError(MSG_DECIDE_ROLE)
    locked = (
        scoped(BenefitAnalysis.objects.select_for_update(no_key=True), actor).filter(pk=analysis.pk).first()
    )
    if locked is None or locked.decision != BenefitAnalysis.Decision.PENDING:
        raise ValidationError("没有待决定的差额。")
    locked.decision = BenefitAnalysis.Decision.RECOVER if recover else BenefitAnalysis.Decision.WAIVE
    locked.decided_by = actor
    locked.save(update_fields=["decision", "decided_by"])
    if recover:  # the township raised it, so another township official approves it (four eyes)
        _recovery_order(
            household=_scoped_household(locked.plan.household, actor),
            year=locked.plan.year,
            actor=actor,
            reason="核实应享低于已拨付，乡镇决定收回差额",
            amount=locked.shortfall,
        )
    return locked


# --- equity ---------------------------------------------------------------------------------------


@transaction.atomic
def equity_invest(
    *,
    household: Household,
    year: int,
    partner: Organisation,
    agreement: str,
    consent_scan: UploadedFile,
    invested_on: datetime.date,
    actor: User,
) -> EquityInvestment:
    """Pay the household's whole grant to the partner as cash equity, with the household's consent.

    The household is locked, like every paying route, so equity and a cash batch for the same
    household cannot both pass: whichever comes second finds the other and is refused.
    """
    if actor.role not in ("cadre", "village"):
        raise ValidationError("入股由挂包干部或村委会登记。")
    checked_scan = clean_upload(consent_scan, *field_policy(EquityInvestment, "consent_scan"))
    household = _scoped_household(household, actor)
    if not scoped(Organisation.objects.filter(pk=partner.pk), actor).exists():
        raise ValidationError(MSG_PARTNER_OUT_OF_SCOPE)
    if not agreement.strip():
        raise ValidationError("请填写入股协议。")
    money = grant.household_money([household.pk], year)[household.pk]
    if money.plan is None:
        raise ValidationError("该户没有本年度产业计划，入股本金无从确定。")
    plan = money.plan
    principal = rules.to_fen(plan.grant_total)
    grant.check_payments([grant.Payment(household.pk, principal, grant.EQUITY)], year)
    holder = holder_account(household)
    household_account = household_accounts([household])[household.pk]
    memo = f"{household.code} {household.head_name} 到户资金入股（{agreement.strip()}）"
    entry, transfer = ledger.post(
        [
            ledger.Move(holder, household_account, principal, E_EQUITY, memo),
            ledger.Move(
                household_account,
                partner_account(partner),
                principal,
                E_EQUITY_TRANSFER,
                f"{household.code} {household.head_name} 入股本金划转{partner.name}",
            ),
        ],
        year=year,
        actor=actor,
    )
    if plan.status == PlanStatus.DRAFT:
        HouseholdPlan.objects.filter(pk=plan.pk).update(status=PlanStatus.APPROVED)
    return EquityInvestment.objects.create(
        household=household,
        year=year,
        partner=partner,
        principal=principal,
        agreement=agreement.strip(),
        consent_scan=checked_scan,
        invested_on=invested_on,
        entry=entry,
        transfer_entry=transfer,
        recorded_by=actor,
    )


def _check_reverser(actor: User, reason: str) -> str:
    if actor.role not in REVERSER_ROLES:
        raise ValidationError("冲正由乡镇或市指挥部办理。")
    if not reason.strip():
        raise ValidationError("冲正必须写明原因。")
    return reason.strip()


@transaction.atomic
def equity_reverse(*, investment: EquityInvestment, actor: User, reason: str) -> EquityInvestment:
    """冲正 of an equity investment recorded by mistake: the principal comes back from the partner and
    returns to the holder's account; the household may then take its grant in cash."""
    reason = _check_reverser(actor, reason)
    locked = (
        scoped(EquityInvestment.objects.select_for_update(no_key=True, of=("self",)), actor)
        .filter(pk=investment.pk)
        .select_related("entry", "transfer_entry")
        .first()
    )
    if locked is None:
        raise ValidationError("该入股记录不在您的管辖范围内。")
    if locked.is_reversed:
        raise ValidationError("该入股记录已冲正。")
    if locked.returned_entry_id is not None:
        raise ValidationError("本金已退还给户，不能再冲正入股。")
    if locked.dividends.exists():
        raise ValidationError("已有分红记录，入股确已发生，不能冲正。")
    grant.lock_households([locked.household_id])
    if locked.transfer_entry is not None:
        ledger.reverse(locked.transfer_entry, actor=actor, reason=reason, with_record=True)
    ledger.reverse(locked.entry, actor=actor, reason=reason, with_record=True)
    EquityInvestment.objects.filter(pk=locked.pk).update(
        reversed_at=timezone.now(), reversed_by=actor, reversal_reason=reason
    )
    locked.refresh_from_db()
    return locked


@transaction.atomic
def amendment_approve(*, amendment: HouseholdPlan, actor: User) -> HouseholdPlan:
    """The township approves a plan amendment (计划变更): it becomes the plan of record, provided what
    was already paid fits under the new grant and no tranche of the household is in flight."""

    def money_check(household: Household, original: HouseholdPlan, new: HouseholdPlan) -> None:
        money = grant.household_money([household.pk], original.year)[household.pk]
        if money.lined_tranches - money.paid_tranches:
            raise ValidationError("该户有尚未兑现的拨付批次，待兑现或退回后再审批计划变更。")
        if money.received > rules.to_fen(new.grant_total):
            raise ValidationError(
                f"变更后补助 {rules.yuan(new.grant_total)} 元低于已拨付 {rules.yuan(money.received)} 元，"
                "不能审批；如需收回，请走收回程序。"
            )
        if money.analysis is not None:
            raise ValidationError("该户已填产业扶持分析表，计划不能再变更。")

    return plan_services.plan_amendment_approve(amendment=amendment, actor=actor, money_check=money_check)


@transaction.atomic
def dividend_record(
    *, investment: EquityInvestment, year: int, amount: Decimal, paid_on: datetime.date, actor: User
) -> Dividend:
    if actor.role not in ("cadre", "village", "township"):
        raise ValidationError("分红由挂包干部、村委会或乡镇登记。")
    if not scoped(EquityInvestment.objects.filter(pk=investment.pk), actor).exists():
        raise ValidationError("该入股记录不在您的管辖范围内。")
    try:
        with transaction.atomic():
            return Dividend.objects.create(
                investment=investment,
                year=year,
                amount=rules.to_fen(amount),
                paid_on=paid_on,
                recorded_by=actor,
            )
    except IntegrityError:
        raise ValidationError(f"{year} 年度的分红已登记。") from None


def equity_households(year: int) -> Any:
    return EquityInvestment.objects.filter(year=year).values("household_id")


@transaction.atomic
def equity_return(*, investment: EquityInvestment, actor: User, note: str = "") -> EquityInvestment:
    """The partner returns the preserved principal (保值) to the household, through the ledger."""
    if actor.role not in ("village", "township"):
        raise ValidationError("入股本金退还由村委会或乡镇登记。")
    locked = (
        scoped(EquityInvestment.objects.select_for_update(no_key=True, of=("self",)), actor)
        .filter(pk=investment.pk)
        .select_related("household__village", "partner")
        .first()
    )
    if locked is None:
        raise ValidationError("该入股记录不在您的管辖范围内。")
    if locked.returned_entry_id is not None:
        raise ValidationError("本金已退还。")
    if locked.is_reversed:
        raise ValidationError("该入股记录已冲正。")
    household = locked.household
    (entry,) = ledger.post(
        [
            ledger.Move(
                partner_account(locked.partner),
                household_accounts([household])[household.pk],
                locked.principal,
                E_EQUITY_RETURN,
                f"{household.code} {household.head_name} 入股本金退还{('：' + note) if note else ''}",
            )
        ],
        year=locked.year,
        actor=actor,
    )
    EquityInvestment.objects.filter(pk=locked.pk).update(returned_entry=entry)
    locked.refresh_from_db()
    return locked
