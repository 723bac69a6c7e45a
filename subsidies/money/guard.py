"""Each household's grant money, read from the ledger, and the guard every paying route passes.

What must hold (issue 8), per household and year:
1. money out never exceeds the grant of record: cash tranches + 以奖代补 + equity principal −
   reversals ≤ G, checked inside the paying transaction with the household rows locked;
2. one route: cash or equity, never both;
3. stages in order: tranche 2 after tranche 1 is paid; the reward from what was actually paid at the
   moment it is paid; an inactive household gets no further payment of any kind;
4. the plan's 承诺书 binds what is paid (a changed plan must be signed again).

"Received" is derived from the ledger (payout and equity entries into the household's account, net
of their reversals), never from a stored total. Lock order everywhere: batch rows, then households
(pk order), then accounts (`ledger.post`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db.models import Q

from disbursements import ledger
from disbursements.models import Account, Entry
from disbursements.registry import REVERSAL
from households.models import Household, User

from .. import rules
from ..models import (
    BenefitAnalysis,
    EquityInvestment,
    GrantLine,
    HouseholdAccount,
    HouseholdPlan,
    PlanStatus,
    RecoveryOrder,
)
from .accounts import E_EQUITY, E_REASSIGNMENT, FUND, RECEIPT_KINDS, cadre_accounts, village_accounts

ZERO = Decimal("0.00")

CASH = "cash"
EQUITY = "equity"


@dataclass
class HouseholdMoney:
    """One household's grant for a year, as the ledger and the records show it now."""

    household_id: int
    label: str  # 户编号 户主
    plan: HouseholdPlan | None = None
    cash: Decimal = ZERO  # received as cash/bank tranches and rewards, net of reversals
    equity: Decimal = ZERO  # received by the equity route, net of reversals
    paid_tranches: set[int] = field(default_factory=set)  # tranches with a live payout
    paid_amounts: dict[int, Decimal] = field(default_factory=dict)  # what each paid tranche paid
    lined_tranches: set[int] = field(default_factory=set)  # tranches with a live batch line
    analysis: BenefitAnalysis | None = None
    ordered: Decimal = ZERO  # recovery orders raised
    has_equity_record: bool = False

    @property
    def grant(self) -> Decimal:
        return rules.to_fen(self.plan.grant_total) if self.plan is not None else ZERO

    @property
    def received(self) -> Decimal:
        return self.cash + self.equity

    @property
    def room(self) -> Decimal:
        return self.grant - self.received

    @property
    def inactive(self) -> bool:
        return self.analysis is not None and self.analysis.assessment == BenefitAnalysis.Assessment.INACTIVE

    def reward_due(self) -> Decimal:
        """以奖代补 at this moment: max(0, min(G, V) − received), V from the benefit analysis."""
        if self.analysis is None or self.inactive:
            return ZERO
        verified = rules.to_fen(self.analysis.verified_entitlement)
        return max(ZERO, min(self.grant, verified) - self.received)


def lock_households(ids: Iterable[int]) -> None:
    """Row locks on the households (pk order), so two routes paying one household serialise.

    SQLite has no row locks; its IMMEDIATE transactions serialise writers instead.
    """
    wanted = sorted(set(ids))
    if wanted:
        list(
            Household.objects.select_for_update(no_key=True)
            .filter(pk__in=wanted)
            .order_by("pk")
            .values_list("pk")
        )


def plans_of_record(household_ids: Iterable[int], year: int) -> dict[int, HouseholdPlan]:
    """Per household: the plan that binds the money (not superseded, not a draft amendment)."""
    plans = (
        HouseholdPlan.objects.filter(household_id__in=list(household_ids), year=year)
        .exclude(status=PlanStatus.SUPERSEDED)
        .exclude(status=PlanStatus.DRAFT, amends__isnull=False)
        .select_related("commitment", "policy")
    )
    return {p.household_id: p for p in plans}


