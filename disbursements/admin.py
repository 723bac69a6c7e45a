"""Approval queues, payouts, the ledger and the reconciliation report in the admin.

Thin: every button calls `approval.advance` / `approval.send_back` / the services, which check
role, scope, order and maker-checker themselves; the admin only decides what to show.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from households.admin_base import (
    ReadOnlyAdminMixin,
    RoleActionsMixin,
    ScopedAdminMixin,
    ScopedRelatedFilter,
    money_column,
)
from households.models import Township, Village
from households.scoping import visible
from subsidies.rules import to_fen

from . import grant, notices, services, settlement
from .approval import STEPS, advance, send_back
from .models import (
    Account,
    Batch,
    BatchLine,
    BenefitAnalysis,
    Entry,
    EquityInvestment,
    Notice,
    Objection,
    Partner,
    Payout,
    PrintJob,
    RecoveryOrder,
    RecoveryRepayment,
    Transition,
)


def reverse_action(name: str, label: str, intro: str, service: Any, keyword: str) -> Any:
    """An admin action that asks for the reason, then reverses each selected record through `service`
    (which checks role, scope and state itself and reverses record and ledger together)."""

    def run(model_admin: Any, request: HttpRequest, queryset: QuerySet[Any]) -> HttpResponse | None:
        if request.POST.get("confirm") != "yes":
            return TemplateResponse(
                request,
                "admin/disbursements/reverse.html",
                {
                    **model_admin.admin_site.each_context(request),
                    "objects": queryset,
                    "intro": intro,
                    "action_name": name,
                    "opts": model_admin.model._meta,
                    "title": label,
                },
            )
        reason = request.POST.get("reason", "")
        done = model_admin.each(
            request, queryset, lambda obj: service(**{keyword: obj}, actor=request.user, reason=reason)
        )
        if done:
            model_admin.message_user(request, f"已冲正 {done} 条。")
        return None

    run.__name__ = name
    return admin.action(description=label)(run)


class WaitingForMeFilter(admin.SimpleListFilter):
    title = "待办"
    parameter_name = "queue"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("mine", "待我办理")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Batch]) -> QuerySet[Batch]:
        if self.value() != "mine":
            return queryset
        role = getattr(request.user, "role", "")
        statuses = [s.from_status for s in STEPS.values() if role in s.roles]
        if role in ("cadre", "village"):
            statuses.append(Batch.Status.APPROVED)  # waiting to be paid out
        return queryset.filter(status__in=statuses)


class BatchLineInline(ScopedAdminMixin, ReadOnlyAdminMixin, admin.TabularInline):
    """A batch's lines, each one only for those whose scope covers its household (a cadre sees the
    households they hold, not the other cadres' households of the same batch)."""

    model = BatchLine
    fields = ("household", "tranche", "amount", "paid")
    readonly_fields = fields
    extra = 0

    @admin.display(description="兑现")
    def paid(self, line: BatchLine) -> str:
        payout = getattr(line, "payout", None)
        if payout is None:
            return "—"
        shown = f"{payout.paid_on:%Y-%m-%d} {payout.get_method_display()}"
        return f"{shown}（已冲正：{payout.reversal_reason}）" if payout.is_reversed else shown

    def get_queryset(self, request: HttpRequest) -> QuerySet[BatchLine]:
        return super().get_queryset(request).select_related("household", "payout")


class TransitionInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Transition
    fields = ("at", "action", "from_status", "to_status", "actor", "note")
    readonly_fields = fields
    extra = 0
    verbose_name_plural = "审批记录（谁、何时、做了什么、意见）"


