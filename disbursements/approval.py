"""The one approval mechanism (rules.md §5): allowed moves as data, one function that moves batches.

Every move is set-based (any number of batches, a constant number of queries), checks the actor's
role and scope, refuses out-of-order steps on the server, enforces maker-checker (whoever did a
step may not do the next), compare-and-sets the status so a racing second click changes nothing,
and writes one `Transition` row per batch in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from households.models import User
from households.scoping import scoped

from .models import Batch, Transition

S = Batch.Status


@dataclass(frozen=True)
class Step:
    action: str
    from_status: str
    to_status: str
    roles: frozenset[str]
    label: str

    @property
    def role_names(self) -> str:
        return "或".join(ROLE_NAMES[r] for r in sorted(self.roles, key=list(ROLE_NAMES).index))


STEPS: dict[str, Step] = {
    s.action: s
    for s in (
        # Whoever prepared the batch (a cadre, or the 村委会 for the village) submits it.
        Step("submit", S.DRAFT, S.PREPARED, frozenset({"cadre", "village"}), "提交入户核实"),
        Step("verify", S.PREPARED, S.VERIFIED, frozenset({"village"}), "入户核实"),
        Step("township_review", S.VERIFIED, S.TOWNSHIP_REVIEWED, frozenset({"township"}), "乡镇复核汇总"),
        Step("city_review", S.TOWNSHIP_REVIEWED, S.CITY_REVIEWED, frozenset({"city"}), "市指挥部复核"),
        Step("approve", S.CITY_REVIEWED, S.APPROVED, frozenset({"approver"}), "产业办和分管领导审批"),
    )
}
NEXT_STEP = {s.from_status: s for s in STEPS.values()}
# A rejection returns the batch one step, decided by whoever holds the step it waits for.
SEND_BACK = {s.to_status: s.from_status for s in STEPS.values() if s.from_status != S.DRAFT}

MSG_ROLE = "“{label}”须由{role}办理。"
MSG_ORDER = "{batch} 当前状态为“{status}”，不能办理“{label}”。"
MSG_SCOPE = "有批次不在您的管辖范围内。"
MSG_FOUR_EYES = "{batch}：上一步由您办理，同一人不能办理下一步（审核与经办分离）。"
MSG_RACE = "有批次已被他人处理，请刷新后重试。"
MSG_REASON = "退回必须写明理由。"
MSG_NOTHING = "请至少选择一个批次。"

ROLE_NAMES = {
    "cadre": "挂包干部",
    "village": "村委会/驻村工作队",
    "township": "乡镇",
    "city": "市指挥部",
    "approver": "产业办/分管领导",
}


def _locked(batches: Iterable[Batch], actor: User) -> list[Batch]:
    ids = sorted({b.pk for b in batches})
    if not ids:
        raise ValidationError(MSG_NOTHING)
    rows = list(
        scoped(Batch.objects.select_for_update(no_key=True, of=("self",)), actor)
        .filter(pk__in=ids)
        .select_related("village")
        .order_by("pk")
    )
    if len(rows) != len(ids):
        raise ValidationError(MSG_SCOPE)
    return rows


def _last_actors(batches: Sequence[Batch]) -> dict[int, int]:
    """The actor of each batch's latest transition (one query); a draft's maker is its creator."""
    last: dict[int, int] = {b.pk: b.created_by_id for b in batches}
    for batch_id, actor_id in (
        Transition.objects.filter(batch_id__in=last.keys())
        .order_by("batch_id", "at", "pk")
        .values_list("batch_id", "actor_id")
    ):
        last[batch_id] = actor_id
    return last


def move_status(
    batches: list[Batch],
    *,
    to_status: str,
    from_status: str,
    action: str,
    actor: User,
    note: str,
    attachment: str = "",
) -> list[Batch]:
    """The one writer of batch statuses and the transition log: compare-and-set, one row per batch."""
    now = timezone.now()
    updated = Batch.objects.filter(pk__in=[b.pk for b in batches], status=from_status).update(
        status=to_status, status_changed_at=now
    )
    if updated != len(batches):
        raise ValidationError(MSG_RACE)
    Transition.objects.bulk_create(
        [
            Transition(
                batch=b,
                action=action,
                from_status=from_status,
                to_status=to_status,
                actor=actor,
                at=now,
                note=note,
                attachment=attachment,
            )
            for b in batches
        ]
    )
    for batch in batches:
        batch.status, batch.status_changed_at = to_status, now
    return batches


@transaction.atomic
def advance(
    batches: Iterable[Batch],
    *,
    action: str,
    actor: User,
    note: str = "",
    attachment: UploadedFile | None = None,
) -> list[Batch]:
    """Do `action` (a step of STEPS) on every batch, or on none of them; `attachment` (e.g. the
    入户核实 photos) is stored once and named in every batch's transition."""
    step = STEPS[action]
    if actor.role not in step.roles:
        raise ValidationError(MSG_ROLE.format(label=step.label, role=step.role_names))
    rows = _locked(batches, actor)
    for batch in rows:
        if batch.status != step.from_status:
            raise ValidationError(
                MSG_ORDER.format(batch=batch, status=batch.get_status_display(), label=step.label)
            )
    if step.from_status != S.DRAFT:
        last = _last_actors(rows)
        for batch in rows:
            if last[batch.pk] == actor.pk:
                raise ValidationError(MSG_FOUR_EYES.format(batch=batch))
    from . import services  # the conditions and consequences of a step live with the batches

    services.before_step(rows, step=step)
    stored = default_storage.save(f"transitions/{attachment.name}", attachment) if attachment else ""
    moved = move_status(
        rows,
        to_status=step.to_status,
        from_status=step.from_status,
        action=action,
        actor=actor,
        note=note,
        attachment=stored,
    )
    services.after_step(moved, step=step, actor=actor)
    return moved


@transaction.atomic
def send_back(batches: Iterable[Batch], *, actor: User, reason: str) -> list[Batch]:
    """Return each batch one step, with a written reason, by whoever holds the step it waits at."""
    if not reason.strip():
        raise ValidationError(MSG_REASON)
    rows = _locked(batches, actor)
    statuses = {b.status for b in rows}
    if len(statuses) != 1 or (status := statuses.pop()) not in SEND_BACK:
        raise ValidationError("只能退回同一状态、且尚未兑现的批次。")
    waiting = NEXT_STEP.get(status)
    holders = waiting.roles if waiting is not None and status != S.APPROVED else frozenset({"approver"})
    if actor.role not in holders:
        raise ValidationError(
            MSG_ROLE.format(label="退回", role="或".join(ROLE_NAMES[r] for r in sorted(holders)))
        )
    return move_status(
        rows,
        to_status=SEND_BACK[status],
        from_status=status,
        action="send_back",
        actor=actor,
        note=reason.strip(),
    )


def available_actions(batch: Batch, actor: User) -> list[Step]:
    step = NEXT_STEP.get(batch.status)
    return [step] if step is not None and getattr(actor, "role", "") in step.roles else []
