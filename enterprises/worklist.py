"""The programme's work on the to-do panel: assessments that reach the standard and wait for the
supervising township's confirmation."""

from __future__ import annotations

from django.urls import reverse

from households.models import User
from households.scoping import scoped
from households.worklist import TODO_SOURCES, TodoItem, TodoSource

from .models import Assessment


def assessments_to_confirm(user: User, year: int) -> list[TodoItem]:
    waiting = scoped(
        Assessment.objects.filter(agreement__year=year, reaches=True, confirmed_at__isnull=True), user
    )
    if user.role == "township":
        waiting = waiting.filter(agreement__organisation__township=user.township_id)
    url = reverse("admin:enterprises_assessment_changelist") + f"?agreement__year={year}&confirmed=no"
    return [TodoItem("待确认考核合格的带贫协议", waiting.count(), url, unit="户")]


def register() -> None:
    TODO_SOURCES.register(
        TodoSource(
            "org_assessments", "带贫组织考核确认", frozenset({"township", "city"}), assessments_to_confirm
        )
    )