def household_money(household_ids: Iterable[int], year: int) -> dict[int, HouseholdMoney]:
    """The grant state of each household, in a constant number of queries."""
    ids = sorted(set(household_ids))
    state = {
        pk: HouseholdMoney(pk, f"{code} {name}")
        for pk, code, name in Household.objects.filter(pk__in=ids).values_list("pk", "code", "head_name")
    }
    for household_id, plan in plans_of_record(ids, year).items():
        state[household_id].plan = plan
    account_of = dict(
        HouseholdAccount.objects.filter(household_id__in=ids).values_list("account_id", "household_id")
    )
    receipts = Entry.objects.filter(year=year, fund=FUND).filter(
        Q(kind__in=RECEIPT_KINDS, target_id__in=list(account_of))
        | Q(kind=REVERSAL, reverses__kind__in=RECEIPT_KINDS, reverses__target_id__in=list(account_of))
    )
    for effect in ledger.effects(receipts):
        money = state[account_of[effect.target_id]]
        if effect.kind == E_EQUITY:
            money.equity += effect.amount
        else:
            money.cash += effect.amount
    for household_id, tranche, paid, amount in GrantLine.objects.filter(
        household_id__in=ids, year=year, cancelled_at__isnull=True
    ).values_list("household_id", "tranche", "line__payout", "line__amount"):
        state[household_id].lined_tranches.add(tranche)
        if paid is not None:  # a live line's payout is live (a reversal cancels the line)
            state[household_id].paid_tranches.add(tranche)
            state[household_id].paid_amounts[tranche] = rules.to_fen(amount)
    for analysis in (
        BenefitAnalysis.objects.filter(plan__household_id__in=ids, plan__year=year)
        .exclude(plan__status=PlanStatus.SUPERSEDED)
        .select_related("plan")
    ):
        state[analysis.plan.household_id].analysis = analysis
    for household_id, amount in RecoveryOrder.objects.filter(household_id__in=ids, year=year).values_list(
        "household_id", "amount"
    ):
        state[household_id].ordered += rules.to_fen(amount)
    for household_id in EquityInvestment.objects.filter(
        household_id__in=ids, year=year, reversed_at__isnull=True
    ).values_list("household_id", flat=True):
        state[household_id].has_equity_record = True
    return state


@dataclass(frozen=True)
class Payment:
    """Money about to reach a household: a tranche (1, 2; 3 is the 以奖代补) or equity (tranche None)."""

    household_id: int
    amount: Decimal
    route: str = CASH
    tranche: int | None = None


def check_payments(payments: Sequence[Payment], year: int) -> dict[int, HouseholdMoney]:
    """Refuse (naming each household and why) unless every payment keeps every invariant.

    The caller holds the household locks (`lock_households`) and posts in the same transaction.
    """
    state = household_money([p.household_id for p in payments], year)
    problems: list[str] = []
    for payment in payments:
        money = state[payment.household_id]
        reason = _refusal(money, payment)
        if reason:
            problems.append(f"{money.label}：{reason}")
        else:  # two payments to one household in one call add up
            if payment.route == EQUITY:
                money.equity += payment.amount
            else:
                money.cash += payment.amount
    if problems:
        raise ValidationError(problems)
    return state


def _refusal(money: HouseholdMoney, payment: Payment) -> str:
    amount = rules.to_fen(payment.amount)
    plan = money.plan
    if plan is None:
        return "没有本年度的产业计划，不能拨付。"
    if money.inactive:
        return "产业扶持分析表评价为不积极发展产业，停止后续扶持，不能再拨付。"
    if payment.route == CASH:
        if money.equity or money.has_equity_record:
            return "该户已选择入股分红，补助不能再以现金兑现。"
        if not plan.commitment_signed:
            return _unsigned(plan)
        if payment.tranche == 2 and 1 not in money.paid_tranches:
            return "第一期尚未兑现，不能兑现第二期。"
        if payment.tranche == 3:
            due = money.reward_due()
            if amount > due:
                return (
                    f"以奖代补按已拨付 {rules.yuan(money.received)} 元重新核算，应为 {rules.yuan(due)} 元，"
                    f"批次中为 {rules.yuan(amount)} 元；请退回重新核定。"
                )
    elif payment.route == EQUITY:
        if money.cash or money.paid_tranches or money.lined_tranches:
            return "该户已有到户资金兑现或已列入拨付批次，不能再改为入股。"
        if money.has_equity_record:
            return "该户本年度已入股。"
    if money.received + amount > money.grant:
        return (
            f"本次 {rules.yuan(amount)} 元后累计 {rules.yuan(money.received + amount)} 元，"
            f"超过补助 {rules.yuan(money.grant)} 元。"
        )
    return ""


def _unsigned(plan: HouseholdPlan) -> str:
    if plan.commitment_state == "resign":
        return "计划在签订承诺书后有改动，须重新签订承诺书（待重新签订）。"
    return "到户承诺书尚未签订。"


# --- reassignment --------------------------------------------------------------------------------


