"""村集体经济扶持资金: each poor village's revolving fund, its plan, joint-guarantee micro-loans and
their schedules, repayments, write-offs, rescheduling. Money itself is in the ledger
(`disbursements`); every record here names the entry it stands behind."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from disbursements.models import BatchLine, Entry
from households.fields import money_field
from households.models import Household, Village
from households.scoping import ScopePaths
from households.uploads import PDF, PHOTO, SCAN, UploadValidator

from . import rules

VILLAGE_SCOPE = ScopePaths(township="village__township", village="village", cadre=None)


class LendingPolicy(models.Model):
    """The lending policy of a programme year (rules.md §8), editable by city HQ; seeded for 2017."""

    year = models.PositiveSmallIntegerField(_("年度"), unique=True)
    loan_cap = money_field(_("每户借款上限（元）"), default=Decimal("20000.00"), max_digits=14)
    max_term_months = models.PositiveSmallIntegerField(_("最长期限（月）"), default=36)
    min_group_size = models.PositiveSmallIntegerField(_("联保小组最少户数"), default=5)
    annual_fee_rate = models.DecimalField(
        _("年占用费率"), max_digits=6, decimal_places=4, default=Decimal("0")
    )
    grace_days = models.PositiveSmallIntegerField(_("宽限天数"), default=5)
    arrears_tolerance = money_field(_("欠款容差（元）"), default=Decimal("0.00"), max_digits=14)
    reserve_accumulation = models.DecimalField(
        _("公积金比例（%）"), max_digits=5, decimal_places=2, default=40
    )
    reserve_welfare = models.DecimalField(_("公益金比例（%）"), max_digits=5, decimal_places=2, default=10)
    reserve_risk = models.DecimalField(_("风险准备金比例（%）"), max_digits=5, decimal_places=2, default=30)
    reserve_running = models.DecimalField(_("管理费用比例（%）"), max_digits=5, decimal_places=2, default=20)
    fund_amount = money_field(_("每村扶持资金（元）"), default=Decimal("1000000.00"), max_digits=14)

    class Meta:
        verbose_name = _("集体经济借款政策")
        verbose_name_plural = _("集体经济借款政策")
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    reserve_accumulation__gte=0,
                    reserve_welfare__gte=0,
                    reserve_risk__gte=0,
                    reserve_running__gte=0,
                ),
                name="collective_reserve_shares_not_negative",
            ),
            models.CheckConstraint(condition=Q(min_group_size__gte=2), name="collective_group_at_least_two"),
        ]

    def __str__(self) -> str:
        return f"{self.year}年度借款政策"

    def as_rules(self) -> rules.LendingPolicy:
        return rules.LendingPolicy(
            loan_cap=self.loan_cap,
            max_term_months=self.max_term_months,
            min_group_size=self.min_group_size,
            annual_fee_rate=self.annual_fee_rate,
            grace_days=self.grace_days,
            arrears_tolerance=self.arrears_tolerance,
            reserve_split={
                "accumulation": self.reserve_accumulation,
                "welfare": self.reserve_welfare,
                "risk": self.reserve_risk,
                "running": self.reserve_running,
            },
        )


class Counterparty(models.Model):
    """A minimal counterparty of a contract or an equity stake (企业、合作社、协会), until `enterprises`."""

    class Kind(models.TextChoices):
        COMPANY = "company", _("企业")
        COOPERATIVE = "cooperative", _("专业合作社")
        ASSOCIATION = "association", _("协会")

    name = models.CharField(_("名称"), max_length=64, unique=True)
    kind = models.CharField(_("类别"), max_length=16, choices=Kind.choices)

    class Meta:
        verbose_name = _("合作组织")
        verbose_name_plural = _("合作组织")

    def __str__(self) -> str:
        return self.name


class ProgrammeFunding(models.Model):
    """市级专项资金到位: the city's money for the programme arriving in city HQ's account of the fund,
    from which the poor villages' funds are allocated (never more than has arrived)."""

    year = models.PositiveSmallIntegerField(_("年度"))
    amount = models.DecimalField(_("到位金额（元）"), max_digits=14, decimal_places=2)
    received_on = models.DateField(_("到位日期"))
    reference = models.CharField(_("文号/凭证号"), max_length=64, blank=True)
    entry = models.OneToOneField(Entry, on_delete=models.PROTECT, related_name="+", verbose_name=_("分录"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        related_name="+",
        verbose_name=_("登记人"),
    )
    recorded_at = models.DateTimeField(_("登记时间"), default=timezone.now)

    class Meta:
        verbose_name = _("村集体经济专项资金到位")
        verbose_name_plural = _("村集体经济专项资金到位")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="programme_funding_positive"),
            models.UniqueConstraint(
                fields=["year", "reference"],
                condition=~Q(reference=""),
                name="one_programme_funding_per_reference",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.year}年 {self.amount:,.2f} 元（{self.received_on:%Y-%m-%d}）"


