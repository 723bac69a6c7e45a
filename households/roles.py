"""What each role may do, as data. Where they may do it is `scoping`'s business.

Permissions come from the role, not from per-user grants, so that a new cadre or official works
the moment their role is set and a role's rights are reviewed in one place. The registry's own
permissions are below; every other app adds its own in its `AppConfig.ready()`:

    from households.roles import grant
    grant("township", {"subsidies.view_householdplan", ...})

Granting is additive; each app grants only its own models' permissions (tests/households/
test_roles.py checks that the auditor holds nothing but view and export, whoever granted it).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.contrib.auth.backends import ModelBackend

ROLES = ("cadre", "village", "township", "city", "approver", "auditor")

VIEW_REGISTRY = {
    "households.view_household",
    "households.view_village",
    "households.view_township",
    "households.view_villagegroup",
    "households.view_cadreassignment",
    "households.view_householdchange",
}
IMPORT_REGISTRY = {
    "households.add_household",
    "households.change_household",
    "households.import_household",
    "households.export_household",
    "households.view_importbatch",
    "households.view_user",
}

_granted: dict[str, set[str]] = defaultdict(set)


def grant(roles: str | Iterable[str], permissions: Iterable[str]) -> None:
    """Give `roles` these permissions (app_label.codename), in addition to what they have."""
    for role in [roles] if isinstance(roles, str) else roles:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        _granted[role].update(permissions)


grant("cadre", {"households.view_household", "households.view_householdchange"})
grant(
    "village",
    VIEW_REGISTRY | {"households.change_household", "households.export_household", "households.view_user"},
)
grant("township", VIEW_REGISTRY | IMPORT_REGISTRY)
grant(
    "city",
    VIEW_REGISTRY
    | IMPORT_REGISTRY
    | {
        "households.change_village",  # sets the 2017 贫困村 flag
        "households.add_user",
        "households.change_user",  # township, village and cadre accounts only: households.users
        "households.view_userchange",
    },
)
grant("approver", VIEW_REGISTRY | {"households.export_household"})
# Reads everything, changes nothing.
grant(
    "auditor",
    VIEW_REGISTRY
    | {
        "households.export_household",
        "households.view_importbatch",
        "households.view_user",
        "households.view_userchange",
    },
)


def role_permissions(role: str) -> frozenset[str]:
    return frozenset(_granted.get(role, ()))


class RoleBackend(ModelBackend):
    """Django's model backend plus the permissions of the user's role."""

    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_role_perm_cache"):
            user_obj._role_perm_cache = set(super().get_all_permissions(user_obj)) | set(
                role_permissions(getattr(user_obj, "role", ""))
            )
        return user_obj._role_perm_cache
