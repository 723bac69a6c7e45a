"""The one ledger through which every yuan moves.

Lock policy: post() locks the source accounts (`select_for_update(no_key=True)`, in pk order, so
two posters never wait on each other in opposite orders), checks their balances in one aggregate
query, then writes the entries in bulk, all inside the caller's transaction. SQLite has no row
locks; its IMMEDIATE transactions serialise writers instead.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet

from households.models import Household, Township, User, Village
from subsidies.rules import to_fen

from .models import Account, Entry, Partner

# Accounts that may go below zero: the funding source is where the city's money comes from.
MAY_GO_NEGATIVE = {Account.Kind.FUNDING}

MSG_INSUFFICIENT = "{account} 余额不足：需要 {need} 元，可用 {have} 元。"
MSG_ALREADY_REVERSED = "该分录已冲正过。"
MSG_REVERSE_REVERSAL = "冲正分录不能再冲正。"


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


def effects(entries: QuerySet[Entry]) -> Iterator[Effect]:
    """Each entry of `entries` as it counts, in one query; reversals are folded onto their originals."""
    rows = entries.values_list(
        "pk", "source_id", "target_id", "amount", "kind", "reverses_id", "reverses__kind"
    )
    for pk, source, target, amount, kind, reverses_id, reverses_kind in rows:
        if kind == Entry.Kind.REVERSAL:
            yield Effect(reverses_id, target, source, -to_fen(amount), reverses_kind)
        else:
            yield Effect(pk, source, target, to_fen(amount), kind)


def balances(accounts: Iterable[Account], year: int) -> dict[int, Decimal]:
    """Balance per account id for a year: in minus out, summed in Python as Decimal (SQLite sums are REAL)."""
    ids = [a.pk for a in accounts]
    result: dict[int, Decimal] = defaultdict(lambda: Decimal("0.00"))
    for field, sign in (("target_id", 1), ("source_id", -1)):
        rows = Entry.objects.filter(year=year, **{f"{field}__in": ids}).values_list(field, "amount")
        for account_id, amount in rows:
            result[account_id] += sign * to_fen(amount)
    return result


def post(moves: Sequence[Move], *, year: int, actor: User | None) -> list[Entry]:
    """Write the moves as entries; refuses (writing nothing) if any source would go below zero."""
    if not moves:
        return []
    if not transaction.get_connection().in_atomic_block:
        with transaction.atomic():
            return post(moves, year=year, actor=actor)
    sources = sorted({m.source.pk for m in moves if m.source.kind not in MAY_GO_NEGATIVE})
    list(
        Account.objects.select_for_update(no_key=True).filter(pk__in=sources).order_by("pk").values_list("pk")
    )
    need: dict[int, Decimal] = defaultdict(lambda: Decimal("0.00"))
    names: dict[int, str] = {}
    for move in moves:
        amount = to_fen(move.amount)
        if amount <= 0:
            raise ValidationError("金额必须大于零。")
        need[move.source.pk] += amount
        names[move.source.pk] = str(move.source)
    have = balances([Account(pk=pk) for pk in sources], year)
    # What the moves bring in to a source within the same posting counts too (e.g. pass-through).
    incoming: dict[int, Decimal] = defaultdict(lambda: Decimal("0.00"))
    for move in moves:
        incoming[move.target.pk] += to_fen(move.amount)
    for pk in sources:
        available = have[pk] + incoming[pk]
        if need[pk] > available:
            raise ValidationError(MSG_INSUFFICIENT.format(account=names[pk], need=need[pk], have=have[pk]))
    return Entry.objects.bulk_create(
        [
            Entry(
                year=year,
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
def reverse(entry: Entry, *, actor: User, reason: str) -> Entry:
    """Correct a wrong entry by moving the same amount back; the original stays as it was.

    Entries that a business record stands behind (a payout, a repayment, an investment) are
    reversed by that record's own reversal service, which calls this in the same transaction.
    """
    if not reason.strip():
        raise ValidationError("冲正必须写明原因。")
    locked = Entry.objects.select_for_update(no_key=True).select_related("source", "target").get(pk=entry.pk)
    if locked.kind == Entry.Kind.REVERSAL:
        raise ValidationError(MSG_REVERSE_REVERSAL)
    if Entry.objects.filter(reverses=locked).exists():
        raise ValidationError(MSG_ALREADY_REVERSED)
    (posted,) = post(
        [
            Move(
                locked.target,
                locked.source,
                locked.amount,
                Entry.Kind.REVERSAL,
                f"冲正：{reason.strip()}",
                locked,
            )
        ],
        year=locked.year,
        actor=actor,
    )
    return posted


# --- accounts, created on first use -------------------------------------------------------------


def funding_account() -> Account:
    return Account.objects.get_or_create(kind=Account.Kind.FUNDING, defaults={"name": "财政专项扶贫资金"})[0]


def city_account() -> Account:
    return Account.objects.get_or_create(
        kind=Account.Kind.CITY, defaults={"name": "香格里拉市产业扶贫指挥部"}
    )[0]


def township_accounts(kind: str = Account.Kind.TOWNSHIP) -> dict[int, Account]:
    """One account per township (or per township finance office), created in bulk where missing."""
    existing = {a.township_id: a for a in Account.objects.filter(kind=kind)}
    suffix = "" if kind == Account.Kind.TOWNSHIP else "财政所"
    missing = list(Township.objects.exclude(pk__in=[k for k in existing if k is not None]))
    if missing:
        Account.objects.bulk_create(
            [Account(kind=kind, township=t, name=f"{t.name}{suffix}") for t in missing]
        )
        existing = {a.township_id: a for a in Account.objects.filter(kind=kind)}
    return existing  # type: ignore[return-value]


def village_accounts() -> dict[int, Account]:
    existing = {a.village_id: a for a in Account.objects.filter(kind=Account.Kind.VILLAGE)}
    missing = list(Village.objects.exclude(pk__in=[k for k in existing if k is not None]))
    if missing:
        Account.objects.bulk_create(
            [
                Account(kind=Account.Kind.VILLAGE, village=v, township_id=v.township_id, name=v.name)
                for v in missing
            ]
        )
        existing = {a.village_id: a for a in Account.objects.filter(kind=Account.Kind.VILLAGE)}
    return existing  # type: ignore[return-value]


def cadre_accounts(pairs: Iterable[tuple[int, int]]) -> dict[tuple[int, int], Account]:
    """Accounts for (cadre id, village id) pairs: the money a cadre holds for a village's households."""
    wanted = set(pairs)
    existing = {
        (a.cadre_id, a.village_id): a
        for a in Account.objects.filter(kind=Account.Kind.CADRE, cadre_id__in={c for c, _ in wanted})
    }
    missing = wanted - existing.keys()
    if missing:
        users = {u.pk: u for u in User.objects.filter(pk__in={c for c, _ in missing})}
        villages = {v.pk: v for v in Village.objects.filter(pk__in={v for _, v in missing})}
        Account.objects.bulk_create(
            [
                Account(
                    kind=Account.Kind.CADRE,
                    cadre_id=c,
                    village_id=v,
                    township_id=villages[v].township_id,
                    name=f"{users[c].name or users[c].username}（{villages[v].name}）",
                )
                for c, v in sorted(missing)
            ]
        )
        existing = {
            (a.cadre_id, a.village_id): a
            for a in Account.objects.filter(kind=Account.Kind.CADRE, cadre_id__in={c for c, _ in wanted})
        }
    return existing  # type: ignore[return-value]