class VillageFund(models.Model):
    """A poor village's revolving fund for a year of grant, allocated by city HQ through the ledger."""

    village = models.ForeignKey(Village, on_delete=models.PROTECT, related_name="+", verbose_name=_("村委会"))
    year = models.PositiveSmallIntegerField(_("年度"))
    amount = money_field(_("扶持资金（元）"), max_digits=14)
    entry = models.OneToOneField(Entry, on_delete=models.PROTECT, related_name="+", verbose_name=_("分录"))
    allocated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        related_name="+",
        verbose_name=_("下拨人"),
    )
    allocated_at = models.DateTimeField(_("下拨时间"), default=timezone.now)

    scope_paths: ClassVar[ScopePaths] = VILLAGE_SCOPE

    class Meta:
        verbose_name = _("村集体经济扶持资金")
        verbose_name_plural = _("村集体经济扶持资金")
        constraints = [
            models.UniqueConstraint(fields=["village", "year"], name="one_collective_fund_per_village_year"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="collective_fund_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.year}年 {self.village.name}集体经济扶持资金"


class FundPlan(models.Model):
    """集体经济扶持资金方案: drafted by the 村党总支 after a villager meeting, 公示, then approved by
    the township."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("草拟")
        APPROVED = "approved", _("乡镇已批准")

    fund = models.OneToOneField(
        VillageFund, on_delete=models.PROTECT, related_name="plan", verbose_name=_("资金")
    )
    village = models.ForeignKey(Village, on_delete=models.PROTECT, related_name="+", verbose_name=_("村委会"))
    meeting_on = models.DateField(_("村民大会日期"))
    attendance = models.PositiveSmallIntegerField(_("参会人数"))
    minutes_scan = models.FileField(
        _("会议记录扫描件"),
        upload_to="collectives/minutes/",
        validators=[UploadValidator(SCAN, "会议记录扫描件")],
    )
    lending = money_field(_("联保小额贷款（元）"), max_digits=14)
    equity = money_field(_("入股分红（元）"), max_digits=14)
    cooperative = money_field(_("合作社经营（元）"), max_digits=14)
    status = models.CharField(_("状态"), max_length=12, choices=Status.choices, default=Status.DRAFT)
    drafted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("草拟人")
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("批准人"),
    )
    approved_at = models.DateTimeField(_("批准时间"), null=True, blank=True)
    lending_entry = models.OneToOneField(
        Entry, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    equity_entry = models.OneToOneField(
        Entry, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    cooperative_entry = models.OneToOneField(
        Entry, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    implementation_scan = models.FileField(
        _("乡镇产业发展实施方案"),
        upload_to="collectives/implementation/",
        blank=True,
        validators=[UploadValidator(SCAN, "实施方案扫描件")],
    )
    city_filed_on = models.DateField(_("市指挥部备案日期"), null=True, blank=True)
    city_filed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("备案人"),
    )

    scope_paths: ClassVar[ScopePaths] = VILLAGE_SCOPE

    class Meta:
        verbose_name = _("集体经济扶持资金方案")
        verbose_name_plural = _("集体经济扶持资金方案")
        constraints = [
            models.CheckConstraint(
                condition=Q(lending__gte=0, equity__gte=0, cooperative__gte=0),
                name="collective_plan_split_positive",
            ),
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True) | ~Q(approved_by=models.F("drafted_by")),
                name="collective_plan_maker_checker",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.fund}方案"

    @property
    def total(self) -> Decimal:
        return self.lending + self.equity + self.cooperative


class JointGroup(models.Model):
    """联保小组: poor households of one village, jointly liable for each other's loans."""

    village = models.ForeignKey(Village, on_delete=models.PROTECT, related_name="+", verbose_name=_("村委会"))
    name = models.CharField(_("小组名称"), max_length=32)
    formed_on = models.DateField(_("成立日期"))

    scope_paths: ClassVar[ScopePaths] = VILLAGE_SCOPE

    class Meta:
        verbose_name = _("联保小组")
        verbose_name_plural = _("联保小组")
        constraints = [
            models.UniqueConstraint(fields=["village", "name"], name="joint_group_name_in_village")
        ]

    def __str__(self) -> str:
        return f"{self.village.name}{self.name}"


class GroupMember(models.Model):
    """Dated membership: a member cannot leave while a loan the group guarantees is open."""

    group = models.ForeignKey(
        JointGroup, on_delete=models.PROTECT, related_name="members", verbose_name=_("小组")
    )
    household = models.ForeignKey(
        Household, on_delete=models.PROTECT, related_name="+", verbose_name=_("贫困户")
    )
    joined_on = models.DateField(_("加入日期"))
    left_on = models.DateField(_("退出日期"), null=True, blank=True)

    scope_paths: ClassVar[ScopePaths] = ScopePaths(
        township="group__village__township", village="group__village", cadre="household__cadre"
    )

    class Meta:
        verbose_name = _("联保小组成员")
        verbose_name_plural = _("联保小组成员")
        constraints = [
            models.UniqueConstraint(
                fields=["household"], condition=Q(left_on__isnull=True), name="one_open_group_per_household"
            ),
            models.CheckConstraint(
                condition=Q(left_on__isnull=True) | Q(left_on__gte=models.F("joined_on")),
                name="group_member_leaves_after_joining",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.group} {self.household}"


class Loan(models.Model):
    """联保小额贷款: from the village fund's lending sub-account to a member of a joint group."""

    class Status(models.TextChoices):
        PROPOSED = "proposed", _("村委会已申报，待乡镇审批")
        DISBURSED = "disbursed", _("已放款")
        REPAID = "repaid", _("已还清")
        WRITTEN_OFF = "written_off", _("已核销")

    fund = models.ForeignKey(
        VillageFund, on_delete=models.PROTECT, related_name="loans", verbose_name=_("资金")
    )
    village = models.ForeignKey(Village, on_delete=models.PROTECT, related_name="+", verbose_name=_("村委会"))
    group = models.ForeignKey(
        JointGroup, on_delete=models.PROTECT, related_name="loans", verbose_name=_("联保小组")
    )
    household = models.ForeignKey(
        Household, on_delete=models.PROTECT, related_name="+", verbose_name=_("借款户")
    )
    principal = money_field(_("借款金额（元）"), max_digits=14)
    term_months = models.PositiveSmallIntegerField(_("期限（月）"))
    frequency = models.CharField(
        _("还款方式"), max_length=12, choices=list(rules.FREQUENCIES.items()), default=rules.MONTHLY
    )
    fee_rate = models.DecimalField(_("年占用费率"), max_digits=6, decimal_places=4, default=Decimal("0"))
    purpose = models.CharField(_("用途（种养殖产业）"), max_length=64)
    contract_scan = models.FileField(
        _("借款合同（含联保签字）"),
        upload_to="collectives/contracts/",
        blank=True,
        validators=[UploadValidator(SCAN, "借款合同扫描件")],
    )
    status = models.CharField(_("状态"), max_length=12, choices=Status.choices, default=Status.PROPOSED)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("申报人")
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("审批人"),
    )
    disbursed_on = models.DateField(_("放款日期"), null=True, blank=True)
    entry = models.OneToOneField(Entry, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    # The village's own number of the loan in its paper register (台账编号), when imported from it.
    register_no = models.CharField(_("台账编号"), max_length=32, blank=True)
    # The loan's line in its `collective_loan` batch (village → township approval, then 放款).
    line = models.OneToOneField(
        BatchLine,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="collective_loan",
        verbose_name=_("放款批次明细"),
    )

    scope_paths: ClassVar[ScopePaths] = ScopePaths(
        township="village__township", village="village", cadre="household__cadre"
    )

    class Meta:
        verbose_name = _("联保小额贷款")
        verbose_name_plural = _("联保小额贷款")
        permissions = [
            ("import_loan", _("导入贷款台账")),
            ("import_repayment", _("导入还款清单")),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["village", "register_no"],
                condition=~Q(register_no=""),
                name="one_loan_per_register_no_in_village",
            ),
            models.CheckConstraint(condition=Q(principal__gt=0), name="loan_principal_positive"),
            models.CheckConstraint(
                condition=Q(term_months__gte=1, term_months__lte=60), name="loan_term_sane"
            ),
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True) | ~Q(approved_by=models.F("proposed_by")),
                name="loan_maker_checker",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["proposed", "disbursed", "repaid", "written_off"]),
                name="loan_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.household.head_name} {self.principal:,.2f} 元（{self.term_months} 个月）"


class Reschedule(models.Model):
    """展期/重排: an approved, audited change of schedule; the original instalments are kept (superseded)."""

    loan = models.ForeignKey(
        Loan, on_delete=models.PROTECT, related_name="reschedules", verbose_name=_("贷款")
    )
    reason = models.TextField(_("原因"))
    term_months = models.PositiveSmallIntegerField(_("新期限（月，自重排日起）"))
    frequency = models.CharField(_("还款方式"), max_length=12, choices=list(rules.FREQUENCIES.items()))
    outstanding = money_field(_("重排本金（元）"), max_digits=14)
    effective_on = models.DateField(_("重排日期"))
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("审批人")
    )
    approved_at = models.DateTimeField(_("审批时间"), default=timezone.now)

    scope_paths: ClassVar[ScopePaths] = ScopePaths(
        township="loan__village__township", village="loan__village", cadre="loan__household__cadre"
    )

    class Meta:
        verbose_name = _("还款计划调整")
        verbose_name_plural = _("还款计划调整")

    def __str__(self) -> str:
        return f"{self.loan} 调整于 {self.effective_on}"


