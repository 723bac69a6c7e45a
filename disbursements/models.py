"""Money: the ledger (accounts and immutable entries), payout batches through the approval chain,
and the payouts themselves. Shared machinery: organisation incentives and village funds reuse it.

Money moves only through `disbursements.ledger`; an entry is never edited or deleted, a mistake
is corrected by a reversing entry.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from households.models import Household, Township, Village
from households.scoping import ScopePaths


def money(verbose: Any, **kwargs: Any) -> models.DecimalField:  # type: ignore[type-arg]
    return models.DecimalField(verbose, max_digits=14, decimal_places=2, **kwargs)


TRANCHES = [(1, _("第一期（产前）")), (2, _("第二期（产中）")), (3, _("第三期（产后/以奖代补）"))]


class Account(models.Model):
    """Who holds money: the city, a township, a village, a cadre (per village), a household,
    a township's finance office (乡财政, where recoveries go), a partner enterprise, or the
    funding source (财政专项资金) that the city's money comes from."""

    class Kind(models.TextChoices):
        FUNDING = "funding", _("财政专项资金")
        CITY = "city", _("市指挥部")
        TOWNSHIP = "township", _("乡镇")
        VILLAGE = "village", _("村委会")
        CADRE = "cadre", _("挂包干部")
        HOUSEHOLD = "household", _("贫困户")
        TOWNSHIP_FINANCE = "township_finance", _("乡财政")
        PARTNER = "partner", _("入股企业/合作社")

    kind = models.CharField(_("类别"), max_length=20, choices=Kind.choices)
    name = models.CharField(_("名称"), max_length=64)
    township = models.ForeignKey(Township, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    village = models.ForeignKey(Village, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    cadre = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    household = models.ForeignKey(
        Household, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    partner = models.ForeignKey(
        "disbursements.Partner", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    # A household's account is seen by whoever holds the household now, not by the cadre of its creation.
    scope_paths: ClassVar[ScopePaths] = ScopePaths(
        township="township", village="village", cadre=("cadre", "household__cadre")
    )

    class Meta:
        verbose_name = _("资金账户")
        verbose_name_plural = _("资金账户")
        ordering = ["kind", "township", "village", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    kind__in=[
                        "funding",
                        "city",
                        "township",
                        "village",
                        "cadre",
                        "household",
                        "township_finance",
                        "partner",
                    ]
                ),
                name="account_kind_valid",
            ),
            models.UniqueConstraint(
                fields=["kind"], condition=Q(kind__in=["funding", "city"]), name="one_city_account"
            ),
            models.UniqueConstraint(
                fields=["kind", "township"],
                condition=Q(kind__in=["township", "township_finance"]),
                name="one_account_per_township",
            ),
            models.UniqueConstraint(
                fields=["village"], condition=Q(kind="village"), name="one_account_per_village"
            ),
            models.UniqueConstraint(
                fields=["cadre", "village"], condition=Q(kind="cadre"), name="one_account_per_cadre_village"
            ),
            models.UniqueConstraint(
                fields=["household"], condition=Q(kind="household"), name="one_account_per_household"
            ),
            models.UniqueConstraint(
                fields=["partner"], condition=Q(kind="partner"), name="one_account_per_partner"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}：{self.name}"


class Partner(models.Model):
    """An enterprise or cooperative taking a household's grant as equity (入股分红); minimal for now."""

    name = models.CharField(_("名称"), max_length=100, unique=True)
    kind = models.CharField(_("类别"), max_length=16, default="企业")
    contact = models.CharField(_("联系人及电话"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("入股合作方")
        verbose_name_plural = _("入股合作方")

    def __str__(self) -> str:
        return self.name


class Entry(models.Model):
    """One movement of money from `source` to `target`. Immutable; balances are derived from entries."""

    class Kind(models.TextChoices):
        FUNDING = "funding", _("资金到位")
        ALLOCATION = "allocation", _("下拨")
        ALLOCATION_RETURN = "allocation_return", _("调减上缴")
        PAYOUT = "payout", _("兑现到户")
        RECOVERY = "recovery", _("收回")
        EQUITY = "equity", _("到户资金入股")  # the household's grant, taken by the equity route
        EQUITY_TRANSFER = "equity_transfer", _("入股本金划转合作方")
        EQUITY_RETURN = "equity_return", _("入股本金退还")
        REASSIGNMENT = "reassignment", _("挂包干部变更调账")
        REVERSAL = "reversal", _("冲正")

    year = models.PositiveSmallIntegerField(_("年度"), db_index=True)
    kind = models.CharField(_("类别"), max_length=20, choices=Kind.choices)
    source = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="outgoing", verbose_name=_("付出方")
    )
    target = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="incoming", verbose_name=_("收入方")
    )
    amount = money(_("金额"))
    memo = models.CharField(_("摘要"), max_length=200, blank=True)
    reverses = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reversed_by",
        verbose_name=_("冲正的分录"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        related_name="+",
        verbose_name=_("经办人"),
    )
    created_at = models.DateTimeField(_("记账时间"), default=timezone.now)

    # Either side in the area: a village sees the recoveries its households paid into 乡财政 too.
    scope_paths: ClassVar[ScopePaths] = ScopePaths(
        township=("target__township", "source__township"),
        village=("target__village", "source__village"),
        cadre=("target__cadre", "target__household__cadre", "source__cadre"),
    )

    class Meta:
        verbose_name = _("资金分录")
        verbose_name_plural = _("资金分录")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="entry_amount_positive"),
            models.CheckConstraint(condition=~Q(source=F("target")), name="entry_moves_between_accounts"),
            models.CheckConstraint(
                condition=Q(
                    kind__in=[
                        "funding",
                        "allocation",
                        "allocation_return",
                        "payout",
                        "recovery",
                        "equity",
                        "equity_transfer",
                        "equity_return",
                        "reassignment",
                        "reversal",
                    ]
                ),
                name="entry_kind_valid",
            ),
            models.CheckConstraint(
                condition=Q(kind="reversal", reverses__isnull=False)
                | (~Q(kind="reversal") & Q(reverses__isnull=True)),
                name="reversal_names_its_entry",
            ),
        ]
        indexes = [models.Index(fields=["year", "kind"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount} 元：{self.source.name} → {self.target.name}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not kwargs.get("force_insert"):
            raise RuntimeError("ledger entries are immutable; post a reversal instead")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("ledger entries are never deleted; post a reversal instead")


class Reversible(models.Model):
    """A record of money that a business action may reverse once (冲正): who, when and why.

    The record itself is never edited otherwise; its ledger entries are reversed in the same
    transaction, and the record stops counting (e.g. a reversed payout frees the tranche again).
    """

    reversed_at = models.DateTimeField(_("冲正时间"), null=True, blank=True)
    reversed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("冲正人"),
    )
    reversal_reason = models.CharField(_("冲正原因"), max_length=200, blank=True)

    class Meta:
        abstract = True
        constraints = [
            models.CheckConstraint(
                condition=(Q(reversed_at__isnull=True) & Q(reversed_by__isnull=True) & Q(reversal_reason=""))
                | (Q(reversed_at__isnull=False) & Q(reversed_by__isnull=False) & ~Q(reversal_reason="")),
                name="%(app_label)s_%(class)s_reversal_complete",
            ),
        ]

    @property
    def is_reversed(self) -> bool:
        return self.reversed_at is not None


class Batch(models.Model):
    """A payout batch: the households of one village for one tranche of one year (or a 以奖代补 reward),
    passing the approval chain of rules.md §5. Its lines are the households and amounts."""

    class Kind(models.TextChoices):
        TRANCHE = "tranche", _("到户资金分期拨付")
        REWARD = "reward", _("以奖代补")

    class Status(models.TextChoices):
        DRAFT = "draft", _("挂包干部准备中")
        PREPARED = "prepared", _("待入户核实")
        VERIFIED = "verified", _("待乡镇复核")
        TOWNSHIP_REVIEWED = "township_reviewed", _("待市指挥部复核")
        CITY_REVIEWED = "city_reviewed", _("待产业办审批")
        APPROVED = "approved", _("已批准，待兑现")
        PAID = "paid", _("已兑现")

    kind = models.CharField(_("类别"), max_length=16, choices=Kind.choices, default=Kind.TRANCHE)
    year = models.PositiveSmallIntegerField(_("年度"))
    tranche = models.PositiveSmallIntegerField(_("期次"), choices=TRANCHES)
    village = models.ForeignKey(Village, on_delete=models.PROTECT, related_name="+", verbose_name=_("村委会"))
    status = models.CharField(_("状态"), max_length=20, choices=Status.choices, default=Status.DRAFT)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("准备人")
    )
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    status_changed_at = models.DateTimeField(_("状态时间"), default=timezone.now)
    total = money(_("合计金额"), default=0)
    line_count = models.PositiveIntegerField(_("户数"), default=0)

    scope_paths: ClassVar[ScopePaths] = ScopePaths(
        township="village__township", village="village", cadre="lines__household__cadre"
    )

    class Meta:
        verbose_name = _("拨付批次")
        verbose_name_plural = _("拨付批次")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    status__in=[
                        "draft",
                        "prepared",
                        "verified",
                        "township_reviewed",
                        "city_reviewed",
                        "approved",
                        "paid",
                    ]
                ),
                name="batch_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(tranche__gte=1) & Q(tranche__lte=3), name="batch_tranche_valid"
            ),
            models.CheckConstraint(condition=Q(total__gte=0), name="batch_total_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.year}年 {self.village.name} {self.get_tranche_display()} #{self.pk}"


class BatchLine(models.Model):
    """One household in a batch: the tranche amount of its plan of record."""

    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="lines")
    household = models.ForeignKey(
        Household, on_delete=models.PROTECT, related_name="+", verbose_name=_("贫困户")
    )
    plan = models.ForeignKey("subsidies.HouseholdPlan", on_delete=models.PROTECT, related_name="+")
    year = models.PositiveSmallIntegerField(_("年度"))
    tranche = models.PositiveSmallIntegerField(_("期次"), choices=TRANCHES)
    amount = money(_("金额"))
    # Set when the line's payout is reversed: the tranche may then be batched again.
    cancelled_at = models.DateTimeField(_("作废时间"), null=True, blank=True)

    scope_paths: ClassVar[ScopePaths] = ScopePaths(
        township="household__village__township", village="household__village", cadre="household__cadre"
    )

    class Meta:
        verbose_name = _("批次明细")
        verbose_name_plural = _("批次明细")
        ordering = ["batch", "household__code"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="line_amount_positive"),
            # A household's tranche can be in one live batch line only: a second batch cannot propose it.
            models.UniqueConstraint(
                fields=["household", "year", "tranche"],
                condition=Q(cancelled_at__isnull=True),
                name="one_line_per_tranche",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.household} 第{self.tranche}期 {self.amount}"


