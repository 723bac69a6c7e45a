"""Writes to the registry, one household at a time (the admin's door). Bulk writes are in `roster`.

Every change leaves a `HouseholdChange` row (who, when, old → new), and a change of cadre closes
the current `CadreAssignment` and opens a new one, in the same transaction.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from . import events, users
from .models import CadreAssignment, Household, HouseholdChange, Role, User
from .scoping import scoped

AUDITED_FIELDS = [
    "head_name",
    "id_number",
    "village",
    "group",
    "size",
    "labour",
    "exit_year",
    "consolidation",
    "phone",
    "ethnicity",
    "bank_name",
    "bank_account",
    "cadre",
]

MSG_OUT_OF_SCOPE = "该户不在您的管辖范围内。"
MSG_NOT_A_CADRE = "挂包干部必须是角色为“挂包干部”的用户。"
MSG_GROUP_ELSEWHERE = "村民小组必须属于所选的村委会。"
MSG_CADRE_NOT_YOURS = "您不能把该户交给这位挂包干部（变更挂包干部由乡镇或市指挥部办理）。"


def _show(household: Household, field: str) -> str:
    value = getattr(household, field)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    return str(value)


def _verbose(field: str) -> str:
    return str(Household._meta.get_field(field).verbose_name)  # type: ignore[union-attr]


def check_household(household: Household) -> None:
    if household.cadre is not None and household.cadre.role != Role.CADRE:
        raise ValidationError({"cadre": MSG_NOT_A_CADRE})
    if household.group_id and household.group.village_id != household.village_id:
        raise ValidationError({"group": MSG_GROUP_ELSEWHERE})
    household.full_clean()


def _start_assignment(household: Household, actor: User | None, now: Any) -> None:
    if household.cadre_id:
        CadreAssignment.objects.create(
            household=household, cadre_id=household.cadre_id, started_at=now, assigned_by=actor
        )


@transaction.atomic
def household_create(*, household: Household, actor: User) -> Household:
    check_household(household)
    now = timezone.now()
    household.created_at = household.updated_at = now
    household.save()
    if not scoped(Household.objects.filter(pk=household.pk), actor).exists():
        raise ValidationError(MSG_OUT_OF_SCOPE)
    _start_assignment(household, actor, now)
    events.registry_changed([household.village_id])
    HouseholdChange.objects.create(
        household=household,
        actor=actor,
        at=now,
        action=HouseholdChange.Action.CREATE,
        changes={_verbose(f): ["", _show(household, f)] for f in AUDITED_FIELDS if _show(household, f)},
    )
    return household


def _may_assign(actor: User, cadre_id: int | None) -> bool:
    """Reassignment is a township or city decision, among the cadres the actor may choose."""
    if not users.may_reassign_cadre(actor):
        return False
    return cadre_id is None or users.cadre_choices(actor=actor).filter(pk=cadre_id).exists()


@transaction.atomic
def household_update(*, household: Household, actor: User) -> Household:
    """Save the edited `household`; returns it unchanged (and writes nothing) if nothing changed."""
    current = scoped(Household.objects.select_for_update(no_key=True), actor).filter(pk=household.pk).first()
    if current is None:
        raise ValidationError(MSG_OUT_OF_SCOPE)
    check_household(household)
    if current.cadre_id != household.cadre_id and not _may_assign(actor, household.cadre_id):
        raise ValidationError({"cadre": MSG_CADRE_NOT_YOURS})
    diff = {
        _verbose(f): [_show(current, f), _show(household, f)]
        for f in AUDITED_FIELDS
        if _show(current, f) != _show(household, f)
    }
    if not diff:
        return current
    now = timezone.now()
    household.updated_at = now
    household.save()
    if not scoped(Household.objects.filter(pk=household.pk), actor).exists():
        # Moving a household out of one's own area is a city-level decision.
        raise ValidationError(MSG_OUT_OF_SCOPE)
    if current.cadre_id != household.cadre_id:
        CadreAssignment.objects.filter(household=household, ended_at__isnull=True).update(ended_at=now)
        _start_assignment(household, actor, now)
        if current.village_id == household.village_id:
            events.reassigned([(household.pk, current.cadre_id, household.cadre_id)], actor)
    if current.cadre_id != household.cadre_id or current.village_id != household.village_id:
        events.relocated([household.pk])
    events.registry_changed(sorted({current.village_id, household.village_id}))
    HouseholdChange.objects.create(
        household=household, actor=actor, at=now, action=HouseholdChange.Action.UPDATE, changes=diff
    )
    return household
