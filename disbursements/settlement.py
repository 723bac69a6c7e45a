"""After the production cycle (rules.md §3, our reading): the benefit analysis, the 以奖代补 reward,
recovery of money from households that did not farm, and the equity option (入股分红).

Reward = max(0, min(G, V) − paid so far), with V the rules applied to the verified quantities.
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

from households.models import Household, User, Village
from households.scoping import scoped
from subsidies import rules
from subsidies.models import HouseholdPlan, PlanStatus

from . import ledger
from .models import (
    Account,
    Batch,
    BatchLine,
    BenefitAnalysis,
    Dividend,
    Entry,
    EquityInvestment,
    Partner,
    Payout,
    RecoveryOrder,
    RecoveryRepayment,
)

ZERO = Decimal("0.00")

MSG_ROLE_CADRE = "产业扶持分析表由挂包干部填写。"
MSG_NO_PAYOUT = "该户尚未兑现任何资金，无需产后结算。"
MSG_ALREADY_SETTLED = "该户已列入以奖代补批次，分析表不能再改。"
MSG_RECOVERY_ROLE = "收回通知由村委会/驻村工作队提出。"
MSG_APPROVE_ROLE = "收回通知由乡镇审批。"
MSG_DECIDE_ROLE = "差额是否收回由乡镇决定。"
MSG_EQUITY_PAID = "该户已有到户资金兑现，不能再改为入股。"


def paid_so_far(household_id: int, year: int) -> Decimal:
    total = Payout.objects.filter(household_id=household_id, year=year).aggregate(total=Sum("amount"))[
        "total"
    ]
    return rules.to_fen(total or 0)


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
    household = _scoped_household(plan.household, actor)
    if BatchLine.objects.filter(household=household, year=plan.year, tranche=3).exists():
        raise ValidationError(MSG_ALREADY_SETTLED)
    paid = paid_so_far(household.pk, plan.year)
    if paid == 0:
        raise ValidationError(MSG_NO_PAYOUT)
    grant = plan.grant_total
    lines: list[str] = []
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
            lines.extend(quote.lines[1:-1])
        except rules.PlanRefused as exc:
            verified = ZERO
            lines.append(f"核实结果：{exc}")
        reward = max(ZERO, min(grant, verified) - paid)
        shortfall = max(ZERO, paid - verified)
        lines.append(
            f"以奖代补 = max(0, min(计划 {rules.yuan(grant)}, 核实 {rules.yuan(verified)})"
            f" − 已拨 {rules.yuan(paid)}) = {rules.yuan(reward)} 元"
        )
        if shortfall:
            lines.append(f"核实应享低于已拨付 {rules.yuan(shortfall)} 元，报乡镇决定是否收回")
    elif assessment == BenefitAnalysis.Assessment.INACTIVE:
        verified, reward, shortfall = ZERO, ZERO, ZERO
        lines.append(f"不积极主动发展产业：停止后续扶持，已拨付 {rules.yuan(paid)} 元须由村工作队提出收回")
    else:
        raise ValidationError("评价应为“积极发展产业”或“不积极主动进行种养殖产业发展”。")
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
    if photo is not None:
        analysis.photo = photo
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
    """以奖代补 batch (tranche 3) of the village's active households with a reward; same chain as tranches."""
    if actor.role not in ("cadre", "village"):
        raise ValidationError("批次由挂包干部或村委会准备。")
    analyses = list(
        BenefitAnalysis.objects.filter(
            plan__household__in=scoped(Household.objects.filter(village=village), actor),
            plan__year=year,
            assessment=BenefitAnalysis.Assessment.ACTIVE,
            reward__gt=0,
        )
        .exclude(plan__household_id__in=BatchLine.objects.filter(year=year, tranche=3).values("household_id"))
        .select_related("plan")
    )
    if not analyses:
        raise ValidationError(
            f"{village.name} 没有待列入以奖代补的户（须有产业扶持分析表且评价为积极、核实有奖励）。"
        )
    batch = Batch.objects.create(
        kind=Batch.Kind.REWARD,
        year=year,
        tranche=3,
        village=village,
        created_by=actor,
        total=sum((a.reward for a in analyses), ZERO),
        line_count=len(analyses),
    )
    try:
        with transaction.atomic():
            BatchLine.objects.bulk_create(
                [
                    BatchLine(
                        batch=batch,
                        household_id=a.plan.household_id,
                        plan=a.plan,
                        year=year,
                        tranche=3,
                        amount=a.reward,
                    )
                    for a in analyses
                ]
            )
    except IntegrityError:
        raise ValidationError("有户已被另一批次列入，请刷新后重试。") from None
    return batch


# --- recovery -------------------------------------------------------------------------------------