class Transition(models.Model):
    """Append-only log of every step a batch takes: who, when, from, to, and what they wrote."""

    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="transitions")

    class Action(models.TextChoices):
        SUBMIT = "submit", _("提交入户核实")
        VERIFY = "verify", _("入户核实")
        TOWNSHIP_REVIEW = "township_review", _("乡镇复核汇总")
        CITY_REVIEW = "city_review", _("市指挥部复核")
        APPROVE = "approve", _("产业办和分管领导审批")
        SEND_BACK = "send_back", _("退回")
        PAY = "pay", _("兑现")

    action = models.CharField(_("操作"), max_length=24, choices=Action.choices)
    from_status = models.CharField(_("原状态"), max_length=20, choices=Batch.Status.choices)
    to_status = models.CharField(_("新状态"), max_length=20, choices=Batch.Status.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("操作人")
    )
    at = models.DateTimeField(_("时间"), default=timezone.now)
    note = models.TextField(_("意见/说明"), blank=True)
    attachment = models.FileField(_("附件（如入户核实照片）"), upload_to="transitions/", blank=True)

    scope_paths: ClassVar[ScopePaths] = ScopePaths(
        township="batch__village__township", village="batch__village", cadre="actor"
    )

    class Meta:
        verbose_name = _("审批记录")
        verbose_name_plural = _("审批记录")
        ordering = ["batch", "at", "pk"]

    def __str__(self) -> str:
        return (
            f"{self.get_action_display()}：{self.get_from_status_display()} → {self.get_to_status_display()}"
        )


