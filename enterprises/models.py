"""Organisations that lift households (rules.md §7): the organisation, its 帮扶协议 with households,
the yearly assessment (考核) of each agreement, the incentive paid through the shared machinery, and
the year's incentive policy as data."""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from disbursements.models import BatchLine
from disbursements.models.ledger import money
from households.models import (  # noqa: F401  (re-exported: the programme's names for the register's)
    LEGAL_ENTITIES,
    MSG_USCC,
    MSG_USCC_REQUIRED,
    Household,
    ImportBatch,
    OperatingModel,
    OrganisationKind,
    validate_uscc,
)
from households.models import Organisation as RegisteredOrganisation
from households.scoping import ScopePaths
from households.uploads import SCAN, UploadValidator

# The plan's list of ways of support (seed §三（三）); policy data, extended per year in the policy.
SUPPORT_WAYS = (
    "土地流转",
    "入股分红",
    "资金帮扶",
    "订单种植/养殖",
    "协议收购",
    "技能培训",
    "劳务用工",
    "包购包销",
    "技术服务",
    "管理培训",
    "代种代养代销",
    "承包租赁",
    "合作联营",
    "提供种苗",
    "技术指导",
    "管理服务",
    "保底收购",
    "基地务工",
    "网购网销",
    "物流配送",
)


def default_support_ways() -> list[str]:
    return list(SUPPORT_WAYS)


class IncentivePolicy(models.Model):
    """The year's incentive numbers (rules.md §1, §7): edited by city HQ only; each change raises the
    version, and every incentive names the version it was computed with."""

    year = models.PositiveSmallIntegerField(_("年度"), unique=True)
    version = models.PositiveIntegerField(_("版本"), default=1)
    threshold = money(_("人均产业收入标准（元）"))
    base = money(_("起奖金额（元）"))
    step = money(_("每增加一户奖励（元）"))
    minimum = models.PositiveSmallIntegerField(_("起奖户数"))
    support_ways = models.JSONField(_("帮扶方式"), default=default_support_ways)
    updated_at = models.DateTimeField(_("修改时间"), default=timezone.now)

    class Meta:
        verbose_name = _("带贫奖补政策")
        verbose_name_plural = _("带贫奖补政策")
        constraints = [
            models.CheckConstraint(
                condition=Q(threshold__gt=0) & Q(base__gte=0) & Q(step__gte=0) & Q(minimum__gte=1),
                name="incentive_policy_positive",
            )
        ]

    def __str__(self) -> str:
        return f"{self.year}年度带贫奖补政策（第 {self.version} 版）"

    def terms(self) -> Any:
        from .rules import Terms

        return Terms(self.year, self.version, self.threshold, self.base, self.step, self.minimum)


class IncentivePolicyRevision(models.Model):
    """Append-only: the year's incentive policy as it stood at each version, who changed it, when and why
    (`changes`: each changed item's label → [old, new], as the page shows it)."""

    policy = models.ForeignKey(
        IncentivePolicy, on_delete=models.PROTECT, related_name="revisions", verbose_name=_("政策")
    )
    version = models.PositiveIntegerField(_("版本"))
    snapshot = models.JSONField(_("政策内容"))
    changes = models.JSONField(_("修改内容"), default=dict)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        related_name="+",
        verbose_name=_("修改人"),
    )
    changed_at = models.DateTimeField(_("时间"), default=timezone.now)
    reason = models.CharField(_("修改原因"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("带贫奖补政策修改记录")
        verbose_name_plural = _("带贫奖补政策修改记录")
        ordering = ["policy", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "version"], name="one_incentive_snapshot_per_version")
        ]

    def __str__(self) -> str:
        return f"{self.policy.year}年度带贫奖补政策第 {self.version} 版"


class Organisation(RegisteredOrganisation):
    """The register's organisation as the organisation programme sees it (its admin pages, agreements,
    incentives): seen by its supervising township and by every area where it has linked households."""

    scope_paths: ClassVar[ScopePaths] = ScopePaths(
        township=(
            "township",
            "agreements__household__village__township",
            "equity_investments__household__village__township",
        ),
        village=("agreements__household__village", "equity_investments__household__village"),
        cadre=("agreements__household__cadre", "equity_investments__household__cadre"),
    )

    class Meta:
        proxy = True
        verbose_name = _("带贫组织")
        verbose_name_plural = _("带贫组织")
        permissions = [("import_agreement", _("导入帮扶协议")), ("import_assessment", _("导入考核记录"))]


def agreement_scan_upload_to(instance: Agreement, filename: str) -> str:
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    return f"agreements/{instance.year}/{instance.organisation_id}-{instance.household_id}.{suffix}"


