"""资金下拨 (rules.md §6): city → townships → villages → cadres, 3,000 × eligible households.

Idempotent: each run compares the ledger with what each account should have been allocated
(`allocation_targets`) and posts only the differences, returning money up level by level where a
target fell. The targets are computed from balances: an account keeps what it has paid, so a cadre
change or a roster change never asks an account for money it no longer holds.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q

from disbursements import ledger
from disbursements.models import Account, Entry
from disbursements.money import ZERO, to_fen
from disbursements.registry import REVERSAL
from households.models import Household, User, Village

from ..models import Policy
from . import guard
from .accounts import (
    CADRE,
    E_ALLOCATION,
    E_FUNDING,
    E_REASSIGNMENT,
    E_RETURN,
    FUND,
    FUNDING,
    TOWNSHIP,
    VILLAGE,
    cadre_accounts,
    city_account,
    funding_account,
    township_accounts,
    village_accounts,
)


def eligible_condition(year: int) -> tuple[Q, Any]:
    """The one eligibility rule as a filter on households (inline, so an aggregate can use it as a
    `FILTER (WHERE …)` without a subquery), and the policy's cap per household."""
    policy = Policy.objects.filter(year=year).first()
    if policy is None:
        raise ValidationError(f"{year} 年度没有扶持政策。")
    condition = Q(exit_year=policy.eligible_exit_year)
    if policy.consolidation_exit_year:
        condition |= Q(exit_year=policy.consolidation_exit_year, consolidation=True)
    return condition, policy.household_cap


def eligible_households(year: int) -> Any:
    condition, cap = eligible_condition(year)
    return Household.objects.filter(condition), cap


# --- allocation -----------------------------------------------------------------------------------


@dataclass
class AllocationResult:
    year: int
    households: int = 0
    target_total: Decimal = ZERO
    moves: list[ledger.Move] = field(default_factory=list)
    posted: int = 0

    @property
    def amount_moved(self) -> Decimal:
        return sum((m.amount for m in self.moves), ZERO)

    @property
    def new_money(self) -> Decimal:
        """What enters the programme from its funding (net of what goes back to it): the real money."""
        into = sum((m.amount for m in self.moves if m.kind == E_FUNDING), ZERO)
        back = sum((m.amount for m in self.moves if m.kind == E_RETURN and m.target.kind == FUNDING), ZERO)
        return into - back

    @property
    def levels(self) -> list[LevelMoves]:
        """The entries per level of the chain, down (下拨) and up (上缴), for the preview: the same money
        is booked once per level, so these amounts are not added together."""
        rows: dict[tuple[str, bool], LevelMoves] = {}
        for move in self.moves:
            down = move.kind != E_RETURN
            level = move.target.kind if down else move.source.kind
            label = (DOWN_LABELS if down else UP_LABELS).get(level, level)
            row = rows.setdefault((level, down), LevelMoves(label))
            row.entries += 1
            row.amount += move.amount
        order = ["city", "township", "village", "cadre"]
        return [
            rows[key]
            for key in sorted(rows, key=lambda k: (not k[1], order.index(k[0]) if k[0] in order else 9))
        ]


@dataclass
class LevelMoves:
    label: str
    entries: int = 0
    amount: Decimal = ZERO


DOWN_LABELS = {
    "city": "资金来源 → 市指挥部（新增资金）",
    "township": "市指挥部 → 乡镇",
    "village": "乡镇 → 村委会",
    "cadre": "村委会 → 挂包干部",
}
UP_LABELS = {
    "city": "市指挥部 → 资金来源（上缴）",
    "township": "乡镇 → 市指挥部（上缴）",
    "village": "村委会 → 乡镇（上缴）",
    "cadre": "挂包干部 → 村委会（上缴）",
}


# Entries that move allocated money between the accounts of the chain (not to households).
ALLOCATION_KINDS = (E_FUNDING, E_ALLOCATION, E_RETURN, E_REASSIGNMENT)


def _net_allocated(year: int) -> dict[int, Decimal]:
    """Per account: what it received from above (or a reassignment) minus what it gave back, net of
    reversals. What an account passes down to its children is not subtracted: that is theirs."""
    net: dict[int, Decimal] = defaultdict(lambda: ZERO)
    entries = Entry.objects.filter(year=year, fund=FUND).filter(
        Q(kind__in=ALLOCATION_KINDS) | Q(kind=REVERSAL, reverses__kind__in=ALLOCATION_KINDS)
    )
    for effect in ledger.effects(entries):
        if effect.kind in (E_FUNDING, E_ALLOCATION):
            net[effect.target_id] += effect.amount
        elif effect.kind == E_RETURN:
            net[effect.source_id] -= effect.amount
        else:  # reassignment: from one holder to the next
            net[effect.target_id] += effect.amount
            net[effect.source_id] -= effect.amount
    return net


@dataclass
class Targets:
    """What each account of the chain should have been allocated (net), per the roster and the ledger.

    At the bottom, the account that pays a household (its cadre's, or its village's) needs 3,000 minus
    what the household has already received (from anyone), plus what that account itself has paid out
    (to households it may no longer hold). Each level above needs what its children need plus what it
    paid itself. With nothing paid and nobody moved this is exactly 3,000 × eligible households per
    level; after a reassignment the old holder keeps what it paid and gives back the rest, so a
    return never exceeds a balance.
    """

    households: int = 0
    per_household: Decimal = ZERO
    city: Decimal = ZERO
    township: dict[int, Decimal] = field(default_factory=lambda: defaultdict(lambda: ZERO))
    village: dict[int, Decimal] = field(default_factory=lambda: defaultdict(lambda: ZERO))
    cadre: dict[tuple[int, int], Decimal] = field(default_factory=lambda: defaultdict(lambda: ZERO))


