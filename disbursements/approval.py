"""The one approval mechanism (rules.md §5): batch kinds registered by the programmes, each with its
steps as data, and one function that moves batches.

Every move is set-based (any number of batches, a constant number of queries), checks the actor's
role and scope, refuses out-of-order steps on the server, enforces maker-checker (whoever did a
step may not do the next), compare-and-sets the status so a racing second click changes nothing,
and writes one `Transition` row per batch in the same transaction (`move_status`, the one writer).
Paying is the last step: `disbursements.payouts` records the payouts and takes it when the last
line is paid. What a step means for a programme (a plan approved, a notice required) is the batch
kind's `hooks`, looked up here, never imported.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from households.models import User
from households.scoping import scoped
from households.uploads import clean_upload, field_policy

from .models import APPROVED, DRAFT, PAID, Account, Batch, BatchLine, Payout, Transition
from .registry import Registry

MSG_ROLE = "“{label}”须由{role}办理。"
MSG_ORDER = "{batch} 当前状态为“{status}”，不能办理“{label}”。"
MSG_SCOPE = "有批次不在您的管辖范围内。"
MSG_FOUR_EYES = "{batch}：上一步由您办理，同一人不能办理下一步（审核与经办分离）。"
MSG_RACE = "有批次已被他人处理，请刷新后重试。"
MSG_REASON = "退回必须写明理由。"
MSG_NOTHING = "请至少选择一个批次。"
MSG_PAY_STEP = "兑现须逐笔登记（登记兑现），不能直接办理。"

ROLE_NAMES = {
    "cadre": "挂包干部",
    "village": "村委会/驻村工作队",
    "township": "乡镇",
    "city": "市指挥部",
    "approver": "产业办/分管领导",
}
PAY = "pay"


def role_names(roles: Iterable[str]) -> str:
    order = list(ROLE_NAMES)
    return "或".join(
        ROLE_NAMES.get(r, r) for r in sorted(roles, key=lambda r: order.index(r) if r in order else 99)
    )


@dataclass(frozen=True)
class Step:
    action: str
    from_status: str
    to_status: str
    roles: frozenset[str]
    label: str

    @property
    def role_names(self) -> str:
        return role_names(self.roles)


@dataclass(frozen=True)
class LineDetails:
    headers: tuple[str, ...]
    cells: Mapping[int, tuple[str, ...]]


class BatchHooks:
    """What a batch kind's steps and payments mean for its programme. The defaults do nothing; a
    programme subclasses what it needs. Every hook runs inside the moving transaction."""

    def before_step(self, batches: list[Batch], step: Step) -> None:
        """Refuse (ValidationError) a step the programme's rules do not allow yet."""

    def after_step(self, batches: list[Batch], step: Step, actor: User) -> None:
        """What a completed step means beyond the batch (e.g. the plans are approved)."""

    def check_payments(self, batch: Batch, lines: list[BatchLine], actor: User) -> None:
        """Lock the payees and refuse, naming each one, any payment the programme's invariants forbid."""

    def sources(self, batch: Batch, lines: list[BatchLine]) -> dict[int, Account]:
        """The account each line is paid from (by line pk), read after `check_payments`."""
        raise NotImplementedError

    def memo(self, batch: Batch, line: BatchLine, method_label: str) -> str:
        return f"{batch.kind_label}（{method_label}）"

    def describe_lines(self, batch: Batch, lines: list[BatchLine]) -> LineDetails:
        """The programme's columns for the batch page (e.g. 户编号, 户主, 产业): headers and, by line pk,
        one text per header. One or two queries for all lines, never one per line."""
        return LineDetails((), {})

    def after_paid(self, batch: Batch, payouts: list[Payout], actor: User) -> None:
        """What paying these lines means for the programme's records."""

    def before_reverse(self, payout: Payout, actor: User) -> None:
        """Lock and refuse a reversal the programme's invariants forbid (e.g. a later stage is paid)."""

    def after_reverse(self, payout: Payout, actor: User) -> None:
        """Cancel the programme's detail of the reversed line (e.g. free the tranche again)."""


