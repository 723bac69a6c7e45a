"""The household grant's money records in the admin: 资金下拨, the grant lines of batches, benefit
analyses, recoveries and their repayments, equity investments and partners. Thin: every write goes
through `subsidies.money`'s services."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone

from disbursements.admin.common import reverse_action, year_of
from disbursements.money import to_fen
from households.admin_base import ReadOnlyAdminMixin, RoleActionsMixin, ScopedAdminMixin, money_column, yes_no

from ..models import BenefitAnalysis, EquityInvestment, GrantLine, RecoveryOrder, RecoveryRepayment
from ..money import guard as grant
from ..money import services, settlement


class PaidFilter(admin.SimpleListFilter):
    title = "兑现"
    parameter_name = "paid"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "已兑现"), ("no", "未兑现")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[GrantLine]) -> QuerySet[GrantLine]:
        # Paid: a live line with a payout (a reversed payout cancels its line).
        paid = {"cancelled_at__isnull": True, "line__payout__isnull": False}
        if self.value() == "yes":
            return queryset.filter(**paid)
        if self.value() == "no":
            return queryset.filter(cancelled_at__isnull=True, line__payout__isnull=True)
        return queryset


@admin.register(GrantLine)
class GrantLineAdmin(ScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """到户资金明细: each household's tranche in its batch, paid or not. Also where 资金下拨 lives."""

    list_display = ("household", "year", "tranche", "amount_yuan", "batch", "paid", "cancelled_at")
    list_filter = ("year", "tranche", PaidFilter)
    list_select_related = ("household", "line__batch__village", "line__batch__township", "line__payout")
    search_fields = ("household__code", "household__head_name")

    @admin.display(description="金额（元）")
    def amount_yuan(self, line: GrantLine) -> str:
        return f"{line.line.amount:,.2f}"

    @admin.display(description="批次")
    def batch(self, line: GrantLine) -> str:
        return str(line.line.batch)

    @admin.display(description="兑现")
    def paid(self, line: GrantLine) -> str:
        payout = getattr(line.line, "payout", None)
        if payout is None:
            return "—"
        return f"{payout.paid_on:%Y-%m-%d}（已冲正）" if payout.is_reversed else f"{payout.paid_on:%Y-%m-%d}"

    def get_urls(self) -> list[Any]:
        return [
            path("allocate/", self.admin_site.admin_view(self.allocate_view), name="subsidies_allocate"),
            *super().get_urls(),
        ]

    def allocate_view(self, request: HttpRequest) -> HttpResponse:
        """资金下拨 for city HQ: preview (dry run) on GET, post on confirm."""
        if getattr(request.user, "role", "") != "city":
            raise PermissionDenied
        year = year_of(request)
        confirm = request.method == "POST" and request.POST.get("confirm") == "yes"
        try:
            result = services.allocate(year=year, actor=request.user, dry_run=not confirm)  # type: ignore[arg-type]
        except ValidationError as exc:
            messages.error(request, exc.messages[0])
            result = None
        if confirm and result is not None:
            messages.success(
                request,
                f"已下拨：{result.money_line}，逐级记账 {result.move_count} 笔。",
            )
        return TemplateResponse(
            request,
            "admin/disbursements/allocate.html",
            {
                **self.admin_site.each_context(request),
                "result": result,
                "year": year,
                "posted": confirm,
                "title": f"{year} 年度资金下拨",
                "opts": self.model._meta,
            },
        )