def allocation_targets(year: int) -> Targets:
    households, per_household = eligible_households(year)
    per_household = to_fen(per_household)
    received, paid_by = guard.receipt_flows(year)
    targets = Targets(per_household=per_household)
    village_township = dict(Village.objects.values_list("pk", "township_id"))

    def holder(village_id: int, cadre_id: int | None) -> tuple[dict[Any, Decimal], Any]:
        return (targets.cadre, (cadre_id, village_id)) if cadre_id else (targets.village, village_id)

    # Each household needs max(0, P − received) = P − min(P, received): P per household, counted in
    # SQL per (village, cadre) — at 2 M households 268 k groups instead of 2 M rows in Python (issue
    # 14) — less what the households that were already paid something have received.
    groups = households.order_by().values_list("village_id", "cadre_id").annotate(n=Count("pk"))
    for village_id, cadre_id, n in groups.iterator(chunk_size=20_000):
        targets.households += n
        level, key = holder(village_id, cadre_id)
        level[key] += per_household * n
    paid_households = sorted(received)
    for start in range(0, len(paid_households), 10_000):
        chunk = paid_households[start : start + 10_000]
        for pk, village_id, cadre_id in households.filter(pk__in=chunk).values_list(
            "pk", "village_id", "cadre_id"
        ):
            level, key = holder(village_id, cadre_id)
            level[key] -= min(per_household, received[pk])
    # What each paying account has paid stays allocated to it, whoever holds the households now.
    paying = Account.objects.filter(pk__in=list(paid_by), fund=FUND, kind__in=[VILLAGE, CADRE, TOWNSHIP])
    for account_id, cadre_id, village_id, township_id, kind in paying.values_list(
        "pk", "holder_id", "village_id", "township_id", "kind"
    ):
        if kind == CADRE:
            targets.cadre[(cadre_id, village_id)] += paid_by[account_id]
        elif kind == VILLAGE:
            targets.village[village_id] += paid_by[account_id]
        else:
            targets.township[township_id] += paid_by[account_id]
    for (_cadre_id, village_id), amount in targets.cadre.items():
        targets.village[village_id] += amount
    for village_id, amount in targets.village.items():
        targets.township[village_township[village_id]] += amount
    targets.city = sum(targets.township.values(), ZERO)
    return targets


@transaction.atomic
def allocate(*, year: int, actor: User | None, dry_run: bool = False) -> AllocationResult:
    """City → townships → villages → cadres, 3,000 × eligible households at each level.

    Idempotent: compares with what the ledger already shows and posts only the difference (a
    negative difference is returned up, as 调减上缴). One allocation runs at a time (the funding
    account's row lock): a second click waits, then finds nothing left to post. A dry run computes
    the same moves, posts none.
    """
    funding = funding_account()
    list(Account.objects.select_for_update().filter(pk=funding.pk).order_by().values_list("pk"))
    targets = allocation_targets(year)
    per_household = targets.per_household
    result = AllocationResult(year=year, households=targets.households, target_total=targets.city)

    city = city_account()
    townships, villages = township_accounts(), village_accounts()
    cadres = cadre_accounts(targets.cadre.keys())
    # Cadre accounts that hold money but no longer any eligible household must give it back too.
    for account in Account.objects.filter(fund=FUND, kind=CADRE).exclude(
        pk__in=[a.pk for a in cadres.values()]
    ):
        cadres[(account.holder_id, account.village_id)] = account  # type: ignore[index]
    village_township = dict(Village.objects.values_list("pk", "township_id"))
    net = _net_allocated(year)

    down: list[ledger.Move] = []
    up: list[ledger.Move] = []

    def settle(parent: Account, child: Account, target: Decimal, kind: str = E_ALLOCATION) -> None:
        difference = target - net[child.pk]
        memo = f"{year}年度到户产业扶持资金（每户 {per_household:,.2f} 元，核定 {target:,.2f} 元）"
        if difference > 0:
            down.append(ledger.Move(parent, child, difference, kind, memo))
        elif difference < 0:
            up.append(ledger.Move(child, parent, -difference, E_RETURN, "户数调减，资金上缴：" + memo))

    settle(funding, city, targets.city, E_FUNDING)
    for township_id, account in townships.items():
        settle(city, account, targets.township.get(township_id, ZERO))
    for village_id, account in villages.items():
        settle(townships[village_township[village_id]], account, targets.village.get(village_id, ZERO))
    for key, account in cadres.items():
        settle(villages[key[1]], account, targets.cadre.get(key, ZERO))

    # Returns go bottom-up first (cadre → village → township → city → funding), then new money down.
    level: dict[str, int] = {"cadre": 0, "village": 1, "township": 2, "city": 3}
    up.sort(key=lambda m: level.get(m.source.kind, 9))
    result.moves = up + down
    if result.moves and not dry_run:
        if up:
            ledger.post(up, year=year, actor=actor)
        result.posted = len(ledger.post(down, year=year, actor=actor)) + len(up)
    if dry_run:
        transaction.set_rollback(True)  # accounts created on the way are not kept either
    return result


# --- reconciliation -----------------------------------------------------------------------------