class Instalment(models.Model):
    loan = models.ForeignKey(
        Loan, on_delete=models.PROTECT, related_name="instalments", verbose_name=_("贷款")
    )
    number = models.PositiveSmallIntegerField(_("期次"))
    due_on = models.DateField(_("应还日期"), db_index=True)
    principal = money_field(_("应还本金（元）"), max_digits=14)
    fee = money_field(_("应缴占用费（元）"), max_digits=14)
    paid_principal = money_field(_("已还本金（元）"), default=Decimal("0.00"), max_digits=14)
    paid_fee = money_field(_("已缴占用费（元）"), default=Decimal("0.00"), max_digits=14)
    superseded_by = models.ForeignKey(
        Reschedule,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("被调整"),
    )

    scope_paths: ClassVar[ScopePaths] = ScopePaths(
        township="loan__village__township", village="loan__village", cadre="loan__household__cadre"
    )

    class Meta:
        verbose_name = _("还款计划")
        verbose_name_plural = _("还款计划")
        ordering = ["loan", "due_on", "number"]
        indexes = [models.Index(fields=["superseded_by", "due_on"], name="instalment_live_due")]
        constraints = [
            models.CheckConstraint(
                condition=Q(paid_principal__lte=models.F("principal"), paid_fee__lte=models.F("fee")),
                name="instalment_not_overpaid",
            ),
            models.CheckConstraint(
                condition=Q(principal__gte=0, fee__gte=0, paid_principal__gte=0, paid_fee__gte=0),
                name="instalment_amounts_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"第 {self.number} 期 {self.due_on}"


class Repayment(models.Model):
    """还款: into the lending sub-account; paid by the borrower or, as 代偿, by another group member."""

    loan = models.ForeignKey(
        Loan, on_delete=models.PROTECT, related_name="repayments", verbose_name=_("贷款")
    )
    payer = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="+", verbose_name=_("还款人"))
    paid_on = models.DateField(_("还款日期"))
    amount = money_field(_("还款金额（元）"), max_digits=14)
    principal = money_field(_("其中本金（元）"), max_digits=14)
    fee = money_field(_("其中占用费（元）"), max_digits=14)
    principal_entry = models.OneToOneField(
        Entry, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reference = models.CharField(_("凭证号/银行流水号"), max_length=64, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("登记人")
    )
    recorded_at = models.DateTimeField(_("登记时间"), default=timezone.now)

    scope_paths: ClassVar[ScopePaths] = ScopePaths(
        township="loan__village__township", village="loan__village", cadre="loan__household__cadre"
    )

    class Meta:
        verbose_name = _("还款记录")
        verbose_name_plural = _("还款记录")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="repayment_positive"),
            models.CheckConstraint(
                condition=Q(amount=models.F("principal") + models.F("fee")), name="repayment_parts_add_up"
            ),
            # A bank or cash list imported twice pays nothing twice.
            models.UniqueConstraint(
                fields=["loan", "reference"], condition=~Q(reference=""), name="one_repayment_per_reference"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.loan.household.head_name} {self.paid_on} {self.amount:,.2f} 元"


class ReserveAllocation(models.Model):
    """占用费 split into a reserve of the fund (公积金, 公益金, 风险准备金, 管理费用)."""

    class Reserve(models.TextChoices):
        ACCUMULATION = "accumulation", _("公积金")
        WELFARE = "welfare", _("公益金")
        RISK = "risk", _("风险准备金")
        RUNNING = "running", _("管理费用")

    repayment = models.ForeignKey(Repayment, on_delete=models.PROTECT, related_name="reserves")
    reserve = models.CharField(_("公积公益金类别"), max_length=16, choices=Reserve.choices)
    amount = money_field(_("金额（元）"), max_digits=14)
    entry = models.OneToOneField(Entry, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("占用费分配")
        verbose_name_plural = _("占用费分配")

    def __str__(self) -> str:
        return f"{self.get_reserve_display()} {self.amount:,.2f} 元"


class GuarantorDebt(models.Model):
    """代偿: a member repaid for a defaulting member; the defaulter now owes the payer."""

    repayment = models.OneToOneField(Repayment, on_delete=models.PROTECT, related_name="guarantor_debt")
    debtor = models.ForeignKey(
        Household, on_delete=models.PROTECT, related_name="+", verbose_name=_("被代偿户")
    )
    creditor = models.ForeignKey(
        Household, on_delete=models.PROTECT, related_name="+", verbose_name=_("代偿户")
    )
    amount = money_field(_("代偿金额（元）"), max_digits=14)
    settled_on = models.DateField(_("结清日期"), null=True, blank=True)

    scope_paths: ClassVar[ScopePaths] = ScopePaths(
        township="debtor__village__township", village="debtor__village", cadre="debtor__cadre"
    )

    class Meta:
        verbose_name = _("代偿债务")
        verbose_name_plural = _("代偿债务")
        constraints = [
            models.CheckConstraint(condition=~Q(debtor=models.F("creditor")), name="guarantor_not_debtor"),
        ]

    def __str__(self) -> str:
        return f"{self.debtor.head_name} 欠 {self.creditor.head_name} {self.amount:,.2f} 元"


class WriteOff(models.Model):
    """核销: by the township with a reason; the outstanding principal leaves the lending book."""

    loan = models.OneToOneField(
        Loan, on_delete=models.PROTECT, related_name="write_off", verbose_name=_("贷款")
    )
    amount = money_field(_("核销本金（元）"), max_digits=14)
    reason = models.TextField(_("核销原因"))
    entry = models.OneToOneField(Entry, on_delete=models.PROTECT, related_name="+")
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("核销人")
    )
    approved_at = models.DateTimeField(_("核销时间"), default=timezone.now)

    scope_paths: ClassVar[ScopePaths] = ScopePaths(
        township="loan__village__township", village="loan__village", cadre="loan__household__cadre"
    )

    class Meta:
        verbose_name = _("贷款核销")
        verbose_name_plural = _("贷款核销")
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="write_off_positive")]

    def __str__(self) -> str:
        return f"{self.loan} 核销 {self.amount:,.2f} 元"