@transaction.atomic
def recovery_raise(
    *, household: Household, year: int, actor: User, reason: str, amount: Decimal | None = None
) -> RecoveryOrder:
    """The village work team raises a recovery order: by default, everything paid that year."""
    if actor.role != "village":
        raise ValidationError(MSG_RECOVERY_ROLE)
    household = _scoped_household(household, actor)
    paid = paid_so_far(household.pk, year)
    already = (
        RecoveryOrder.objects.filter(household=household, year=year).aggregate(total=Sum("amount"))["total"]
        or 0
    )
    amount = rules.to_fen(amount if amount is not None else paid - rules.to_fen(already))
    if amount <= 0:
        raise ValidationError("没有可收回的金额。")
    if amount + rules.to_fen(already) > paid:
        raise ValidationError(f"收回金额不能超过已拨付 {paid} 元。")
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
    repaid = rules.to_fen(locked.repayments.aggregate(total=Sum("amount"))["total"] or 0)
    amount = rules.to_fen(amount)
    if amount <= 0 or amount > locked.amount - repaid:
        raise ValidationError(f"本次收回应在 0.01 至 {locked.amount - repaid} 元之间。")
    household = locked.household
    source = ledger.household_accounts([household])[household.pk]
    target = ledger.township_accounts(Account.Kind.TOWNSHIP_FINANCE)[household.village.township_id]
    (entry,) = ledger.post(
        [ledger.Move(source, target, amount, Entry.Kind.RECOVERY, f"收回：{locked.reason}")],
        year=locked.year,
        actor=actor,
    )
    repayment = RecoveryRepayment.objects.create(
        order=locked, entry=entry, amount=amount, received_on=received_on
    )
    if repaid + amount == locked.amount:
        RecoveryOrder.objects.filter(pk=locked.pk).update(status=RecoveryOrder.Status.REPAID)
    return repayment


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
        RecoveryOrder.objects.create(
            household=locked.plan.household,
            year=locked.plan.year,
            amount=locked.shortfall,
            reason="核实应享低于已拨付，乡镇决定收回差额",
            raised_by=actor,
        )
    return locked


# --- equity ---------------------------------------------------------------------------------------


@transaction.atomic
def equity_invest(
    *,
    household: Household,
    year: int,
    partner: Partner,
    agreement: str,
    consent_scan: UploadedFile,
    invested_on: datetime.date,
    actor: User,
) -> EquityInvestment:
    """Pay the household's whole grant to the partner as cash equity, with the household's consent."""
    if actor.role not in ("cadre", "village"):
        raise ValidationError("入股由挂包干部或村委会登记。")
    household = _scoped_household(household, actor)
    if (
        Payout.objects.filter(household=household, year=year).exists()
        or BatchLine.objects.filter(household=household, year=year).exists()
    ):
        raise ValidationError(MSG_EQUITY_PAID)
    plan = (
        HouseholdPlan.objects.filter(household=household, year=year, amends__isnull=True)
        .exclude(status=PlanStatus.SUPERSEDED)
        .first()
    )
    if plan is None:
        raise ValidationError("该户没有本年度产业计划，入股本金无从确定。")
    if not agreement.strip():
        raise ValidationError("请填写入股协议。")
    source: Account
    if household.cadre_id:
        source = ledger.cadre_accounts([(household.cadre_id, household.village_id)])[
            (household.cadre_id, household.village_id)
        ]
    else:
        source = ledger.village_accounts()[household.village_id]
    (entry,) = ledger.post(
        [
            ledger.Move(
                source,
                ledger.partner_account(partner),
                plan.grant_total,
                Entry.Kind.EQUITY,
                f"{household.code} {household.head_name} 到户资金入股（{agreement.strip()}）",
            )
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
        principal=plan.grant_total,
        agreement=agreement.strip(),
        consent_scan=consent_scan,
        invested_on=invested_on,
        entry=entry,
        recorded_by=actor,
    )


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
def payout_attach_receipt(*, payout: Payout, receipt: UploadedFile, actor: User) -> Payout:
    """The household's signed or thumb-printed receipt, scanned. The money record itself is untouched."""
    if actor.role not in ("cadre", "village"):
        raise ValidationError("回执由挂包干部或村委会上传。")
    locked = (
        scoped(Payout.objects.select_for_update(no_key=True, of=("self",)), actor)
        .filter(pk=payout.pk)
        .first()
    )
    if locked is None:
        raise ValidationError("该兑现记录不在您的管辖范围内。")
    if (receipt.name or "").lower().rsplit(".", 1)[-1] not in {"pdf", "jpg", "jpeg", "png"}:
        raise ValidationError("回执扫描件应为 PDF、JPG 或 PNG 文件。")
    locked.receipt = receipt
    locked.save(update_fields=["receipt"])
    return locked


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
    household = locked.household
    (entry,) = ledger.post(
        [
            ledger.Move(
                ledger.partner_account(locked.partner),
                ledger.household_accounts([household])[household.pk],
                locked.principal,
                Entry.Kind.EQUITY_RETURN,
                f"{household.code} {household.head_name} 入股本金退还{('：' + note) if note else ''}",
            )
        ],
        year=locked.year,
        actor=actor,
    )
    EquityInvestment.objects.filter(pk=locked.pk).update(returned_entry=entry)
    locked.refresh_from_db()
    return locked
