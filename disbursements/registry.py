"""The registries through which programmes extend the shared machinery, in Django's idiom
(`admin.site.register`, the system-check registry): each programme registers its funds, account
and entry kinds, batch kinds, notice kinds, dashboard sections and reconcile checks in its
`AppConfig.ready()`; the machinery looks them up here and never imports a programme.

    from disbursements.registry import FUNDS, ACCOUNT_KINDS, ENTRY_KINDS, Fund, AccountKind, EntryKind
    FUNDS.register(Fund("household_grant", "到户产业扶持资金"))

(`Registry` itself is the registry app's, `households.registry`, the base every app stands on.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from households.registry import Registry

__all__ = ["Registry"]


# --- the ledger ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fund:
    """Money of one programme (专款专用): moves never cross from one fund into another."""

    code: str
    label: str


class Level:
    """Where an account stands in its fund's chain, which is how `reconcile` reads it."""

    SOURCE = "source"  # where the fund's money comes from (may go below zero)
    CITY = "city"
    TOWNSHIP = "township"
    VILLAGE = "village"
    HOLDER = "holder"  # a person holding money for a village's payees (a cadre's purse)
    PAYEE = "payee"  # whom the money is for (a household, an organisation)
    OTHER = "other"  # anything else (a partner holding equity, a township's finance office)


@dataclass(frozen=True)
class AccountKind:
    code: str
    label: str
    fund: str
    level: str = Level.OTHER
    may_go_negative: bool = False


class Counts:
    """How `reconcile` and the reports count an entry kind."""

    FUNDING = "funding"  # the source gives the fund's top level its money
    ALLOCATION = "allocation"  # from a level to the one below
    RETURN = "return"  # back up a level
    TRANSFER = "transfer"  # between two holders of one level (the money follows a payee)
    PAYMENT = "payment"  # out of the chain, to a payee
    RECOVERY = "recovery"  # from a payee back into a recovery account
    OTHER = "other"  # between payees and third parties (equity, its return)


@dataclass(frozen=True)
class Record:
    """The business record an entry kind always has: `model` (app_label.ModelName), the field of the
    record naming the entry, and the record's amount field. `reconcile` matches them one to one."""

    model: str
    entry_field: str
    amount_field: str


@dataclass(frozen=True)
class EntryKind:
    code: str
    label: str
    counts_as: str = Counts.OTHER
    # A kind with a record is reversed only through its record's reversal (record and ledger together).
    record: Record | None = None


FUNDS: Registry[Fund] = Registry("fund")
ACCOUNT_KINDS: Registry[AccountKind] = Registry("account kind")
ENTRY_KINDS: Registry[EntryKind] = Registry("entry kind")

REVERSAL = "reversal"
ENTRY_KINDS.register(EntryKind(REVERSAL, "冲正"))


# --- reconcile -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReconcileCheck:
    """A programme's own checks for one fund and year: returns the problems, in Chinese, naming
    each household, organisation or account (empty when everything holds)."""

    code: str
    label: str
    fund: str
    check: Callable[[int], list[str]]
    # What each level of the chain should have been allocated: {"city": x, "township": {pk: x},
    # "village": {pk: x}}; None when the fund allocates nothing by formula.
    expected: Callable[[int], dict[str, Any]] | None = field(default=None, compare=False)


RECONCILE_CHECKS: Registry[ReconcileCheck] = Registry("reconcile check")