@dataclass(frozen=True)
class NoticeGate:
    """A batch of this kind passes `step` only after a 公示 of `notice_kind` naming it has closed."""

    step: str
    notice_kind: str


@dataclass(frozen=True)
class BatchKind:
    """A kind of batch: its fund, its steps from draft to approved, who pays, and its hooks."""

    code: str
    label: str
    fund: str
    steps: tuple[Step, ...]
    pay_roles: frozenset[str]
    payment_entry_kind: str
    statuses: Mapping[str, str] = field(default_factory=dict)
    hooks: BatchHooks = field(default_factory=BatchHooks, compare=False)
    notice_gate: NoticeGate | None = None
    unit: str = "笔"  # what a line is, as counted on pages: 户, 家, 笔
    attrs: Mapping[str, Any] = field(default_factory=dict)  # the programme's own (e.g. the tranche)

    @property
    def pay_step(self) -> Step:
        return Step(PAY, APPROVED, PAID, self.pay_roles, "兑现")

    @property
    def all_steps(self) -> tuple[Step, ...]:
        return (*self.steps, self.pay_step)

    def step(self, action: str) -> Step | None:
        return next((s for s in self.all_steps if s.action == action), None)

    def next_step(self, status: str) -> Step | None:
        return next((s for s in self.all_steps if s.from_status == status), None)

    def previous_status(self, status: str) -> str | None:
        """Where a send-back returns a batch waiting at `status` (None: it cannot be sent back)."""
        step = next((s for s in self.steps if s.to_status == status), None)
        return step.from_status if step is not None and step.from_status != DRAFT else None

    def status_label(self, status: str) -> str:
        labels = {DRAFT: "准备中", APPROVED: "已批准，待兑现", PAID: "已兑现", **self.statuses}
        return labels.get(status, status)

    def action_label(self, action: str) -> str:
        if action == "send_back":
            return "退回"
        step = self.step(action)
        return step.label if step is not None else action


BATCH_KINDS: Registry[BatchKind] = Registry("batch kind")


def steps_waiting_for(role: str) -> Q:
    """Batches (of any kind) whose next step `role` takes: the 待我办理 queue."""
    waiting = Q(pk__in=[])
    for kind in BATCH_KINDS:
        statuses = [s.from_status for s in kind.all_steps if role in s.roles]
        if statuses:
            waiting |= Q(kind=kind.code, status__in=statuses)
    return waiting


# --- the one writer ---------------------------------------------------------------------------------