@admin.register(BenefitAnalysis)
class BenefitAnalysisAdmin(ScopedAdminMixin, RoleActionsMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "plan",
        "assessment",
        "verified_yuan",
        "paid_yuan",
        "reward_yuan",
        "shortfall_yuan",
        "decision",
        "per_member_yuan",
    )
    verified_yuan = money_column("verified_entitlement", "核实应享（元）")
    paid_yuan = money_column("paid_before", "已拨付（元）")
    reward_yuan = money_column("reward", "以奖代补（元）")
    shortfall_yuan = money_column("shortfall", "差额（元）")
    per_member_yuan = money_column("income_per_member", "人均收入（元）")
    list_filter = ("assessment", "decision")
    list_select_related = ("plan__household",)
    search_fields = ("plan__household__code", "plan__household__head_name")
    actions = ["decide_recover", "decide_waive", "raise_recovery"]
    action_roles = {
        "decide_recover": frozenset({"township"}),
        "decide_waive": frozenset({"township"}),
        "raise_recovery": frozenset({"village"}),
    }

    @admin.action(description="不积极户：提出收回已拨付资金")
    def raise_recovery(self, request: HttpRequest, queryset: QuerySet[BenefitAnalysis]) -> None:
        raised = 0
        for analysis in queryset.select_related("plan__household"):
            if analysis.assessment != BenefitAnalysis.Assessment.INACTIVE:
                self.message_user(request, f"{analysis}：评价为积极，不提出收回。", messages.ERROR)
                continue
            try:
                settlement.recovery_raise(
                    household=analysis.plan.household,
                    year=analysis.plan.year,
                    actor=request.user,  # type: ignore[arg-type]
                    reason="不积极主动进行种养殖产业发展",
                )
                raised += 1
            except ValidationError as exc:
                self.message_user(request, f"{analysis}：{exc.messages[0]}", messages.ERROR)
        if raised:
            self.message_user(request, f"已提出 {raised} 份收回通知，待乡镇审批。")

    def _decide(self, request: HttpRequest, queryset: QuerySet[BenefitAnalysis], recover: bool) -> None:
        self.each(
            request,
            queryset,
            lambda a: settlement.shortfall_decide(analysis=a, recover=recover, actor=request.user),  # type: ignore[arg-type]
        )

    @admin.action(description="差额：决定收回（生成收回通知）")
    def decide_recover(self, request: HttpRequest, queryset: QuerySet[BenefitAnalysis]) -> None:
        self._decide(request, queryset, True)

    @admin.action(description="差额：决定不收回")
    def decide_waive(self, request: HttpRequest, queryset: QuerySet[BenefitAnalysis]) -> None:
        self._decide(request, queryset, False)


@admin.register(RecoveryOrder)
class RecoveryOrderAdmin(ScopedAdminMixin, RoleActionsMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "household",
        "year",
        "amount_yuan",
        "repaid",
        "status",
        "reason",
        "raised_by",
        "approved_by",
    )
    amount_yuan = money_column("amount", "应收回（元）")
    list_filter = ("status", "year")
    list_select_related = ("household", "raised_by", "approved_by")
    search_fields = ("household__code", "household__head_name")
    actions = ["approve_orders", "repay_in_full"]
    action_roles = {
        "approve_orders": frozenset({"township"}),
        "repay_in_full": frozenset({"village", "township"}),
    }

    @admin.display(description="已收回（元）")
    def repaid(self, order: RecoveryOrder) -> str:
        return f"{_repaid(order):,.2f}"

    def get_queryset(self, request: HttpRequest) -> QuerySet[RecoveryOrder]:
        return super().get_queryset(request).prefetch_related("repayments")

    @admin.action(description="登记收回（余额全部收回，今日）")
    def repay_in_full(self, request: HttpRequest, queryset: QuerySet[RecoveryOrder]) -> None:
        for order in queryset:
            remaining = order.amount - _repaid(order)
            try:
                settlement.recovery_repay(
                    order=order,
                    amount=remaining,
                    received_on=timezone.localdate(),
                    actor=request.user,  # type: ignore[arg-type]
                )
            except ValidationError as exc:
                self.message_user(request, f"{order}：{exc.messages[0]}", messages.ERROR)

    @admin.action(description="批准收回")
    def approve_orders(self, request: HttpRequest, queryset: QuerySet[RecoveryOrder]) -> None:
        actor: Any = request.user
        self.each(request, queryset, lambda order: settlement.recovery_approve(order=order, actor=actor))


