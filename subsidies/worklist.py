"""The household grant's work on the to-do panel: letters unsigned after the deadline, recoveries
overdue; and 资金下拨 in the menu."""

from __future__ import annotations

import datetime
from typing import Any

from django.db.models import Exists, OuterRef, Sum
from django.urls import reverse
from django.utils import timezone

from disbursements.money import ZERO, to_fen
from households.models import User
from households.scoping import scoped
from households.worklist import MENU, TODO_SOURCES, MenuEntry, TodoItem, TodoSource

from .models import CommitmentLetter, HouseholdPlan, PlanStatus, Policy, RecoveryOrder


def unsigned_letters(plans: Any) -> Any:
    """The live plans whose 承诺书 is missing or was signed for another version of the plan."""
    binding = CommitmentLetter.objects.filter(
        plan=OuterRef("pk"), plan_revision=OuterRef("revision"), signed_amount=OuterRef("grant_total")
    )
    return plans.exclude(status=PlanStatus.SUPERSEDED).exclude(Exists(binding))


def letters_overdue(user: User, year: int) -> list[TodoItem]:
    policy = Policy.objects.filter(year=year).first()
    if policy is None or timezone.localdate() <= policy.commitment_deadline:
        return []
    count = unsigned_letters(scoped(HouseholdPlan.objects.filter(year=year), user)).count()
    url = reverse("admin:subsidies_householdplan_changelist") + f"?year={year}&letter=unsigned"
    deadline = f"{policy.commitment_deadline.month} 月 {policy.commitment_deadline.day} 日"
    return [TodoItem(f"{deadline}后仍未签订到户承诺书的计划", count, url, "户", urgent=True)]


def recoveries_overdue(user: User, year: int) -> list[TodoItem]:
    policy = Policy.objects.filter(year=year).first()
    days = policy.recovery_due_days if policy is not None else 30
    due = timezone.now() - datetime.timedelta(days=days)
    orders = scoped(
        RecoveryOrder.objects.filter(year=year, status=RecoveryOrder.Status.APPROVED, approved_at__lt=due),
        user,
    )
    found = orders.aggregate(total=Sum("amount"))
    count = orders.count()
    url = reverse("admin:subsidies_recoveryorder_changelist") + f"?status__exact=approved&year__exact={year}"
    amount = to_fen(found["total"]) if found["total"] is not None else ZERO
    return [TodoItem(f"批准后超过 {days} 天仍未收回的收回通知", count, url, "份", amount, urgent=True)]


def register() -> None:
    TODO_SOURCES.register(
        TodoSource("letters", "到户承诺书", frozenset({"cadre", "village", "township"}), letters_overdue)
    )
    TODO_SOURCES.register(
        TodoSource("recoveries", "收回通知", frozenset({"village", "township", "city"}), recoveries_overdue)
    )
    MENU.register(MenuEntry("allocate", "资金下拨", "admin:subsidies_allocate", frozenset({"city"})))
