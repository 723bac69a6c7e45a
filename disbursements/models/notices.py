"""公示 (rules.md §9): notices posted at township, village or group level, their objections, and the
background print jobs. Notice kinds (what a notice lists) are registered by the programmes
(`disbursements.notices.NOTICE_KINDS`); the notice itself stays as issued.
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from households.fields import CodeField
from households.models import Township, Village, VillageGroup
from households.scoping import ScopePaths
from households.uploads import PDF, PHOTO, UploadValidator

from .batches import Batch
from .ledger import money


def _notice_kinds() -> dict[str, str]:
    from ..notices import NOTICE_KINDS

    return NOTICE_KINDS.labels()


def notice_upload_to(instance: Notice, filename: str) -> str:
    return f"notices/{instance.year}/{instance.kind}-{instance.level}-{instance.area_id}-{filename}"


class Notice(models.Model):
    """公示: a printed sheet posted at a township, village or group for a notice period.

    What it lists is frozen at issue (`rows`, `pdf`), so it reprints exactly as posted. A batch
    whose kind requires a notice cannot pass its gated step until the period is over and every
    objection is resolved.
    """

    class Level(models.TextChoices):
        TOWNSHIP = "township", _("乡镇")
        VILLAGE = "village", _("村")
        GROUP = "group", _("村民小组")

    class Status(models.TextChoices):
        ISSUED = "issued", _("已印发，待张贴")
        POSTED = "posted", _("公示中")
        CLOSED = "closed", _("公示结束")

    kind = CodeField(_("类别"), max_length=24, labels=_notice_kinds)
    year = models.PositiveSmallIntegerField(_("年度"))
    level = models.CharField(_("公示层级"), max_length=12, choices=Level.choices, default=Level.VILLAGE)
    township = models.ForeignKey(Township, on_delete=models.PROTECT, related_name="+", verbose_name=_("乡镇"))
    village = models.ForeignKey(
        Village, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("村委会")
    )
    group = models.ForeignKey(
        VillageGroup,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("村民小组"),
    )
    batch = models.ForeignKey(
        Batch,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="notices",
        verbose_name=_("拨付批次"),
    )
    title = models.CharField(_("标题"), max_length=120)
    issuer = models.CharField(_("发布单位"), max_length=120)
    contact = models.CharField(_("异议受理联系人及电话"), max_length=64)
    period_start = models.DateField(_("公示开始"))
    period_end = models.DateField(_("公示结束"))
    period_days = models.PositiveSmallIntegerField(_("公示天数"))
    rows = models.JSONField(_("公示名单（印发时）"), default=list)
    total = money(_("合计金额"))
    pdf = models.FileField(
        _("公示 PDF（印发原件）"), upload_to=notice_upload_to, validators=[UploadValidator(PDF, "公示 PDF")]
    )
    status = models.CharField(_("状态"), max_length=12, choices=Status.choices, default=Status.ISSUED)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("印发人")
    )
    issued_at = models.DateTimeField(_("印发时间"), default=timezone.now)
    posted_at = models.DateTimeField(_("张贴时间"), null=True, blank=True)
    posted_photo = models.FileField(
        _("张贴照片"),
        upload_to="notices/photos/",
        blank=True,
        validators=[UploadValidator(PHOTO, "张贴照片")],
    )
    closed_at = models.DateTimeField(_("结束时间"), null=True, blank=True)

    scope_paths: ClassVar[ScopePaths] = ScopePaths(
        township="township", village="village", cadre="batch__lines__account__holder"
    )

    class Meta:
        verbose_name = _("公示")
        verbose_name_plural = _("公示")
        ordering = ["-issued_at"]
        constraints = [
            # The area matches the level: a township notice names no village, a group notice its group.
            models.CheckConstraint(
                condition=(Q(level="township") & Q(village__isnull=True) & Q(group__isnull=True))
                | (Q(level="village") & Q(village__isnull=False) & Q(group__isnull=True))
                | (Q(level="group") & Q(village__isnull=False) & Q(group__isnull=False)),
                name="notice_area_matches_level",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["issued", "posted", "closed"]), name="notice_status_valid"
            ),
            # Never under 7 days (rules.md §9); the service sets period_end = start + days − 1.
            models.CheckConstraint(
                condition=Q(period_days__gte=7),
                name="notice_period_7_days",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def area_id(self) -> int:
        return int(self.group_id or self.village_id or self.township_id)  # type: ignore[arg-type]

    @property
    def kind_label(self) -> str:
        from ..notices import NOTICE_KINDS

        return NOTICE_KINDS.label(self.kind)

    def get_kind_display(self) -> str:
        return self.kind_label


class Objection(models.Model):
    """An objection received during a notice period, and how it was resolved."""

    notice = models.ForeignKey(
        Notice, on_delete=models.PROTECT, related_name="objections", verbose_name=_("公示")
    )
    received_on = models.DateField(_("收到日期"))
    raised_by = models.CharField(_("反映人"), max_length=64)
    content = models.TextField(_("异议内容"))
    resolution = models.TextField(_("处理结果"), blank=True)
    resolved_on = models.DateField(_("处理日期"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("处理人"),
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("登记人")
    )

    scope_paths: ClassVar[ScopePaths] = ScopePaths(
        township="notice__township", village="notice__village", cadre="recorded_by"
    )

    class Meta:
        verbose_name = _("公示异议")
        verbose_name_plural = _("公示异议")
        ordering = ["notice", "received_on", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(resolved_on__isnull=True) & Q(resolution=""))
                | (Q(resolved_on__isnull=False) & ~Q(resolution="")),
                name="objection_resolution_complete",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.raised_by}：{self.content[:20]}"


class PrintJob(models.Model):
    """A township's batch print running as a background task; the page polls its progress."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("排队中")
        RUNNING = "running", _("生成中")
        DONE = "done", _("已完成")
        FAILED = "failed", _("失败")

    kind = CodeField(_("类别"), max_length=24, labels=_notice_kinds)
    year = models.PositiveSmallIntegerField(_("年度"))
    township = models.ForeignKey(Township, on_delete=models.PROTECT, related_name="+", verbose_name=_("乡镇"))
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("申请人")
    )
    requested_at = models.DateTimeField(_("申请时间"), default=timezone.now)
    status = models.CharField(_("状态"), max_length=12, choices=Status.choices, default=Status.QUEUED)
    done = models.PositiveIntegerField(_("已完成村数"), default=0)
    total = models.PositiveIntegerField(_("村数"), default=0)
    pdf = models.FileField(
        _("打印文件（PDF）"),
        upload_to="notices/print/",
        blank=True,
        validators=[UploadValidator(PDF, "公示打印 PDF")],
    )
    error = models.CharField(_("出错原因"), max_length=200, blank=True)

    scope_paths: ClassVar[ScopePaths] = ScopePaths(
        township="township", village="requested_by__village", cadre="requested_by"
    )

    class Meta:
        verbose_name = _("批量打印任务")
        verbose_name_plural = _("批量打印任务")

    def __str__(self) -> str:
        return f"{self.township} {self.year}年 {self.get_kind_display()}（{self.done}/{self.total}）"  # type: ignore[attr-defined]
