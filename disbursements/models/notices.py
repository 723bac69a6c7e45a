"""公示 (rules.md §9): notices posted at township, village or group level, and their objections.
Notice kinds (what a notice lists) are registered by the programmes
(`disbursements.notices.NOTICE_KINDS`); the notice itself stays as issued. (A township's batch print
is a background job: `households.jobs`, kind `notice_print`.)
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from households.fields import CodeField
from households.models import Township, Village, VillageGroup
from households.scoping import ScopePaths
from households.uploads import PDF, PHOTO, UploadValidator

from .batches import Batch
from .ledger import Account, money

MSG_PHOTO_FIXED = "张贴照片登记后不能更换或清除。"


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
    # Each row's payee as the notice kind names it ("" for a row naming none), parallel to `rows`:
    # what an objection to a row holds back (`disbursements.notices.objection_record`).
    payees = models.JSONField(_("名单各行的收款对象（印发时）"), default=list, blank=True)
    total = money(_("合计金额"))
    pdf = models.FileField(
        _("公示 PDF（印发原件）"), upload_to=notice_upload_to, validators=[UploadValidator(PDF, "公示 PDF")]
    )
    status = models.CharField(_("状态"), max_length=12, choices=Status.choices, default=Status.ISSUED)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("印发人")
    )
    issued_at = models.DateTimeField(_("印发时间"), default=timezone.now)
    posted_on = models.DateField(_("张贴日期"), null=True, blank=True)
    posted_at = models.DateTimeField(_("登记张贴时间"), null=True, blank=True)
    # Set once, by 登记张贴 (`notice_post`), and never cleared or replaced: `save()` refuses, and a
    # posted notice without its photo breaks the constraint below.
    posted_photo = models.FileField(
        _("张贴照片"),
        upload_to="notices/photos/",
        blank=True,
        validators=[UploadValidator(PHOTO, "张贴照片")],
    )
    closed_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    # The public identifier printed (as a QR code and as text) on the sheet: anyone can open the
    # notice as issued at /gs/<code>/ without logging in. Random (60 bits), never derived from the pk.
    public_code = models.CharField(_("公示核验码"), max_length=16, unique=True, null=True, blank=True)

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
            # Posted means photographed on the board, on a date; before that, no photo at all.
            models.CheckConstraint(
                condition=(Q(status="issued") & Q(posted_photo="") & Q(posted_on__isnull=True))
                | (Q(status__in=["posted", "closed"]) & ~Q(posted_photo="") & Q(posted_on__isnull=False)),
                name="notice_posted_with_photo",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def save(self, *args: Any, **kwargs: Any) -> None:
        """The photo of the posted notice is evidence: once stored it is never cleared or replaced."""
        update_fields = kwargs.get("update_fields")
        if self.pk is not None and (update_fields is None or "posted_photo" in update_fields):
            stored = Notice.objects.filter(pk=self.pk).values_list("posted_photo", flat=True).first()
            if stored and stored != self.posted_photo.name:
                raise ValidationError(MSG_PHOTO_FIXED)
        super().save(*args, **kwargs)

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
    """An objection received during a notice period, and how it was resolved.

    It names the row of the notice it is about (`row`, and the name printed there); when that row
    names a payee, the objection points at the payee's ledger account, and while it is open no
    batch pays that account (`disbursements.payouts.payouts_record`).
    """

    notice = models.ForeignKey(
        Notice, on_delete=models.PROTECT, related_name="objections", verbose_name=_("公示")
    )
    row = models.PositiveSmallIntegerField(_("公示名单序号"), null=True, blank=True)
    payee_name = models.CharField(_("涉及对象"), max_length=64, blank=True)
    payee = models.ForeignKey(
        Account,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="objections",
        verbose_name=_("涉及的收款账户"),
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

    class Channel(models.TextChoices):
        PAPER = "paper", _("现场/电话反映")
        ONLINE = "online", _("网上提交")

    channel = models.CharField(_("反映方式"), max_length=8, choices=Channel.choices, default=Channel.PAPER)
    # Only for calling the objector back; shown masked, never on the public page.
    phone = models.CharField(_("反映人电话"), max_length=20, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("登记人"),
    )

    # Officials of the notice's area, and whoever's area holds the payee (a cadre sees the objections
    # to the households they hold, on their batches).
    scope_paths: ClassVar[ScopePaths] = ScopePaths(
        township=("notice__township", "payee__township"),
        village=("notice__village", "payee__village"),
        cadre=("payee__holder", "recorded_by"),
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
            models.CheckConstraint(
                condition=Q(row__isnull=True) | Q(row__gte=1), name="objection_row_numbered_from_1"
            ),
            models.CheckConstraint(
                condition=Q(payee__isnull=True) | Q(row__isnull=False), name="objection_payee_has_its_row"
            ),
            # A paper objection is recorded by an official; an online one by nobody, with a phone.
            models.CheckConstraint(
                condition=(Q(channel="paper") & Q(recorded_by__isnull=False))
                | (Q(channel="online") & Q(recorded_by__isnull=True) & ~Q(phone="")),
                name="objection_channel_recorded",
            ),
        ]

    def __str__(self) -> str:
        about = f"（{self.payee_name}）" if self.payee_name else ""
        return f"{self.raised_by}{about}：{self.content[:20]}"

    @property
    def is_open(self) -> bool:
        return self.resolved_on is None
