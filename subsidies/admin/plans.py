"""Policy (city HQ), plans and commitment letters in the admin. Reads scoped, writes through services."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.http import content_disposition_header
from django.utils.safestring import mark_safe

from households.admin_base import (
    FileLinksMixin,
    ReadOnlyAdminMixin,
    RoleActionsMixin,
    ScopedAdminMixin,
    ServiceImportMixin,
    job_url,
    money_column,
)
from households.jobs import JOB_KINDS, may_start
from households.models import Township
from households.scoping import visible
from households.search import code_lookup
from households.xlsx import area_name, issuer_for

from .. import services
from ..entitlements import (
    EXPORT_JOB_KIND,
    entitlements_file_name,
    entitlements_job_start,
    entitlements_title,
    write_entitlements,
)
from ..models import BreedingCategory, CommitmentLetter, HouseholdPlan, Policy, PolicyRevision, Species
from ..resources import PlanResource
from ..selectors import plans_for


class EntitlementsForm(forms.Form):
    year = forms.IntegerField(label="年度", min_value=2014, max_value=2030)
    township = forms.ModelChoiceField(
        label="乡镇", queryset=Township.objects.none(), required=False, empty_label="全市（各乡镇）"
    )


class BreedingCategoryInline(FileLinksMixin, admin.TabularInline):
    model = BreedingCategory
    extra = 0
    fields = ("code", "name", "unit", "rate", "cap", "fractional")


class SpeciesInline(FileLinksMixin, admin.TabularInline):
    model = Species
    extra = 1
    fields = ("name", "category", "special")
    verbose_name_plural = "养殖品种（含市指挥部增补的特种养殖，参照所选品类补助和封顶）"

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "category":
            policy_id = request.resolver_match.kwargs.get("object_id") if request.resolver_match else None
            kwargs["queryset"] = BreedingCategory.objects.filter(policy_id=policy_id or 0)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


def snapshot_lines(snapshot: dict[str, Any]) -> list[str]:
    """A policy version as city HQ reads it (the stored snapshot of `services.policy_snapshot`)."""

    def money(key: str, source: dict[str, Any] = snapshot) -> str:
        return f"{Decimal(str(source.get(key) or 0)):,.2f}"

    ratios = "、".join(
        f"{name} {Decimal(str(r)).normalize():f}%"
        for name, r in zip(("产前", "产中", "产后"), snapshot.get("tranche_percent") or (), strict=False)
    )
    years = f"{snapshot.get('eligible_exit_year')} 年度脱贫户"
    if snapshot.get("consolidation_exit_year"):
        years += f"，及列为巩固提升的 {snapshot['consolidation_exit_year']} 年度脱贫户"
    area_cap = Decimal(str(snapshot.get("planting_area_cap") or 0)).normalize()
    deadline, days = snapshot.get("commitment_deadline", ""), snapshot.get("notice_days", "")
    lines = [
        f"种植补助 {money('planting_rate')} 元/亩，面积按 {area_cap:f} 亩封顶",
        f"每户上限 {money('household_cap')} 元；拨付比例：{ratios}",
        f"扶持对象：{years}；承诺书 {deadline} 前签订；公示 {days} 天",
    ]
    categories = snapshot.get("categories") or {}
    if categories:
        lines.append(
            "养殖品类："
            + "；".join(
                f"{c.get('name', code)} {money('rate', c)} 元/{c.get('unit', '')}，封顶 {money('cap', c)} 元"
                for code, c in categories.items()
            )
        )
    species = snapshot.get("species") or {}
    if species:
        names = {code: c.get("name", code) for code, c in categories.items()}
        lines.append(
            "养殖品种：" + "、".join(f"{s}（{names.get(code, code)}）" for s, code in species.items())
        )
    return lines


class PolicyRevisionInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = PolicyRevision
    fields = ("version", "changed_at", "changed_by", "reason", "snapshot_text")
    readonly_fields = fields
    extra = 0

    @admin.display(description="政策内容")
    def snapshot_text(self, revision: PolicyRevision) -> str:
        lines = snapshot_lines(revision.snapshot)
        return format_html_join(mark_safe("<br>"), "{}", ((line,) for line in lines))


@admin.register(Policy)
class PolicyAdmin(FileLinksMixin, admin.ModelAdmin):
    list_display = (
        "year",
        "version",
        "planting_rate",
        "planting_area_cap",
        "household_cap",
        "commitment_deadline",
    )
    readonly_fields = ("version", "updated_at", "updated_by")
    inlines = (BreedingCategoryInline, SpeciesInline, PolicyRevisionInline)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # plans name their policy version: a policy is revised, never removed

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        revision = services.policy_record_revision(
            policy=form.instance,
            actor=request.user,  # type: ignore[arg-type]
            reason=request.POST.get("revision_reason", ""),
        )
        if revision is not None:
            messages.info(request, f"政策已更新为第 {revision.version} 版；已保存的计划仍按原版本的金额。")


class CommitmentInline(ReadOnlyAdminMixin, admin.StackedInline):
    model = CommitmentLetter
    fields = ("signed_on", "scan", "uploaded_by", "uploaded_at")
    readonly_fields = fields
    extra = 0


class YearFilter(admin.SimpleListFilter):
    title = "年度"
    parameter_name = "year"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[Any, str]]:
        return [(y, str(y)) for y in Policy.objects.order_by("-year").values_list("year", flat=True)]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        return queryset.filter(year=self.value()) if self.value() else queryset


class SpeciesFilter(admin.SimpleListFilter):
    """养殖品种: the choices are the policies' species, not a DISTINCT over every plan (issue 14)."""

    title = "养殖品种"
    parameter_name = "species"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[Any, str]]:
        names = Species.objects.order_by("name").values_list("name", flat=True).distinct()
        return [("", "无养殖"), *((n, n) for n in names)]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        value = self.value()
        return queryset if value is None else queryset.filter(species=value)


