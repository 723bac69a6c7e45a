"""A registry of things by code, in Django's idiom (`admin.site.register`, the system-check registry):
the apps register their kinds in `AppConfig.ready()`; the mechanisms look them up here.

A code is registered once; registering the same thing again (a second `ready()`, a reloaded module)
is harmless, registering a different thing under a taken code is a configuration error.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from django.core.exceptions import ImproperlyConfigured


class Coded(Protocol):
    @property
    def code(self) -> str: ...

    @property
    def label(self) -> str: ...


class Registry[T: Coded]:
    """Registered things by code, in the order of registration."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._items: dict[str, T] = {}

    def register(self, item: T) -> T:
        taken = self._items.get(item.code)
        if taken is not None and taken != item:
            raise ImproperlyConfigured(f"{self.what} {item.code!r} is already registered as {taken!r}")
        self._items[item.code] = item
        return item

    def unregister(self, code: str) -> None:
        """For tests that register a programme of their own."""
        self._items.pop(code, None)

    def __getitem__(self, code: str) -> T:
        try:
            return self._items[code]
        except KeyError:
            raise ImproperlyConfigured(f"unknown {self.what} {code!r}: is its programme installed?") from None

    def get(self, code: str) -> T | None:
        return self._items.get(code)

    def __contains__(self, code: object) -> bool:
        return code in self._items

    def __iter__(self) -> Iterator[T]:
        return iter(list(self._items.values()))

    def codes(self) -> list[str]:
        return list(self._items)

    def label(self, code: str) -> str:
        """The label to show for a stored code (the code itself if its programme is gone)."""
        item = self._items.get(code)
        return str(item.label) if item is not None else code

    def choices(self) -> list[tuple[str, str]]:
        return [(code, str(item.label)) for code, item in self._items.items()]

    def labels(self) -> dict[str, str]:
        return dict(self.choices())
