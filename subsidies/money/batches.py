"""The grant's batch kinds (rules.md §5): tranche 1 (产前), tranche 2 (产中) and the 以奖代补, each
through the same chain — cadre (or 村委会) prepares and submits → 入户核实 by the village → 乡镇复核
→ 市指挥部复核 → 产业办/分管领导审批 → 兑现 — and what each step means for the household grant.

A batch holds the households of one village that the preparer may see. Each line is a household's
amount on its grant account, with the tranche and the plan in `GrantLine`. Paying goes through the
guard (`guard.check_payments`): households locked, grant cap, one route, stages in order, signed.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from disbursements.approval import BatchHooks, BatchKind, LineDetails, NoticeGate, Step
from disbursements.models import Account, Batch, BatchLine, Payout
from disbursements.money import ZERO, to_fen
from disbursements.payouts import PayoutResult
from disbursements.payouts import payouts_record as record_payouts
from households.models import Household, User, Village
from households.scoping import scoped

from ..models import GrantLine, HouseholdPlan, PlanStatus
from . import guard
from .accounts import E_PAYOUT, FUND, cadre_accounts, household_accounts, village_accounts

TRANCHE1 = "grant_t1"
TRANCHE2 = "grant_t2"
REWARD = "grant_reward"
KIND_OF_TRANCHE = {1: TRANCHE1, 2: TRANCHE2, 3: REWARD}
TRANCHE_NAMES = {1: "第一期（产前）", 2: "第二期（产中）", 3: "以奖代补"}

MSG_TRANCHE3 = "第三期（产后）资金通过产后结算（以奖代补）拨付，不能直接建批次。"
MSG_NO_LINES = "{village} 没有可列入第{tranche}期的户（须有产业计划，且未列入过该期{extra}）。"
MSG_PREPARE_ROLE = "批次由挂包干部或村委会准备。"

STATUSES = {
    "draft": "挂包干部准备中",
    "prepared": "待入户核实",
    "verified": "待乡镇复核",
    "township_reviewed": "待市指挥部复核",
    "city_reviewed": "待产业办审批",
    "approved": "已批准，待兑现",
    "paid": "已兑现",
}
# Whoever prepared the batch (a cadre, or the 村委会 for the village) submits it.
STEPS = (
    Step("submit", "draft", "prepared", frozenset({"cadre", "village"}), "提交入户核实"),
    Step("verify", "prepared", "verified", frozenset({"village"}), "入户核实"),
    Step("township_review", "verified", "township_reviewed", frozenset({"township"}), "乡镇复核汇总"),
    Step("city_review", "township_reviewed", "city_reviewed", frozenset({"city"}), "市指挥部复核"),
    Step("approve", "city_reviewed", "approved", frozenset({"approver"}), "产业办和分管领导审批"),
)
PAYERS = frozenset({"cadre", "village"})


class GrantHooks(BatchHooks):
    """What the chain's steps and payments mean for the household grant."""

    def __init__(self, tranche: int) -> None:
        self.tranche = tranche

    def after_step(self, batches: list[Batch], step: Step, actor: User) -> None:
        """Approval of tranche 1 approves the plans (they entered the chain with the batch)."""
        if step.action == "approve" and self.tranche == 1:
            plan_ids = GrantLine.objects.filter(line__batch__in=batches).values("plan_id")
            HouseholdPlan.objects.filter(pk__in=plan_ids, status=PlanStatus.SUBMITTED).update(
                status=PlanStatus.APPROVED, updated_at=timezone.now()
            )

    def check_payments(self, batch: Batch, lines: list[BatchLine], actor: User) -> None:
        details = _details(lines)
        guard.lock_households(d.household_id for d in details.values())
        guard.check_payments(
            [
                guard.Payment(details[line.pk].household_id, line.amount, guard.CASH, self.tranche)
                for line in lines
            ],
            batch.year,
        )

    def sources(self, batch: Batch, lines: list[BatchLine]) -> dict[int, Account]:
        """Each line comes out of the purse of whoever holds the household now (its village's if none)."""
        details = _details(lines)
        households = {
            h.pk: h for h in Household.objects.filter(pk__in=[d.household_id for d in details.values()])
        }
        purses = cadre_accounts({(h.cadre_id, h.village_id) for h in households.values() if h.cadre_id})  # type: ignore[misc]
        villages = village_accounts()
        result = {}
        for line in lines:
            household = households[details[line.pk].household_id]
            result[line.pk] = (
                purses[(household.cadre_id, household.village_id)]  # type: ignore[index]
                if household.cadre_id
                else villages[household.village_id]
            )
        return result

    def memo(self, batch: Batch, line: BatchLine, method_label: str) -> str:
        return f"{batch.year}年{TRANCHE_NAMES[self.tranche]}到户资金（{method_label}）"

    def describe_lines(self, batch: Batch, lines: list[BatchLine]) -> LineDetails:
        rows = GrantLine.objects.filter(line__in=lines).select_related(
            "household__group", "household__cadre", "plan"
        )
        cells: dict[int, tuple[str, ...]] = {}
        for grant in rows:
            household, plan = grant.household, grant.plan
            industry = "、".join(x for x in (plan.crops, plan.species) if x) or "—"
            cells[grant.line_id] = (
                household.code,
                household.head_name,
                household.group.name if household.group_id else "—",  # type: ignore[union-attr]
                household.cadre.display_name if household.cadre_id else "—",  # type: ignore[union-attr]
                industry,
                f"{plan.grant_total:,.2f}",
            )
        return LineDetails(("户编号", "户主", "村民小组", "挂包干部", "产业", "补助总额（元）"), cells)

    def before_reverse(self, payout: Payout, actor: User) -> None:
        """Later stages first; and never below what recovery orders already claim back."""
        detail = GrantLine.objects.get(line_id=payout.line_id)
        guard.lock_households([detail.household_id])
        money = guard.household_money([detail.household_id], detail.year)[detail.household_id]
        later = sorted(t for t in money.paid_tranches if t > detail.tranche)
        if later:
            raise ValidationError(f"该户{TRANCHE_NAMES[later[0]]}已兑现，须先冲正后一期。")
        if money.received - to_fen(payout.amount) < money.ordered:
            raise ValidationError(
                f"该户已有收回通知 {money.ordered:,.2f} 元，冲正后已拨付将少于应收回金额；请先处理收回通知。"
            )

    def after_reverse(self, payout: Payout, actor: User) -> None:
        GrantLine.objects.filter(line_id=payout.line_id).update(cancelled_at=payout.reversed_at)


