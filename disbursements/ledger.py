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
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from households.models import User
from households.sql import quote, temporary_table

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


# --- set-based posting (issue 14) --------------------------------------------------------------------


# What a staged move is: its order, both accounts, the amount in whole fen, the entry kind, the memo.
STAGED_COLUMNS = ("seq", "source_id", "target_id", "fen", "kind", "memo")
_ACCOUNT_COLUMNS = ("id", "fund", "kind", "key", "name", "township_id", "village_id", "holder_id")


@dataclass(frozen=True)
class Staged:
    """Moves a programme computed in SQL, held in a temporary table of the transaction: read back for
    a preview, then posted at once by `post_staged`."""

    table: str

    def summary(self) -> list[tuple[str, str, str, int, Decimal]]:
        """(source account kind, target account kind, entry kind, moves, amount) per combination."""
        sql = (
            f"SELECT s.kind, t.kind, m.kind, COUNT(*), SUM(m.fen) FROM {quote(self.table)} m "
            f"JOIN {_accounts()} s ON s.id = m.source_id JOIN {_accounts()} t ON t.id = m.target_id "
            "GROUP BY s.kind, t.kind, m.kind"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return [(s, t, k, n, from_fen(fen)) for s, t, k, n, fen in cursor.fetchall()]

    def moves(self, limit: int | None = None) -> Iterator[Move]:
        """The moves in their order, each with its two accounts (as read, not locked), streamed."""
        columns = ", ".join(f"{side}.{c}" for side in ("s", "t") for c in _ACCOUNT_COLUMNS)
        sql = (
            f"SELECT m.fen, m.kind, m.memo, {columns} FROM {quote(self.table)} m "
            f"JOIN {_accounts()} s ON s.id = m.source_id JOIN {_accounts()} t ON t.id = m.target_id "
            "ORDER BY m.seq" + (f" LIMIT {int(limit)}" if limit is not None else "")
        )
        width = len(_ACCOUNT_COLUMNS)
        cache: dict[int, Account] = {}

        def account(row: Sequence[Any]) -> Account:
            found = cache.get(row[0])
            if found is None:
                found = Account(
                    **{("pk" if c == "id" else c): v for c, v in zip(_ACCOUNT_COLUMNS, row, strict=True)}
                )
                if len(cache) < 10_000:  # the upper levels repeat; the cadres' purses do not
                    cache[row[0]] = found
            return found

        with connection.chunked_cursor() as cursor:
            cursor.execute(sql)
            while rows := cursor.fetchmany(5_000):
                for fen, kind, memo, *accounts in rows:
                    yield Move(
                        account(accounts[:width]), account(accounts[width:]), from_fen(fen), kind, memo
                    )


@contextmanager
def staged_moves(select_sql: str, params: Sequence[Any] = ()) -> Iterator[Staged]:
    """Stage the moves `select_sql` selects (its columns: `STAGED_COLUMNS`, amounts in whole fen) for
    the rest of the block, inside the caller's transaction."""
    with temporary_table("staged_moves", select_sql, params) as table:
        yield Staged(table)


def post_staged(staged: Staged, *, year: int, actor: User | None) -> int:
    """Post every staged move as one entry, set-based: a fixed number of statements whatever the
    number of moves. The same rules as `post`: registered kinds, no reversal (those go through
    `reverse`), amounts above zero, no move across funds, no source of a kind that may not go below
    zero left below zero. The sources are locked as `post` locks them (in pk order); each one's
    balance plus what the posting brings it must cover what the posting takes (one aggregate), and
    the entries are then written in one `INSERT … SELECT`. Returns the entries written."""
    table = quote(staged.table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT DISTINCT kind FROM {table}")
        for (kind,) in cursor.fetchall():
            if kind == REVERSAL:
                raise ValueError("reversals are posted by ledger.reverse, one by one")
            ENTRY_KINDS[kind]  # a kind no programme registered is a programming error
        cursor.execute(
            f"SELECT s.id, t.id FROM {table} m JOIN {_accounts()} s ON s.id = m.source_id "
            f"JOIN {_accounts()} t ON t.id = m.target_id "
            "WHERE s.fund <> t.fund OR m.fen <= 0 OR m.fen <> ROUND(m.fen) OR s.id = t.id "
            "ORDER BY m.seq LIMIT 1"
        )
        wrong = cursor.fetchone()
    if wrong is not None:
        source, target = (Account.objects.get(pk=pk) for pk in wrong)
        if source.fund != target.fund:
            raise ValidationError(
                MSG_CROSS_FUND.format(
                    source=source, source_fund=source.fund_label, target=target, target_fund=target.fund_label
                )
            )
        raise ValidationError("金额必须大于零，且以分为单位。")
    negative_allowed = [kind.code for kind in ACCOUNT_KINDS if kind.may_go_negative]
    sources = Account.objects.filter(pk__in=RawSQL(f"SELECT source_id FROM {table}", ())).exclude(
        kind__in=negative_allowed
    )
    for _ in sources.select_for_update(no_key=True).order_by("pk").values_list("pk").iterator(10_000):
        pass  # locked, in pk order
    short = _short(table, year, negative_allowed)
    if short is not None:
        raise ValidationError(short)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(Entry._meta.db_table)} "
            "(year, fund, kind, source_id, target_id, amount, memo, reverses_id, created_by_id, created_at) "
            "SELECT %s, s.fund, m.kind, m.source_id, m.target_id, m.fen / 100.0, m.memo, NULL, %s, %s "
            f"FROM {table} m JOIN {_accounts()} s ON s.id = m.source_id ORDER BY m.seq",
            [year, actor.pk if actor else None, connection.ops.adapt_datetimefield_value(timezone.now())],
        )
        written = cursor.rowcount
    summaries.figures_changed(
        year=year,
        townships=Account.objects.filter(
            pk__in=RawSQL(f"SELECT source_id FROM {table} UNION SELECT target_id FROM {table}", ())
        ).values("township_id"),
    )
    return written