class LetterFilter(admin.SimpleListFilter):
    """承诺书: the plans whose letter is missing or no longer binds (the to-do panel links here)."""

    title = "到户承诺书"
    parameter_name = "letter"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[Any, str]]:
        return [("unsigned", "未签订或待重新签订")]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        from ..worklist import unsigned_letters

        return unsigned_letters(queryset) if self.value() == "unsigned" else queryset


@admin.register(HouseholdPlan)
class HouseholdPlanAdmin(ScopedAdminMixin, RoleActionsMixin, ServiceImportMixin, admin.ModelAdmin):
    list_display = (
        "household",
        "year",
        "status",
        "crops",
        "planting_area",
        "species",
        "breeding_quantity",
        "grant_yuan",
        "tranche1_yuan",
        "tranche2_yuan",
        "tranche3_yuan",
        "policy_version",
    )
    grant_yuan = money_column("grant_total", "补助合计（元）")
    tranche1_yuan = money_column("tranche1", "产前（元）")
    tranche2_yuan = money_column("tranche2", "产中（元）")
    tranche3_yuan = money_column("tranche3", "产后（元）")
    list_filter = (YearFilter, "status", LetterFilter, SpeciesFilter)
    list_select_related = ("household",)
    search_fields = ("household__code", "household__head_name")
    # `live` is the database's copy of what `status` says (for the indexes): not shown twice.
    readonly_fields = [f.name for f in HouseholdPlan._meta.fields if not f.generated]
    inlines = (CommitmentInline,)
    actions = ("submit_plans", "amend_plans", "approve_amendments")
    action_roles = {"approve_amendments": frozenset({"township"})}
    import_export_change_list_template = "admin/subsidies/householdplan/change_list.html"

    resource_classes = [PlanResource]
    import_title = "产业计划汇总表"
    import_command = "import_plans"
    import_help = (
        "必填列：户编号、年度；选填：种植品种、种植面积（亩）、养殖品种、养殖数量（每行最多一个养殖品种）。"
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # plans are entered on the cadre pages or imported

    def get_search_results(self, request: HttpRequest, queryset: Any, search_term: str) -> Any:
        by_code = code_lookup(queryset, search_term, to_household="household__")
        if by_code is not None:
            return by_code, False
        return super().get_search_results(request, queryset, search_term)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # amounts come from the rules; edits go through the cadre form or an amendment

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_import_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("subsidies.import_householdplan")

    def has_export_permission(self, request: HttpRequest) -> bool:
        return False  # the download is the 补助测算表 below

    def get_urls(self) -> list[Any]:
        return [
            path(
                "entitlements/",
                self.admin_site.admin_view(self.entitlements_view),
                name="subsidies_entitlements",
            ),
            *super().get_urls(),
        ]

    def entitlements_view(self, request: HttpRequest) -> HttpResponse:
        """补助测算表 for the households this user may see (`excel-formats.md` §3).

        A township or the city (whole townships) gets it from the background worker: a form (year, and
        for the city the township or the whole city), then the job's page and its download. Others
        (a village, the read-only roles) download it at once."""
        if not request.user.has_perm("subsidies.export_householdplan"):
            raise PermissionDenied
        try:
            year = int(request.GET.get("year", timezone.localdate().year))
        except ValueError:
            year = 2017
        if may_start(request.user, JOB_KINDS[EXPORT_JOB_KIND]):
            return self._entitlements_job(request, year)
        area = area_name(request.user)
        buffer = io.BytesIO()
        write_entitlements(
            plans_for(request.user, year),  # type: ignore[arg-type]
            buffer,
            title=entitlements_title(year, area),
            issuer=issuer_for(request.user),
        )
        response = HttpResponse(
            buffer.getvalue(),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        # RFC 6266 (filename*=utf-8''…): the Chinese name arrives intact in every browser.
        response["Content-Disposition"] = content_disposition_header(True, entitlements_file_name(year, area))
        return response

    def _entitlements_job(self, request: HttpRequest, year: int) -> HttpResponse:
        form = EntitlementsForm(request.POST or None, initial={"year": year})
        townships = visible(Township, request.user)
        if getattr(request.user, "role", "") == "township":
            del form.fields["township"]  # their own township
        else:
            form.fields["township"].queryset = townships  # type: ignore[attr-defined]
        if request.method == "POST" and form.is_valid():
            try:
                job = entitlements_job_start(
                    year=form.cleaned_data["year"],
                    actor=request.user,  # type: ignore[arg-type]
                    township=form.cleaned_data.get("township"),
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                return redirect(job_url(job))
        return TemplateResponse(
            request,
            "admin/job_start.html",
            {
                **self.admin_site.each_context(request),
                "form": form,
                "title": "生成补助测算表",
                "submit": "开始生成",
                "help": "全乡镇（或全市）的补助测算表由后台生成，完成后在任务页面下载。",
                "opts": self.model._meta,
            },
        )

    @admin.action(description="提交审批（冻结计划）", permissions=["submit"])
    def submit_plans(self, request: HttpRequest, queryset: Any) -> None:
        self._each(request, queryset, lambda p, actor: services.plan_submit(plan=p, actor=actor), "已提交")

    @admin.action(description="发起计划变更", permissions=["submit"])
    def amend_plans(self, request: HttpRequest, queryset: Any) -> None:
        self._each(request, queryset, lambda p, actor: services.plan_amend(plan=p, actor=actor), "已发起变更")

    @admin.action(description="审批计划变更（变更后的计划须已重新签订承诺书）")
    def approve_amendments(self, request: HttpRequest, queryset: Any) -> None:
        from ..money.settlement import amendment_approve  # the money side checks what was paid

        self._each(
            request,
            queryset,
            lambda plan, actor: amendment_approve(amendment=plan, actor=actor),
            "已审批变更",
        )

    def has_submit_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("subsidies.change_householdplan")

    def _each(self, request: HttpRequest, queryset: Any, action: Any, verb: str) -> None:
        done = self.each(request, queryset.select_related("household"), lambda p: action(p, request.user))
        if done:
            messages.success(request, f"{verb} {done} 份计划。")


@admin.register(CommitmentLetter)
class CommitmentLetterAdmin(ScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("plan", "signed_on", "uploaded_by", "uploaded_at")
    list_select_related = ("plan__household", "uploaded_by")
