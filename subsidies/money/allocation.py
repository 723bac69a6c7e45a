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
from households.sql import batch_memory, quote, temporary_table, yuan_text

from ..models import HouseholdAccount, Policy
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
    RECEIPT_KINDS,
    TOWNSHIP,
    VILLAGE,
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
# counted and summed per level, and handed to `on_move` in order (the command prints them).
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

    def add_summary(self, source_kind: str, target_kind: str, kind: str, count: int, amount: Decimal) -> None:
        """Count `count` moves of `kind` between accounts of these kinds, `amount` in all."""
        self.move_count += count
        self.amount_moved += amount
        if kind == E_FUNDING:
            self._funding_in += amount
        elif kind == E_RETURN and target_kind == FUNDING:
            self._funding_back += amount
        down = kind != E_RETURN
        level = target_kind if down else source_kind
        row = self._levels.setdefault(
            (level, down), LevelMoves((DOWN_LABELS if down else UP_LABELS).get(level, level))
        )
        row.entries += count
        row.amount += amount

    @property
    def new_money(self) -> Decimal:
        """What enters the programme from its funding (net of what goes back to it): the real money."""
        return self._funding_in - self._funding_back

    @property
    def money_back(self) -> Decimal:
        """What goes back to the funding source, net, when households fell away (0 when new money comes)."""
        return max(ZERO, -self.new_money)

    @property
    def money_line(self) -> str:
        """The net flow with the source, as the command and the admin's message say it."""
        if self.money_back:
            return f"退回资金来源 {self.money_back:,.2f} 元"
        return f"新增资金 {self.new_money:,.2f} 元"

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

    Set-based (issue 14): the targets and the moves are computed in the database (`_held`, `_moves`)
    and posted with `ledger.post_staged`, a fixed number of statements whatever the number of
    households; Python holds the preview's first `MOVES_KEPT` moves. The targets are the same as
    `allocation_targets` (which `reconcile` computes its own way, in Python: the two agree, or
    reconcile says so). Returns come first in the posting (bottom-up: cadres, villages, townships,
    the city), then new money top-down; under the sources' locks, the ledger checks that each
    source's balance plus what the posting brings it covers what the posting takes.
    """
    funding = funding_account()
    list(Account.objects.select_for_update().filter(pk=funding.pk).order_by().values_list("pk"))
    batch_memory()
    _condition, per_household = eligible_condition(year)
    per_household = to_fen(per_household)
    city_account()
    township_accounts()
    village_accounts()
    result = AllocationResult(year=year)
    with temporary_table("allocation_held", *_held(year, int(per_household * 100))) as held:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COALESCE(SUM(households), 0), COALESCE(SUM(fen), 0) FROM {quote(held)}")
            households, total = cursor.fetchone()
        result.households, result.target_total = int(households), ledger.from_fen(total)
        _open_cadre_purses(held)
        with ledger.staged_moves(*_moves(year, per_household, held)) as staged:
            for source_kind, target_kind, kind, count, amount in staged.summary():
                result.add_summary(source_kind, target_kind, kind, count, amount)
            for number, move in enumerate(staged.moves(None if on_move else MOVES_KEPT)):
                if number < MOVES_KEPT:
                    result.moves.append(move)
                if on_move is not None:
                    on_move(move)
            if result.move_count and not dry_run:
                result.posted = ledger.post_staged(staged, year=year, actor=actor)
    if dry_run:
        transaction.set_rollback(True)  # accounts created on the way are not kept either
    return result


def _receipts_sql(year: int) -> tuple[str, list[Any]]:
    """Every receipt of the year as (household account, paying account, fen), net of reversals: a
    reversal counts as its original, negated (what `guard.receipt_flows` reads)."""
    entry = quote(Entry._meta.db_table)
    marks = ", ".join(["%s"] * len(RECEIPT_KINDS))
    sql = (
        f"SELECT e.target_id AS household_account, e.source_id AS payer, ROUND(e.amount * 100) AS fen "
        f"FROM {entry} e WHERE e.year = %s AND e.fund = %s AND e.kind IN ({marks}) "
        f"UNION ALL SELECT e.source_id, e.target_id, -ROUND(e.amount * 100) "
        f"FROM {entry} e JOIN {entry} o ON o.id = e.reverses_id "
        f"WHERE e.year = %s AND e.fund = %s AND e.kind = %s AND o.kind IN ({marks})"
    )
    return sql, [year, FUND, *RECEIPT_KINDS, year, FUND, REVERSAL, *RECEIPT_KINDS]


def _held(year: int, per_household_fen: int) -> tuple[str, list[Any]]:
    """What each holder of the chain needs, in fen, per (township, village, cadre): the rows of the
    `Targets` rule. P per eligible household, less what each eligible household has already received
    (at most P), plus what each paying account has paid (it keeps that, whoever holds the households
    now). A village's own households have no cadre; a township's own payments no village either."""
    eligible = eligible_households(year)[0].order_by()
    groups, group_params = (
        eligible.values("village_id", "cadre_id").annotate(n=Count("pk")).query.sql_with_params()
    )
    each, each_params = eligible.values("pk", "village_id", "cadre_id").query.sql_with_params()
    receipts, receipt_params = _receipts_sql(year)
    accounts, village = quote(Account._meta.db_table), quote(Village._meta.db_table)
    household_account = quote(HouseholdAccount._meta.db_table)
    p = "%s"
    sql = (
        f"WITH receipts AS ({receipts}), "
        f"received AS (SELECT ha.household_id, SUM(r.fen) AS fen FROM receipts r "
        f"JOIN {household_account} ha ON ha.account_id = r.household_account GROUP BY ha.household_id), "
        "paid AS (SELECT r.payer, SUM(r.fen) AS fen FROM receipts r GROUP BY r.payer) "
        "SELECT x.township_id, x.village_id, x.cadre_id, "
        "SUM(x.households) AS households, SUM(x.fen) AS fen FROM ("
        f"SELECT v.township_id, g.village_id, g.cadre_id, g.n AS households, g.n * {p} AS fen "
        f"FROM ({groups}) g JOIN {village} v ON v.id = g.village_id "
        f"UNION ALL SELECT v.township_id, h.village_id, h.cadre_id, 0, "
        f"-(CASE WHEN r.fen < {p} THEN r.fen ELSE {p} END) "
        f"FROM received r JOIN ({each}) h ON h.pk = r.household_id JOIN {village} v ON v.id = h.village_id "
        "UNION ALL SELECT COALESCE(v.township_id, a.township_id), "
        f"CASE WHEN a.kind = {p} THEN NULL ELSE a.village_id END, "
        f"CASE WHEN a.kind = {p} THEN a.holder_id END, 0, p.fen "
        f"FROM paid p JOIN {accounts} a ON a.id = p.payer LEFT JOIN {village} v ON v.id = a.village_id "
        f"WHERE a.kind IN ({p}, {p}, {p})"
        ") x GROUP BY x.township_id, x.village_id, x.cadre_id"
    )
    params = [
        *receipt_params,
        per_household_fen,
        *group_params,
        per_household_fen,
        per_household_fen,
        *each_params,
        TOWNSHIP,
        CADRE,
        CADRE,
        VILLAGE,
        TOWNSHIP,
    ]
    return sql, params


def _open_cadre_purses(held: str) -> None:
    """A purse for each (cadre, village) that is to receive money and has none yet, in one statement
    (named as `cadre_accounts` names them)."""
    accounts, village = quote(Account._meta.db_table), quote(Village._meta.db_table)
    user = quote(User._meta.db_table)
    key = "'cadre:' || h.cadre_id || ':' || h.village_id"
    sql = (
        f"INSERT INTO {accounts} (fund, kind, key, name, township_id, village_id, holder_id) "
        f"SELECT %s, %s, {key}, "
        "SUBSTR(COALESCE(NULLIF(u.name, ''), u.username) || '（' || v.name || '）', 1, 64), "
        f"v.township_id, h.village_id, h.cadre_id FROM {quote(held)} h "
        f"JOIN {user} u ON u.id = h.cadre_id JOIN {village} v ON v.id = h.village_id "
        f"WHERE h.cadre_id IS NOT NULL AND h.fen > 0 "
        f"AND NOT EXISTS (SELECT 1 FROM {accounts} a WHERE a.fund = %s AND a.key = {key}) "
        "ON CONFLICT DO NOTHING"  # a payout opening the same purse at the same moment
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [FUND, CADRE, FUND])


# The chain's levels, in the order new money goes down (returns go up in the reverse order); each
# level's parent account, found by place (`c` the account, `p` its parent; the funding source and the
# city are one account each).
_DOWN_ORDER = (CITY, TOWNSHIP, VILLAGE, CADRE)
_PARENT = {
    CITY: (FUNDING, "1 = 1"),
    TOWNSHIP: (CITY, "1 = 1"),
    VILLAGE: (TOWNSHIP, "p.township_id = c.township_id"),
    CADRE: (VILLAGE, "p.village_id = c.village_id"),
}


def _moves(year: int, per_household: Decimal, held: str) -> tuple[str, list[Any]]:
    """Every account of the chain against its target: the difference as one move, down from its
    parent (下拨; from the funding source: 资金到位) or up to it (调减上缴), in `ledger.STAGED_COLUMNS`."""
    accounts, held_table = quote(Account._meta.db_table), quote(held)
    net_sql, net_params = _net_sql(year)
    # Each level's targets summed by its place first (1,500 villages, not 267 k purses, are then
    # looked up by key), then found by their account's key.
    by = {CADRE: "village_id, cadre_id", VILLAGE: "village_id", TOWNSHIP: "township_id", CITY: ""}
    # Found by place, as `cadre_accounts` and `village_accounts` place them (integer joins: at two
    # million households, 267 k purses).
    place = {
        CADRE: "a.kind = %s AND a.holder_id = h.cadre_id AND a.village_id = h.village_id",
        VILLAGE: "a.key = %s || h.village_id",  # a few thousand: looked up by the key's index
        TOWNSHIP: "a.key = %s || h.township_id",
        CITY: "a.key = %s",
    }
    place_param = {CADRE: CADRE, VILLAGE: "village:", TOWNSHIP: "township:", CITY: "city"}
    where = {
        CADRE: "cadre_id IS NOT NULL",
        VILLAGE: "village_id IS NOT NULL",
        TOWNSHIP: "1 = 1",
        CITY: "1 = 1",
    }

    def level_targets(level: str) -> str:
        grouped = f"SELECT {by[level] + ', ' if by[level] else ''}SUM(fen) AS fen FROM {held_table} "
        grouped += f"WHERE {where[level]}" + (f" GROUP BY {by[level]}" if by[level] else "")
        return (
            f"SELECT a.id AS account_id, h.fen FROM ({grouped}) h "
            f"JOIN {accounts} a ON a.fund = %s AND {place[level]}"
        )

    def level_chain(n: int, level: str) -> str:
        parent_place = _PARENT[level][1]
        return (
            f"SELECT c.id, c.kind, {n} AS level_order, p.id AS parent_id FROM {accounts} c "
            f"JOIN {accounts} p ON p.fund = c.fund AND p.kind = %s AND {parent_place} "
            "WHERE c.fund = %s AND c.kind = %s"
        )

    targets = " UNION ALL ".join(level_targets(level) for level in _DOWN_ORDER)
    chain = " UNION ALL ".join(level_chain(n, level) for n, level in enumerate(_DOWN_ORDER))
    memo = f"{year}年度到户产业扶持资金（每户 {per_household:,.2f} 元，核定 "
    sql = (
        f"WITH targets AS ({targets}), net AS ({net_sql}), "
        "chain AS (SELECT c.id, c.kind, c.parent_id, c.level_order, "
        "COALESCE(t.fen, 0) AS target, COALESCE(n.fen, 0) AS net "
        f"FROM ({chain}) c LEFT JOIN targets t ON t.account_id = c.id "
        "LEFT JOIN net n ON n.account_id = c.id) "
        "SELECT ROW_NUMBER() OVER ("
        "ORDER BY CASE WHEN target < net THEN -level_order ELSE 10 + level_order END, id) AS seq, "
        "CASE WHEN target > net THEN parent_id ELSE id END AS source_id, "
        "CASE WHEN target > net THEN id ELSE parent_id END AS target_id, "
        "ABS(target - net) AS fen, "
        "CASE WHEN target < net THEN %s WHEN kind = %s THEN %s ELSE %s END AS kind, "
        "CASE WHEN target < net THEN %s ELSE '' END || %s || "
        f"{yuan_text('target')} || ' 元）' AS memo "
        "FROM chain WHERE target <> net"
    )
    params = [
        *[value for level in _DOWN_ORDER for value in (FUND, place_param[level])],
        *net_params,
        *[value for level in _DOWN_ORDER for value in (_PARENT[level][0], FUND, level)],
        E_RETURN,
        CITY,
        E_FUNDING,
        E_ALLOCATION,
        "户数调减，资金上缴：",
        memo,
    ]
    return sql, params


def _net_sql(year: int) -> tuple[str, list[Any]]:
    """Per account of the fund: what it received from above (or a reassignment) minus what it gave
    back, net of reversals, in fen. What an account passes down to its children is not subtracted:
    that is theirs. A reassignment (调账) counts for cadres' purses only: it moves a household's money
    between the holders of one village, and from the village's own account to one of its purses (or
    back) it is the village passing money down (or taking it back), as `reconcile` counts it."""
    entry = quote(Entry._meta.db_table)
    into = (E_FUNDING, E_ALLOCATION)
    out_of = (E_RETURN,)

    def marks(kinds: tuple[str, ...]) -> str:
        return ", ".join(["%s"] * len(kinds))

    # A reversal counts as its original, negated: its source is the original's target.
    plain = f"FROM {entry} e WHERE e.kind IN "
    reversal = f"FROM {entry} e JOIN {entry} o ON o.id = e.reverses_id WHERE e.kind = %s AND o.kind IN "
    purse = f"AND {{column}} IN (SELECT a.id FROM {quote(Account._meta.db_table)} a WHERE a.kind = %s) "
    sides = (
        ("e.target_id", "", plain, into, ()),
        ("e.source_id", "-", plain, out_of, ()),
        ("e.source_id", "-", reversal, into, (REVERSAL,)),
        ("e.target_id", "", reversal, out_of, (REVERSAL,)),
        ("e.target_id", "", plain, (E_REASSIGNMENT,), ()),
        ("e.source_id", "-", plain, (E_REASSIGNMENT,), ()),
        ("e.source_id", "-", reversal, (E_REASSIGNMENT,), (REVERSAL,)),
        ("e.target_id", "", reversal, (E_REASSIGNMENT,), (REVERSAL,)),
    )
    parts, params = [], []
    for column, sign, source, kinds, first in sides:
        only_purses = kinds == (E_REASSIGNMENT,)
        parts.append(
            f"SELECT {column} AS account_id, {sign}ROUND(e.amount * 100) AS fen {source}({marks(kinds)}) "
            "AND e.year = %s AND e.fund = %s " + (purse.format(column=column) if only_purses else "")
        )
        params += [*first, *kinds, year, FUND, *([CADRE] if only_purses else [])]
    return (
        f"SELECT n.account_id, SUM(n.fen) AS fen FROM ({' UNION ALL '.join(parts)}) n GROUP BY n.account_id",
        params,
    )


# --- reconciliation -----------------------------------------------------------------------------