class Agreement(models.Model):
    """帮扶协议 between an organisation and a household for a year. A household may sign with several
    organisations; it counts toward one organisation's incentive per year (`counts`, our reading)."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="agreements", verbose_name=_("带贫组织")
    )
    household = models.ForeignKey(
        Household, on_delete=models.PROTECT, related_name="agreements", verbose_name=_("贫困户")
    )
    year = models.PositiveSmallIntegerField(_("年度"))
    ways = models.JSONField(_("帮扶方式"), default=list)
    industry = models.CharField(_("产业"), max_length=64)
    signed_on = models.DateField(_("签订日期"))
    starts_on = models.DateField(_("开始日期"))
    ends_on = models.DateField(_("结束日期"))
    counts = models.BooleanField(_("计入本组织奖补"), default=True)
    scan = models.FileField(
        _("协议扫描件"),
        upload_to=agreement_scan_upload_to,
        blank=True,
        validators=[UploadValidator(SCAN, "帮扶协议扫描件")],
    )
    import_batch = models.ForeignKey(
        ImportBatch, on_delete=models.PROTECT, null=True, blank=True, editable=False, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, editable=False, related_name="+"
    )
    created_at = models.DateTimeField(_("登记时间"), default=timezone.now, editable=False)

    scope_paths: ClassVar[ScopePaths] = ScopePaths(
        township=("household__village__township", "organisation__township"),
        village="household__village",
        cadre="household__cadre",
    )

    class Meta:
        verbose_name = _("帮扶协议")
        verbose_name_plural = _("帮扶协议")
        ordering = ["organisation", "year", "household"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "household", "year"],
                name="one_agreement_per_organisation_household_year",
            ),
            models.UniqueConstraint(
                fields=["household", "year"],
                condition=Q(counts=True),
                name="one_incentive_claim_per_household_year",
            ),
            models.CheckConstraint(
                condition=Q(ends_on__gte=models.F("starts_on")), name="agreement_dates_ordered"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.organisation} — {self.household.head_name}（{self.year}年）"


class Assessment(models.Model):
    """考核 of one agreement for its year: the household's income from that industry and its size at
    the assessment; qualified when the per-capita income reaches the threshold and the township
    confirmed it (考核合格)."""

    agreement = models.OneToOneField(
        Agreement, on_delete=models.PROTECT, related_name="assessment", verbose_name=_("帮扶协议")
    )
    income = money(_("该产业家庭收入（元）"))
    size = models.PositiveSmallIntegerField(_("家庭人口"))
    per_capita = money(_("人均产业收入（元）"))
    reaches = models.BooleanField(_("达到标准"))
    policy_version = models.PositiveIntegerField(_("政策版本"))
    evidence = models.FileField(
        _("佐证材料（销售记录、工资单等扫描件）"),
        upload_to="assessments/",
        blank=True,
        validators=[UploadValidator(SCAN, "考核佐证材料")],
    )
    assessed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("录入人")
    )
    assessed_at = models.DateTimeField(_("录入时间"), default=timezone.now)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("确认人"),
    )
    confirmed_at = models.DateTimeField(_("考核合格确认时间"), null=True, blank=True)

    scope_paths: ClassVar[ScopePaths] = ScopePaths(
        township=("agreement__household__village__township", "agreement__organisation__township"),
        village="agreement__household__village",
        cadre="agreement__household__cadre",
    )

    class Meta:
        verbose_name = _("考核记录")
        verbose_name_plural = _("考核记录")
        ordering = ["agreement"]
        constraints = [
            models.CheckConstraint(
                condition=Q(income__gte=0) & Q(size__gte=1), name="assessment_values_valid"
            ),
            models.CheckConstraint(
                condition=Q(confirmed_at__isnull=True) | Q(reaches=True),
                name="only_reaching_assessment_confirmed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.agreement} 考核"

    @property
    def qualified(self) -> bool:
        return self.reaches and self.confirmed_at is not None


class Incentive(models.Model):
    """An organisation's incentive for a year, as one line of an incentive batch: the confirmed
    households it counted (frozen), the amount the rules gave and their explanation."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="incentives", verbose_name=_("带贫组织")
    )
    year = models.PositiveSmallIntegerField(_("年度"))
    line = models.OneToOneField(BatchLine, on_delete=models.PROTECT, related_name="incentive")
    households = models.PositiveIntegerField(_("考核合格户数"))
    amount = money(_("奖补金额（元）"))
    policy_version = models.PositiveIntegerField(_("政策版本"))
    explanation = models.JSONField(_("计算说明"), default=list)
    agreements = models.ManyToManyField(Agreement, related_name="incentives", verbose_name=_("计入的协议"))
    cancelled_at = models.DateTimeField(_("作废时间"), null=True, blank=True)

    scope_paths: ClassVar[ScopePaths] = ScopePaths(
        township=("organisation__township", "agreements__household__village__township"),
        village="agreements__household__village",
        cadre="agreements__household__cadre",
    )

    class Meta:
        verbose_name = _("带贫奖补")
        verbose_name_plural = _("带贫奖补")
        ordering = ["-year", "organisation"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "year"],
                condition=Q(cancelled_at__isnull=True),
                name="one_live_incentive_per_organisation_year",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="incentive_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.organisation} {self.year}年奖补 {self.amount:,.2f} 元"