def household_accounts(households: Iterable[Household]) -> dict[int, Account]:
    households = list(households)
    ids = [h.pk for h in households]
    existing = {
        a.household_id: a for a in Account.objects.filter(kind=Account.Kind.HOUSEHOLD, household_id__in=ids)
    }
    missing = [h for h in households if h.pk not in existing]
    if missing:
        Account.objects.bulk_create(
            [
                Account(
                    kind=Account.Kind.HOUSEHOLD,
                    household=h,
                    village_id=h.village_id,
                    township_id=h.village.township_id,
                    name=f"{h.code} {h.head_name}",
                )
                for h in missing
            ]
        )
        existing = {
            a.household_id: a
            for a in Account.objects.filter(kind=Account.Kind.HOUSEHOLD, household_id__in=ids)
        }
    return existing  # type: ignore[return-value]


def partner_account(partner: Partner) -> Account:
    return Account.objects.get_or_create(
        kind=Account.Kind.PARTNER, partner=partner, defaults={"name": partner.name}
    )[0]


def totals_by(kind: str, year: int, field: str) -> dict[int, Decimal]:
    """Sum of entries of one kind per account (source_id or target_id), in Decimal."""
    result: dict[int, Decimal] = defaultdict(lambda: Decimal("0.00"))
    for account_id, amount in Entry.objects.filter(year=year, kind=kind).values_list(field, "amount"):
        result[account_id] += to_fen(amount)
    return result