def _short(table: str, year: int, negative_allowed: Sequence[str]) -> str | None:
    """The first staged source (of a kind that may not go below zero) whose balance for the year,
    plus what the staged moves bring it, does not cover what they take from it: `post`'s message."""
    entry = quote(Entry._meta.db_table)
    kinds = list(negative_allowed) or [""]  # `NOT IN (NULL)` would match nothing, and check nothing
    marks = ", ".join(["%s"] * len(kinds))
    sources = f"(SELECT DISTINCT source_id FROM {table})"
    sql = (
        "SELECT b.account_id, SUM(b.have), SUM(b.need), SUM(b.incoming) FROM ("
        f"SELECT e.target_id AS account_id, ROUND(e.amount * 100) AS have, 0 AS need, 0 AS incoming "
        f"FROM {entry} e WHERE e.year = %s AND e.target_id IN {sources} "
        f"UNION ALL SELECT e.source_id, -ROUND(e.amount * 100), 0, 0 FROM {entry} e "
        f"WHERE e.year = %s AND e.source_id IN {sources} "
        f"UNION ALL SELECT m.source_id, 0, m.fen, 0 FROM {table} m "
        f"UNION ALL SELECT m.target_id, 0, 0, m.fen FROM {table} m WHERE m.target_id IN {sources}"
        f") b JOIN {_accounts()} a ON a.id = b.account_id WHERE a.kind NOT IN ({marks}) "
        "GROUP BY b.account_id HAVING SUM(b.need) > SUM(b.have) + SUM(b.incoming) "
        "ORDER BY b.account_id LIMIT 1"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [year, year, *kinds])
        row = cursor.fetchone()
    if row is None:
        return None
    account_id, have, need, _incoming = row
    return MSG_INSUFFICIENT.format(
        account=Account.objects.get(pk=account_id), need=from_fen(need), have=from_fen(have)
    )


def _accounts() -> str:
    return quote(Account._meta.db_table)


def from_fen(fen: Any) -> Decimal:
    """Whole fen as read back (an integer, a numeric, or SQLite's float of one) in yuan."""
    return to_fen(Decimal(round(fen)) / 100)


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
