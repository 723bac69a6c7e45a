"""资金下拨 (rules.md §6): city → townships → villages → cadres, 3,000 × eligible households.

Idempotent: each run compares the ledger with what each account should have been allocated
(`allocation_targets`) and posts only the differences, returning money up level by level where a
target fell. The targets are computed from balances: an account keeps what it has paid, so a cadre
change or a roster change never asks an account for money it no longer holds.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
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
    CITY,
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


# The moves an allocation keeps for its preview (the admin shows the first 300); every move is
# counted and summed per level, and handed to `on_move` as it is made (the command prints them).
MOVES_KEPT = 1000


@dataclass
class AllocationResult:
    year: int
    households: int = 0
    target_total: Decimal = ZERO
    moves: list[ledger.Move] = field(default_factory=list)  # the first MOVES_KEPT
    move_count: int = 0
    amount_moved: Decimal = ZERO
    posted: int = 0
    _funding_in: Decimal = ZERO
    _funding_back: Decimal = ZERO
    _levels: dict[tuple[str, bool], LevelMoves] = field(default_factory=dict)

    def add(self, move: ledger.Move) -> None:
        self.move_count += 1
        self.amount_moved += move.amount
        if len(self.moves) < MOVES_KEPT:
            self.moves.append(move)
        if move.kind == E_FUNDING:
            self._funding_in += move.amount
        elif move.kind == E_RETURN and move.target.kind == FUNDING:
            self._funding_back += move.amount
        down = move.kind != E_RETURN
        level = move.target.kind if down else move.source.kind
        row = self._levels.setdefault(
            (level, down), LevelMoves((DOWN_LABELS if down else UP_LABELS).get(level, level))
        )
        row.entries += 1
        row.amount += move.amount

    @property
    def new_money(self) -> Decimal:
        """What enters the programme from its funding (net of what goes back to it): the real money."""
        return self._funding_in - self._funding_back

    @property
    def levels(self) -> list[LevelMoves]:
        """The entries per level of the chain, down (下拨) and up (上缴), for the preview: the same money
        is booked once per level, so these amounts are not added together."""
        order = ["city", "township", "village", "cadre"]
        return [
            self._levels[key]
            for key in sorted(
                self._levels, key=lambda k: (not k[1], order.index(k[0]) if k[0] in order else 9)
            )
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


def _net_allocated(year: int, accounts: Any) -> dict[int, Decimal]:
    """Per account of `accounts` (a queryset of ids): what it received from above (or a
    reassignment) minus what it gave back, net of reversals. What an account passes down to its
    children is not subtracted: that is theirs. Summed in the database as whole fen, one row per
    account of `accounts` that has such entries (`allocate` asks for one township at a time)."""
    entry = connection.ops.quote_name(Entry._meta.db_table)
    into = (E_FUNDING, E_ALLOCATION, E_REASSIGNMENT)
    out_of = (E_RETURN, E_REASSIGNMENT)
    sub, sub_params = accounts.query.sql_with_params()

    def marks(kinds: tuple[str, ...]) -> str:
        return ", ".join(["%s"] * len(kinds))

    # A reversal counts as its original, negated: its source is the original's target.
    plain = f"FROM {entry} e WHERE e.kind IN "
    reversal = f"FROM {entry} e JOIN {entry} o ON o.id = e.reverses_id WHERE e.kind = %s AND o.kind IN "
    sides = (
        ("e.target_id", "", plain, into, ()),
        ("e.source_id", "-", plain, out_of, ()),
        ("e.source_id", "-", reversal, into, (REVERSAL,)),
        ("e.target_id", "", reversal, out_of, (REVERSAL,)),
    )
    parts, params = [], []
    for column, sign, source, kinds, first in sides:
        parts.append(
            f"SELECT {column} AS account_id, {sign}ROUND(e.amount * 100) AS fen {source}({marks(kinds)}) "
            f"AND e.year = %s AND e.fund = %s AND {column} IN ({sub})"
        )
        params += [*first, *kinds, year, FUND, *sub_params]
    query = f"SELECT n.account_id, SUM(n.fen) FROM ({' UNION ALL '.join(parts)}) n GROUP BY n.account_id"
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return defaultdict(
            lambda: ZERO, {pk: to_fen(Decimal(int(fen)) / 100) for pk, fen in cursor.fetchall()}
        )


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


def allocation_targets(
    year: int,
    *,
    per_cadre: bool = True,
    township_id: int | None = None,
    flows: tuple[dict[int, Decimal], dict[int, Decimal]] | None = None,
) -> Targets:
    """`per_cadre=False` (what `reconcile` and the upper levels of `allocate` need) adds each
    village's cadres up in SQL: at two million households that is 1,500 villages instead of 268 k
    (cadre, village) pairs in Python. `township_id` restricts the targets to one township (its
    villages' and cadres'; `city` is then that township's total); `flows` are `guard.receipt_flows`,
    when the caller already has them."""
    households, per_household = eligible_households(year)
    per_household = to_fen(per_household)
    received, paid_by = flows if flows is not None else guard.receipt_flows(year)
    targets = Targets(per_household=per_household)
    villages = Village.objects.all()
    paying = Account.objects.filter(fund=FUND, kind__in=[VILLAGE, CADRE, TOWNSHIP])
    if township_id is not None:
        households = households.filter(village__township_id=township_id)
        villages = villages.filter(township_id=township_id)
        paying = paying.filter(township_id=township_id)
    village_township = dict(villages.values_list("pk", "township_id"))

    def holder(village_id: int, cadre_id: int | None) -> tuple[dict[Any, Decimal], Any]:
        if cadre_id and per_cadre:
            return targets.cadre, (cadre_id, village_id)
        return targets.village, village_id

    # Each household needs max(0, P − received) = P − min(P, received): P per household, counted in
    # SQL per (village, cadre) — at 2 M households 268 k groups instead of 2 M rows in Python (issue
    # 14) — less what the households that were already paid something have received.
    by = ("village_id", "cadre_id") if per_cadre else ("village_id",)
    groups = households.order_by().values_list(*by).annotate(n=Count("pk"))
    for *place, n in groups.iterator(chunk_size=20_000):
        village_id, cadre_id = place[0], (place[1] if per_cadre else None)
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
    paying_ids = sorted(paid_by)
    for start in range(0, len(paying_ids), 10_000):
        for account_id, cadre_id, village_id, township, kind in paying.filter(
            pk__in=paying_ids[start : start + 10_000]
        ).values_list("pk", "holder_id", "village_id", "township_id", "kind"):
            if kind == CADRE:
                level, key = holder(village_id, cadre_id)
                level[key] += paid_by[account_id]
            elif kind == VILLAGE:
                targets.village[village_id] += paid_by[account_id]
            else:
                targets.township[township] += paid_by[account_id]
    for (_cadre_id, village_id), amount in targets.cadre.items():
        targets.village[village_id] += amount
    for village_id, amount in targets.village.items():
        targets.township[village_township[village_id]] += amount
    targets.city = sum(targets.township.values(), ZERO)
    return targets


@transaction.atomic
def allocate(
    *,
    year: int,
    actor: User | None,
    dry_run: bool = False,
    on_move: Callable[[ledger.Move], None] | None = None,
) -> AllocationResult:
    """City → townships → villages → cadres, 3,000 × eligible households at each level.

    Idempotent: compares with what the ledger already shows and posts only the difference (a
    negative difference is returned up, as 调减上缴). One allocation runs at a time (the funding
    account's row lock): a second click waits, then finds nothing left to post. A dry run computes
    the same moves, posts none.

    Flat memory (issue 14): the city, township and village levels are settled from per-village
    targets; the cadres one township at a time (its cadres' targets, accounts and ledger), so what
    Python holds is one township's cadres, not the province's 268 k. Returns go up first, bottom-up
    (every township's cadres, then villages, townships, the city), then new money comes down
    top-down: each `ledger.post` finds its sources' money already there, as one posting would.
    """
    funding = funding_account()
    list(Account.objects.select_for_update().filter(pk=funding.pk).order_by().values_list("pk"))
    flows = guard.receipt_flows(year)
    targets = allocation_targets(year, per_cadre=False, flows=flows)
    per_household = targets.per_household
    result = AllocationResult(year=year, households=targets.households, target_total=targets.city)

    city = city_account()
    townships, villages = township_accounts(), village_accounts()
    village_township = {pk: a.township_id for pk, a in villages.items()}
    upper = (
        Account.objects.filter(fund=FUND, kind__in=[FUNDING, CITY, TOWNSHIP, VILLAGE]).order_by().values("pk")
    )
    net = _net_allocated(year, upper)

    def settle(
        parent: Account,
        child: Account,
        target: Decimal,
        net: dict[int, Decimal],
        down: list[ledger.Move],
        up: list[ledger.Move],
        kind: str = E_ALLOCATION,
    ) -> None:
        difference = target - net[child.pk]
        memo = f"{year}年度到户产业扶持资金（每户 {per_household:,.2f} 元，核定 {target:,.2f} 元）"
        if difference > 0:
            down.append(ledger.Move(parent, child, difference, kind, memo))
        elif difference < 0:
            up.append(ledger.Move(child, parent, -difference, E_RETURN, "户数调减，资金上缴：" + memo))

    def post(moves: list[ledger.Move]) -> None:
        for move in moves:
            result.add(move)
            if on_move is not None:
                on_move(move)
        if moves and not dry_run:
            result.posted += len(ledger.post(moves, year=year, actor=actor))

    # The upper levels (a few thousand accounts at most).
    down_upper: list[ledger.Move] = []
    up_villages: list[ledger.Move] = []
    up_townships: list[ledger.Move] = []
    up_city: list[ledger.Move] = []
    settle(funding, city, targets.city, net, down_upper, up_city, E_FUNDING)
    for township_id, account in townships.items():
        settle(city, account, targets.township.get(township_id, ZERO), net, down_upper, up_townships)
    for village_id, account in villages.items():
        parent = townships[village_township[village_id]]  # type: ignore[index]
        settle(parent, account, targets.village.get(village_id, ZERO), net, down_upper, up_villages)

    # The cadres, one township at a time: their returns first, their new money last (computed
    # again then, so that no township's moves wait in memory for the others).
    for township_id in sorted(townships):
        post(_settle_cadres(year, township_id, villages, flows, settle, returns=True))
    post(up_villages)
    post(up_townships)
    post(up_city)
    post(down_upper)
    for township_id in sorted(townships):
        post(_settle_cadres(year, township_id, villages, flows, settle, returns=False))
    if dry_run:
        transaction.set_rollback(True)  # accounts created on the way are not kept either
    return result


def _settle_cadres(
    year: int,
    township_id: int,
    villages: dict[int, Account],
    flows: tuple[dict[int, Decimal], dict[int, Decimal]],
    settle: Callable[..., None],
    *,
    returns: bool,
) -> list[ledger.Move]:
    """One township's cadre purses against their targets: the returns up, or the new money down."""
    held = Account.objects.filter(fund=FUND, kind=CADRE, township_id=township_id)
    net = _net_allocated(year, held.order_by().values("pk"))
    if returns and not any(amount > 0 for amount in net.values()):
        return []  # nothing held, nothing to give back (e.g. the first allocation)
    targets = allocation_targets(year, township_id=township_id, flows=flows)
    cadres: dict[tuple[int, int], Account] = {
        (a.holder_id, a.village_id): a  # type: ignore[misc]
        for a in held.order_by()
    }
    if not returns:  # new money may go to a purse opened now; only a purse that exists gives back
        missing = [key for key in targets.cadre if key not in cadres]
        cadres.update(cadre_accounts(missing))
        cadres = {key: cadres[key] for key in targets.cadre}
    down: list[ledger.Move] = []
    up: list[ledger.Move] = []
    for key, account in cadres.items():
        settle(villages[key[1]], account, targets.cadre.get(key, ZERO), net, down, up)
    return up if returns else down


# --- reconciliation -----------------------------------------------------------------------------
