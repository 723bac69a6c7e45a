"""Batches of payments through an approval chain, their lines, the transition log and the payouts.

A batch belongs to a registered batch kind (`disbursements.approval.BATCH_KINDS`), which names its
steps, who takes each, and what a step means for the programme. A line is payee-generic: an amount
for one account; the programme keeps its details (the household's tranche, the organisation's
incentive, the loan) in its own table, one-to-one with the line, with its own foreign keys and
uniqueness. A batch is owned by a township, and by one of its villages when the village prepares it.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from households.display import amount
from households.fields import CodeField
from households.models import Township, Village
from households.scoping import ScopePaths
from households.uploads import SCAN, UploadValidator

from .ledger import Account, Entry, Reversible, money

DRAFT = "draft"
APPROVED = "approved"
PAID = "paid"


def _kind_labels() -> dict[str, str]:
    from ..approval import BATCH_KINDS

    return BATCH_KINDS.labels()


def _status_labels() -> dict[str, str]:
    from ..approval import BATCH_KINDS

    labels: dict[str, str] = {}
    for kind in BATCH_KINDS:
        for step in kind.all_steps:
            labels.setdefault(step.from_status, kind.status_label(step.from_status))
            labels.setdefault(step.to_status, kind.status_label(step.to_status))
    return labels


def _action_labels() -> dict[str, str]:
    from ..approval import BATCH_KINDS

    labels = {"send_back": "退回"}
    for kind in BATCH_KINDS:
        for step in kind.all_steps:
            labels.setdefault(step.action, step.label)
    return labels


class Batch(models.Model):
    kind = CodeField(_("类别"), max_length=24, labels=_kind_labels)
    year = models.PositiveSmallIntegerField(_("年度"))
    township = models.ForeignKey(Township, on_delete=models.PROTECT, related_name="+", verbose_name=_("乡镇"))
    village = models.ForeignKey(
        Village, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("村委会")
    )
    status = CodeField(_("状态"), max_length=24, default=DRAFT, labels=_status_labels)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("准备人")
    )
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    status_changed_at = models.DateTimeField(_("状态时间"), default=timezone.now)
    total = money(_("合计金额"), default=0)
    line_count = models.PositiveIntegerField(_("笔数"), default=0)

    scope_paths: ClassVar[ScopePaths] = ScopePaths(
        township="township", village="village", cadre="lines__account__holder"
    )

    class Meta:
        verbose_name = _("拨付批次")
        verbose_name_plural = _("拨付批次")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(total__gte=0), name="batch_total_not_negative"),
            models.CheckConstraint(condition=~Q(kind="") & ~Q(status=""), name="batch_kind_and_status"),
        ]

    def __str__(self) -> str:
        place = self.village.name if self.village_id else self.township.name  # type: ignore[union-attr]
        return f"{self.year}年 {place} {self.kind_label} #{self.pk}"

    @property
    def batch_kind(self) -> Any:
        from ..approval import BATCH_KINDS

        return BATCH_KINDS[self.kind]

    @property
    def kind_label(self) -> str:
        from ..approval import BATCH_KINDS

        return BATCH_KINDS.label(self.kind)

    @property
    def status_label(self) -> str:
        from ..approval import BATCH_KINDS

        kind = BATCH_KINDS.get(self.kind)
        return kind.status_label(self.status) if kind is not None else self.status

    def get_status_display(self) -> str:
        return self.status_label


class BatchLine(models.Model):
    """One payment of a batch: an amount for one account. Cancelled when its payout is reversed (the
    programme may then pay the same thing again in a new batch)."""

    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="lines", verbose_name=_("批次"))
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="batch_lines", verbose_name=_("收款账户")
    )
    amount = money(_("金额"))
    cancelled_at = models.DateTimeField(_("作废时间"), null=True, blank=True)
    # A payee not paid when the batch was (absent, refused): the line stays open, with the reason the
    # payer gave; it is paid later from the same batch. Not money: a note beside the money record.
    unpaid_reason = models.CharField(_("未兑现原因"), max_length=100, blank=True)
    unpaid_noted_at = models.DateTimeField(_("未兑现登记时间"), null=True, blank=True)

    scope_paths: ClassVar[ScopePaths] = ScopePaths(
        township="account__township", village="account__village", cadre="account__holder"
    )

    class Meta:
        verbose_name = _("批次明细")
        verbose_name_plural = _("批次明细")
        ordering = ["batch", "account__name"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="line_amount_positive"),
            models.UniqueConstraint(fields=["batch", "account"], name="one_line_per_account_in_batch"),
        ]

    def __str__(self) -> str:
        return f"{self.account.name} {amount(self.amount)}"


class Transition(models.Model):
    """Append-only log of every step a batch takes: who, when, from, to, and what they wrote."""

    batch = models.ForeignKey(
        Batch, on_delete=models.PROTECT, related_name="transitions", verbose_name=_("批次")
    )
    action = CodeField(_("操作"), max_length=24, labels=_action_labels)
    from_status = CodeField(_("原状态"), max_length=24, labels=_status_labels)
    to_status = CodeField(_("新状态"), max_length=24, labels=_status_labels)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("操作人")
    )
    at = models.DateTimeField(_("时间"), default=timezone.now)
    note = models.TextField(_("意见/说明"), blank=True)
    attachment = models.FileField(
        _("附件（如入户核实照片）"),
        upload_to="transitions/",
        blank=True,
        validators=[UploadValidator(SCAN, "审批附件")],
    )

    scope_paths: ClassVar[ScopePaths] = ScopePaths(
        township="batch__township", village="batch__village", cadre="actor"
    )

    class Meta:
        verbose_name = _("审批记录")
        verbose_name_plural = _("审批记录")
        ordering = ["batch", "at", "pk"]

    def __str__(self) -> str:
        return f"{self.action_label}：{self.from_label} → {self.to_label}"

    def _kind(self) -> Any:
        from ..approval import BATCH_KINDS

        return BATCH_KINDS.get(self.batch.kind)

    @property
    def action_label(self) -> str:
        kind = self._kind()
        return kind.action_label(self.action) if kind is not None else self.action

    @property
    def from_label(self) -> str:
        kind = self._kind()
        return kind.status_label(self.from_status) if kind is not None else self.from_status

    @property
    def to_label(self) -> str:
        kind = self._kind()
        return kind.status_label(self.to_status) if kind is not None else self.to_status

    def get_action_display(self) -> str:
        return self.action_label

    def get_from_status_display(self) -> str:
        return self.from_label

    def get_to_status_display(self) -> str:
        return self.to_label


def receipt_upload_to(instance: Payout, filename: str) -> str:
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    return f"receipts/{instance.line.batch.year}/{instance.line_id}.{suffix}"


class Payout(Reversible):
    """兑现: the money of one batch line handed over (cash) or transferred (bank). One per line; a
    reversed payout (冲正) stays on record and its line is cancelled."""

    class Method(models.TextChoices):
        CASH = "cash", _("现金")
        BANK = "bank", _("银行转账")

    line = models.OneToOneField(
        BatchLine, on_delete=models.PROTECT, related_name="payout", verbose_name=_("批次明细")
    )
    amount = money(_("金额"))
    entry = models.OneToOneField(
        Entry, on_delete=models.PROTECT, related_name="payout", verbose_name=_("资金分录")
    )
    method = models.CharField(_("方式"), max_length=8, choices=Method.choices)
    paid_on = models.DateField(_("兑现日期"))
    reference = models.CharField(
        _("凭证号"), max_length=64, blank=True, help_text=_("银行流水号、转账凭证号或回执编号")
    )
    paid_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("兑现人")
    )
    receipt = models.FileField(
        _("签字/手印回执"),
        upload_to=receipt_upload_to,
        blank=True,
        validators=[UploadValidator(SCAN, "回执扫描件")],
    )
    recorded_at = models.DateTimeField(_("登记时间"), default=timezone.now)

    scope_paths: ClassVar[ScopePaths] = ScopePaths(
        township="line__account__township", village="line__account__village", cadre="line__account__holder"
    )

    class Meta:
        verbose_name = _("兑现记录")
        verbose_name_plural = _("兑现记录")
        ordering = ["-recorded_at"]
        constraints = [
            *Reversible.Meta.constraints,
            models.CheckConstraint(condition=Q(amount__gt=0), name="payout_amount_positive"),
            models.CheckConstraint(condition=Q(method__in=["cash", "bank"]), name="payout_method_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.line.account.name} {amount(self.amount)}（{self.paid_on:%Y-%m-%d}）"
