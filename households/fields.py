"""A code whose labels come from a registry, so that the admin, templates and `get_FOO_display()`
show a registered kind or status in Chinese without a migration per kind."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.db import models


class CodeField(models.CharField):  # type: ignore[type-arg]
    """A CharField whose choices are looked up, when shown, in `labels()` (code → label)."""

    def __init__(
        self, *args: Any, labels: Callable[[], Mapping[str, str]] | None = None, **kwargs: Any
    ) -> None:
        self.labels = labels
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        # The registry is runtime configuration, not schema: migrations see a plain CharField.
        name, _path, args, kwargs = super().deconstruct()
        return name, "django.db.models.CharField", args, kwargs

    @property
    def flatchoices(self) -> list[tuple[str, str]]:  # type: ignore[override]
        return list(self.labels().items()) if self.labels is not None else []

    def contribute_to_class(self, cls: type[models.Model], name: str, private_only: bool = False) -> None:
        super().contribute_to_class(cls, name, private_only=private_only)
        if self.labels is not None and f"get_{name}_display" not in cls.__dict__:

            def display(instance: models.Model, field: CodeField = self) -> str:
                value = getattr(instance, field.attname)
                return str(dict(field.flatchoices).get(value, value))

            setattr(cls, f"get_{name}_display", display)


def money_field(verbose: Any, *, max_digits: int, **kwargs: Any) -> models.DecimalField:  # type: ignore[type-arg]
    """A DecimalField of yuan to the fen, marked as money so that pages write it `1,500.00 元`.

    The mark is an attribute, not schema: migrations see a plain DecimalField.
    """
    field = models.DecimalField(verbose, max_digits=max_digits, decimal_places=2, **kwargs)
    field.is_money = True  # type: ignore[attr-defined]
    return field


def is_money(field: Any) -> bool:
    return bool(getattr(field, "is_money", False))
