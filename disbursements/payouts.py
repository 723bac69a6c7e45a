"""Paying a batch, the last step of every chain: each line in the recorder's scope, through the ledger,
once; and the reversal of a payout (冲正) as a business action.

The batch kind's hooks say what the programme requires (`check_payments`, which locks the payees
and refuses what its invariants forbid), where each line is paid from (`sources`), and what paying
or reversing means for its records. The batch becomes paid, through the one transition writer,
when its last live line is.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from households.models import User
from households.scoping import scoped
from households.uploads import clean_upload, field_policy

from . import ledger
from .approval import BATCH_KINDS, PAY, move_status
from .models import APPROVED, PAID, BankFileLine, Batch, BatchLine, Payout
from .money import ZERO, to_fen
from .notices import payees_held

MSG_NOT_APPROVED = "批次尚未审批通过，不能兑现。"
MSG_ALL_PAID = "本批次已全部兑现，没有重复支付。"
MSG_PAY_ROLE = "兑现须由{roles}登记。"
MSG_REVERSE_ROLE = "冲正由乡镇或市指挥部办理。"
MSG_REVERSE_REASON = "冲正必须写明原因。"
REVERSER_ROLES = frozenset({"township", "city"})


MSG_FUTURE = "兑现日期 {date:%Y-%m-%d} 晚于今天，请填写实际兑现的日期。"
MSG_UNPAID_REASON = "{name}：未兑现须写明原因（如外出、拒领）。"
MSG_IN_BANK = "未兑现的各户已在银行代发途中，待导入银行回盘文件后才能另行兑现。"
MSG_NOTHING_TO_PAY = "没有选中要兑现的户。"


@dataclass
class PayoutResult:
    paid: int
    amount: Decimal
    batch_paid: bool
    left_open: int = 0
    held: list[str] = field(default_factory=list)  # lines not paid: an open 公示 objection names the payee


@transaction.atomic
def payouts_record(
    *,
    batch: Batch,
    actor: User,
    paid_on: datetime.date,
    method: str = Payout.Method.CASH,
    lines: Iterable[int] | None = None,
    accounts: Iterable[int] | None = None,
    reference: str = "",
    references: Mapping[int, str] | None = None,
    receipt: UploadedFile | None = None,
    unpaid: Mapping[int, str] | None = None,
    through_bank: bool = False,
) -> PayoutResult:
    """Record the payment of the batch's open lines in the recorder's scope (a cadre the payees they
    hold, a village official those of the village), or only `lines` (line ids) / `accounts`.

    `paid_on` is the real date of the payment (not after today);
    `reference` the bank or receipt number for all, `references` one per line (line pk); `receipt`
    one scan (e.g. the signed 兑现花名册) attached to every payout recorded; `unpaid` the lines not
    paid this time (line pk → reason, e.g. 外出): they stay open, with their reason, for a later
    recording.

    A line in a bank file waiting for the bank's return (在途) is paid by nobody but that return:
    `through_bank=True` (from `bank_files.bank_return_import`) pays only such lines, and does not hold
    them for an open objection, since the bank has already paid them; otherwise they are left out.

    One transaction: the batch row is locked (a double click or a retried request waits and then
    finds the lines paid), then the kind's `check_payments` locks the payees and checks them.
    A line whose payee has an open 公示 objection is not paid (the others are); the result names
    it, and if nothing else is left to pay the call is refused with that reason.
    """
    kind = BATCH_KINDS[batch.kind]
    unpaid = {pk: reason.strip() for pk, reason in (unpaid or {}).items()}
    references = {pk: ref.strip() for pk, ref in (references or {}).items() if ref.strip()}
    if paid_on > timezone.localdate():
        raise ValidationError(MSG_FUTURE.format(date=paid_on))
    checked_receipt = clean_upload(receipt, *field_policy(Payout, "receipt")) if receipt else None
    if actor.role not in kind.pay_roles:
        from .approval import role_names

        raise ValidationError(MSG_PAY_ROLE.format(roles=role_names(kind.pay_roles)))
    locked = (
        scoped(Batch.objects.select_for_update(no_key=True, of=("self",)), actor).filter(pk=batch.pk).first()
    )
    if locked is None:
        raise ValidationError("该批次不在您的管辖范围内。")
    if locked.status != APPROVED:
        raise ValidationError(MSG_ALL_PAID if locked.status == PAID else MSG_NOT_APPROVED)

    def open_lines() -> Any:
        rows = scoped(
            BatchLine.objects.filter(batch=locked, payout__isnull=True, cancelled_at__isnull=True), actor
        )
        in_bank = Exists(BankFileLine.objects.filter(line=OuterRef("pk"), status=BankFileLine.Status.SENT))
        rows = rows.filter(in_bank) if through_bank else rows.exclude(in_bank)
        if lines is not None:
            rows = rows.filter(pk__in=list(lines))
        if accounts is not None:
            rows = rows.filter(account_id__in=list(accounts))
        return rows.select_related("account").order_by("pk")

    candidates = list(open_lines())
    if not candidates and not unpaid:
        if (
            not through_bank
            and BankFileLine.objects.filter(line__batch=locked, status=BankFileLine.Status.SENT).exists()
        ):
            raise ValidationError(MSG_IN_BANK)
        raise ValidationError(MSG_ALL_PAID)
    left_open = _note_unpaid(locked, actor, unpaid)
    candidates = [line for line in candidates if line.pk not in unpaid]
    if not candidates:
        if left_open:
            return PayoutResult(paid=0, amount=ZERO, batch_paid=False, left_open=left_open)
        raise ValidationError(MSG_NOTHING_TO_PAY)
    kind.hooks.check_payments(locked, candidates, actor)
    paying = [line for line in open_lines() if line.pk not in unpaid]  # again, under the payees' locks
    if not paying:
        raise ValidationError(MSG_ALL_PAID)
    held = {} if through_bank else payees_held(paying, locked.year)
    if held:
        paying = [line for line in paying if line.pk not in held]
        if not paying:
            raise ValidationError(list(held.values()))
    stored_receipt = ""
    if checked_receipt is not None:  # one file for every payout of this recording
        name = checked_receipt.name or ""
        suffix = name.rsplit(".", 1)[-1].lower() if "." in name else "bin"
        stored_receipt = default_storage.save(
            f"receipts/{locked.year}/batch-{locked.pk}.{suffix}", checked_receipt
        )
    sources = kind.hooks.sources(locked, paying)
    method_label = str(Payout.Method(method).label)
    entries = ledger.post(
        [
            ledger.Move(
                sources[line.pk],
                line.account,
                line.amount,
                kind.payment_entry_kind,
                kind.hooks.memo(locked, line, method_label),
            )
            for line in paying
        ],
        year=locked.year,
        actor=actor,
    )
    try:
        with transaction.atomic():
            payouts = Payout.objects.bulk_create(
                [
                    Payout(
                        line=line,
                        amount=line.amount,
                        entry=entry,
                        method=method,
                        paid_on=paid_on,
                        paid_by=actor,
                        reference=references.get(line.pk, reference.strip()),
                        receipt=stored_receipt,
                    )
                    for line, entry in zip(paying, entries, strict=True)
                ]
            )
    except IntegrityError:
        raise ValidationError(MSG_ALL_PAID) from None
    BatchLine.objects.filter(pk__in=[line.pk for line in paying]).exclude(unpaid_reason="").update(
        unpaid_reason="", unpaid_noted_at=None
    )
    kind.hooks.after_paid(locked, payouts, actor)
    remaining = BatchLine.objects.filter(
        batch=locked, payout__isnull=True, cancelled_at__isnull=True
    ).exists()
    if not remaining:
        move_status(
            [locked],
            from_status=APPROVED,
            to_status=PAID,
            action=PAY,
            actor=actor,
            note=f"兑现完毕（本次 {len(paying)} 笔）",
        )
    return PayoutResult(
        paid=len(paying),
        amount=sum((to_fen(line.amount) for line in paying), ZERO),
        batch_paid=not remaining,
        left_open=left_open,
        held=list(held.values()),
    )


def _note_unpaid(batch: Batch, actor: User, unpaid: Mapping[int, str]) -> int:
    """Mark the open lines not paid this time with their reason (each one in the actor's scope)."""
    if not unpaid:
        return 0
    rows = list(
        scoped(BatchLine.objects.filter(batch=batch, pk__in=list(unpaid)), actor)
        .filter(payout__isnull=True, cancelled_at__isnull=True)
        .select_related("account")
    )
    if len(rows) != len(unpaid):
        raise ValidationError("有未兑现的户不在本批次或不在您的管辖范围内，或已兑现。")
    for line in rows:
        if not unpaid[line.pk]:
            raise ValidationError(MSG_UNPAID_REASON.format(name=line.account.name))
        line.unpaid_reason = unpaid[line.pk][:100]
        line.unpaid_noted_at = timezone.now()
    BatchLine.objects.bulk_update(rows, ["unpaid_reason", "unpaid_noted_at"])
    return len(rows)


@transaction.atomic
def payout_reverse(*, payout: Payout, actor: User, reason: str) -> Payout:
    """冲正 of a payout (e.g. recorded for the wrong payee): its entry is reversed, the payout and its
    line stop counting, and the programme may pay the same thing again in a new batch."""
    if actor.role not in REVERSER_ROLES:
        raise ValidationError(MSG_REVERSE_ROLE)
    if not reason.strip():
        raise ValidationError(MSG_REVERSE_REASON)
    reason = reason.strip()
    locked = (
        scoped(Payout.objects.select_for_update(no_key=True, of=("self",)), actor)
        .filter(pk=payout.pk)
        .select_related("entry", "line__batch", "line__account")
        .first()
    )
    if locked is None:
        raise ValidationError("该兑现记录不在您的管辖范围内。")
    if locked.is_reversed:
        raise ValidationError("该兑现记录已冲正。")
    hooks = BATCH_KINDS[locked.line.batch.kind].hooks
    hooks.before_reverse(locked, actor)
    ledger.reverse(locked.entry, actor=actor, reason=reason, with_record=True)
    now = timezone.now()
    if (
        Payout.objects.filter(pk=locked.pk, reversed_at__isnull=True).update(
            reversed_at=now, reversed_by=actor, reversal_reason=reason
        )
        != 1
    ):
        raise ValidationError("该兑现记录已冲正。")
    BatchLine.objects.filter(pk=locked.line_id).update(cancelled_at=now)
    locked.refresh_from_db()
    hooks.after_reverse(locked, actor)
    return locked


@transaction.atomic
def payout_attach_receipt(*, payout: Payout, receipt: UploadedFile, actor: User) -> Payout:
    """The payee's signed or thumb-printed receipt, scanned. The money record itself is untouched."""
    kind = BATCH_KINDS[payout.line.batch.kind]
    if actor.role not in kind.pay_roles:
        from .approval import role_names

        raise ValidationError(f"回执由{role_names(kind.pay_roles)}上传。")
    checked_receipt = clean_upload(receipt, *field_policy(Payout, "receipt"))  # before the row lock
    locked = (
        scoped(Payout.objects.select_for_update(no_key=True, of=("self",)), actor)
        .filter(pk=payout.pk)
        .first()
    )
    if locked is None:
        raise ValidationError("该兑现记录不在您的管辖范围内。")
    locked.receipt = checked_receipt
    locked.save(update_fields=["receipt"])
    return locked
