"""Reads for the cadre pages and exports, always through the scoping mechanism."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from households.models import Household, User
from households.scoping import scoped

from .models import HouseholdPlan, PlanStatus


def households_with_plans(user: User, year: int) -> list[tuple[Household, HouseholdPlan | None]]:
    """The user's households, each with its live plan for `year` (two queries, whatever the count)."""
    households = list(
        scoped(Household.objects.select_related("village__township", "group", "cadre"), user).order_by("code")
    )
    plans = {
        p.household_id: p
        for p in plans_for(user, year)
        .filter(household_id__in=[h.pk for h in households])
        .select_related("commitment")
    }
    return [(h, plans.get(h.pk)) for h in households]


def plans_for(user: User, year: int) -> QuerySet[HouseholdPlan]:
    """The plans of `year` that count now, one per household, as the user may see them.

    A draft amendment does not count until approved: its original stays the plan of record.
    """
    return (
        scoped(HouseholdPlan.objects.filter(year=year), user)
        .exclude(status=PlanStatus.SUPERSEDED)
        .exclude(status=PlanStatus.DRAFT, amends__isnull=False)
    )


def batches_for(user: User, year: int) -> list[Any]:
    """The payout batches of the user's area for the year, newest first."""
    from disbursements.models import Batch

    return list(
        scoped(Batch.objects.filter(year=year), user).select_related("village").order_by("-created_at")[:50]
    )