def _repaid(order: RecoveryOrder) -> Decimal:
    return sum((to_fen(r.amount) for r in order.repayments.all() if not r.is_reversed), Decimal("0.00"))


@admin.register(RecoveryRepayment)
class RecoveryRepaymentAdmin(ScopedAdminMixin, RoleActionsMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("order", "amount_yuan", "received_on", "entry", "reversed_at", "reversal_reason")
    amount_yuan = money_column("amount", "金额（元）")
    list_select_related = ("order__household", "entry")
    search_fields = ("order__household__code", "order__household__head_name")
    actions = ["reverse_repayments"]
    action_roles = {"reverse_repayments": frozenset({"township", "city"})}
    reverse_repayments = reverse_action(
        "reverse_repayments",
        "冲正收回记录（须写原因）",
        "冲正以下收回记录：款项从乡财政退回该户账目，收回通知重新变为待收回。",
        settlement.repayment_reverse,
        "repayment",
    )


MSG_EQUITY_TAKEN = "该户已有到户资金兑现、已列入批次或已入股，不能再改为入股。"


class EquityForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = EquityInvestment
        fields = ("household", "year", "partner", "agreement", "consent_scan", "invested_on")


@admin.register(EquityInvestment)
class EquityInvestmentAdmin(ScopedAdminMixin, RoleActionsMixin, admin.ModelAdmin):
    list_display = (
        "household",
        "year",
        "partner",
        "principal_yuan",
        "preserved_display",
        "agreement",
        "invested_on",
    )
    principal_yuan = money_column("principal", "入股本金（元）")
    list_select_related = ("household", "partner")
    form = EquityForm

    @admin.display(description="本金保值中")
    def preserved_display(self, investment: EquityInvestment) -> str:
        return yes_no(investment.preserved)

    actions = ["return_principal", "reverse_investments"]
    action_roles = {
        "return_principal": frozenset({"village", "township"}),
        "reverse_investments": frozenset({"township", "city"}),
    }
    reverse_investments = reverse_action(
        "reverse_investments",
        "冲正入股（须写原因）",
        "冲正以下入股记录：本金从合作方退回挂包干部（或村）账户，该户可改为现金兑现。",
        settlement.equity_reverse,
        "investment",
    )

    @admin.action(description="登记入股本金退还")
    def return_principal(self, request: HttpRequest, queryset: QuerySet[EquityInvestment]) -> None:
        self.each(
            request,
            queryset,
            lambda investment: settlement.equity_return(investment=investment, actor=request.user),  # type: ignore[arg-type]
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return getattr(request.user, "role", "") in ("cadre", "village")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: EquityInvestment, form: Any, change: bool) -> None:
        """入股 goes through the service: the grant moves to the partner in the ledger, with consent."""
        data = form.cleaned_data
        try:
            investment = settlement.equity_invest(
                household=data["household"],
                year=data["year"],
                partner=data["partner"],
                agreement=data["agreement"],
                consent_scan=data["consent_scan"],
                invested_on=data["invested_on"],
                actor=request.user,  # type: ignore[arg-type]
            )
        except ValidationError as exc:
            raise PermissionDenied(exc.messages[0]) from None
        obj.pk = investment.pk

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change, **kwargs)

        class CheckedEquityForm(form):  # type: ignore[valid-type, misc]
            def clean(self) -> Any:
                """The same refusal the service gives, shown on the form (the service checks again)."""
                data = super().clean()
                household, year = data.get("household"), data.get("year")
                if household is not None and year:
                    money = grant.household_money([household.pk], year)[household.pk]
                    if money.cash or money.lined_tranches or money.has_equity_record:
                        raise forms.ValidationError(
                            "该户已有到户资金兑现、已列入批次或已入股，不能再改为入股。"
                        )
                return data

        return CheckedEquityForm
