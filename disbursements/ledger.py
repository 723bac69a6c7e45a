"""The one ledger through which every yuan moves, for every programme's fund.

Lock policy: post() locks the source accounts (`select_for_update(no_key=True)`, in pk order, so
two posters never wait on each other in opposite orders), checks their balances in one aggregate
query, then writes the entries in bulk, all inside the caller's transaction. SQLite has no row
locks; its IMMEDIATE transactions serialise writers instead. Callers that lock other rows (batches,
households) take those first, accounts last.

Funds keep programmes apart (专款专用): a move never crosses from one fund into another. Account and
entry kinds are the programmes' (`disbursements.registry`): whether an account may go below zero,
and which entry kinds a business record stands behind (reversed only with their record).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet

from households.models import User

from . import summaries
from .models import Account, Entry
from .money import ZERO, to_fen
from .registry import ACCOUNT_KINDS, ENTRY_KINDS, REVERSAL

MSG_INSUFFICIENT = "{account} 余额不足：需要 {need} 元，可用 {have} 元。"
MSG_ALREADY_REVERSED = "该分录已冲正过。"
MSG_REVERSE_REVERSAL = "冲正分录不能再冲正。"
MSG_CROSS_FUND = "资金专款专用：{source}（{source_fund}）的资金不能转入 {target}（{target_fund}）。"
MSG_RECORDED_KIND = "该分录属于{record}，请在该记录上办理冲正（业务冲正会同时更正记录与账目）。"
MSG_REVERSE_ROLE = "分录冲正由市指挥部办理。"
MSG_REASON = "冲正必须写明原因。"


@dataclass(frozen=True)
class Move:
    source: Account
    target: Account
    amount: Decimal
    kind: str
    memo: str = ""
    reverses: Entry | None = None


@dataclass(frozen=True)
class Effect:
    """An entry as it counts: a reversal counts as its original, with the amount negated."""

    entry_id: int  # the original's id for a reversal
    source_id: int
    target_id: int
    amount: Decimal
    kind: str


EFFECT_COLUMNS = ("pk", "source_id", "target_id", "amount", "kind", "reverses_id", "reverses__kind")


def effects(entries: QuerySet[Entry]) -> Iterator[Effect]:
    """Each entry of `entries` as it counts, in one query; reversals are folded onto their originals."""
    return effects_of(entries.values_list(*EFFECT_COLUMNS))


def effects_touching(entries: QuerySet[Entry], accounts: Q) -> Iterator[Effect]:
    """The effects of the `entries` whose source or target is one of `accounts` (a filter on Account),
    as one `UNION` of two joins: each side uses its own index, where an `OR` of the two would read
    every entry of the year (issue 14)."""
    sides = [
        entries.filter(**{f"{side}__in": Account.objects.filter(accounts)})
        .order_by()
        .values_list(*EFFECT_COLUMNS)
        for side in ("source", "target")
    ]
    return effects_of(sides[0].union(sides[1]).order_by())


def effects_of(rows: Iterable[tuple[Any, ...]]) -> Iterator[Effect]:
    for pk, source, target, amount, kind, reverses_id, reverses_kind in rows:
        if kind == REVERSAL:
            yield Effect(reverses_id, target, source, -to_fen(amount), reverses_kind)
        else:
            yield Effect(pk, source, target, to_fen(amount), kind)


def balances(accounts: Iterable[Account], year: int) -> dict[int, Decimal]:
    """Balance per account id for a year: in minus out, summed in Python as Decimal (SQLite sums are REAL)."""
    ids = [a.pk for a in accounts]
    result: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for field, sign in (("target_id", 1), ("source_id", -1)):
        rows = Entry.objects.filter(year=year, **{f"{field}__in": ids}).values_list(field, "amount")
        for account_id, amount in rows:
            result[account_id] += sign * to_fen(amount)
    return result


def may_go_negative(account: Account) -> bool:
    kind = ACCOUNT_KINDS.get(account.kind)
    return kind is not None and kind.may_go_negative


def post(moves: Sequence[Move], *, year: int, actor: User | None) -> list[Entry]:
    """Write the moves as entries; refuses (writing nothing) if any source would go below zero or a
    move would cross funds."""
    if not moves:
        return []
    if not transaction.get_connection().in_atomic_block:
        with transaction.atomic():
            return post(moves, year=year, actor=actor)
    for move in moves:
        ENTRY_KINDS[move.kind]  # a kind no programme registered is a programming error
        if move.source.fund != move.target.fund:
            raise ValidationError(
                MSG_CROSS_FUND.format(
                    source=move.source,
                    source_fund=move.source.fund_label,
                    target=move.target,
                    target_fund=move.target.fund_label,
                )
            )
    sources = sorted({m.source.pk for m in moves if not may_go_negative(m.source)})
    list(
        Account.objects.select_for_update(no_key=True).filter(pk__in=sources).order_by("pk").values_list("pk")
    )
    need: dict[int, Decimal] = defaultdict(lambda: ZERO)
    names: dict[int, str] = {}
    for move in moves:
        amount = to_fen(move.amount)
        if amount <= 0:
            raise ValidationError("金额必须大于零。")
        need[move.source.pk] += amount
        names[move.source.pk] = str(move.source)
    have = balances([Account(pk=pk) for pk in sources], year)
    # What the moves bring in to a source within the same posting counts too (e.g. pass-through).
    incoming: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for move in moves:
        incoming[move.target.pk] += to_fen(move.amount)
    for pk in sources:
        available = have[pk] + incoming[pk]
        if need[pk] > available:
            raise ValidationError(MSG_INSUFFICIENT.format(account=names[pk], need=need[pk], have=have[pk]))
    # The dashboard's summaries of the townships the money moved in wait for a refresh.
    summaries.figures_changed(
        year=year, townships={t for m in moves for t in (m.source.township_id, m.target.township_id)}
    )
    return Entry.objects.bulk_create(
        [
            Entry(
                year=year,
                fund=m.source.fund,
                kind=m.kind,
                source=m.source,
                target=m.target,
                amount=to_fen(m.amount),
                memo=m.memo,
                reverses=m.reverses,
                created_by=actor,
            )
            for m in moves
        ]
    )


@transaction.atomic
def reverse(entry: Entry, *, actor: User, reason: str, with_record: bool = False) -> Entry:
    """Correct a wrong entry by moving the same amount back; the original stays as it was.

    An entry that a business record stands behind (a payout, a repayment, an investment) is
    reversed only by that record's reversal service (`with_record=True`), in the same transaction.
    """
    if not reason.strip():
        raise ValidationError(MSG_REASON)
    locked = Entry.objects.select_for_update(no_key=True).select_related("source", "target").get(pk=entry.pk)
    if locked.kind == REVERSAL:
        raise ValidationError(MSG_REVERSE_REVERSAL)
    kind = ENTRY_KINDS.get(locked.kind)
    if kind is not None and kind.record is not None and not with_record:
        raise ValidationError(MSG_RECORDED_KIND.format(record=_record_label(kind.record.model)))
    if Entry.objects.filter(reverses=locked).exists():
        raise ValidationError(MSG_ALREADY_REVERSED)
    (posted,) = post(
        [Move(locked.target, locked.source, locked.amount, REVERSAL, f"冲正：{reason.strip()}", locked)],
        year=locked.year,
        actor=actor,
    )
    return posted


@transaction.atomic
def entry_reverse(*, entry: Entry, actor: User, reason: str) -> Entry:
    """冲正 of an entry on its own (下拨, 调减上缴, 调账), by city HQ. Entries behind a payout, a
    repayment or an investment are reversed with their record, by that record's own reversal."""
    if actor.role != "city":
        raise ValidationError(MSG_REVERSE_ROLE)
    return reverse(entry, actor=actor, reason=reason)


