"""The household grant's money side (rules.md §3): its accounts and batch lines, the benefit
analysis (产业扶持分析表), recoveries, and the equity option (入股分红).

The ledger, batches and payouts themselves are the shared machinery's (`disbursements`); these are
the household programme's own records, each pointing to the shared rows it stands behind.
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from disbursements.models import Account, BatchLine, Entry, Reversible, money
from households.display import amount
from households.models import Household, Organisation
from households.scoping import ScopePaths
from households.uploads import PHOTO, SCAN, UploadValidator

TRANCHES = [(1, _("第一期（产前）")), (2, _("第二期（产中）")), (3, _("第三期（产后/以奖代补）"))]


class HouseholdAccount(models.Model):
    """A household's account in the grant fund: where its tranches, rewards and equity arrive."""

    household = models.OneToOneField(
        Household, on_delete=models.PROTECT, related_name="grant_account", verbose_name=_("贫困户")
    )
    account = models.OneToOneField(
        Account, on_delete=models.PROTECT, related_name="grant_household", verbose_name=_("资金账户")
    )

    scope_paths: ClassVar[ScopePaths] = ScopePaths(
        township="household__village__township", village="household__village", cadre="household__cadre"
    )

    class Meta:
        verbose_name = _("贫困户资金账户")
        verbose_name_plural = _("贫困户资金账户")

    def __str__(self) -> str:
        return str(self.household)


