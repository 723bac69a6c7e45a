"""Policy as data, household industry plans and commitment letters (到户承诺书)."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any, ClassVar

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from households.fields import money_field
from households.models import Household
from households.scoping import ScopePaths
from households.uploads import SCAN, UploadValidator

from .. import rules


def money(verbose: Any, **kwargs: Any) -> models.DecimalField:  # type: ignore[type-arg]
    return money_field(verbose, max_digits=12, **kwargs)


class Policy(models.Model):
    """The numbers of one programme year. Editable by city HQ; each saved change bumps `version`
    and leaves a `PolicyRevision` snapshot, so a plan names exactly the terms it was quoted under."""

    year = models.PositiveSmallIntegerField(_("年度"), unique=True)
    version = models.PositiveIntegerField(_("版本"), default=1)
    planting_rate = money(_("种植补助（元/亩）"), validators=[MinValueValidator(0)])
    planting_area_cap = models.DecimalField(
        _("种植面积封顶（亩）"), max_digits=6, decimal_places=2, validators=[MinValueValidator(0)]
    )
    household_cap = money(_("每户补助上限（元）"), validators=[MinValueValidator(0)])
    tranche1_percent = models.DecimalField(_("产前拨付比例（%）"), max_digits=5, decimal_places=2)
    tranche2_percent = models.DecimalField(_("产中拨付比例（%）"), max_digits=5, decimal_places=2)
    tranche3_percent = models.DecimalField(_("产后拨付比例（%）"), max_digits=5, decimal_places=2)
    commitment_deadline = models.DateField(_("承诺书签订截止日"))
    eligible_exit_year = models.PositiveSmallIntegerField(_("扶持的脱贫年度"))
    consolidation_exit_year = models.PositiveSmallIntegerField(
        _("须列为巩固提升才扶持的脱贫年度"), null=True, blank=True
    )
    notice_days = models.PositiveSmallIntegerField(
        _("公示天数（默认）"),
        default=10,
        help_text=_("扶贫资金项目公告公示原则上不少于 10 天；不得少于 7 天"),
    )
    recovery_due_days = models.PositiveSmallIntegerField(
        _("收回期限（天）"),
        default=30,
        help_text=_("收回通知经乡镇批准后应在多少天内收回；逾期列入待办（我们的理解，可改）"),
    )
    updated_at = models.DateTimeField(_("最后修改"), default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("修改人"),
    )

    class Meta:
        verbose_name = _("扶持政策")
        verbose_name_plural = _("扶持政策")
        ordering = ["-year"]
        constraints = [
            models.CheckConstraint(
                condition=Q(tranche1_percent__gte=0)
                & Q(tranche2_percent__gte=0)
                & Q(tranche3_percent__gte=0),
                name="policy_ratios_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(tranche1_percent=Decimal(100) - F("tranche2_percent") - F("tranche3_percent")),
                name="policy_ratios_add_to_100",
            ),
            models.CheckConstraint(condition=Q(notice_days__gte=7), name="notice_at_least_7_days"),
        ]

    def __str__(self) -> str:
        return f"{self.year}年度扶持政策（第 {self.version} 版）"

    def terms(self) -> rules.Terms:
        """The plain values the rules module computes with."""
        categories = {c.code: c.as_rule() for c in self.categories.all()}
        return rules.Terms(
            year=self.year,
            version=self.version,
            planting_rate=self.planting_rate,
            planting_area_cap=self.planting_area_cap,
            household_cap=self.household_cap,
            tranche_ratios=(self.tranche1_percent, self.tranche2_percent, self.tranche3_percent),
            categories=categories,
            species={s.name: s.category.code for s in self.species.select_related("category")},
            eligible_exit_years=frozenset({self.eligible_exit_year}),
            consolidation_exit_years=frozenset(
                {self.consolidation_exit_year} if self.consolidation_exit_year else set()
            ),
        )


class BreedingCategory(models.Model):
    """One breeding category of the plan; a household may have one of them (以上养殖补助每户只享受1项)."""

    policy = models.ForeignKey(
        Policy, on_delete=models.CASCADE, related_name="categories", verbose_name=_("政策")
    )
    code = models.CharField(_("代码"), max_length=16)
    name = models.CharField(_("品类"), max_length=16)
    unit = models.CharField(_("计量单位"), max_length=4)
    rate = money(_("补助标准（元/单位）"), validators=[MinValueValidator(0)])
    cap = money(_("每户封顶（元）"), validators=[MinValueValidator(0)])
    fractional = models.BooleanField(_("数量可有小数"), default=False, help_text=_("如鱼塘面积（亩）"))

    class Meta:
        verbose_name = _("养殖品类")
        verbose_name_plural = _("养殖品类")
        ordering = ["policy", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "code"], name="category_code_unique_in_policy"),
            models.CheckConstraint(
                condition=Q(rate__gte=0) & Q(cap__gte=0), name="category_amounts_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def as_rule(self) -> rules.Category:
        return rules.Category(
            code=self.code,
            name=self.name,
            unit=self.unit,
            rate=self.rate,
            cap=self.cap,
            fractional=self.fractional,
        )


class Species(models.Model):
    """A species a plan may name, mapped to its category; 特种养殖 (林麝, 竹鼠 …) are added by city HQ."""

    policy = models.ForeignKey(
        Policy, on_delete=models.CASCADE, related_name="species", verbose_name=_("政策")
    )
    name = models.CharField(_("养殖品种"), max_length=16)
    category = models.ForeignKey(BreedingCategory, on_delete=models.PROTECT, verbose_name=_("参照品类"))
    special = models.BooleanField(_("特种养殖"), default=False)

    class Meta:
        verbose_name = _("养殖品种")
        verbose_name_plural = _("养殖品种")
        ordering = ["policy", "category", "pk"]
        constraints = [models.UniqueConstraint(fields=["policy", "name"], name="species_unique_in_policy")]

    def __str__(self) -> str:
        return self.name


class PolicyRevision(models.Model):
    """Append-only: the whole policy as it stood at each version, who changed it and why."""

    policy = models.ForeignKey(
        Policy, on_delete=models.PROTECT, related_name="revisions", verbose_name=_("政策")
    )
    version = models.PositiveIntegerField(_("版本"))
    snapshot = models.JSONField(_("政策内容"))
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
        verbose_name = _("政策修改记录")
        verbose_name_plural = _("政策修改记录")
        ordering = ["policy", "-version"]
        constraints = [models.UniqueConstraint(fields=["policy", "version"], name="one_snapshot_per_version")]

    def __str__(self) -> str:
        return f"{self.policy.year}年度扶持政策第 {self.version} 版"


class PlanStatus(models.TextChoices):
    DRAFT = "draft", _("填报中")
    SUBMITTED = "submitted", _("已进入审批")
    APPROVED = "approved", _("已批准")
    SUPERSEDED = "superseded", _("已被变更取代")


class HouseholdPlan(models.Model):
    """A household's industry plan for one programme year, with the quote it was saved under.

    Amounts are stored as computed (with the policy version), never recomputed silently. Once a
    plan enters the approval chain it is frozen; a change is a new plan row (`amends`) that goes
    through approval again, and the old one becomes SUPERSEDED when the amendment is approved.
    """

    household = models.ForeignKey(
        Household, on_delete=models.PROTECT, related_name="plans", verbose_name=_("贫困户")
    )
    year = models.PositiveSmallIntegerField(_("年度"))
    status = models.CharField(_("状态"), max_length=16, choices=PlanStatus.choices, default=PlanStatus.DRAFT)
    # Indexed only where set (Meta.indexes): most plans amend nothing.
    amends = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="amendments",
        verbose_name=_("变更自"),
        db_index=False,
    )
    crops = models.CharField(_("种植品种"), max_length=64, blank=True)
    planting_area = models.DecimalField(
        _("种植面积（亩）"), max_digits=8, decimal_places=2, default=Decimal("0")
    )
    species = models.CharField(_("养殖品种"), max_length=16, blank=True)
    breeding_quantity = models.DecimalField(
        _("养殖数量"), max_digits=10, decimal_places=2, default=Decimal("0")
    )
    tranche1_percent = models.DecimalField(_("产前比例（%）"), max_digits=5, decimal_places=2)
    tranche2_percent = models.DecimalField(_("产中比例（%）"), max_digits=5, decimal_places=2)
    tranche3_percent = models.DecimalField(_("产后比例（%）"), max_digits=5, decimal_places=2)
    ratio_reason = models.CharField(_("调整拨付比例的理由"), max_length=200, blank=True)
    # Not indexed: one policy per year, never deleted, so an index on it narrows no query.
    policy = models.ForeignKey(
        Policy, on_delete=models.PROTECT, related_name="+", verbose_name=_("政策"), db_index=False
    )
    policy_version = models.PositiveIntegerField(_("政策版本"))
    planting_subsidy = money(_("种植补助"))
    breeding_subsidy = money(_("养殖补助"))
    grant_total = money(_("补助合计"))
    tranche1 = money(_("第一期（产前）"))
    tranche2 = money(_("第二期（产中）"))
    tranche3 = money(_("第三期（产后）"))
    explanation = models.JSONField(_("测算说明"), default=list)
    # Bumped on every change of what the household is promised; a 承诺书 binds one revision.
    revision = models.PositiveIntegerField(_("修订次数"), default=1)
    # Not indexed: no page or report looks plans up by who entered them (deleting a user scans).
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        related_name="+",
        verbose_name=_("填报人"),
        db_index=False,
    )
    created_at = models.DateTimeField(_("填报时间"), default=timezone.now)
    updated_at = models.DateTimeField(_("最后修改"), default=timezone.now)
    # Computed by the database from `status`: the partial unique indexes below test this, not
    # `status`, so that moving a plan between live statuses (submitted → approved for a batch of
    # 1,000) changes no indexed column and PostgreSQL can update the rows in place (HOT), writing no
    # index entries. See the migration that added it for the table's fillfactor.
    live = models.GeneratedField(
        expression=~Q(status=PlanStatus.SUPERSEDED),  # type: ignore[arg-type]  # a Q is an expression
        output_field=models.BooleanField(),
        db_persist=True,
        verbose_name=_("有效"),
    )

    scope_paths: ClassVar[ScopePaths] = ScopePaths(
        township="household__village__township", village="household__village", cadre="household__cadre"
    )

    class Meta:
        verbose_name = _("产业计划")
        verbose_name_plural = _("产业计划")
        ordering = ["household__code", "year"]
        permissions = [
            ("import_householdplan", _("可导入产业计划")),
            ("export_householdplan", _("可导出补助测算表")),
        ]
        # A plan's update writes an entry in each index whose condition its new version meets, unless
        # it is a HOT update (no indexed or condition column changed, room in the page): few indexes,
        # and none on `status`, keep approving a batch's plans cheap.
        indexes = [
            models.Index(fields=["amends"], condition=Q(amends__isnull=False), name="plan_amends_set"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["household", "year"],
                condition=Q(live=True) & Q(amends__isnull=True),
                name="one_original_plan_per_household_year",
            ),
            models.UniqueConstraint(
                fields=["amends"],
                condition=Q(live=True) & Q(amends__isnull=False),
                name="one_live_amendment_per_plan",
            ),
            models.CheckConstraint(condition=Q(status__in=PlanStatus.values), name="plan_status_valid"),
            models.CheckConstraint(
                condition=Q(planting_area__gte=0) & Q(breeding_quantity__gte=0),
                name="plan_quantities_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(grant_total__lte=F("planting_subsidy") + F("breeding_subsidy")),
                name="plan_total_not_above_parts",
            ),
            models.CheckConstraint(
                condition=Q(grant_total=F("tranche1") + F("tranche2") + F("tranche3")),
                name="plan_tranches_add_up",
            ),
            models.CheckConstraint(
                condition=Q(tranche1__gte=0) & Q(tranche2__gte=0) & Q(tranche3__gte=0),
                name="plan_tranches_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.household.code} {self.year}年度产业计划"

    @property
    def is_editable(self) -> bool:
        return self.status == PlanStatus.DRAFT

    @property
    def commitment_deadline(self) -> datetime.date:
        return self.policy.commitment_deadline

    @property
    def commitment_state(self) -> str:
        """unsigned / signed / resign (the plan changed after it was signed: 待重新签订)."""
        letter = getattr(self, "commitment", None)
        if letter is None:
            return "unsigned"
        return "signed" if letter.binds(self) else "resign"

    @property
    def commitment_signed(self) -> bool:
        return self.commitment_state == "signed"

    def commitment_late(self, today: datetime.date | None = None) -> bool:
        """承诺书 not signed by the deadline (15 April), or signed after it."""
        letter = getattr(self, "commitment", None)
        deadline = self.commitment_deadline
        if letter is not None and letter.signed_on is not None:
            return letter.signed_on > deadline
        return (today or timezone.localdate()) > deadline


def commitment_upload_to(instance: CommitmentLetter, filename: str) -> str:
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    return f"commitments/{instance.plan.year}/{instance.plan.household.code}-{instance.plan_id}.{suffix}"


class CommitmentLetter(models.Model):
    """到户承诺书: signed by the household and its cadre; the scan of the signed sheet is kept."""

    plan = models.OneToOneField(
        HouseholdPlan, on_delete=models.PROTECT, related_name="commitment", verbose_name=_("产业计划")
    )
    signed_on = models.DateField(_("签订日期"))
    # What was signed: the amount and the plan's revision. A later change of the plan unbinds it.
    signed_amount = money(_("签订的补助金额"))
    plan_revision = models.PositiveIntegerField(_("签订的计划修订"))
    scan = models.FileField(
        _("签字/手印扫描件"),
        upload_to=commitment_upload_to,
        validators=[UploadValidator(SCAN, "承诺书扫描件")],
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("上传人")
    )
    uploaded_at = models.DateTimeField(_("上传时间"), default=timezone.now)

    scope_paths: ClassVar[ScopePaths] = ScopePaths(
        township="plan__household__village__township",
        village="plan__household__village",
        cadre="plan__household__cadre",
    )

    class Meta:
        verbose_name = _("到户承诺书")
        verbose_name_plural = _("到户承诺书")

    def __str__(self) -> str:
        return f"{self.plan} 承诺书"

    def binds(self, plan: HouseholdPlan) -> bool:
        return self.plan_revision == plan.revision and self.signed_amount == plan.grant_total