def _details(lines: Iterable[BatchLine]) -> dict[int, GrantLine]:
    return {g.line_id: g for g in GrantLine.objects.filter(line__in=list(lines))}


def batch_kinds() -> tuple[BatchKind, ...]:
    return tuple(
        BatchKind(
            code=KIND_OF_TRANCHE[tranche],
            label={1: "第一期（产前）", 2: "第二期（产中）", 3: "第三期（产后/以奖代补）"}[tranche],
            fund=FUND,
            steps=STEPS,
            pay_roles=PAYERS,
            payment_entry_kind=E_PAYOUT,
            statuses=STATUSES,
            hooks=GrantHooks(tranche),
            # The 以奖代补 is published at a villager meeting (公示) before the township passes it.
            notice_gate=NoticeGate("township_review", "reward") if tranche == 3 else None,
            unit="户",
            attrs={"tranche": tranche},
        )
        for tranche in (1, 2, 3)
    )


@dataclass(frozen=True)
class Item:
    household: Household
    plan: HouseholdPlan
    amount: Decimal


def create_batch(*, village: Village, year: int, tranche: int, actor: User, items: list[Item]) -> Batch:
    """The batch, its lines on the households' grant accounts, and their grant details, in bulk."""
    items = sorted(items, key=lambda i: i.household.pk)
    accounts = household_accounts(i.household for i in items)
    batch = Batch.objects.create(
        kind=KIND_OF_TRANCHE[tranche],
        year=year,
        township_id=village.township_id,
        village=village,
        created_by=actor,
        total=sum((i.amount for i in items), ZERO),
        line_count=len(items),
    )
    lines = BatchLine.objects.bulk_create(
        [BatchLine(batch=batch, account=accounts[i.household.pk], amount=i.amount) for i in items]
    )
    try:
        with transaction.atomic():
            GrantLine.objects.bulk_create(
                [
                    GrantLine(line=line, household=i.household, plan=i.plan, year=year, tranche=tranche)
                    for line, i in zip(lines, items, strict=True)
                ]
            )
    except IntegrityError:
        raise ValidationError("有户已被另一批次列入，请刷新后重试。") from None
    return batch


