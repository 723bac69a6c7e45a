"""Reads for the cadre pages and exports, always through the scoping mechanism."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)

from households.models import Household, User
from households.scoping import scoped

from . import rules
from .models import BenefitAnalysis, GrantLine, HouseholdPlan, PlanStatus


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


# --- the cadre's list: what needs doing first --------------------------------------------------

# What a household needs from its cadre now, most urgent first; then the rest; then those the
# programme does not support (marked with the reason, from the rules module).
TODO_PLAN, TODO_AMENDING, TODO_RESIGN, TODO_SIGN, TODO_ANALYSIS, NOTHING, NOT_ELIGIBLE = range(1, 8)
TODO_LABELS = {
    TODO_PLAN: "待填计划",
    TODO_AMENDING: "计划变更中",
    TODO_RESIGN: "承诺书待重新签订",
    TODO_SIGN: "承诺书未签",
    TODO_ANALYSIS: "待填分析表",
}


@dataclass(frozen=True)
class HouseholdRow:
    """One line of the cadre's list."""

    household: Household
    plan: HouseholdPlan | None
    todo: str  # what to do now ("" when nothing)
    not_eligible: str  # why the programme does not support the household ("" when it does)


def _live_plans(year: int) -> QuerySet[HouseholdPlan]:
    """The plan of record of the outer household (not superseded, not a draft amendment)."""
    return (
        HouseholdPlan.objects.filter(household=OuterRef("pk"), year=year)
        .exclude(status=PlanStatus.SUPERSEDED)
        .exclude(status=PlanStatus.DRAFT, amends__isnull=False)
    )


def _paid(year: int, tranche: int) -> QuerySet[GrantLine]:
    return GrantLine.objects.filter(
        household=OuterRef("pk"),
        year=year,
        tranche=tranche,
        cancelled_at__isnull=True,
        line__payout__isnull=False,
    )


def households_by_urgency(
    user: User, year: int, terms: rules.Terms | None, *, search: str = ""
) -> QuerySet[Household]:
    """The user's households, those needing the cadre first (`priority`, then 户编号), in one query.

    Everything is decided in the database (annotations), so a page of the list costs the same few
    queries whatever the number of households in the user's area.
    """
    eligible = Q(exit_year__in=terms.eligible_exit_years) if terms else Q(pk__in=[])
    if terms and terms.consolidation_exit_years:
        eligible |= Q(exit_year__in=terms.consolidation_exit_years, consolidation=True)
    live = _live_plans(year)
    households = (
        scoped(Household.objects.all(), user)
        .annotate(
            is_eligible=ExpressionWrapper(eligible, output_field=BooleanField()),
            has_plan=Exists(live),
            amending=Exists(
                HouseholdPlan.objects.filter(
                    household=OuterRef("pk"), year=year, status=PlanStatus.DRAFT, amends__isnull=False
                )
            ),
            has_letter=Exists(live.filter(commitment__isnull=False)),
            letter_binds=Exists(
                live.filter(
                    commitment__plan_revision=F("revision"), commitment__signed_amount=F("grant_total")
                )
            ),
            analysis_due=(
                (Exists(_paid(year, 2)) | (Exists(_paid(year, 1)) & Exists(live.filter(tranche2=0))))
                & ~Exists(BenefitAnalysis.objects.filter(plan__household=OuterRef("pk"), plan__year=year))
            ),
        )
        .annotate(
            priority=Case(
                When(has_plan=False, is_eligible=True, then=Value(TODO_PLAN)),
                When(has_plan=False, then=Value(NOT_ELIGIBLE)),
                When(amending=True, then=Value(TODO_AMENDING)),
                When(has_letter=True, letter_binds=False, then=Value(TODO_RESIGN)),
                When(has_letter=False, then=Value(TODO_SIGN)),
                When(analysis_due=True, then=Value(TODO_ANALYSIS)),
                default=Value(NOTHING),
                output_field=IntegerField(),
            )
        )
    )
    if search.strip():
        words = search.strip()
        households = households.filter(Q(head_name__icontains=words) | Q(code__icontains=words))
    return households.order_by("priority", "code")


def urgency_counts(households: QuerySet[Household]) -> tuple[int, int]:
    """(households, households needing the cadre now) of an annotated list, in one query."""
    counts = households.order_by().aggregate(
        total=Count("pk"), todo=Count("pk", filter=Q(priority__lt=NOTHING))
    )
    return counts["total"], counts["todo"]


def household_rows(
    households: list[Household], user: User, year: int, terms: rules.Terms | None
) -> list[HouseholdRow]:
    """The rows of one page: each household with its plan of record, what to do, and (if the
    programme does not support it) why — in one query for the plans."""
    plans = {
        p.household_id: p
        for p in plans_for(user, year)
        .filter(household_id__in=[h.pk for h in households])
        .select_related("commitment", "policy")  # the policy holds the letter's deadline
    }
    rows = []
    for household in households:
        priority = getattr(household, "priority", NOTHING)
        reason = ""
        if priority == NOT_ELIGIBLE:
            reason = f"{year} 年度尚未设置扶持政策"
            if terms is not None:
                try:
                    rules.check_eligible(
                        terms, exit_year=household.exit_year, consolidation=household.consolidation
                    )
                except rules.PlanRefused as exc:
                    reason = str(exc)
        rows.append(HouseholdRow(household, plans.get(household.pk), TODO_LABELS.get(priority, ""), reason))
    return rows