class GrantLine(models.Model):
    """What a batch line pays in the household grant: one tranche (or the 以奖代补) of one household's
    plan. One live line per household, year and tranche: a second batch cannot even propose it."""

    line = models.OneToOneField(
        BatchLine, on_delete=models.PROTECT, related_name="grant", verbose_name=_("批次明细")
    )
    household = models.ForeignKey(
        Household, on_delete=models.PROTECT, related_name="grant_lines", verbose_name=_("贫困户")
    )
    plan = models.ForeignKey(
        "subsidies.HouseholdPlan", on_delete=models.PROTECT, related_name="+", verbose_name=_("产业计划")
    )
    year = models.PositiveSmallIntegerField(_("年度"))
    tranche = models.PositiveSmallIntegerField(_("期次"), choices=TRANCHES)
    # Set with the line's when its payout is reversed: the tranche may then be batched again.
    cancelled_at = models.DateTimeField(_("作废时间"), null=True, blank=True)

    scope_paths: ClassVar[ScopePaths] = ScopePaths(
        township="household__village__township", village="household__village", cadre="household__cadre"
    )

    class Meta:
        verbose_name = _("到户资金明细")
        verbose_name_plural = _("到户资金明细")
        ordering = ["household__code", "tranche"]
        constraints = [
            models.UniqueConstraint(
                fields=["household", "year", "tranche"],
                condition=Q(cancelled_at__isnull=True),
                name="one_line_per_tranche",
            ),
            models.CheckConstraint(
                condition=Q(tranche__gte=1) & Q(tranche__lte=3), name="grant_tranche_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.household} {self.get_tranche_display()}"


class BenefitAnalysis(models.Model):
    """产业扶持分析表: after the cycle, what the household really did, and what follows for the money."""

    class Assessment(models.TextChoices):
        ACTIVE = "active", _("积极发展产业")
        INACTIVE = "inactive", _("不积极主动进行种养殖产业发展")

    class Decision(models.TextChoices):
        NONE = "", _("无需决定")
        PENDING = "pending", _("待乡镇决定")
        RECOVER = "recover", _("乡镇决定收回差额")
        WAIVE = "waive", _("乡镇决定不收回")

    plan = models.OneToOneField(
        "subsidies.HouseholdPlan",
        on_delete=models.PROTECT,
        related_name="analysis",
        verbose_name=_("产业计划"),
    )
    actual_planting_area = models.DecimalField(
        _("实际种植面积（亩）"), max_digits=8, decimal_places=2, default=0
    )
    actual_species = models.CharField(_("实际养殖品种"), max_length=16, blank=True)
    actual_quantity = models.DecimalField(
        _("实际存栏/出栏（头/只/羽/箱/亩）"), max_digits=10, decimal_places=2, default=0
    )
    output = models.CharField(_("产量"), max_length=64, blank=True)
    sales_income = money(_("销售收入（元）"), default=0)
    costs = money(_("成本（元）"), default=0)
    net_income = money(_("纯收入（元）"))
    income_per_member = money(_("人均收入（元）"))
    assessment = models.CharField(_("评价"), max_length=16, choices=Assessment.choices)
    notes = models.TextField(_("说明"), blank=True)
    photo = models.FileField(
        _("照片"), upload_to="analysis/", blank=True, validators=[UploadValidator(PHOTO, "分析表照片")]
    )
    verified_entitlement = money(_("核实应享补助（元）"))
    paid_before = money(_("已拨付（元）"))
    reward = money(_("以奖代补（元）"))
    shortfall = money(_("核实应享低于已拨付的差额（元）"))
    decision = models.CharField(
        _("乡镇决定"), max_length=16, choices=Decision.choices, blank=True, default=""
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("决定人"),
    )
    filled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("填表人")
    )
    filled_at = models.DateTimeField(_("填表时间"), default=timezone.now)
    explanation = models.JSONField(_("核算说明"), default=list)

    scope_paths: ClassVar[ScopePaths] = ScopePaths(
        township="plan__household__village__township",
        village="plan__household__village",
        cadre="plan__household__cadre",
    )

    class Meta:
        verbose_name = _("产业扶持分析表")
        verbose_name_plural = _("产业扶持分析表")
        constraints = [
            models.CheckConstraint(
                condition=Q(reward__gte=0) & Q(shortfall__gte=0), name="analysis_amounts_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(reward=0) | Q(shortfall=0), name="reward_or_shortfall_not_both"
            ),
            models.CheckConstraint(
                condition=Q(assessment__in=["active", "inactive"]), name="analysis_assessment_valid"
            ),
            models.CheckConstraint(
                condition=~Q(assessment="inactive") | Q(reward=0), name="no_reward_when_inactive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.plan} 分析表"


class RecoveryOrder(models.Model):
    """收回: money paid to a household that must come back to 乡财政. Raised by the village, approved by
    the township; open until the ledger shows it repaid."""

    class Status(models.TextChoices):
        RAISED = "raised", _("待乡镇审批")
        APPROVED = "approved", _("已批准，待收回")
        REPAID = "repaid", _("已收回")

    household = models.ForeignKey(
        Household, on_delete=models.PROTECT, related_name="recovery_orders", verbose_name=_("贫困户")
    )
    year = models.PositiveSmallIntegerField(_("年度"))
    amount = money(_("应收回（元）"))
    reason = models.CharField(_("原因"), max_length=200)
    status = models.CharField(_("状态"), max_length=12, choices=Status.choices, default=Status.RAISED)
    raised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("提出人")
    )
    raised_at = models.DateTimeField(_("提出时间"), default=timezone.now)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("审批人"),
    )
    approved_at = models.DateTimeField(_("审批时间"), null=True, blank=True)

    scope_paths: ClassVar[ScopePaths] = ScopePaths(
        township="household__village__township", village="household__village", cadre="household__cadre"
    )

    class Meta:
        verbose_name = _("收回通知")
        verbose_name_plural = _("收回通知")
        ordering = ["-raised_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="recovery_amount_positive"),
            models.CheckConstraint(
                condition=Q(status__in=["raised", "approved", "repaid"]), name="recovery_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True) | ~Q(approved_by=F("raised_by")),
                name="recovery_four_eyes",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.household} {self.year}年 收回 {amount(self.amount)}（{self.get_status_display()}）"


class RecoveryRepayment(Reversible):
    order = models.ForeignKey(
        RecoveryOrder, on_delete=models.PROTECT, related_name="repayments", verbose_name=_("收回通知")
    )
    entry = models.OneToOneField(
        Entry, on_delete=models.PROTECT, related_name="+", verbose_name=_("资金分录")
    )
    amount = money(_("金额"))
    received_on = models.DateField(_("收回日期"))

    scope_paths: ClassVar[ScopePaths] = ScopePaths(
        township="order__household__village__township",
        village="order__household__village",
        cadre="order__household__cadre",
    )

    class Meta:
        verbose_name = _("收回记录")
        verbose_name_plural = _("收回记录")
        constraints = [
            *Reversible.Meta.constraints,
            models.CheckConstraint(condition=Q(amount__gt=0), name="repayment_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.order.household} 收回 {amount(self.amount)}（{self.received_on or ''}）"


class EquityInvestment(Reversible):
    """入股分红: the household's grant paid as cash equity to a partner, with the household's consent.
    The principal stays preserved (保值) until returned; dividends go to the household.

    In the ledger the grant reaches the household (`entry`, kind equity) and moves on to the partner
    (`transfer_entry`), so the household's receipts count it like any tranche."""

    household = models.ForeignKey(
        Household, on_delete=models.PROTECT, related_name="equity", verbose_name=_("贫困户")
    )
    year = models.PositiveSmallIntegerField(_("年度"))
    partner = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        related_name="equity_investments",
        verbose_name=_("入股企业/合作社"),
    )
    principal = money(_("入股本金（元）"))
    agreement = models.CharField(_("协议编号/名称"), max_length=100)
    consent_scan = models.FileField(
        _("贫困户书面同意书扫描件"),
        upload_to="equity/",
        validators=[UploadValidator(SCAN, "入股同意书扫描件")],
    )
    invested_on = models.DateField(_("入股日期"))
    entry = models.OneToOneField(
        Entry, on_delete=models.PROTECT, related_name="+", verbose_name=_("资金分录（拨付）")
    )
    transfer_entry = models.OneToOneField(
        Entry,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("资金分录（转入合作方）"),
    )
    returned_entry = models.OneToOneField(
        Entry,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("资金分录（本金退还）"),
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("登记人")
    )

    scope_paths: ClassVar[ScopePaths] = ScopePaths(
        township="household__village__township", village="household__village", cadre="household__cadre"
    )

    class Meta:
        verbose_name = _("入股分红")
        verbose_name_plural = _("入股分红")
        constraints = [
            *Reversible.Meta.constraints,
            models.UniqueConstraint(
                fields=["household", "year"],
                condition=Q(reversed_at__isnull=True),
                name="one_equity_per_household_year",
            ),
            models.CheckConstraint(condition=Q(principal__gt=0), name="equity_principal_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.household} 入股 {self.partner} {amount(self.principal)}"

    @property
    def preserved(self) -> bool:
        return self.returned_entry_id is None and not self.is_reversed


class Dividend(models.Model):
    investment = models.ForeignKey(
        EquityInvestment, on_delete=models.PROTECT, related_name="dividends", verbose_name=_("入股记录")
    )
    year = models.PositiveSmallIntegerField(_("分红年度"))
    amount = money(_("分红金额（元）"))
    paid_on = models.DateField(_("发放日期"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("登记人")
    )

    class Meta:
        verbose_name = _("分红记录")
        verbose_name_plural = _("分红记录")
        constraints = [
            models.UniqueConstraint(fields=["investment", "year"], name="one_dividend_per_year"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="dividend_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.investment.household} {self.year}年分红 {amount(self.amount)}"
