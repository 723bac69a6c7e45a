"""Approval queues, batches and payouts in the admin, for every registered batch kind.

Thin: every button calls `approval.advance` / `approval.send_back` / `payouts`, which check role,
scope, order and maker-checker themselves; the admin only decides what to show.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from households.admin_base import (
    RoleActionsMixin,
    ScopedAdminMixin,
    ScopedRelatedFilter,
    money_column,
)

from ..approval import BATCH_KINDS, PAY, Step, advance, offers, send_back, steps_waiting_for
from ..models import Batch, Payout
from ..money import to_fen
from ..payouts import payout_attach_receipt, payout_reverse
from . import bank, batch_page
from .common import reverse_action


class BatchKindFilter(admin.SimpleListFilter):
    title = "类别"
    parameter_name = "kind"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return BATCH_KINDS.choices()

    def queryset(self, request: HttpRequest, queryset: QuerySet[Batch]) -> QuerySet[Batch]:
        return queryset.filter(kind=self.value()) if self.value() else queryset


class WaitingForMeFilter(admin.SimpleListFilter):
    title = "待办"
    parameter_name = "queue"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("mine", "待我办理")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Batch]) -> QuerySet[Batch]:
        if self.value() != "mine":
            return queryset
        return queryset.filter(steps_waiting_for(getattr(request.user, "role", "")))


def _totals(queryset: QuerySet[Batch]) -> dict[str, Any]:
    rows = list(queryset.values_list("total", "line_count"))
    return {
        "money_total": sum((to_fen(t) for t, _ in rows), Decimal("0.00")),
        "line_total": sum(n for _, n in rows),
    }


def step_actions() -> dict[str, Step]:
    """Every step any registered batch kind has (by action), but the payment, which is recorded."""
    steps: dict[str, Step] = {}
    for kind in BATCH_KINDS:
        for step in kind.steps:
            steps.setdefault(step.action, step)
    return steps


def _step_action(action: str, step: Step) -> Any:
    """An admin action for one step: a page asks for the note (and, for 入户核实, photos), then acts."""

    def run(model_admin: BatchAdmin, request: HttpRequest, queryset: QuerySet[Batch]) -> HttpResponse | None:
        if request.POST.get("confirm") != "yes":
            return TemplateResponse(
                request,
                "admin/disbursements/batch/step.html",
                {
                    **model_admin.admin_site.each_context(request),
                    "batches": queryset,
                    **_totals(queryset),
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
    list_display = ("__str__", "status_label", "line_count", "total_yuan", "status_changed_at")
    total_yuan = money_column("total", "合计金额（元）")
    list_filter = (WaitingForMeFilter, BatchKindFilter, "year", ("village", ScopedRelatedFilter))
    list_select_related = ("village", "township")
    readonly_fields = [f.name for f in Batch._meta.fields]
    change_list_template = "admin/disbursements/batch/change_list.html"

    @admin.display(description="状态", ordering="status")
    def status_label(self, batch: Batch) -> str:
        return batch.status_label

    @admin.display(description="类别", ordering="kind")
    def kind_label(self, batch: Batch) -> str:
        return batch.kind_label

    def get_actions(self, request: HttpRequest, action_location: Any = None) -> Any:
        # The steps are the registered kinds' (known once every app is ready).
        steps = step_actions()
        self.actions = [
            *(_step_action(action, step) for action, step in steps.items()),
            "send_back_action",
            "record_payouts",
        ]
        payers = frozenset(r for kind in BATCH_KINDS for r in kind.pay_roles)
        # Each step's button for the role that holds the step; send-back for officials; payouts for
        # whoever hands the money over.
        self.action_roles = {
            **{f"do_{s.action}": s.roles for s in steps.values()},
            "send_back_action": frozenset({"village", "township", "city", "approver"}),
            "record_payouts": payers,
        }
        if action_location is None:
            return super().get_actions(request)
        return super().get_actions(request, action_location)

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
                **_totals(queryset),
                "opts": self.model._meta,
                "title": "退回批次",
            },
        )

    @admin.action(description="登记兑现（逐户核对日期、方式和凭证）")
    def record_payouts(self, request: HttpRequest, queryset: QuerySet[Batch]) -> HttpResponse | None:
        batches = list(queryset[:2])
        if len(batches) != 1:
            self.message_user(request, "请只选择一个批次登记兑现。", messages.WARNING)
            return None
        batch = batches[0]
        if not any(offer.action == PAY for offer in offers(batch, request.user)):  # type: ignore[arg-type]
            self.message_user(
                request, f"{batch}：{batch.status_label}，现在不能由您登记兑现。", messages.WARNING
            )
            return None
        return redirect(reverse("admin:disbursements_batch_pay", args=[batch.pk]))

    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/pay/",
                wrap(lambda request, pk: batch_page.batch_pay(self, request, pk)),
                name="disbursements_batch_pay",
            ),
            path(
                "<int:pk>/bank/export/",
                wrap(lambda request, pk: bank.batch_bank_export(self, request, pk)),
                name="disbursements_batch_bank_export",
            ),
            path(
                "<int:pk>/bank/<int:file_pk>/download/",
                wrap(lambda request, pk, file_pk: bank.bank_file_download(self, request, pk, file_pk)),
                name="disbursements_batch_bank_download",
            ),
            path(
                "<int:pk>/bank/<int:file_pk>/return/",
                wrap(lambda request, pk, file_pk: bank.bank_return_upload(self, request, pk, file_pk)),
                name="disbursements_batch_bank_return",
            ),
            path(
                "<int:pk>/act/<str:action>/",
                wrap(lambda request, pk, action: batch_page.batch_act(self, request, pk, action)),
                name="disbursements_batch_act",
            ),
            *super().get_urls(),
        ]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        """The batch page (lines, objections, transitions, this user's actions) instead of a form."""
        try:
            pk = int(object_id)
        except ValueError:
            raise Http404("没有这个批次。") from None
        return batch_page.batch_page(self, request, pk)


@admin.register(Payout)
class PayoutAdmin(ScopedAdminMixin, RoleActionsMixin, admin.ModelAdmin):
    list_display = (
        "payee",
        "batch",
        "amount_yuan",
        "method",
        "paid_on",
        "paid_by",
        "receipt",
        "reversed_at",
    )
    amount_yuan = money_column("amount", "金额（元）")
    list_filter = ("method", "line__batch__year")
    list_select_related = ("line__account", "line__batch__village", "line__batch__township", "paid_by")
    search_fields = ("line__account__name",)
    fields = (
        "payee",
        "batch",
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
        "payee",
        "batch",
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
        payout_reverse,
        "payout",
    )

    @admin.display(description="收款方", ordering="line__account__name")
    def payee(self, payout: Payout) -> str:
        return payout.line.account.name

    @admin.display(description="批次")
    def batch(self, payout: Payout) -> str:
        return str(payout.line.batch)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # payouts are recorded from an approved batch

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Only the receipt scan can be added, by whoever hands over the money of that batch's kind (a
        # township paying village loans does not thereby edit the receipts of household grants).
        role = getattr(request.user, "role", "")
        if obj is None:
            return role in frozenset(r for kind in BATCH_KINDS for r in kind.pay_roles)
        return role in BATCH_KINDS[obj.line.batch.kind].pay_roles and not obj.is_reversed

    def save_model(self, request: HttpRequest, obj: Payout, form: Any, change: bool) -> None:
        if "receipt" in form.changed_data and form.cleaned_data.get("receipt"):
            payout_attach_receipt(payout=obj, receipt=form.cleaned_data["receipt"], actor=request.user)  # type: ignore[arg-type]
