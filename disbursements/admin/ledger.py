"""The ledger in the admin: entries (with 冲正 of allocation-side entries) and accounts, and the
资金对账 report of every fund."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Max, Min, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path

from households.admin_base import (
    ReadOnlyAdminMixin,
    RoleActionsMixin,
    ScopedAdminMixin,
    ScopedRelatedFilter,
    money_column,
)

from ..ledger import entry_reverse
from ..models import Account, Entry
from ..reconcile import reconcile
from ..registry import ACCOUNT_KINDS, ENTRY_KINDS, FUNDS, Registry
from .common import reverse_action, year_of


class EntryYearFilter(admin.SimpleListFilter):
    """年度 of the ledger: the years between the first and the last entry's, read through the index
    on `year` (two index lookups), not Django's `SELECT DISTINCT year` over every entry (issue 14:
    269,000 rows read per page at province scale)."""

    title = "年度"
    parameter_name = "year"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[Any, str]]:
        bounds = Entry.objects.aggregate(first=Min("year"), last=Max("year"))
        if bounds["first"] is None:
            return []
        return [(y, str(y)) for y in range(bounds["last"], bounds["first"] - 1, -1)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(year=int(value)) if value and value.isdigit() else queryset


def _kind_filter(registry: Registry[Any], title: str, name: str = "kind") -> type[admin.SimpleListFilter]:
    class KindFilter(admin.SimpleListFilter):
        parameter_name = f"{name}__exact"

        def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
            return registry.choices()

        def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
            return queryset.filter(**{name: self.value()}) if self.value() else queryset

    KindFilter.title = title
    return KindFilter


@admin.register(Entry)
class EntryAdmin(ScopedAdminMixin, RoleActionsMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "created_at",
        "year",
        "fund_label",
        "kind_label",
        "source",
        "target",
        "amount_yuan",
        "memo",
        "created_by",
        "reverses",
    )
    amount_yuan = money_column("amount", "金额（元）")
    list_filter = (EntryYearFilter, _kind_filter(FUNDS, "资金", "fund"), _kind_filter(ENTRY_KINDS, "类别"))
    list_select_related = ("source", "target", "created_by", "reverses")
    search_fields = ("memo", "source__name", "target__name")
    actions = ["reverse_entries"]
    action_roles = {"reverse_entries": frozenset({"city"})}
    reverse_entries = reverse_action(
        "reverse_entries",
        "冲正（须写原因）",
        "将以下分录冲正（原分录保留，另记一笔反向分录）。兑现、收回、入股的分录请在相应记录上冲正。",
        entry_reverse,
        "entry",
    )

    @admin.display(description="类别", ordering="kind")
    def kind_label(self, entry: Entry) -> str:
        return entry.kind_label

    @admin.display(description="资金", ordering="fund")
    def fund_label(self, entry: Entry) -> str:
        return FUNDS.label(entry.fund)


@admin.register(Account)
class AccountAdmin(ScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("name", "fund_label", "kind_label", "township", "village", "holder")
    list_filter = (
        _kind_filter(FUNDS, "资金", "fund"),
        _kind_filter(ACCOUNT_KINDS, "类别"),
        ("township", ScopedRelatedFilter),
    )
    list_select_related = ("township", "village", "holder")
    search_fields = ("name",)
    exclude = ("key",)  # the account's internal key (`township:3`): the page names the owner instead
    change_list_template = "admin/disbursements/account/change_list.html"

    @admin.display(description="类别", ordering="kind")
    def kind_label(self, account: Account) -> str:
        return account.kind_label

    @admin.display(description="资金", ordering="fund")
    def fund_label(self, account: Account) -> str:
        return account.fund_label

    def get_urls(self) -> list[Any]:
        return [
            path(
                "reconcile/", self.admin_site.admin_view(self.reconcile_view), name="disbursements_reconcile"
            ),
            *super().get_urls(),
        ]

    def reconcile_view(self, request: HttpRequest) -> HttpResponse:
        """资金对账 for city HQ, approvers and auditors: the same report as `manage.py reconcile`."""
        if (
            getattr(request.user, "role", "") not in ("city", "auditor", "approver")
            and not request.user.is_superuser
        ):
            raise PermissionDenied
        year = year_of(request)
        reports = reconcile(year=year)
        return TemplateResponse(
            request,
            "admin/disbursements/reconcile.html",
            {
                **self.admin_site.each_context(request),
                "reports": reports,
                "problems": [p for r in reports for p in r.problems],
                "year": year,
                "title": f"{year} 年度资金对账",
                "opts": self.model._meta,
            },
        )
