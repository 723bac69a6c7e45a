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

from households.models import Township

from . import ledger
from .models import Account, Entry
from .money import ZERO, to_fen
from .registry import ACCOUNT_KINDS, ENTRY_KINDS, FUNDS, RECONCILE_CHECKS, Counts, Level


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
    accounts = list(Account.objects.filter(fund=fund).select_related("township", "village"))
    balance = ledger.balances(accounts, year)
    level_of = {
        a.pk: ACCOUNT_KINDS[a.kind].level if a.kind in ACCOUNT_KINDS else Level.OTHER for a in accounts
    }
    counts: dict[str, str] = {k.code: k.counts_as for k in ENTRY_KINDS}
    incoming: dict[tuple[int, str], Decimal] = defaultdict(lambda: ZERO)
    outgoing: dict[tuple[int, str], Decimal] = defaultdict(lambda: ZERO)
    for effect in ledger.effects(Entry.objects.filter(year=year, fund=fund)):
        way = counts.get(effect.kind, Counts.OTHER)
        outgoing[(effect.source_id, way)] += effect.amount
        incoming[(effect.target_id, way)] += effect.amount

    def alloc_in(pk: int) -> Decimal:
        return (
            incoming[(pk, Counts.FUNDING)] + incoming[(pk, Counts.ALLOCATION)] - outgoing[(pk, Counts.RETURN)]
        )

    def alloc_out(pk: int) -> Decimal:
        return outgoing[(pk, Counts.ALLOCATION)] - incoming[(pk, Counts.RETURN)]

    by_level: dict[str, list[Account]] = defaultdict(list)
    for account in accounts:
        by_level[level_of[account.pk]].append(account)
    holders_by_village: dict[int | None, list[Account]] = defaultdict(list)
    for account in by_level[Level.HOLDER]:
        holders_by_village[account.village_id].append(account)
    recovered_by_township: dict[int | None, Decimal] = defaultdict(lambda: ZERO)
    recovered_by_village: dict[int | None, Decimal] = defaultdict(lambda: ZERO)
    for account in by_level[Level.PAYEE]:
        amount = outgoing[(account.pk, Counts.RECOVERY)]
        recovered_by_township[account.township_id] += amount
        recovered_by_village[account.village_id] += amount

    check = next((c for c in RECONCILE_CHECKS if c.fund == fund), None)
    expected: dict[str, Any] = {"city": ZERO, "township": {}, "village": {}}
    if check is not None and check.expected is not None:
        with contextlib.suppress(ValidationError):  # e.g. no policy for the year: nothing is expected
            expected = check.expected(year)

    city = Row("香格里拉市", expected=expected.get("city", ZERO))
    for account in by_level[Level.CITY]:
        city.allocated += alloc_in(account.pk)
        city.passed_on += alloc_out(account.pk)
        city.held += balance[account.pk]
        city.paid_here += outgoing[(account.pk, Counts.PAYMENT)]
    city.paid = city.paid_here
    township_accounts = {a.township_id: a for a in by_level[Level.TOWNSHIP]}
    villages_by_township: dict[int | None, list[Account]] = defaultdict(list)
    for account in by_level[Level.VILLAGE]:
        villages_by_township[account.township_id].append(account)
    township_ids = set(township_accounts) | set(villages_by_township)
    townships = {t.pk: t for t in Township.objects.filter(pk__in=[t for t in township_ids if t is not None])}
    for township_id in sorted(township_ids, key=lambda pk: townships[pk].code if pk in townships else ""):
        row = Row(townships[township_id].name if township_id in townships else "（无乡镇）")
        township_account = township_accounts.get(township_id)
        if township_account is not None:
            row.allocated, row.passed_on = alloc_in(township_account.pk), alloc_out(township_account.pk)
            row.held = balance[township_account.pk]
            # A township may pay a payee itself (e.g. an organisation's incentive).
            row.paid = row.paid_here = outgoing[(township_account.pk, Counts.PAYMENT)]
        row.recovered = recovered_by_township[township_id]
        row.expected = expected.get("township", {}).get(township_id, ZERO)
        for village_account in sorted(villages_by_township[township_id], key=lambda a: a.village.code):  # type: ignore[union-attr]
            purse = [village_account, *holders_by_village[village_account.village_id]]
            village = Row(village_account.village.name)  # type: ignore[union-attr]
            village.allocated = alloc_in(village_account.pk)
            village.paid = village.paid_here = sum((outgoing[(a.pk, Counts.PAYMENT)] for a in purse), ZERO)
            village.held = sum((balance[a.pk] for a in purse), ZERO)
            village.recovered = recovered_by_village[village_account.village_id]
            village.expected = expected.get("village", {}).get(village_account.village_id, ZERO)
            row.paid += village.paid
            row.children.append(village)
        city.paid += row.paid
        city.recovered += row.recovered
        city.children.append(row)

    problems = _level_problems(
        city, expecting=check is not None and check.expected is not None, has_city=bool(by_level[Level.CITY])
    )
    for account in accounts:
        if not ledger.may_go_negative(account) and balance[account.pk] < 0:
            problems.append(f"{account}：余额为负 {balance[account.pk]} 元")
    problems.extend(_crossing_funds(year, fund))
    problems.extend(record_breaches(year, fund))
    if check is not None:
        problems.extend(check.check(year))
    return FundReport(fund=fund, label=FUNDS.label(fund), city=city, problems=problems)


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
