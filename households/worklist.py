"""What waits for a user, and where the work is: the to-do panel and the menu, fed by registration.

Each programme registers its sources of work (`TODO_SOURCES`: batches waiting for my step, notices
to close, objections to resolve, letters unsigned after the deadline, overdue recoveries…) and its
menu entries (`MENU`: 资金下拨, 资金对账…) in `AppConfig.ready()`. The admin home and the dashboard
show them for the user's role and scope; the panel never knows a programme's models.

A source returns its items already scoped to the user (through `households.scoping.scoped`), with
a count, an optional amount and a link to the filtered list where the work is done.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.urls import NoReverseMatch, reverse

from .models import User
from .registry import Registry


@dataclass(frozen=True)
class TodoItem:
    text: str  # e.g. "待我办理的拨付批次"
    count: int
    url: str
    unit: str = "项"
    amount: Decimal | None = None
    urgent: bool = False  # overdue or past a deadline


@dataclass(frozen=True)
class TodoSource:
    code: str
    label: str
    roles: frozenset[str]
    collect: Callable[[User, int], list[TodoItem]] = field(compare=False)


@dataclass(frozen=True)
class MenuEntry:
    code: str
    label: str
    url_name: str
    roles: frozenset[str]
    with_year: bool = True


TODO_SOURCES: Registry[TodoSource] = Registry("to-do source")
MENU: Registry[MenuEntry] = Registry("menu entry")


def todo_for(user: User, year: int) -> list[TodoItem]:
    """The user's work, in registration order; sources with nothing to do are left out."""
    role = getattr(user, "role", "")
    items: list[TodoItem] = []
    for source in TODO_SOURCES:
        if role in source.roles:
            items.extend(item for item in source.collect(user, year) if item.count)
    return items


@dataclass(frozen=True)
class MenuLink:
    label: str
    url: str
    with_year: bool


def menu_for(user: User) -> list[MenuLink]:
    role = getattr(user, "role", "")
    links = []
    for entry in MENU:
        if role in entry.roles or user.is_superuser:
            try:
                links.append(MenuLink(entry.label, reverse(entry.url_name), entry.with_year))
            except NoReverseMatch:  # the entry's admin is not installed (e.g. in a test programme)
                continue
    return links