def _locked(batches: Iterable[Batch], actor: User) -> list[Batch]:
    ids = sorted({b.pk for b in batches})
    if not ids:
        raise ValidationError(MSG_NOTHING)
    rows = list(
        scoped(Batch.objects.select_for_update(no_key=True, of=("self",)), actor)
        .filter(pk__in=ids)
        .select_related("village", "township")
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


def _by_kind(rows: list[Batch]) -> dict[str, list[Batch]]:
    groups: dict[str, list[Batch]] = defaultdict(list)
    for batch in rows:
        groups[batch.kind].append(batch)
    return groups


@transaction.atomic
def advance(
    batches: Iterable[Batch],
    *,
    action: str,
    actor: User,
    note: str = "",
    attachment: UploadedFile | None = None,
) -> list[Batch]:
    """Take step `action` on every batch, or on none of them; `attachment` (e.g. the 入户核实 photos)
    is stored once and named in every batch's transition."""
    if action == PAY:
        raise ValidationError(MSG_PAY_STEP)
    rows = _locked(batches, actor)
    plan: list[tuple[BatchKind, Step, list[Batch]]] = []
    for code, group in _by_kind(rows).items():
        kind = BATCH_KINDS[code]
        step = kind.step(action)
        if step is None:
            raise ValidationError(f"{kind.label}没有“{action}”这一步。")
        if actor.role not in step.roles:
            raise ValidationError(MSG_ROLE.format(label=step.label, role=step.role_names))
        for batch in group:
            if batch.status != step.from_status:
                raise ValidationError(
                    MSG_ORDER.format(batch=batch, status=batch.status_label, label=step.label)
                )
        plan.append((kind, step, group))
    last = _last_actors(rows)
    for _kind, step, group in plan:
        if step.from_status != DRAFT:
            for batch in group:
                if last[batch.pk] == actor.pk:
                    raise ValidationError(MSG_FOUR_EYES.format(batch=batch))
    for kind, step, group in plan:
        if kind.notice_gate is not None and kind.notice_gate.step == step.action:
            from .notices import batches_blocked_by_notices

            problems = batches_blocked_by_notices(group, kind.notice_gate.notice_kind)
            if problems:
                raise ValidationError("；".join(problems))
        kind.hooks.before_step(group, step)
    stored = ""
    if attachment:
        checked = clean_upload(attachment, *field_policy(Transition, "attachment"))
        stored = default_storage.save(f"transitions/{checked.name}", checked)
    moved: list[Batch] = []
    for kind, step, group in plan:
        moved.extend(
            move_status(
                group,
                to_status=step.to_status,
                from_status=step.from_status,
                action=action,
                actor=actor,
                note=note,
                attachment=stored,
            )
        )
        kind.hooks.after_step(group, step, actor)
    return moved


@transaction.atomic
def send_back(batches: Iterable[Batch], *, actor: User, reason: str) -> list[Batch]:
    """Return each batch one step, with a written reason, by whoever holds the step it waits at."""
    if not reason.strip():
        raise ValidationError(MSG_REASON)
    rows = _locked(batches, actor)
    if len({(b.kind, b.status) for b in rows}) != 1:
        raise ValidationError("只能退回同一类别、同一状态、且尚未兑现的批次。")
    kind, status = BATCH_KINDS[rows[0].kind], rows[0].status
    back = kind.previous_status(status)
    if back is None:
        raise ValidationError("只能退回同一类别、同一状态、且尚未兑现的批次。")
    # An approved batch waits for its payment: the approvers, not the payers, may send it back.
    waiting = kind.steps[-1] if status == APPROVED else kind.next_step(status)
    holders = waiting.roles if waiting is not None else frozenset()
    if actor.role not in holders:
        raise ValidationError(MSG_ROLE.format(label="退回", role=role_names(holders)))
    return move_status(
        rows, to_status=back, from_status=status, action="send_back", actor=actor, note=reason.strip()
    )


@dataclass(frozen=True)
class Offer:
    """What a user may do with one batch now, for the batch page's buttons: a step, a send-back or
    the payment; `refusal` says why a button is shown disabled (e.g. maker-checker)."""

    action: str
    label: str
    refusal: str = ""

    @property
    def enabled(self) -> bool:
        return not self.refusal


SEND_BACK = "send_back"


def offers(batch: Batch, actor: User) -> list[Offer]:
    """The actions `actor` may take on `batch` now; the services check all of it again on POST."""
    kind = BATCH_KINDS.get(batch.kind)
    role = getattr(actor, "role", "")
    if kind is None:
        return []
    found: list[Offer] = []
    step = kind.next_step(batch.status)
    if step is not None and role in step.roles:
        if step.action == PAY:
            found.append(Offer(PAY, "登记兑现"))
        else:
            refusal = ""
            if step.from_status != DRAFT and _last_actors([batch])[batch.pk] == actor.pk:
                refusal = "上一步由您办理，须由他人办理这一步（审核与经办分离）。"
            found.append(Offer(step.action, step.label, refusal))
    if kind.previous_status(batch.status) is not None:
        waiting = kind.steps[-1] if batch.status == APPROVED else kind.next_step(batch.status)
        if waiting is not None and role in waiting.roles:
            found.append(Offer(SEND_BACK, "退回上一步"))
    return found
