"""资金对账, per fund: every level's identity, every account, every business record, and the
programme's own checks — to the fen.

Levels: the city, its townships, their villages (a village's purse includes the holders' accounts
of that village: cadres hand the cash to payees). For each: allocated = passed on + paid + held.
Townships and the city pay no payee directly: their `paid` shows what was paid below them. Each
level's allocation is compared with what the programme says it should be (`ReconcileCheck.expected`).
Then: no account below zero (unless its kind may), no entry crossing funds, every entry of a kind
with a record matched by exactly one record of the same amount, reversed together; and the checks
the programme registered (e.g. no household past its grant). Problems are in Chinese and name what
they are about; an empty list means the fund balances.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import connection

from households.models import Township, Village

from .models import Account, Entry
from .money import ZERO, to_fen
from .registry import ACCOUNT_KINDS, ENTRY_KINDS, FUNDS, RECONCILE_CHECKS, REVERSAL, Counts, Level


@dataclass
class Row:
    """One level of the chain in the report (kept as `Level` for the callers of the first version)."""

    name: str
    allocated: Decimal = ZERO
    passed_on: Decimal = ZERO
    paid: Decimal = ZERO
    recovered: Decimal = ZERO
    held: Decimal = ZERO
    paid_here: Decimal = ZERO  # paid from this level's own purse (villages: their holders)
    expected: Decimal = ZERO  # what the programme says this level should have been allocated
    children: list[Row] = field(default_factory=list)

    @property
    def difference(self) -> Decimal:
        return self.allocated - self.passed_on - self.paid_here - self.held


@dataclass
class FundReport:
    fund: str
    label: str
    city: Row
    problems: list[str]


def reconcile_fund(*, year: int, fund: str) -> FundReport:
    """The fund's levels from aggregates computed in the database (issue 14: at two million
    households the fund has ~300 k accounts and entries; Python sees one row per (account kind,
    township, village), never one per account or entry), then the problems."""
    sums = _level_sums(year, fund)
    level_of = {k.code: k.level for k in ACCOUNT_KINDS}
    # Money per (way, direction), and the balance under the key "held", summed per level, per
    # (level, township) and per (level, village); `groups` lists every (level, township, village)
    # that has an account, with entries or not.
    per: dict[tuple[Any, ...], dict[tuple[str, str], Decimal]] = defaultdict(
        lambda: defaultdict(lambda: ZERO)
    )
    groups: set[tuple[str, int | None, int | None]] = set()
    for kind, township_id, village_id, way, direction, fen in sums:
        level = level_of.get(kind, Level.OTHER)
        groups.add((level, township_id, village_id))
        if way is None:
            continue
        amount = _yuan(fen)
        for key in ((level,), (level, "township", township_id), (level, "village", village_id)):
            per[key][(way, direction)] += amount
            per[key][("held", "")] += amount if direction == "in" else -amount

    def key_of(level: str, where: dict[str, int | None]) -> tuple[Any, ...]:
        if "village" in where:
            return (level, "village", where["village"])
        if "township" in where:
            return (level, "township", where["township"])
        return (level,)

    def total(level: str, way: str, direction: str, **where: int | None) -> Decimal:
        found = per.get(key_of(level, where))
        return found[(way, direction)] if found is not None else ZERO

    def held_of(level: str, **where: int | None) -> Decimal:
        return total(level, "held", "", **where)

    def alloc_in(level: str, **where: int | None) -> Decimal:
        return (
            total(level, Counts.FUNDING, "in", **where)
            + total(level, Counts.ALLOCATION, "in", **where)
            - total(level, Counts.RETURN, "out", **where)
        )

    def alloc_out(level: str, **where: int | None) -> Decimal:
        return total(level, Counts.ALLOCATION, "out", **where) - total(level, Counts.RETURN, "in", **where)

    check = next((c for c in RECONCILE_CHECKS if c.fund == fund), None)
    expected: dict[str, Any] = {"city": ZERO, "township": {}, "village": {}}
    if check is not None and check.expected is not None:
        with contextlib.suppress(ValidationError):  # e.g. no policy for the year: nothing is expected
            expected = check.expected(year)

    has_city = any(lvl == Level.CITY for lvl, _t, _v in groups)
    city = Row("香格里拉市", expected=expected.get("city", ZERO))
    if has_city:
        city.allocated, city.passed_on = alloc_in(Level.CITY), alloc_out(Level.CITY)
        city.held = held_of(Level.CITY)
        city.paid_here = total(Level.CITY, Counts.PAYMENT, "out")
    city.paid = city.paid_here
    township_accounts = {t for lvl, t, _v in groups if lvl == Level.TOWNSHIP}
    village_groups = {(t, v) for lvl, t, v in groups if lvl == Level.VILLAGE}
    township_ids = township_accounts | {t for t, _v in village_groups}
    townships = {t.pk: t for t in Township.objects.filter(pk__in=[t for t in township_ids if t is not None])}
    villages = {
        v.pk: v for v in Village.objects.filter(pk__in=[v for _t, v in village_groups if v is not None])
    }
    for township_id in sorted(township_ids, key=lambda pk: townships[pk].code if pk in townships else ""):
        row = Row(townships[township_id].name if township_id in townships else "（无乡镇）")
        if township_id in township_accounts:
            row.allocated = alloc_in(Level.TOWNSHIP, township=township_id)
            row.passed_on = alloc_out(Level.TOWNSHIP, township=township_id)
            row.held = held_of(Level.TOWNSHIP, township=township_id)
            # A township may pay a payee itself (e.g. an organisation's incentive).
            row.paid = row.paid_here = total(Level.TOWNSHIP, Counts.PAYMENT, "out", township=township_id)
        row.recovered = total(Level.PAYEE, Counts.RECOVERY, "out", township=township_id)
        row.expected = expected.get("township", {}).get(township_id, ZERO)
        here = sorted(
            (v for t, v in village_groups if t == township_id),
            key=lambda pk: villages[pk].code if pk in villages else "",
        )
        for village_id in here:
            # A village's purse includes its holders' accounts: cadres hand the cash to payees.
            village = Row(villages[village_id].name if village_id in villages else "（无村）")
            village.allocated = alloc_in(Level.VILLAGE, village=village_id)
            village.paid = village.paid_here = total(
                Level.VILLAGE, Counts.PAYMENT, "out", village=village_id
            ) + total(Level.HOLDER, Counts.PAYMENT, "out", village=village_id)
            village.held = held_of(Level.VILLAGE, village=village_id) + held_of(
                Level.HOLDER, village=village_id
            )
            village.recovered = total(Level.PAYEE, Counts.RECOVERY, "out", village=village_id)
            village.expected = expected.get("village", {}).get(village_id, ZERO)
            row.paid += village.paid
            row.children.append(village)
        city.paid += row.paid
        city.recovered += row.recovered
        city.children.append(row)

    problems = _level_problems(
        city, expecting=check is not None and check.expected is not None, has_city=has_city
    )
    problems.extend(_negative_balances(year, fund))
    problems.extend(_crossing_funds(year, fund))
    problems.extend(record_breaches(year, fund))
    if check is not None:
        problems.extend(check.check(year))
    return FundReport(fund=fund, label=FUNDS.label(fund), city=city, problems=problems)


def _yuan(fen: Any) -> Decimal:
    """A sum of whole fen from SQL (numeric on PostgreSQL, an integer-valued REAL on SQLite) in yuan."""
    return to_fen(Decimal(int(fen)) / 100)


def _table(model: Any) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _level_sums(year: int, fund: str) -> list[tuple[Any, ...]]:
    """Per (account kind, township, village): each way's money in and out, from every entry's effect
    (a reversal counts as its original, negated), and the balance; one query, a few thousand rows.

    Amounts are summed as whole fen (`ROUND(amount * 100)`), exact on PostgreSQL's numeric and on
    SQLite's REAL alike. An account with no entry still gives its group (with a NULL way).
    """
    ways = [(k.code, k.counts_as) for k in ENTRY_KINDS]
    effective_kind = "CASE WHEN e.kind = %s THEN o.kind ELSE e.kind END"
    way = "CASE " + " ".join(f"WHEN {effective_kind} = %s THEN %s" for _ in ways) + " ELSE %s END"
    way_params: list[Any] = []
    for code, counts_as in ways:
        way_params += [REVERSAL, code, counts_as]
    way_params.append(Counts.OTHER)
    # The effect's source is the reversal's target and vice versa; its amount is negated.
    sides = []
    side_params: list[Any] = []
    for direction, plain, swapped in (("out", "source_id", "target_id"), ("in", "target_id", "source_id")):
        sides.append(
            f"SELECT CASE WHEN e.kind = %s THEN e.{swapped} ELSE e.{plain} END AS account_id, "
            f"'{direction}' AS direction, {way} AS way, "
            "CASE WHEN e.kind = %s THEN -ROUND(e.amount * 100) ELSE ROUND(e.amount * 100) END AS fen "
            f"FROM {_table(Entry)} e LEFT JOIN {_table(Entry)} o ON o.id = e.reverses_id "
            "WHERE e.year = %s AND e.fund = %s"
        )
        side_params += [REVERSAL, *way_params, REVERSAL, year, fund]
    # Only the fund's own entries count; an entry crossing funds is reported on its own
    # (`_crossing_funds`), and an account's own balance is checked over every entry (`_negative_balances`).
    sql = (
        "SELECT a.kind, a.township_id, a.village_id, f.way, f.direction, SUM(f.fen) "
        f"FROM {_table(Account)} a LEFT JOIN ({' UNION ALL '.join(sides)}) f ON f.account_id = a.id "
        "WHERE a.fund = %s GROUP BY a.kind, a.township_id, a.village_id, f.way, f.direction"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*side_params, fund])
        return list(cursor.fetchall())


def _negative_balances(year: int, fund: str) -> list[str]:
    """Accounts below zero whose kind may not be: computed in the database, only those come back."""
    allowed = [k.code for k in ACCOUNT_KINDS if k.may_go_negative] or [""]
    marks = ", ".join(["%s"] * len(allowed))
    sql = (
        "SELECT b.account_id, SUM(b.fen) FROM ("
        f"SELECT target_id AS account_id, ROUND(amount * 100) AS fen FROM {_table(Entry)} WHERE year = %s "
        f"UNION ALL SELECT source_id, -ROUND(amount * 100) FROM {_table(Entry)} WHERE year = %s"
        f") b JOIN {_table(Account)} a ON a.id = b.account_id "
        f"WHERE a.fund = %s AND a.kind NOT IN ({marks}) "
        "GROUP BY b.account_id HAVING SUM(b.fen) < 0 ORDER BY b.account_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [year, year, fund, *allowed])
        negative = {pk: _yuan(fen) for pk, fen in cursor.fetchall()}
    accounts = Account.objects.in_bulk(list(negative))
    return [f"{accounts[pk]}：余额为负 {amount} 元" for pk, amount in negative.items()]


def _level_problems(city: Row, *, expecting: bool, has_city: bool) -> list[str]:
    problems: list[str] = []
    levels = [*([city] if has_city else []), *city.children, *(v for t in city.children for v in t.children)]
    for level in levels:
        if expecting and level.allocated != level.expected:
            problems.append(
                f"{level.name}：应拨 {level.expected} 元（按现有花名册），实拨 {level.allocated} 元，"
                f"差 {level.expected - level.allocated} 元（请核实，或重新运行 allocate）"
            )
        if level.held < 0:
            problems.append(f"{level.name}：结存为负 {level.held} 元")
        if level.difference != 0:
            problems.append(
                f"{level.name}：下拨 {level.allocated} ≠ 转拨 {level.passed_on} + 兑现 {level.paid_here}"
                f" + 结存 {level.held}，差 {level.difference} 元"
            )
    township_total = sum((t.allocated for t in city.children), ZERO)
    # Only a fund the city passes on to townships (some fund its townships from the source directly).
    if has_city and township_total != city.passed_on:
        problems.append(
            f"市转拨 {city.passed_on} 元，各乡镇收到 {township_total} 元，"
            f"差 {city.passed_on - township_total} 元"
        )
    for township in city.children:
        received = sum((v.allocated for v in township.children), ZERO)
        if received != township.passed_on:
            problems.append(
                f"{township.name}转拨 {township.passed_on} 元，各村收到 {received} 元，"
                f"差 {township.passed_on - received} 元"
            )
    return problems


def _crossing_funds(year: int, fund: str) -> list[str]:
    crossing = Entry.objects.filter(year=year, fund=fund).exclude(source__fund=fund, target__fund=fund)
    return [f"分录 #{pk}：资金不属于同一专项（专款专用）" for pk in crossing.values_list("pk", flat=True)]


def record_breaches(year: int, fund: str) -> list[str]:
    """Every entry of a kind with a record has exactly one record naming it, with the same amount; a
    reversed entry's record is marked reversed and a live one's is not."""
    recorded = {k.code: k.record for k in ENTRY_KINDS if k.record is not None}
    problems: list[str] = []
    entries = {
        pk: (kind, to_fen(amount), reversal is not None)
        for pk, kind, amount, reversal in Entry.objects.filter(
            year=year, fund=fund, kind__in=list(recorded)
        ).values_list("pk", "kind", "amount", "reversed_by")
    }
    claimed: set[int] = set()
    for kind, record in recorded.items():
        model = apps.get_model(record.model)
        label = str(model._meta.verbose_name)
        reversible = any(f.name == "reversed_at" for f in model._meta.get_fields())
        fields = ["pk", record.entry_field, record.amount_field, *(["reversed_at"] if reversible else [])]
        # One record model may stand behind several kinds (every batch kind's payouts are Payouts).
        rows = model._default_manager.filter(
            **{
                f"{record.entry_field}__year": year,
                f"{record.entry_field}__fund": fund,
                f"{record.entry_field}__kind": kind,
            }
        ).values_list(*fields)
        for pk, entry_id, amount, *rest in rows:
            entry = entries.get(entry_id)
            if entry is None or entry[0] != kind:
                problems.append(f"{label} #{pk}：所记分录 #{entry_id} 不存在或类别不符")
                continue
            claimed.add(entry_id)
            if entry[1] != to_fen(amount):
                problems.append(
                    f"{label} #{pk}：金额 {to_fen(amount)} 元与分录 #{entry_id} 的 {entry[1]} 元不符"
                )
            reversed_record = bool(rest and rest[0] is not None)
            if entry[2] != reversed_record:
                state = "已冲正" if entry[2] else "未冲正"
                problems.append(f"{label} #{pk}：分录 #{entry_id} {state}，记录却不是")
    for entry_id, (kind, amount, _reversed) in sorted(entries.items()):
        if entry_id not in claimed:
            problems.append(
                f"分录 #{entry_id}（{ENTRY_KINDS.label(kind)} {amount} 元）没有对应的业务记录（重复或篡改？）"
            )
    return problems


def funds_with_money(year: int) -> list[str]:
    """The registered funds, and any fund the ledger holds for the year that no programme registered."""
    used = set(Entry.objects.filter(year=year).values_list("fund", flat=True).distinct())
    return [*FUNDS.codes(), *sorted(used - set(FUNDS.codes()))]


def reconcile(*, year: int, fund: str | None = None) -> list[FundReport]:
    """Every fund (or one) for the year."""
    return [reconcile_fund(year=year, fund=code) for code in ([fund] if fund else funds_with_money(year))]