def follow_reassignment(moves: Sequence[tuple[int, int | None, int | None]], actor: User | None) -> int:
    """A household's money follows its current cadre: for households that changed cadre within their
    village, move what is left of their allocation from the old holder's account to the new one, in
    every year that has an allocation.

    `moves` are (household id, old cadre id, new cadre id). A move between villages is left to
    `allocate`, which returns money up and sends it down level by level. Returns entries posted.
    """
    from ..models import Policy
    from .accounts import E_ALLOCATION

    moves = [m for m in moves if m[1] != m[2]]
    if not moves:
        return 0
    allocated_years = Entry.objects.filter(fund=FUND, kind=E_ALLOCATION).values("year")
    posted = 0
    for year, cap in Policy.objects.filter(year__in=allocated_years).values_list("year", "household_cap"):
        posted += _follow(moves, actor, year, rules.to_fen(cap))
    return posted


def _follow(
    moves: Sequence[tuple[int, int | None, int | None]], actor: User | None, year: int, per_household: Decimal
) -> int:
    households = {h.pk: h for h in Household.objects.filter(pk__in=[m[0] for m in moves])}
    received = household_money(households.keys(), year)
    pairs = [(households[pk], old, new) for pk, old, new in moves if households[pk].village_id is not None]
    keys = {(cadre, h.village_id) for h, old, new in pairs for cadre in (old, new) if cadre}
    purses = cadre_accounts(keys)
    villages = village_accounts()

    def holder(cadre_id: int | None, village_id: int) -> Account:
        return purses[(cadre_id, village_id)] if cadre_id else villages[village_id]

    wanted = [
        (
            holder(old, h.village_id),
            holder(new, h.village_id),
            max(ZERO, per_household - received[h.pk].received),
            h,
        )
        for h, old, new in pairs
    ]
    have = ledger.balances([old for old, _, _, _ in wanted], year)
    moves_out: list[ledger.Move] = []
    for old_account, new_account, remaining, household in wanted:
        amount = min(remaining, max(ZERO, have[old_account.pk]))
        if amount > 0 and old_account.pk != new_account.pk:
            have[old_account.pk] -= amount
            moves_out.append(
                ledger.Move(
                    old_account,
                    new_account,
                    amount,
                    E_REASSIGNMENT,
                    f"{household.code} {household.head_name} 挂包干部变更，未拨付资金随户转出",
                )
            )
    return len(ledger.post(moves_out, year=year, actor=actor))


def receipt_flows(year: int) -> tuple[dict[int, Decimal], dict[int, Decimal]]:
    """For the year: what each household has received, and what each account has paid to households
    (both net of reversals), from one pass over the receipt entries."""
    received: dict[int, Decimal] = {}
    paid_by: dict[int, Decimal] = {}
    entries = Entry.objects.filter(year=year, fund=FUND).filter(
        Q(kind__in=RECEIPT_KINDS) | Q(kind=REVERSAL, reverses__kind__in=RECEIPT_KINDS)
    )
    # The household through a join, not a dict of every household account (issue 14). A reversal
    # counts as its original, negated: its source is the household's account, its target the payer.
    rows = entries.order_by().values_list(
        "kind",
        "source_id",
        "target_id",
        "amount",
        "source__grant_household__household_id",
        "target__grant_household__household_id",
    )
    for kind, source_id, target_id, amount, source_household, target_household in rows.iterator(
        chunk_size=10_000
    ):
        if kind == REVERSAL:
            household_id, payer, amount = source_household, target_id, -rules.to_fen(amount)
        else:
            household_id, payer, amount = target_household, source_id, rules.to_fen(amount)
        received[household_id] = received.get(household_id, ZERO) + amount
        paid_by[payer] = paid_by.get(payer, ZERO) + amount
    return received, paid_by


def breaches(year: int) -> list[str]:
    """Per household: receipts above the grant, both routes, recovery orders above what was paid."""
    received, _paid_by = receipt_flows(year)
    touched: dict[int, None] = dict.fromkeys(received)
    touched.update(
        dict.fromkeys(RecoveryOrder.objects.filter(year=year).values_list("household_id", flat=True))
    )
    problems: list[str] = []
    by_household = household_money(touched.keys(), year)
    for money in sorted(by_household.values(), key=lambda m: m.label):
        if money.received > money.grant:
            problems.append(
                f"{money.label}：累计收到 {rules.yuan(money.received)} 元，"
                f"超过补助 {rules.yuan(money.grant)} 元"
            )
        if money.cash and money.equity:
            problems.append(f"{money.label}：既有现金兑现又有入股，同一户只能选一种方式")
        if money.ordered > money.received:
            problems.append(
                f"{money.label}：收回通知共 {rules.yuan(money.ordered)} 元，"
                f"超过实际拨付 {rules.yuan(money.received)} 元"
            )
    return problems
