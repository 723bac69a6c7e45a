"""The programme's admin: scoped lists of funds, plans, groups, loans and their records; the steps
(approve a plan, approve and pay a loan, export the loan book and the overdue list) as role actions
that call the services. Records of money are never edited here."""

from __future__ import annotations

import io
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone

from households.admin_base import (
    FileLinksMixin,
    ReadOnlyAdminMixin,
    RoleActionsMixin,
    ScopedAdminMixin,
    money_column,
)
from households.models import User
from households.xlsx import file_name

from . import loan_batches, report, selectors, services
from .admin_funds import FundAllocationMixin
from .admin_loans import LoanImportMixin, LoanStepsMixin, RepaymentImportMixin, WriteOffStepsMixin
from .models import (
    CooperativeTransaction,
    CorrectionItem,
    DividendShare,
    EquityStake,
    FundPlan,
    GroupMember,
    GuarantorDebt,
    Instalment,
    JointGroup,
    LendingPolicy,
    Loan,
    LoanEvent,
    Repayment,
    Reschedule,
    SupervisionVisit,
    VillageFund,
    WriteOff,
    YearEndReport,
)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class ReadOnlyScoped(ScopedAdminMixin, RoleActionsMixin, ReadOnlyAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    pass


@admin.register(LendingPolicy)
class LendingPolicyAdmin(FileLinksMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = (
        "year",
        "loan_cap_yuan",
        "max_term_months",
        "min_group_size",
        "annual_fee_rate",
        "grace_days",
    )
    loan_cap_yuan = money_column("loan_cap", "每户借款上限（元）")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(VillageFund)
class VillageFundAdmin(FundAllocationMixin, ReadOnlyScoped):  # type: ignore[misc]
    list_display = ("village", "year", "amount_yuan", "plan_status", "allocated_at")
    list_filter = ("year",)
    list_select_related = ("village", "plan")
    amount_yuan = money_column("amount", "扶持资金（元）")

    @admin.display(description="资金方案")
    def plan_status(self, fund: VillageFund) -> str:
        plan = getattr(fund, "plan", None)
        return plan.get_status_display() if plan else "未草拟"


@admin.register(FundPlan)
class FundPlanAdmin(ReadOnlyScoped):
    list_display = (
        "village",
        "meeting_on",
        "attendance",
        "lending_yuan",
        "equity_yuan",
        "cooperative_yuan",
        "status",
    )
    list_filter = ("status",)
    list_select_related = ("village", "fund")
    lending_yuan = money_column("lending", "联保小额贷款（元）")
    equity_yuan = money_column("equity", "入股分红（元）")
    cooperative_yuan = money_column("cooperative", "合作社经营（元）")
    actions = ["approve_plans"]
    action_roles = {"approve_plans": frozenset({"township"})}

    @admin.action(description="批准方案（公示结束后，资金拨入三个专户）")
    def approve_plans(self, request: HttpRequest, queryset: QuerySet[FundPlan]) -> None:
        done = self.each(request, queryset, lambda plan: services.plan_approve(plan=plan, actor=request.user))  # type: ignore[arg-type]
        if done:
            self.message_user(request, f"已批准 {done} 个方案。", messages.SUCCESS)


class MemberInline(FileLinksMixin, admin.TabularInline):  # type: ignore[type-arg]
    model = GroupMember
    fields = ("household", "joined_on", "left_on")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(JointGroup)
class JointGroupAdmin(ReadOnlyScoped):
    list_display = ("name", "village", "formed_on", "blocked")
    list_select_related = ("village",)
    inlines = [MemberInline]

    @admin.display(description="逾期成员（暂停借款）")
    def blocked(self, group: JointGroup) -> str:
        return "、".join(services.group_overdue_members(group, timezone.localdate())) or "—"


class InstalmentInline(FileLinksMixin, admin.TabularInline):  # type: ignore[type-arg]
    model = Instalment
    fields = ("number", "due_on", "principal", "fee", "paid_principal", "paid_fee", "superseded_by")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class EventInline(FileLinksMixin, admin.TabularInline):  # type: ignore[type-arg]
    model = LoanEvent
    fields = ("at", "action", "actor", "note")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Loan)
class LoanAdmin(LoanStepsMixin, LoanImportMixin, ReadOnlyScoped):  # type: ignore[misc]
    list_display = (
        "household",
        "village",
        "group",
        "principal_yuan",
        "term_months",
        "frequency",
        "disbursed_on",
        "status",
        "overdue_days",
    )
    list_filter = ("status", "frequency")
    list_select_related = ("household", "village", "group")
    search_fields = ("household__code", "household__head_name")
    principal_yuan = money_column("principal", "借款金额（元）")
    inlines = [InstalmentInline, EventInline]
    actions = ["batch_loans", *LoanStepsMixin.step_actions, "export_book", "export_overdue"]
    action_roles = {"batch_loans": frozenset({"village"}), **LoanStepsMixin.step_roles}

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        self._late = services.overdue(self.get_queryset(request), today=timezone.localdate())
        return super().changelist_view(request, extra_context)

    @admin.display(description="逾期天数")
    def overdue_days(self, loan: Loan) -> str:
        late = getattr(self, "_late", {}).get(loan.pk)
        return f"{late.days} 天（{late.bucket}）" if late else "—"

    @admin.action(description="列入放款批次（报乡镇审批，须已上传借款合同）")
    def batch_loans(self, request: HttpRequest, queryset: QuerySet[Loan]) -> HttpResponse | None:
        """The village's selected proposed loans become one `collective_loan` batch; the township
        approves and pays it on the batch page."""
        user: User = request.user  # type: ignore[assignment]
        try:
            batch = loan_batches.loan_batch_create(village=user.village, loans=list(queryset), actor=user)  # type: ignore[arg-type]
        except ValidationError as exc:
            self.message_user(request, "；".join(exc.messages), messages.ERROR)
            return None
        self.message_user(request, f"已建放款批次 {batch}，请在批次页提交乡镇审批。", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:disbursements_batch_change", args=[batch.pk]))

    def _xlsx(self, request: HttpRequest, overdue_only: bool) -> HttpResponse:
        today = timezone.localdate()
        out = io.BytesIO()
        selectors.export_loan_book(out, request.user, today=today, overdue_only=overdue_only)  # type: ignore[arg-type]
        name = file_name(f"联保贷款{'逾期清单' if overdue_only else '台账'}", f"{today:%Y%m%d}")
        response = HttpResponse(out.getvalue(), content_type=XLSX)
        response["Content-Disposition"] = f"attachment; filename*=UTF-8''{name}"
        return response

    @admin.action(description="导出贷款台账（Excel，本人管辖范围内全部贷款）")
    def export_book(self, request: HttpRequest, queryset: QuerySet[Loan]) -> HttpResponse:
        return self._xlsx(request, overdue_only=False)

    @admin.action(description="导出逾期清单（Excel）")
    def export_overdue(self, request: HttpRequest, queryset: QuerySet[Loan]) -> HttpResponse:
        return self._xlsx(request, overdue_only=True)


@admin.register(Repayment)
class RepaymentAdmin(RepaymentImportMixin, ReadOnlyScoped):  # type: ignore[misc]
    list_display = ("loan", "payer", "paid_on", "amount_yuan", "principal_yuan", "fee_yuan", "reference")
    list_select_related = ("loan__household", "payer")
    amount_yuan = money_column("amount", "还款金额（元）")
    principal_yuan = money_column("principal", "其中本金（元）")
    fee_yuan = money_column("fee", "其中占用费（元）")


@admin.register(GuarantorDebt)
class GuarantorDebtAdmin(ReadOnlyScoped):
    list_display = ("debtor", "creditor", "amount_yuan", "settled_on")
    list_select_related = ("debtor", "creditor")
    amount_yuan = money_column("amount", "代偿金额（元）")


@admin.register(WriteOff)
class WriteOffAdmin(WriteOffStepsMixin, ReadOnlyScoped):
    list_display = ("loan", "amount_yuan", "reason", "approved_by", "approved_at")
    actions = list(WriteOffStepsMixin.step_actions)
    action_roles = dict(WriteOffStepsMixin.step_roles)
    list_select_related = ("loan__household", "approved_by")
    amount_yuan = money_column("amount", "核销本金（元）")


@admin.register(Reschedule)
class RescheduleAdmin(ReadOnlyScoped):
    list_display = (
        "loan",
        "effective_on",
        "outstanding",
        "term_months",
        "frequency",
        "reason",
        "approved_by",
    )
    list_select_related = ("loan__household", "approved_by")


class CorrectionInline(FileLinksMixin, admin.TabularInline):  # type: ignore[type-arg]
    model = CorrectionItem
    fields = ("text", "due_on", "closed_on", "closed_by")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SupervisionVisit)
class SupervisionVisitAdmin(ReadOnlyScoped):
    list_display = ("village", "visited_on", "inspectors", "open_items")
    list_select_related = ("village",)
    inlines = [CorrectionInline]

    @admin.display(description="未销号整改事项")
    def open_items(self, visit: SupervisionVisit) -> int:
        return visit.items.filter(closed_on__isnull=True).count()


@admin.register(CorrectionItem)
class CorrectionItemAdmin(ReadOnlyScoped):
    list_display = ("text", "visit", "due_on", "closed_on")
    list_filter = (("closed_on", admin.EmptyFieldListFilter),)
    list_select_related = ("visit__village",)


@admin.register(YearEndReport)
class YearEndReportAdmin(ReadOnlyScoped):
    list_display = ("village", "fund", "generated_at", "submitted_on", "outcome", "accepted_on")
    list_select_related = ("village", "fund")
    actions = ["export_xlsx"]

    @admin.action(description="导出效益分析报告（Excel）")
    def export_xlsx(self, request: HttpRequest, queryset: QuerySet[YearEndReport]) -> HttpResponse:
        report_obj = queryset.first()
        out = io.BytesIO()
        if report_obj is not None:
            report.report_xlsx(out, report_obj)
        name = file_name(
            f"{report_obj.fund.year if report_obj else ''}效益分析报告",
            report_obj.village.name if report_obj else "",
        )
        response = HttpResponse(out.getvalue(), content_type=XLSX)
        response["Content-Disposition"] = f"attachment; filename*=UTF-8''{name}"
        return response


@admin.register(EquityStake)
class EquityStakeAdmin(ReadOnlyScoped):
    list_display = ("village", "counterparty", "principal_yuan", "invested_on", "returned_on")
    list_select_related = ("village", "counterparty")
    principal_yuan = money_column("principal", "入股本金（元）")


@admin.register(DividendShare)
class DividendShareAdmin(ReadOnlyScoped):
    list_display = ("household", "dividend", "amount_yuan")
    list_select_related = ("household", "dividend__stake__village", "dividend__stake__counterparty")
    amount_yuan = money_column("amount", "分得金额（元）")


@admin.register(CooperativeTransaction)
class CooperativeTransactionAdmin(ReadOnlyScoped):
    list_display = ("village", "occurred_on", "kind", "amount_yuan", "purpose")
    list_filter = ("kind",)
    list_select_related = ("village",)
    amount_yuan = money_column("amount", "金额（元）")