def _step_action(action: str) -> Any:
    """An admin action for one step: a page asks for the note (and, for 入户核实, photos), then acts."""
    step = STEPS[action]

    def run(model_admin: BatchAdmin, request: HttpRequest, queryset: QuerySet[Batch]) -> HttpResponse | None:
        if request.POST.get("confirm") != "yes":
            return TemplateResponse(
                request,
                "admin/disbursements/batch/step.html",
                {
                    **model_admin.admin_site.each_context(request),
                    "batches": queryset,
                    "step": step,
                    "action_name": f"do_{action}",
                    "with_attachment": action == "verify",
                    "opts": Batch._meta,
                    "title": step.label,
                },
            )
        try:
            moved = advance(
                list(queryset),
                action=action,
                actor=request.user,  # type: ignore[arg-type]
                note=request.POST.get("note", "").strip(),
                attachment=request.FILES.get("attachment"),
            )
        except ValidationError as exc:
            model_admin.message_user(request, exc.messages[0], messages.ERROR)
            return None
        total = sum((b.total for b in moved), Decimal("0.00"))
        model_admin.message_user(
            request, f"{step.label}：{len(moved)} 个批次，合计 {total:,.2f} 元。", messages.SUCCESS
        )
        return None

    run.__name__ = f"do_{action}"
    run.short_description = step.label  # type: ignore[attr-defined]
    return run


@admin.register(Batch)
class BatchAdmin(ScopedAdminMixin, RoleActionsMixin, admin.ModelAdmin):
    list_display = ("__str__", "status", "line_count", "total_yuan", "status_changed_at")
    total_yuan = money_column("total", "合计金额（元）")
    list_filter = (WaitingForMeFilter, "status", "year", "tranche", ("village", ScopedRelatedFilter))
    list_select_related = ("village",)
    readonly_fields = [f.name for f in Batch._meta.fields]
    inlines = (BatchLineInline, TransitionInline)
    change_list_template = "admin/disbursements/batch/change_list.html"
    actions = [
        *(_step_action(a) for a in STEPS),
        "send_back_action",
        "pay_today_cash",
        "pay_today_bank",
    ]
    # Each step's button for the role that holds the step; send-back for officials; payouts for
    # whoever hands the money over.
    action_roles = {
        **{f"do_{s.action}": s.roles for s in STEPS.values()},
        "send_back_action": frozenset({"village", "township", "city", "approver"}),
        "pay_today_cash": frozenset({"cadre", "village"}),
        "pay_today_bank": frozenset({"cadre", "village"}),
    }

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # batches are prepared on the cadre pages (batch_prepare)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        response = super().changelist_view(request, extra_context)
        if hasattr(response, "context_data") and "cl" in response.context_data:
            queryset = response.context_data["cl"].queryset
            totals = list(queryset.values_list("total", "line_count"))
            response.context_data["queue_total"] = sum((to_fen(t) for t, _ in totals), Decimal("0.00"))
            response.context_data["queue_households"] = sum(n for _, n in totals)
            response.context_data["queue_batches"] = len(totals)
        return response

    @admin.action(description="退回上一步（须写理由）")
    def send_back_action(self, request: HttpRequest, queryset: QuerySet[Batch]) -> HttpResponse | None:
        if request.POST.get("confirm") == "yes":
            try:
                moved = send_back(list(queryset), actor=request.user, reason=request.POST.get("reason", ""))  # type: ignore[arg-type]
            except ValidationError as exc:
                self.message_user(request, exc.messages[0], messages.ERROR)
                return None
            self.message_user(request, f"已退回 {len(moved)} 个批次。")
            return None
        return TemplateResponse(
            request,
            "admin/disbursements/batch/send_back.html",
            {
                **self.admin_site.each_context(request),
                "batches": queryset,
                "opts": self.model._meta,
                "title": "退回批次",
            },
        )

    @admin.action(description="登记兑现（今日，现金）")
    def pay_today_cash(self, request: HttpRequest, queryset: QuerySet[Batch]) -> None:
        self._pay(request, queryset, Payout.Method.CASH)

    @admin.action(description="登记兑现（今日，银行转账）")
    def pay_today_bank(self, request: HttpRequest, queryset: QuerySet[Batch]) -> None:
        self._pay(request, queryset, Payout.Method.BANK)

    def _pay(self, request: HttpRequest, queryset: QuerySet[Batch], method: str) -> None:
        paid = 0
        amount = Decimal("0.00")
        for batch in queryset:
            try:
                result = services.payouts_record(
                    batch=batch,
                    actor=request.user,  # type: ignore[arg-type]
                    paid_on=timezone.localdate(),
                    method=method,
                )
            except ValidationError as exc:
                self.message_user(request, f"{batch}：{exc.messages[0]}", messages.ERROR)
                continue
            paid += result.paid
            amount += result.amount
        if paid:
            self.message_user(request, f"已登记兑现 {paid} 户，合计 {amount:,.2f} 元。")