class WriteOffRecovery(models.Model):
    """核销后收回: never more than was written off (checked under lock, and by the ledger)."""

    write_off = models.ForeignKey(WriteOff, on_delete=models.PROTECT, related_name="recoveries")
    amount = money_field(_("收回金额（元）"), max_digits=14)
    received_on = models.DateField(_("收回日期"))
    entry = models.OneToOneField(Entry, on_delete=models.PROTECT, related_name="+")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("核销后收回")
        verbose_name_plural = _("核销后收回")
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="write_off_recovery_positive")]

    def __str__(self) -> str:
        return f"{self.received_on} 收回 {self.amount:,.2f} 元"


class LoanEvent(models.Model):
    """Every step of a loan: who, when, what, why (申报, 审批放款, 还款, 代偿, 调整, 核销, 收回)."""

    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="events")
    action = models.CharField(_("事项"), max_length=16)
    note = models.TextField(_("说明"), blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(_("时间"), default=timezone.now)

    class Meta:
        verbose_name = _("贷款日志")
        verbose_name_plural = _("贷款日志")
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.action} {self.at:%Y-%m-%d}"


class SupervisionVisit(models.Model):
    """每月督查 by the township, the village branch and the work team: one record per visit."""

    village = models.ForeignKey(Village, on_delete=models.PROTECT, related_name="+", verbose_name=_("村委会"))
    visited_on = models.DateField(_("督查日期"))
    inspectors = models.CharField(_("督查人员（乡政府、村总支、工作组）"), max_length=200)
    findings = models.TextField(_("督查发现"))
    photo = models.FileField(
        _("现场照片"),
        upload_to="collectives/supervision/",
        blank=True,
        validators=[UploadValidator(PHOTO, "督查照片")],
    )
    notice_pdf = models.FileField(
        _("督查通知（PDF）"),
        upload_to="collectives/supervision_notices/",
        blank=True,
        validators=[UploadValidator(PDF, "督查通知")],
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("登记人")
    )

    scope_paths: ClassVar[ScopePaths] = VILLAGE_SCOPE

    class Meta:
        verbose_name = _("督查记录")
        verbose_name_plural = _("督查记录")
        ordering = ["-visited_on"]

    def __str__(self) -> str:
        return f"{self.village.name} {self.visited_on} 督查"