def receipt_upload_to(instance: Payout, filename: str) -> str:
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    return f"receipts/{instance.year}/{instance.household_id}-{instance.tranche}.{suffix}"


class Payout(Reversible):
    """兑现: the money of one tranche handed to one household. At most one live payout per
    household-year-tranche; a reversed one (冲正) stays on record and frees the tranche."""

    class Method(models.TextChoices):
        CASH = "cash", _("现金")
        BANK = "bank", _("银行转账")

    line = models.OneToOneField(BatchLine, on_delete=models.PROTECT, related_name="payout")
    household = models.ForeignKey(
        Household, on_delete=models.PROTECT, related_name="payouts", verbose_name=_("贫困户")
    )
    year = models.PositiveSmallIntegerField(_("年度"))
    tranche = models.PositiveSmallIntegerField(_("期次"), choices=TRANCHES)
    amount = money(_("金额"))
    entry = models.OneToOneField(Entry, on_delete=models.PROTECT, related_name="payout")
    method = models.CharField(_("方式"), max_length=8, choices=Method.choices)
    paid_on = models.DateField(_("兑现日期"))
    paid_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("兑现人")
    )
    receipt = models.FileField(_("签字/手印回执"), upload_to=receipt_upload_to, blank=True)
    recorded_at = models.DateTimeField(_("登记时间"), default=timezone.now)

    scope_paths: ClassVar[ScopePaths] = ScopePaths(
        township="household__village__township", village="household__village", cadre="household__cadre"
    )

    class Meta:
        verbose_name = _("兑现记录")
        verbose_name_plural = _("兑现记录")
        ordering = ["-recorded_at"]
        constraints = [
            *Reversible.Meta.constraints,
            models.UniqueConstraint(
                fields=["household", "year", "tranche"],
                condition=Q(reversed_at__isnull=True),
                name="one_payout_per_tranche",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payout_amount_positive"),
            models.CheckConstraint(condition=Q(method__in=["cash", "bank"]), name="payout_method_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.household} {self.year}年第{self.tranche}期 {self.amount} 元"


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

    plan = models.OneToOneField("subsidies.HouseholdPlan", on_delete=models.PROTECT, related_name="analysis")
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
    photo = models.FileField(_("照片"), upload_to="analysis/", blank=True)
    verified_entitlement = money(_("核实应享补助（元）"))
    paid_before = money(_("已拨付（元）"))
    reward = money(_("以奖代补（元）"))
    shortfall = money(_("核实应享低于已拨付的差额（元）"))
    decision = models.CharField(
        _("乡镇决定"), max_length=16, choices=Decision.choices, blank=True, default=""
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
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
        return f"{self.household} {self.year}年 收回 {self.amount} 元（{self.get_status_display()}）"


class RecoveryRepayment(Reversible):
    order = models.ForeignKey(RecoveryOrder, on_delete=models.PROTECT, related_name="repayments")
    entry = models.OneToOneField(Entry, on_delete=models.PROTECT, related_name="+")
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
        return f"{self.order_id} 收回 {self.amount} 元（{self.received_on}）"


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
        Partner, on_delete=models.PROTECT, related_name="investments", verbose_name=_("入股企业/合作社")
    )
    principal = money(_("入股本金（元）"))
    agreement = models.CharField(_("协议编号/名称"), max_length=100)
    consent_scan = models.FileField(_("贫困户书面同意书扫描件"), upload_to="equity/")
    invested_on = models.DateField(_("入股日期"))
    entry = models.OneToOneField(Entry, on_delete=models.PROTECT, related_name="+")
    transfer_entry = models.OneToOneField(
        Entry, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    returned_entry = models.OneToOneField(
        Entry, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

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
        return f"{self.household} 入股 {self.partner} {self.principal} 元"

    @property
    def preserved(self) -> bool:
        return self.returned_entry_id is None and not self.is_reversed


class Dividend(models.Model):
    investment = models.ForeignKey(EquityInvestment, on_delete=models.PROTECT, related_name="dividends")
    year = models.PositiveSmallIntegerField(_("分红年度"))
    amount = money(_("分红金额（元）"))
    paid_on = models.DateField(_("发放日期"))
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("分红记录")
        verbose_name_plural = _("分红记录")
        constraints = [
            models.UniqueConstraint(fields=["investment", "year"], name="one_dividend_per_year"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="dividend_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.investment_id} {self.year}年分红 {self.amount} 元"


def notice_upload_to(instance: Notice, filename: str) -> str:
    return f"notices/{instance.year}/{instance.kind}-{instance.village_id}-{filename}"


class Notice(models.Model):
    """公示: a printed sheet posted in a village for a notice period (rules.md §9).

    What it lists is frozen at issue (`rows`, `pdf`), so it reprints exactly as posted. A batch
    that requires a notice cannot pass the township's step until the period is over and every
    objection is resolved.
    """

    class Kind(models.TextChoices):
        GRANT = "grant", _("到户产业扶持资金")
        REWARD = "reward", _("以奖代补")
        RECOVERY = "recovery", _("资金收回")

    class Status(models.TextChoices):
        ISSUED = "issued", _("已印发，待张贴")
        POSTED = "posted", _("公示中")
        CLOSED = "closed", _("公示结束")

    kind = models.CharField(_("类别"), max_length=12, choices=Kind.choices)
    year = models.PositiveSmallIntegerField(_("年度"))
    village = models.ForeignKey(Village, on_delete=models.PROTECT, related_name="+", verbose_name=_("村委会"))
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
    pdf = models.FileField(_("公示 PDF（印发原件）"), upload_to=notice_upload_to)
    status = models.CharField(_("状态"), max_length=12, choices=Status.choices, default=Status.ISSUED)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("印发人")
    )
    issued_at = models.DateTimeField(_("印发时间"), default=timezone.now)
    posted_at = models.DateTimeField(_("张贴时间"), null=True, blank=True)
    posted_photo = models.FileField(_("张贴照片"), upload_to="notices/photos/", blank=True)
    closed_at = models.DateTimeField(_("结束时间"), null=True, blank=True)

    scope_paths: ClassVar[ScopePaths] = ScopePaths(
        township="village__township", village="village", cadre="batch__lines__household__cadre"
    )

    class Meta:
        verbose_name = _("公示")
        verbose_name_plural = _("公示")
        ordering = ["-issued_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["grant", "reward", "recovery"]), name="notice_kind_valid"
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


class Objection(models.Model):
    """An objection received during a notice period, and how it was resolved."""

    notice = models.ForeignKey(Notice, on_delete=models.PROTECT, related_name="objections")
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
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    scope_paths: ClassVar[ScopePaths] = ScopePaths(
        township="notice__village__township", village="notice__village", cadre="recorded_by"
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

    kind = models.CharField(_("类别"), max_length=12)
    year = models.PositiveSmallIntegerField(_("年度"))
    township = models.ForeignKey(Township, on_delete=models.PROTECT, related_name="+", verbose_name=_("乡镇"))
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(_("状态"), max_length=12, choices=Status.choices, default=Status.QUEUED)
    done = models.PositiveIntegerField(_("已完成村数"), default=0)
    total = models.PositiveIntegerField(_("村数"), default=0)
    pdf = models.FileField(_("PDF"), upload_to="notices/print/", blank=True)
    error = models.CharField(max_length=200, blank=True)

    scope_paths: ClassVar[ScopePaths] = ScopePaths(
        township="township", village="requested_by__village", cadre="requested_by"
    )

    class Meta:
        verbose_name = _("批量打印任务")
        verbose_name_plural = _("批量打印任务")

    def __str__(self) -> str:
        return f"{self.township} {self.year} {self.kind}（{self.done}/{self.total}）"
