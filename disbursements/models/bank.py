"""Payments through the bank (惠民惠农 "一卡通"): a payee's bank account with its history, the bank
payment files sent for a batch and their lines, and the bank's return files.

A bank account belongs to the payee's ledger account (a household's, an organisation's …), so every
programme's payees can be paid through the bank without a model of their own. A batch line put in a
bank file is *sent* (在途): it can be paid neither in cash nor in another file until the bank's
return says it failed; a success is recorded as the line's payout through the ledger.
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from households.scoping import ScopePaths

from .batches import Batch, BatchLine
from .ledger import Account, money


class BankAccount(models.Model):
    """开户行, 账号, 户名 of a payee (the holder may be another family member). Never edited: a new
    account supersedes the current one, so the history stays (who, when)."""

    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="bank_accounts", verbose_name=_("收款对象")
    )
    bank = models.CharField(_("开户行"), max_length=64)
    number = models.CharField(_("账号"), max_length=32)
    holder_name = models.CharField(_("户名"), max_length=64)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("登记人")
    )
    created_at = models.DateTimeField(_("登记时间"), default=timezone.now)
    superseded_at = models.DateTimeField(_("停用时间"), null=True, blank=True)
    note = models.CharField(_("变更原因"), max_length=100, blank=True)

    scope_paths: ClassVar[ScopePaths] = ScopePaths(
        township="account__township", village="account__village", cadre="account__holder"
    )

    class Meta:
        verbose_name = _("银行账户（一卡通）")
        verbose_name_plural = _("银行账户（一卡通）")
        ordering = ["account", "-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["account"], condition=Q(superseded_at__isnull=True), name="one_current_bank_account"
            ),
            models.CheckConstraint(
                condition=~Q(bank="") & ~Q(number="") & ~Q(holder_name=""), name="bank_account_complete"
            ),
        ]

    def __str__(self) -> str:
        from ..bank_accounts import mask_account_number

        return f"{self.bank} {mask_account_number(self.number)}（{self.holder_name}）"

    @property
    def masked_number(self) -> str:
        from ..bank_accounts import mask_account_number

        return mask_account_number(self.number)


class BankFile(models.Model):
    """代发文件: the payment file of a batch for the bank, in a registered profile's layout. Its
    bytes are rebuilt from its lines on every download, so it reads the same each time."""

    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="bank_files")
    profile = models.CharField(_("银行文件格式"), max_length=32)
    reference = models.CharField(_("文件编号"), max_length=32, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("导出人")
    )
    created_at = models.DateTimeField(_("导出时间"), default=timezone.now)
    line_count = models.PositiveIntegerField(_("笔数"))
    total = money(_("合计金额"))

    scope_paths: ClassVar[ScopePaths] = ScopePaths(
        township="batch__township", village="batch__village", cadre="batch__lines__account__holder"
    )

    class Meta:
        verbose_name = _("银行代发文件")
        verbose_name_plural = _("银行代发文件")
        ordering = ["-created_at", "-pk"]
        constraints = [models.CheckConstraint(condition=Q(total__gt=0), name="bank_file_total_positive")]

    def __str__(self) -> str:
        return f"代发文件 {self.reference}"


class BankFileLine(models.Model):
    """One payment in a bank file: 在途 until the bank's return says 成功 or 失败."""

    class Status(models.TextChoices):
        SENT = "sent", _("在途（已送银行）")
        SUCCESS = "success", _("成功")
        FAILED = "failed", _("失败")

    bank_file = models.ForeignKey(BankFile, on_delete=models.PROTECT, related_name="lines")
    line = models.ForeignKey(BatchLine, on_delete=models.PROTECT, related_name="bank_lines")
    seq = models.PositiveIntegerField(_("序号"))
    reference = models.CharField(_("业务参考号"), max_length=40, unique=True)
    bank_account = models.ForeignKey(
        BankAccount, on_delete=models.PROTECT, related_name="+", verbose_name=_("收款银行账户")
    )
    amount = money(_("金额"))
    status = models.CharField(_("银行处理结果"), max_length=8, choices=Status.choices, default=Status.SENT)
    reason = models.CharField(_("失败原因"), max_length=100, blank=True)
    bank_serial = models.CharField(_("银行流水号"), max_length=64, blank=True)
    returned_at = models.DateTimeField(_("回盘时间"), null=True, blank=True)

    scope_paths: ClassVar[ScopePaths] = ScopePaths(
        township="line__account__township", village="line__account__village", cadre="line__account__holder"
    )

    class Meta:
        verbose_name = _("代发明细")
        verbose_name_plural = _("代发明细")
        ordering = ["bank_file", "seq"]
        constraints = [
            # 在途 or paid through the bank: a line is in one live file at a time.
            models.UniqueConstraint(
                fields=["line"], condition=Q(status__in=["sent", "success"]), name="one_live_bank_line"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["sent", "success", "failed"]), name="bank_line_status_valid"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="bank_line_amount_positive"),
            models.CheckConstraint(
                condition=~Q(status="failed") | ~Q(reason=""), name="bank_line_failure_has_reason"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.amount} 元（{self.get_status_display()}）"


class BankReturn(models.Model):
    """回盘文件: a return file imported, once (its SHA-256): what it confirmed and refused."""

    bank_file = models.ForeignKey(BankFile, on_delete=models.PROTECT, related_name="returns")
    sha256 = models.CharField(_("文件摘要"), max_length=64, unique=True)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("导入人")
    )
    imported_at = models.DateTimeField(_("导入时间"), default=timezone.now)
    succeeded = models.PositiveIntegerField(_("成功笔数"))
    failed = models.PositiveIntegerField(_("失败笔数"))

    scope_paths: ClassVar[ScopePaths] = ScopePaths(
        township="bank_file__batch__township",
        village="bank_file__batch__village",
        cadre="bank_file__batch__lines__account__holder",
    )

    class Meta:
        verbose_name = _("银行回盘")
        verbose_name_plural = _("银行回盘")
        ordering = ["-imported_at"]

    def __str__(self) -> str:
        return f"回盘：成功 {self.succeeded} 笔，失败 {self.failed} 笔"