@admin.register(Payout)
class PayoutAdmin(ScopedAdminMixin, RoleActionsMixin, admin.ModelAdmin):
    list_display = (
        "household",
        "year",
        "tranche",
        "amount_yuan",
        "method",
        "paid_on",
        "paid_by",
        "receipt",
        "reversed_at",
    )
    amount_yuan = money_column("amount", "金额（元）")
    list_filter = ("year", "tranche", "method")
    list_select_related = ("household", "paid_by")
    search_fields = ("household__code", "household__head_name")
    fields = (
        "household",
        "year",
        "tranche",
        "amount",
        "method",
        "paid_on",
        "paid_by",
        "entry",
        "receipt",
        "reversed_at",
        "reversed_by",
        "reversal_reason",
    )
    readonly_fields = (
        "household",
        "year",
        "tranche",
        "amount",
        "method",
        "paid_on",
        "paid_by",
        "entry",
        "reversed_at",
        "reversed_by",
        "reversal_reason",
    )
    actions = ["reverse_payouts"]
    action_roles = {"reverse_payouts": frozenset({"township", "city"})}
    reverse_payouts = reverse_action(
        "reverse_payouts",
        "冲正兑现（须写原因）",
        "冲正以下兑现记录：账目另记反向分录，记录标为已冲正，该期可重新列入批次。须先冲正后一期。",
        services.payout_reverse,
        "payout",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # payouts are recorded from an approved batch

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Only the receipt scan can be added, by whoever hands over the money.
        return getattr(request.user, "role", "") in ("cadre", "village") and not (obj and obj.is_reversed)

    def save_model(self, request: HttpRequest, obj: Payout, form: Any, change: bool) -> None:
        if "receipt" in form.changed_data and form.cleaned_data.get("receipt"):
            from .settlement import payout_attach_receipt

            payout_attach_receipt(payout=obj, receipt=form.cleaned_data["receipt"], actor=request.user)  # type: ignore[arg-type]


@admin.register(Entry)
class EntryAdmin(ScopedAdminMixin, RoleActionsMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "created_at",
        "year",
        "kind",
        "source",
        "target",
        "amount_yuan",
        "memo",
        "created_by",
        "reverses",
    )
    amount_yuan = money_column("amount", "金额（元）")
    list_filter = ("year", "kind")
    list_select_related = ("source", "target", "created_by", "reverses")
    search_fields = ("memo", "source__name", "target__name")
    actions = ["reverse_entries"]
    action_roles = {"reverse_entries": frozenset({"city"})}
    reverse_entries = reverse_action(
        "reverse_entries",
        "冲正（须写原因）",
        "将以下分录冲正（原分录保留，另记一笔反向分录）。兑现、收回、入股的分录请在相应记录上冲正。",
        services.entry_reverse,
        "entry",
    )


@admin.register(Account)
class AccountAdmin(ScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("name", "kind", "township", "village")
    list_filter = ("kind", ("township", ScopedRelatedFilter))
    list_select_related = ("township", "village")
    search_fields = ("name",)
    change_list_template = "admin/disbursements/account/change_list.html"

    def get_urls(self) -> list[Any]:
        return [
            path(
                "reconcile/", self.admin_site.admin_view(self.reconcile_view), name="disbursements_reconcile"
            ),
            path("allocate/", self.admin_site.admin_view(self.allocate_view), name="disbursements_allocate"),
            *super().get_urls(),
        ]

    def reconcile_view(self, request: HttpRequest) -> HttpResponse:
        """资金对账 for city HQ and auditors: the same report as `manage.py reconcile`."""
        if (
            getattr(request.user, "role", "") not in ("city", "auditor", "approver")
            and not request.user.is_superuser
        ):
            raise PermissionDenied
        year = _year(request)
        city, problems = services.reconcile(year=year)
        return TemplateResponse(
            request,
            "admin/disbursements/reconcile.html",
            {
                **self.admin_site.each_context(request),
                "city": city,
                "problems": problems,
                "year": year,
                "title": f"{year} 年度资金对账",
                "opts": self.model._meta,
            },
        )

    def allocate_view(self, request: HttpRequest) -> HttpResponse:
        """资金下拨 for city HQ: preview (dry run) on GET, post on confirm."""
        if getattr(request.user, "role", "") != "city":
            raise PermissionDenied
        year = _year(request)
        confirm = request.method == "POST" and request.POST.get("confirm") == "yes"
        try:
            result = services.allocate(year=year, actor=request.user, dry_run=not confirm)  # type: ignore[arg-type]
        except ValidationError as exc:
            messages.error(request, exc.messages[0])
            result = None
        if confirm and result is not None:
            messages.success(request, f"已记账 {len(result.moves)} 笔，共 {result.amount_moved:,.2f} 元。")
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


def _year(request: HttpRequest) -> int:
    try:
        return int(request.GET.get("year") or request.POST.get("year") or 2017)
    except ValueError:
        return 2017


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
        from .settlement import recovery_raise

        raised = 0
        for analysis in queryset.select_related("plan__household"):
            if analysis.assessment != BenefitAnalysis.Assessment.INACTIVE:
                self.message_user(request, f"{analysis}：评价为积极，不提出收回。", messages.ERROR)
                continue
            try:
                recovery_raise(
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
        from .settlement import shortfall_decide

        self.each(
            request,
            queryset,
            lambda a: shortfall_decide(analysis=a, recover=recover, actor=request.user),  # type: ignore[arg-type]
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
        from .settlement import recovery_repay

        for order in queryset:
            remaining = order.amount - _repaid(order)
            try:
                recovery_repay(
                    order=order,
                    amount=remaining,
                    received_on=timezone.localdate(),
                    actor=request.user,  # type: ignore[arg-type]
                )
            except ValidationError as exc:
                self.message_user(request, f"{order}：{exc.messages[0]}", messages.ERROR)

    @admin.action(description="批准收回")
    def approve_orders(self, request: HttpRequest, queryset: QuerySet[RecoveryOrder]) -> None:
        from .settlement import recovery_approve

        self.each(request, queryset, lambda order: recovery_approve(order=order, actor=request.user))  # type: ignore[arg-type]


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

    @admin.display(description="本金保值中", boolean=True)
    def preserved_display(self, investment: EquityInvestment) -> bool:
        return investment.preserved

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
        from .settlement import equity_return

        self.each(
            request,
            queryset,
            lambda investment: equity_return(investment=investment, actor=request.user),  # type: ignore[arg-type]
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return getattr(request.user, "role", "") in ("cadre", "village")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: EquityInvestment, form: Any, change: bool) -> None:
        """入股 goes through the service: the grant moves to the partner in the ledger, with consent."""
        from .settlement import equity_invest

        data = form.cleaned_data
        try:
            investment = equity_invest(
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


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "contact")
    search_fields = ("name",)


class ObjectionInline(admin.TabularInline):
    model = Objection
    fields = ("received_on", "raised_by", "content", "resolution", "resolved_on", "resolved_by")
    readonly_fields = ("resolved_by",)
    extra = 1

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class NoticeForm(forms.Form):
    kind = forms.ChoiceField(label="类别", choices=Notice.Kind.choices)
    year = forms.IntegerField(label="年度", initial=2017)
    village = forms.ModelChoiceField(label="村委会", queryset=Village.objects.none())
    start = forms.DateField(label="公示开始日期", widget=forms.DateInput(attrs={"type": "date"}))
    days = forms.IntegerField(
        label="公示天数", min_value=7, initial=10, help_text="不少于 7 天，原则上 10 天"
    )
    contact = forms.CharField(label="异议受理联系人及电话", max_length=64, required=False)
    batch = forms.ModelChoiceField(
        label="以奖代补批次（可选）", queryset=Batch.objects.none(), required=False
    )


@admin.register(Notice)
class NoticeAdmin(ScopedAdminMixin, RoleActionsMixin, admin.ModelAdmin):
    list_display = (
        "title",
        "kind",
        "year",
        "village",
        "period_start",
        "period_end",
        "status",
        "open_objections",
    )
    list_filter = ("kind", "year", "status", ("village", ScopedRelatedFilter))
    list_select_related = ("village",)
    inlines = (ObjectionInline,)
    change_list_template = "admin/disbursements/notice/change_list.html"
    readonly_fields = (
        "kind",
        "year",
        "village",
        "batch",
        "title",
        "issuer",
        "contact",
        "period_start",
        "period_end",
        "total",
        "reprint",
        "status",
        "issued_by",
        "issued_at",
        "posted_at",
        "closed_at",
    )
    fields = (*readonly_fields[:10], "posted_photo", *readonly_fields[10:])
    actions = ["close_notices"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Notice]:
        return super().get_queryset(request).prefetch_related("objections")

    @admin.display(description="未处理异议")
    def open_objections(self, notice: Notice) -> int:
        return sum(1 for o in notice.objections.all() if o.resolved_on is None)

    @admin.display(description="印发原件")
    def reprint(self, notice: Notice) -> str:
        from django.utils.html import format_html

        url = reverse("admin:disbursements_notice_pdf", args=[notice.pk])
        return format_html('<a href="{}" target="_blank">下载公示 PDF（与张贴的一致）</a>', url)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # notices are issued through 印发公示 (the service freezes the list)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return getattr(request.user, "role", "") in ("village", "township") and (
            obj is None or obj.status != Notice.Status.CLOSED
        )

    def save_model(self, request: HttpRequest, obj: Notice, form: Any, change: bool) -> None:
        if "posted_photo" in form.changed_data and obj.posted_photo:
            photo = form.cleaned_data["posted_photo"]
            fresh = Notice.objects.get(pk=obj.pk)
            notices.notice_post(notice=fresh, actor=request.user, photo=photo)  # type: ignore[arg-type]

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        """Objections go through the services: a new one is recorded, a resolution resolves it."""
        # The admin's change message reads these; the services, not formset.save(), write the rows.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for inline_form in formset.forms:
            if not inline_form.has_changed() or not inline_form.is_valid():
                continue
            data = inline_form.cleaned_data
            objection = inline_form.instance
            if objection.pk is None:
                objection = notices.objection_record(
                    notice=form.instance,
                    actor=request.user,  # type: ignore[arg-type]
                    raised_by=data["raised_by"],
                    content=data["content"],
                    received_on=data["received_on"],
                )
            if data.get("resolution") and data.get("resolved_on"):
                notices.objection_resolve(
                    objection=objection,
                    actor=request.user,  # type: ignore[arg-type]
                    resolution=data["resolution"],
                    resolved_on=data["resolved_on"],
                )

    @admin.action(description="结束公示（公示期已满、异议已处理）")
    def close_notices(self, request: HttpRequest, queryset: QuerySet[Notice]) -> None:
        self.each(request, queryset, lambda notice: notices.notice_close(notice=notice, actor=request.user))  # type: ignore[arg-type]

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view
        return [
            path("issue/", view(self.issue_view), name="disbursements_notice_issue"),
            path("print/", view(self.print_view), name="disbursements_notice_print"),
            path("print/<int:job_id>/", view(self.print_job_view), name="disbursements_notice_print_job"),
            path("<int:pk>/pdf/", view(self.pdf_view), name="disbursements_notice_pdf"),
            *super().get_urls(),
        ]

    def issue_view(self, request: HttpRequest) -> HttpResponse:
        """印发公示: print a village's notice and record it (list and PDF frozen as issued)."""
        if getattr(request.user, "role", "") not in ("village", "township"):
            raise PermissionDenied
        form = NoticeForm(request.POST or None, initial={"start": timezone.localdate()})
        form.fields["village"].queryset = visible(Village, request.user)  # type: ignore[attr-defined]
        form.fields["batch"].queryset = visible(Batch, request.user).filter(kind=Batch.Kind.REWARD)  # type: ignore[attr-defined]
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                notice = notices.notice_issue(
                    kind=data["kind"],
                    year=data["year"],
                    village=data["village"],
                    actor=request.user,  # type: ignore[arg-type]
                    start=data["start"],
                    days=data["days"],
                    contact=data["contact"],
                    batch=data["batch"],
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                self.message_user(
                    request, f"已印发：{notice.title}（{notice.period_start} 至 {notice.period_end}）。"
                )
                return redirect(reverse("admin:disbursements_notice_change", args=[notice.pk]))
        return TemplateResponse(
            request,
            "admin/disbursements/notice/form.html",
            {
                **self.admin_site.each_context(request),
                "form": form,
                "title": "印发公示",
                "opts": self.model._meta,
            },
        )

    def print_view(self, request: HttpRequest) -> HttpResponse:
        """打印公示 (preview, nothing recorded): a village now, or a whole township as a background job."""
        form = PrintForm(request.POST or None)
        form.fields["village"].queryset = visible(Village, request.user)  # type: ignore[attr-defined]
        form.fields["township"].queryset = visible(Township, request.user)  # type: ignore[attr-defined]
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                if data["village"]:
                    sheet = notices.build_sheet(
                        kind=data["kind"],
                        year=data["year"],
                        village=data["village"],
                        user=request.user,  # type: ignore[arg-type]
                    )
                    if not sheet.rows:
                        raise ValidationError("没有可公示的内容。")
                    response = HttpResponse(notices.render_sheets([sheet]), content_type="application/pdf")
                    response["Content-Disposition"] = f'inline; filename="notice-{data["village"].code}.pdf"'
                    return response
                if data["township"]:
                    job = notices.print_job_start(
                        kind=data["kind"],
                        year=data["year"],
                        township=data["township"],
                        actor=request.user,  # type: ignore[arg-type]
                    )
                    return redirect(reverse("admin:disbursements_notice_print_job", args=[job.pk]))
                form.add_error(None, "请选择一个村委会，或一个乡镇。")
            except ValidationError as exc:
                form.add_error(None, exc)
        return TemplateResponse(
            request,
            "admin/disbursements/notice/form.html",
            {
                **self.admin_site.each_context(request),
                "form": form,
                "title": "打印公示",
                "opts": self.model._meta,
            },
        )

    def print_job_view(self, request: HttpRequest, job_id: int) -> HttpResponseBase:
        job = visible(PrintJob, request.user).filter(pk=job_id).first()
        if job is None:
            raise Http404
        if request.GET.get("download") and job.status == PrintJob.Status.DONE:
            return FileResponse(
                job.pdf.open("rb"), content_type="application/pdf", filename=f"公示-{job.township.name}.pdf"
            )
        return TemplateResponse(
            request,
            "admin/disbursements/notice/print_job.html",
            {
                **self.admin_site.each_context(request),
                "job": job,
                "title": "批量打印公示",
                "opts": self.model._meta,
            },
        )

    def pdf_view(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        notice = self.get_queryset(request).filter(pk=pk).first()
        if notice is None:
            raise Http404
        return FileResponse(
            notice.pdf.open("rb"), content_type="application/pdf", filename=f"{notice.title}.pdf"
        )


class PrintForm(forms.Form):
    kind = forms.ChoiceField(label="类别", choices=Notice.Kind.choices)
    year = forms.IntegerField(label="年度", initial=2017)
    village = forms.ModelChoiceField(
        label="村委会（打印一个村）", queryset=Village.objects.none(), required=False
    )
    township = forms.ModelChoiceField(
        label="或乡镇（全乡镇各村，后台生成）", queryset=Township.objects.none(), required=False
    )