def _record_label(model_label: str) -> str:
    from django.apps import apps

    return str(apps.get_model(model_label)._meta.verbose_name)


# --- accounts, created on first use ------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    """An account as a programme wants it: found by (fund, key), created with the rest if missing."""

    fund: str
    kind: str
    key: str
    name: str
    township_id: int | None = None
    village_id: int | None = None
    holder_id: int | None = None


def accounts(specs: Iterable[Spec]) -> dict[tuple[str, str], Account]:
    """The accounts for `specs` by (fund, key), created in bulk where missing (two or three queries)."""
    wanted = {(s.fund, s.key): s for s in specs}
    if not wanted:
        return {}
    for spec in wanted.values():
        ACCOUNT_KINDS[spec.kind]
    by_fund: dict[str, set[str]] = defaultdict(set)
    for fund, key in wanted:
        by_fund[fund].add(key)

    def existing() -> dict[tuple[str, str], Account]:
        found: dict[tuple[str, str], Account] = {}
        for fund, keys in by_fund.items():
            for account in Account.objects.filter(fund=fund, key__in=keys):
                found[(account.fund, account.key)] = account
        return found

    found = existing()
    missing = [s for k, s in wanted.items() if k not in found]
    if missing:
        Account.objects.bulk_create(
            [
                Account(
                    fund=s.fund,
                    kind=s.kind,
                    key=s.key,
                    name=s.name[:64],
                    township_id=s.township_id,
                    village_id=s.village_id,
                    holder_id=s.holder_id,
                )
                for s in missing
            ],
            ignore_conflicts=True,  # a concurrent first use created it: read it back below
        )
        found = existing()
    return found


def account(spec: Spec) -> Account:
    return accounts([spec])[(spec.fund, spec.key)]