class CorrectionItem(models.Model):
    """An item of a 督查通知 to correct by a date; open until closed with evidence."""

    visit = models.ForeignKey(
        SupervisionVisit, on_delete=models.PROTECT, related_name="items", verbose_name=_("督查")
    )
    text = models.CharField(_("整改事项"), max_length=200)
    due_on = models.DateField(_("整改期限"))
    closed_on = models.DateField(_("整改完成日期"), null=True, blank=True)
    evidence = models.FileField(
        _("整改佐证材料"),
        upload_to="collectives/corrections/",
        blank=True,
        validators=[UploadValidator(SCAN, "整改佐证材料")],
    )
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    scope_paths: ClassVar[ScopePaths] = ScopePaths(
        township="visit__village__township", village="visit__village", cadre=None
    )

    class Meta:
        verbose_name = _("整改事项")
        verbose_name_plural = _("整改事项")
        constraints = [
            models.CheckConstraint(
                condition=Q(closed_on__isnull=True) | ~Q(evidence=""), name="correction_closed_with_evidence"
            )
        ]

    def __str__(self) -> str:
        return self.text


class MemberIncome(models.Model):
    """受益户收入变化: a household the fund reached, its per-capita net income the year before and in
    the fund's year, as the village's survey (入户调查) found them. The registry holds no income, so
    the year-end report's "income change" is computed from these rows."""

    fund = models.ForeignKey(
        "VillageFund", on_delete=models.PROTECT, related_name="incomes", verbose_name=_("扶持资金")
    )
    village = models.ForeignKey(Village, on_delete=models.PROTECT, related_name="+", verbose_name=_("村委会"))
    household = models.ForeignKey(
        Household, on_delete=models.PROTECT, related_name="+", verbose_name=_("受益户")
    )
    before = money_field(_("上年人均纯收入（元）"), max_digits=12)
    after = money_field(_("本年人均纯收入（元）"), max_digits=12)
    source = models.CharField(_("数据来源"), max_length=64, default="入户调查")
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("登记人")
    )
    recorded_at = models.DateTimeField(_("登记时间"), default=timezone.now)

    scope_paths: ClassVar[ScopePaths] = ScopePaths(
        township="village__township", village="village", cadre="household__cadre"
    )

    class Meta:
        verbose_name = _("受益户收入变化")
        verbose_name_plural = _("受益户收入变化")
        constraints = [
            models.UniqueConstraint(fields=["fund", "household"], name="one_income_per_fund_household"),
            models.CheckConstraint(
                condition=Q(before__gte=0, after__gte=0), name="member_income_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.household} {self.before:,.2f} → {self.after:,.2f} 元"


class YearEndReport(models.Model):
    """效益分析报告 of a village fund for a year: the figures as generated (frozen), its PDF, its
    submission to city HQ (filed with 农科局), and the acceptance (验收) outcome."""

    class Outcome(models.TextChoices):
        PASSED = "passed", _("验收合格")
        CORRECT = "correct", _("限期整改")
        FAILED = "failed", _("验收不合格")

    fund = models.OneToOneField(
        VillageFund, on_delete=models.PROTECT, related_name="report", verbose_name=_("资金")
    )
    village = models.ForeignKey(Village, on_delete=models.PROTECT, related_name="+", verbose_name=_("村委会"))
    figures = models.JSONField(_("报告数据"))
    pdf = models.FileField(
        _("报告（PDF）"), upload_to="collectives/reports/", validators=[UploadValidator(PDF, "效益分析报告")]
    )
    generated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    generated_at = models.DateTimeField(_("生成时间"), default=timezone.now)
    submitted_on = models.DateField(_("报市指挥部（农科局备案）日期"), null=True, blank=True)
    outcome = models.CharField(_("验收结论"), max_length=12, choices=Outcome.choices, blank=True)
    outcome_note = models.TextField(_("验收意见"), blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    accepted_on = models.DateField(_("验收日期"), null=True, blank=True)

    scope_paths: ClassVar[ScopePaths] = VILLAGE_SCOPE

    class Meta:
        verbose_name = _("年度效益分析报告")
        verbose_name_plural = _("年度效益分析报告")

    def __str__(self) -> str:
        return f"{self.fund}效益分析报告"


class EquityStake(models.Model):
    """入股: from the equity sub-account into an organisation, with the agreement; the principal is
    kept as preserved (保值) until returned."""

    fund = models.ForeignKey(
        VillageFund, on_delete=models.PROTECT, related_name="stakes", verbose_name=_("资金")
    )
    village = models.ForeignKey(Village, on_delete=models.PROTECT, related_name="+", verbose_name=_("村委会"))
    counterparty = models.ForeignKey(
        Counterparty, on_delete=models.PROTECT, related_name="+", verbose_name=_("入股组织")
    )
    principal = money_field(_("入股本金（元）"), max_digits=14)
    agreement_scan = models.FileField(
        _("入股协议"), upload_to="collectives/equity/", validators=[UploadValidator(SCAN, "入股协议扫描件")]
    )
    invested_on = models.DateField(_("入股日期"))
    entry = models.OneToOneField(Entry, on_delete=models.PROTECT, related_name="+")
    returned_on = models.DateField(_("本金退还日期"), null=True, blank=True)
    returned_entry = models.OneToOneField(
        Entry, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    scope_paths: ClassVar[ScopePaths] = VILLAGE_SCOPE

    class Meta:
        verbose_name = _("村集体入股")
        verbose_name_plural = _("村集体入股")
        constraints = [models.CheckConstraint(condition=Q(principal__gt=0), name="equity_stake_positive")]

    def __str__(self) -> str:
        return f"{self.village.name}入股{self.counterparty} {self.principal:,.2f} 元"


class Dividend(models.Model):
    """A year's dividend of a stake, received into the fund's dividend account."""

    stake = models.ForeignKey(
        EquityStake, on_delete=models.PROTECT, related_name="dividends", verbose_name=_("入股")
    )
    year = models.PositiveSmallIntegerField(_("分红年度"))
    amount = money_field(_("分红金额（元）"), max_digits=14)
    received_on = models.DateField(_("到账日期"))
    entry = models.OneToOneField(Entry, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("入股分红")
        verbose_name_plural = _("入股分红")
        constraints = [
            models.UniqueConstraint(fields=["stake", "year"], name="collective_one_dividend_per_stake_year"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="collective_dividend_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.stake} {self.year}年分红"


class DividendShare(models.Model):
    """The members' share of a dividend paid to a poor household, as the plan decides."""

    dividend = models.ForeignKey(Dividend, on_delete=models.PROTECT, related_name="shares")
    household = models.ForeignKey(
        Household, on_delete=models.PROTECT, related_name="+", verbose_name=_("贫困户")
    )
    amount = money_field(_("分得金额（元）"), max_digits=14)
    entry = models.OneToOneField(Entry, on_delete=models.PROTECT, related_name="+")

    scope_paths: ClassVar[ScopePaths] = ScopePaths(
        township="household__village__township", village="household__village", cadre="household__cadre"
    )

    class Meta:
        verbose_name = _("分红到户")
        verbose_name_plural = _("分红到户")
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="dividend_share_positive")]

    def __str__(self) -> str:
        return f"{self.household.head_name} {self.amount:,.2f} 元"


class CooperativeTransaction(models.Model):
    """合作社经营: spending or income of the village cooperative against its sub-account, with a voucher."""

    class Kind(models.TextChoices):
        SPENDING = "spending", _("支出")
        INCOME = "income", _("收入")

    fund = models.ForeignKey(VillageFund, on_delete=models.PROTECT, related_name="+", verbose_name=_("资金"))
    village = models.ForeignKey(Village, on_delete=models.PROTECT, related_name="+", verbose_name=_("村委会"))
    kind = models.CharField(_("收支"), max_length=10, choices=Kind.choices)
    amount = money_field(_("金额（元）"), max_digits=14)
    occurred_on = models.DateField(_("日期"))
    purpose = models.CharField(_("事由"), max_length=100)
    voucher_scan = models.FileField(
        _("凭证"), upload_to="collectives/vouchers/", validators=[UploadValidator(SCAN, "凭证扫描件")]
    )
    entry = models.OneToOneField(Entry, on_delete=models.PROTECT, related_name="+")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    scope_paths: ClassVar[ScopePaths] = VILLAGE_SCOPE

    class Meta:
        verbose_name = _("合作社收支")
        verbose_name_plural = _("合作社收支")
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="cooperative_amount_positive")]

    def __str__(self) -> str:
        return f"{self.village.name} {self.get_kind_display()} {self.amount:,.2f} 元"