@transaction.atomic
def batch_prepare(*, village: Village, year: int, tranche: int, actor: User) -> Batch:
    """A batch of the village's households (those the actor may see) for one tranche.

    Tranche 1 takes households with a plan of record and freezes those plans (they enter the
    approval chain); tranche 2 only households whose tranche 1 is paid; tranche 3 goes through
    settlement. Only households whose 承诺书 binds their plan, that took no equity, that were not
    assessed inactive and that have room left under their grant; a household already in a live
    batch line for that tranche is not taken again. The households are locked while they are read.
    """
    if actor.role not in ("cadre", "village"):
        raise ValidationError(MSG_PREPARE_ROLE)
    if tranche == 3:
        raise ValidationError(MSG_TRANCHE3)
    if tranche not in (1, 2):
        raise ValidationError("期次应为 1 或 2。")
    if not scoped(Village.objects.filter(pk=village.pk), actor).exists():
        raise ValidationError("该村不在您的管辖范围内。")
    visible = scoped(Household.objects.filter(village=village), actor)
    guard.lock_households(visible.values_list("pk", flat=True))
    # Read again under the locks: a concurrent equity investment or batch is now visible.
    households = {h.pk: h for h in visible}
    state = guard.household_money(households, year)
    items: list[Item] = []
    unsigned = 0
    for money in state.values():
        plan = money.plan
        if plan is None or tranche in money.lined_tranches:
            continue
        if money.has_equity_record or money.equity or money.inactive:
            continue
        if tranche == 2 and 1 not in money.paid_tranches:
            continue
        if not plan.commitment_signed:
            unsigned += 1
            continue
        amount = to_fen(getattr(plan, f"tranche{tranche}"))
        if amount <= 0 or amount > money.room:
            continue
        items.append(Item(households[money.household_id], plan, amount))
    if not items:
        extra = "，且第一期已兑现" if tranche == 2 else ""
        message = MSG_NO_LINES.format(village=village.name, tranche=tranche, extra=extra)
        if unsigned:
            message += f"另有 {unsigned} 户的到户承诺书未签订或待重新签订。"
        raise ValidationError(message)
    batch = create_batch(village=village, year=year, tranche=tranche, actor=actor, items=items)
    if tranche == 1:  # the plans enter the approval chain: from here on they change only by amendment
        HouseholdPlan.objects.filter(pk__in=[i.plan.pk for i in items], status=PlanStatus.DRAFT).update(
            status=PlanStatus.SUBMITTED, updated_at=timezone.now()
        )
    return batch


def payouts_record(
    *,
    batch: Batch,
    actor: User,
    paid_on: datetime.date,
    method: str = Payout.Method.CASH,
    households: Iterable[int] | None = None,
    **details: Any,
) -> PayoutResult:
    """兑现 of a grant batch (all lines in the recorder's scope, or those of `households`); `details`
    as `disbursements.payouts.payouts_record` takes them (reference, receipt, unpaid…)."""
    accounts = None
    if households is not None:
        accounts = list(
            Account.objects.filter(grant_household__household_id__in=list(households)).values_list(
                "pk", flat=True
            )
        )
    return record_payouts(
        batch=batch, actor=actor, paid_on=paid_on, method=method, accounts=accounts, **details
    )
