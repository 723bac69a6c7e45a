"""What each role may do, as data. Where they may do it is `scoping`'s business.

Permissions come from the role, not from per-user grants, so that a new cadre or official works
the moment their role is set and a role's rights are reviewed in one table.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend

VIEW_REGISTRY = {
    "households.view_household",
    "households.view_village",
    "households.view_township",
    "households.view_villagegroup",
    "households.view_cadreassignment",
    "households.view_householdchange",
}

VIEW_PLANS = {
    "subsidies.view_householdplan",
    "subsidies.view_commitmentletter",
    "subsidies.view_policy",
    "subsidies.view_breedingcategory",
    "subsidies.view_species",
    "subsidies.view_policyrevision",
}
EDIT_PLANS = {
    "subsidies.add_householdplan",
    "subsidies.change_householdplan",
    "subsidies.add_commitmentletter",
    "subsidies.change_commitmentletter",
}
EDIT_POLICY = {
    "subsidies.change_policy",
    "subsidies.add_breedingcategory",
    "subsidies.change_breedingcategory",
    "subsidies.add_species",
    "subsidies.change_species",
}

VIEW_MONEY = {
    "disbursements.view_batch",
    "disbursements.view_batchline",
    "disbursements.view_transition",
    "disbursements.view_payout",
    "disbursements.view_entry",
    "disbursements.view_account",
    "disbursements.view_benefitanalysis",
    "disbursements.view_recoveryorder",
    "disbursements.view_equityinvestment",
    "disbursements.view_partner",
    "disbursements.view_notice",
    "disbursements.view_objection",
    "disbursements.view_printjob",
}
NOTICE_WORK = {"disbursements.change_notice", "disbursements.add_objection", "disbursements.change_objection"}
# Those who hand money over: receipts of payouts, and equity investments with the household's consent.
HANDOVER_WORK = {"disbursements.change_payout", "disbursements.add_equityinvestment"}

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "cadre": frozenset(
        HANDOVER_WORK
        | VIEW_MONEY
        | {"households.view_household", "households.view_householdchange"}
        | VIEW_PLANS
        | EDIT_PLANS
    ),
    "village": frozenset(
        HANDOVER_WORK
        | NOTICE_WORK
        | VIEW_MONEY
        | VIEW_REGISTRY
        | {
            "households.change_household",
            "households.export_household",
            "households.view_user",
            "subsidies.export_householdplan",
        }
        | VIEW_PLANS
        | EDIT_PLANS
    ),
    "township": frozenset(
        NOTICE_WORK
        | VIEW_MONEY
        | VIEW_REGISTRY
        | VIEW_PLANS
        | EDIT_PLANS
        | {
            "households.add_household",
            "households.change_household",
            "households.import_household",
            "households.export_household",
            "households.view_importbatch",
            "households.view_user",
            "subsidies.import_householdplan",
            "subsidies.export_householdplan",
        }
    ),
    "city": frozenset(
        VIEW_MONEY
        | VIEW_REGISTRY
        | VIEW_PLANS
        | EDIT_PLANS
        | EDIT_POLICY
        | {
            "households.add_household",
            "households.change_household",
            "households.import_household",
            "households.export_household",
            "households.view_importbatch",
            "households.change_village",  # sets the 2017 贫困村 flag
            "households.view_user",
            "households.add_user",
            "households.change_user",  # township, village and cadre accounts only: households.users
            "households.view_userchange",
            "subsidies.import_householdplan",
            "subsidies.export_householdplan",
        }
    ),
    "approver": frozenset(
        VIEW_MONEY
        | VIEW_REGISTRY
        | VIEW_PLANS
        | {"households.export_household", "subsidies.export_householdplan"}
    ),
    # Reads everything, changes nothing.
    "auditor": frozenset(
        VIEW_MONEY
        | VIEW_REGISTRY
        | VIEW_PLANS
        | {
            "households.export_household",
            "households.view_importbatch",
            "households.view_user",
            "households.view_userchange",
            "subsidies.export_householdplan",
        }
    ),
}


def role_permissions(role: str) -> frozenset[str]:
    return ROLE_PERMISSIONS.get(role, frozenset())


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
