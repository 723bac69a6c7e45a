"""The one geography-scoping mechanism.

Every list, count, dropdown, export, import and PDF obtains its rows through `scoped(queryset, user)`.
A model declares, in `scope_paths`, the lookups from itself to its township, village and cadre;
this module decides, from the user's role, which of those lookups applies.

    cadre     → rows whose cadre is the user
    village   → rows of the user's village
    township  → rows of the user's township
    city, approver, auditor, superuser → everything
    anyone else (no role, inactive)    → nothing (fail closed)
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from functools import reduce
from typing import TYPE_CHECKING, Any

from django.db import models
from django.db.models import Q

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from .models import User

GLOBAL_ROLES = frozenset({"city", "approver", "auditor"})


# A lookup path, several alternatives (a row is in scope when any of them matches), or None: rows of
# this model are never visible to that role.
Path = str | tuple[str, ...] | None


@dataclass(frozen=True)
class ScopePaths:
    """Lookups from a model to the Township pk, the Village pk and the cadre User pk."""

    township: Path
    village: Path
    cadre: Path


def sees_everything(user: User | AnonymousUser) -> bool:
    return bool(user.is_active and (user.is_superuser or getattr(user, "role", "") in GLOBAL_ROLES))


def _single_valued(model: type[models.Model], path: str) -> bool:
    """True when the lookup follows only forward to-one relations (a plain filter cannot duplicate rows)."""
    if path == "pk":
        return True
    opts = model._meta
    for part in path.split("__"):
        if part == "pk":
            return True
        field = opts.get_field(part)
        if not (field.concrete and (field.many_to_one or field.one_to_one or not field.is_relation)):
            return False
        if field.related_model is None:
            return True
        opts = field.related_model._meta  # type: ignore[union-attr]
    return True


def scope_q(model: type[models.Model], user: User | AnonymousUser) -> Q | None:
    """The filter for `user` on `model`; None means "everything"; an impossible Q means nothing."""
    if sees_everything(user):
        return None
    nothing = Q(pk__in=[])
    if not user.is_active or not user.is_authenticated:
        return nothing
    paths: ScopePaths | None = getattr(model, "scope_paths", None)
    if paths is None:
        return nothing  # an unscoped model is never shown to area users
    role = getattr(user, "role", "")
    lookup: tuple[Path, Any]
    if role == "cadre":
        lookup = (paths.cadre, user.pk)
    elif role == "village" and user.village_id:  # type: ignore[union-attr]
        lookup = (paths.village, user.village_id)  # type: ignore[union-attr]
    elif role == "township" and user.township_id:  # type: ignore[union-attr]
        lookup = (paths.township, user.township_id)  # type: ignore[union-attr]
    else:
        return nothing
    path, value = lookup
    if path is None:
        return nothing
    alternatives = (path,) if isinstance(path, str) else path
    if not alternatives:
        return nothing
    return reduce(operator.or_, [_lookup(model, one, value) for one in alternatives])


def _lookup(model: type[models.Model], path: str, value: Any) -> Q:
    if _single_valued(model, path):
        return Q(**{path: value})
    # Through a to-many relation: a subquery keeps each row once without DISTINCT.
    return Q(pk__in=model._base_manager.filter(**{path: value}).values("pk"))


def scoped[M: models.Model](queryset: models.QuerySet[M], user: User | AnonymousUser) -> models.QuerySet[M]:
    """`queryset` narrowed to what `user` may see."""
    q = scope_q(queryset.model, user)
    if q is None:
        return queryset
    return queryset.filter(q)


def visible[M: models.Model](model: type[M], user: User | AnonymousUser) -> models.QuerySet[M]:
    return scoped(model._default_manager.all(), user)
