"""City HQ's page on the village funds: record the programme's money arriving (专项资金到位) and
allocate every poor village's fund for the year at once (`services.funds_allocate_all`). Mixed into
the village fund admin (`admin.py`); the services check the role and the balance again."""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from disbursements.admin.common import year_of
from disbursements.money import to_fen
from households.admin_base import ScopedAdminMixin
from households.models import Village

from . import report, services
from .models import MemberIncome, ProgrammeFunding, VillageFund, YearEndReport


class BudgetForm(forms.Form):
    amount = forms.DecimalField(label="到位金额（元）", max_digits=14, decimal_places=2, min_value=0.01)
    received_on = forms.DateField(label="到位日期", widget=forms.DateInput(attrs={"type": "date"}))
    reference = forms.CharField(label="文号/凭证号", max_length=64, help_text="同一文号只登记一次")

    def clean_received_on(self) -> datetime.date:
        day: datetime.date = self.cleaned_data["received_on"]
        if day > timezone.localdate():
            raise forms.ValidationError("到位日期不能晚于今天。")
        return day


class FundAllocationMixin:
    """一次下拨 on the village fund list, for city HQ."""

    change_list_template = "admin/collectives/villagefund_allocate_change_list.html"

    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view  # type: ignore[attr-defined]
        return [
            path("allocate/", wrap(self.allocate_view), name="collectives_villagefund_allocate"),
            *super().get_urls(),  # type: ignore[misc]
        ]

    def allocate_view(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if getattr(user, "role", "") != "city" and not user.is_superuser:
            raise PermissionDenied("扶持资金由市指挥部下拨。")
        year = year_of(request)
        budget = BudgetForm(request.POST if "_budget" in request.POST else None)
        if request.method == "POST":
            try:
                if "_budget" in request.POST:
                    if budget.is_valid():
                        funding = services.budget_receive(year=year, actor=user, **budget.cleaned_data)  # type: ignore[arg-type]
                        messages.success(request, f"已登记专项资金到位：{funding}。")
                        return HttpResponseRedirect(request.path + f"?year={year}")
                elif "_allocate" in request.POST:
                    funds = services.funds_allocate_all(year=year, actor=user)  # type: ignore[arg-type]
                    if funds:
                        total = sum((to_fen(f.amount) for f in funds), to_fen(0))
                        messages.success(
                            request,
                            f"已向 {len(funds)} 个贫困村下拨 {year} 年扶持资金，合计 {total:,.2f} 元。",
                        )
                    else:
                        messages.info(request, f"{year} 年全部贫困村的扶持资金均已下拨，没有改动。")
                    return HttpResponseRedirect(request.path + f"?year={year}")
            except ValidationError as exc:
                messages.error(request, "；".join(exc.messages))
        funded = VillageFund.objects.filter(year=year).values("village")
        waiting = list(
            Village.objects.filter(is_poor_village=True)
            .exclude(pk__in=funded)
            .select_related("township")
            .order_by("township__name", "name")
        )
        amount = to_fen(services.policy_for(year).fund_amount)
        context = {
            **self.admin_site.each_context(request),  # type: ignore[attr-defined]
            "title": f"{year} 年村集体经济扶持资金下拨",
            "year": year,
            "balance": services.city_balance(year),
            "fundings": ProgrammeFunding.objects.filter(year=year).order_by("received_on", "pk"),
            "waiting": waiting,
            "amount": amount,
            "need": amount * len(waiting),
            "funded": VillageFund.objects.filter(year=year).count(),
            "budget_form": budget,
            "opts": self.model._meta,  # type: ignore[attr-defined]
            "list_url": reverse("admin:collectives_villagefund_changelist"),
        }
        return TemplateResponse(request, "admin/collectives/villagefund_allocate.html", context)


class MemberIncomeForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = MemberIncome
        fields = ("fund", "household", "before", "after", "source")

    def clean(self) -> Any:
        """The service's refusals shown on the form (it checks again when saving)."""
        data = super().clean() or {}
        fund, household = data.get("fund"), data.get("household")
        if (
            fund is not None
            and household is not None
            and not report.reached_households(fund).filter(pk=household.pk).exists()
        ):
            raise forms.ValidationError(report.MSG_NOT_REACHED.format(name=household.head_name))
        for name in ("before", "after"):
            if data.get(name) is not None and data[name] < 0:
                self.add_error(name, "收入不能为负数。")
        if fund is not None and YearEndReport.objects.filter(fund=fund, submitted_on__isnull=False).exists():
            raise forms.ValidationError("报告已报市指挥部，收入数据不能再改。")
        return data

    def _post_clean(self) -> None:
        pass  # the service validates and saves


@admin.register(MemberIncome)
class MemberIncomeAdmin(ScopedAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    """受益户收入变化, entered by the village from its survey; the year-end report averages them."""

    form = MemberIncomeForm
    list_display = ("household", "village", "fund", "before", "after", "change", "source")
    list_select_related = ("household", "village", "fund__village")

    @admin.display(description="增加（元）")
    def change(self, row: MemberIncome) -> str:
        return f"{to_fen(row.after) - to_fen(row.before):,.2f}"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return getattr(request.user, "role", "") == "village" or request.user.is_superuser

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False if obj is not None else self.has_add_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: MemberIncome, form: Any, change: bool) -> None:
        saved = report.income_record(
            fund=form.cleaned_data["fund"],
            household=form.cleaned_data["household"],
            before=form.cleaned_data["before"],
            after=form.cleaned_data["after"],
            source=form.cleaned_data.get("source") or "",
            actor=request.user,  # type: ignore[arg-type]
        )
        obj.pk, obj.fund, obj.household, obj.village_id = (
            saved.pk,
            saved.fund,
            saved.household,
            saved.village_id,
        )
        obj.before, obj.after = saved.before, saved.after
