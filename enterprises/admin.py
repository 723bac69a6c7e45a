"""The organisation programme in the admin: organisations (with their linked and qualified households,
incentive and 推荐申报), agreements (entered or imported), assessments (entered, confirmed), incentives
and the year's policy. Thin: every write goes through `enterprises.services`."""

from __future__ import annotations

import io
import threading
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
)
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from disbursements.admin.common import year_of
from households.admin_base import (
    FileLinksMixin,
    ReadOnlyAdminMixin,
    RoleActionsMixin,
    ScopedAdminMixin,
    ScopedRelatedFilter,
    ServiceImportMixin,
    money_column,
    yes_no,
)
from households.masking import mask_id_number
from households.models import Household, Township
from households.scoping import scoped
from households.xlsx import area_name, file_name

from . import selectors, services
from .models import Agreement, Assessment, Incentive, IncentivePolicy, IncentivePolicyRevision, Organisation
from .resources import AgreementResource, AssessmentResource


class RecommendedFilter(admin.SimpleListFilter):
    title = "推荐申报"
    parameter_name = "recommended"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "推荐申报"), ("no", "未列入")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "yes":
            return queryset.filter(recommended_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(recommended_at__isnull=True)
        return queryset


def page_year(request: HttpRequest) -> int:
    """The year an organisation page shows: ?year=, else the current programme year."""
    return year_of(request, default=services.default_year())


class YearFilter(admin.SimpleListFilter):
    """The year the list counts (帮扶户数, 考核合格户, 奖补): one of the policy years, never "all"."""

    title = "年度"
    parameter_name = "year"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        years = services.policy_years() or [services.default_year()]
        return [(str(y), f"{y}年") for y in years]

    def __init__(self, request: HttpRequest, *args: Any, **kwargs: Any) -> None:
        self.year = page_year(request)
        super().__init__(request, *args, **kwargs)

    def choices(self, changelist: Any) -> Any:
        current = str(self.year)
        for value, label in self.lookup_choices:
            yield {
                "selected": current == str(value),
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset  # the year chooses the counts (get_queryset), not the organisations


class OrganisationForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Organisation
        fields = (
            "name",
            "kind",
            "operating_model",
            "credit_code",
            "leader_name",
            "leader_id_number",
            "phone",
            "township",
            "industry",
            "bank_name",
            "bank_account",
        )


class AgreementInline(ReadOnlyAdminMixin, admin.TabularInline):  # type: ignore[type-arg]
    model = Agreement
    fk_name = "organisation"
    extra = 0
    verbose_name_plural = "帮扶协议与考核"
    fields = ("household", "year", "industry", "ways_text", "counts", "per_capita", "qualified")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Agreement]:
        return scoped(super().get_queryset(request), request.user).select_related("household", "assessment")

    @admin.display(description="帮扶方式")
    def ways_text(self, agreement: Agreement) -> str:
        return "、".join(agreement.ways)

    @admin.display(description="人均产业收入（元）")
    def per_capita(self, agreement: Agreement) -> str:
        assessment = getattr(agreement, "assessment", None)
        return f"{assessment.per_capita:,.2f}" if assessment else "未考核"

    @admin.display(description="考核合格")
    def qualified(self, agreement: Agreement) -> str:
        assessment = getattr(agreement, "assessment", None)
        return yes_no(bool(assessment and assessment.qualified))


class IncentiveInline(ReadOnlyAdminMixin, admin.TabularInline):  # type: ignore[type-arg]
    model = Incentive
    extra = 0
    verbose_name_plural = "奖补与兑现"
    fields = ("year", "households", "amount_yuan", "batch_link", "paid", "cancelled_at")
    readonly_fields = fields

    @admin.display(description="奖补金额（元）")
    def amount_yuan(self, incentive: Incentive) -> str:
        return f"{incentive.amount:,.2f}"

    @admin.display(description="批次")
    def batch_link(self, incentive: Incentive) -> str:
        batch = incentive.line.batch
        url = reverse("admin:disbursements_batch_change", args=[batch.pk])
        return format_html('<a href="{}">{}（{}）</a>', url, batch, batch.status_label)

    @admin.display(description="兑现")
    def paid(self, incentive: Incentive) -> str:
        payout = getattr(incentive.line, "payout", None)
        if payout is None or payout.reversed_at is not None:
            return "未兑现"
        return f"{payout.paid_on:%Y-%m-%d} {payout.get_method_display()} {payout.amount:,.2f} 元"


@admin.register(Organisation)
class OrganisationAdmin(ScopedAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    form = OrganisationForm
    list_display = (
        "name",
        "kind",
        "operating_model",
        "township",
        "industry",
        "linked",
        "qualified",
        "incentive_yuan",
        "recommended_display",
    )
    list_filter = (YearFilter, "kind", "operating_model", "township", RecommendedFilter, "needs_completion")
    search_fields = ("name", "credit_code", "leader_name")
    inlines = (AgreementInline, IncentiveInline)
    change_list_template = "admin/enterprises/organisation/change_list.html"
    _page = threading.local()  # the year of the change page being drawn (display methods see only the row)

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        return super().changelist_view(request, {**(extra_context or {}), "year": page_year(request)})

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> Any:
        self._page.year = page_year(request)
        return super().change_view(request, object_id, form_url, extra_context)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Organisation]:
        year = page_year(request)
        agreements = Agreement.objects.filter(organisation=OuterRef("pk"), year=year)
        linked = agreements.values("organisation").annotate(n=Count("pk")).values("n")
        qualified = (
            agreements.filter(counts=True, assessment__reaches=True, assessment__confirmed_at__isnull=False)
            .values("organisation")
            .annotate(n=Count("pk"))
            .values("n")
        )
        paid = (
            Incentive.objects.filter(organisation=OuterRef("pk"), year=year, cancelled_at__isnull=True)
            .values("organisation")
            .annotate(s=Sum("amount"))
            .values("s")
        )
        return (
            super()
            .get_queryset(request)
            .select_related("township")
            .annotate(
                linked_n=Coalesce(Subquery(linked), 0),
                qualified_n=Coalesce(Subquery(qualified), 0),
                incentive_sum=Subquery(paid),
            )
        )

    @admin.display(description="帮扶户数", ordering="linked_n")
    def linked(self, organisation: Any) -> int:
        return int(organisation.linked_n)

    @admin.display(description="考核合格户", ordering="qualified_n")
    def qualified(self, organisation: Any) -> int:
        return int(organisation.qualified_n)

    @admin.display(description="奖补（元）")
    def incentive_yuan(self, organisation: Any) -> str:
        value = organisation.incentive_sum
        return f"{Decimal(value):,.2f}" if value is not None else "—"

    @admin.display(description="推荐申报")
    def recommended_display(self, organisation: Organisation) -> str:
        return yes_no(organisation.recommended)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(OrganisationForm.Meta.fields)
        if getattr(request.user, "role", "") == "township":
            fields.remove("township")  # a township registers the organisations it supervises
        if obj is not None:
            fields += ["masked_leader_id", "recommended_at", "incentive_explanation"]
            if obj.needs_completion:  # carried over from a bare equity partner: everything is asked for
                fields.insert(0, "needs_completion")
            else:
                fields.remove("leader_id_number")
        return fields

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        base = list(super().get_readonly_fields(request, obj))
        return (
            [*base, "needs_completion", "masked_leader_id", "recommended_at", "incentive_explanation"]
            if obj is not None
            else base
        )

    @admin.display(description="负责人身份证号")
    def masked_leader_id(self, organisation: Organisation) -> str:
        return mask_id_number(organisation.leader_id_number)

    @admin.display(description="年度奖补测算")
    def incentive_explanation(self, organisation: Organisation) -> str:
        year = getattr(self._page, "year", None) or services.default_year()
        bold = mark_safe(' style="font-weight:bold"')
        years = format_html_join(
            " ",
            '<a href="?year={}"{}>{}年</a>',
            ((y, bold if y == year else "", y) for y in services.policy_years()),
        )
        try:
            quote = services.incentive_quote(organisation, year)
        except ValidationError as exc:
            return format_html("<div>年度：{}</div><div>{}</div>", years, exc.messages[0])
        lines = format_html_join("", "<div>{}</div>", ((line,) for line in quote.lines))
        return format_html("<div>年度：{}</div><div><b>{}年度</b></div>{}", years, year, lines)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if not super().has_change_permission(request, obj):
            return False
        if obj is not None and getattr(request.user, "role", "") == "township":
            return obj.township_id == request.user.township_id  # type: ignore[union-attr]
        return True

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Organisation, form: Any, change: bool) -> None:
        if change:
            obj.full_clean()
            obj.needs_completion = False  # the form asked for everything the register needs
            obj.save()
            return
        data = {k: v for k, v in form.cleaned_data.items() if k in OrganisationForm.Meta.fields}
        try:
            created = services.organisation_register(actor=request.user, **data)  # type: ignore[arg-type]
        except ValidationError as exc:
            raise PermissionDenied(exc.messages[0]) from None
        obj.pk = created.pk

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        user = request.user

        class TownshipForm(form):  # type: ignore[valid-type, misc]
            def _post_clean(self) -> None:
                if getattr(user, "role", "") == "township" and self.instance.township_id is None:
                    self.instance.township_id = user.township_id  # type: ignore[union-attr]
                super()._post_clean()

        return TownshipForm

    # --- the township's incentive batch ---------------------------------------------------------------

    def get_urls(self) -> list[Any]:
        return [
            path(
                "incentive-batch/",
                self.admin_site.admin_view(self.incentive_batch_view),
                name="enterprises_incentive_batch",
            ),
            path(
                "assessment-sheet/",
                self.admin_site.admin_view(self.assessment_sheet_view),
                name="enterprises_assessment_sheet",
            ),
            *super().get_urls(),
        ]

    def assessment_sheet_view(self, request: HttpRequest) -> HttpResponseBase:
        """组织带贫考核表 (xlsx) of what the user sees: a township's, or the city's."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        year = page_year(request)
        buffer = io.BytesIO()
        selectors.assessment_sheet_write(buffer, user=request.user, year=year)  # type: ignore[arg-type]
        name = file_name(f"{year}年组织带贫考核表", area_name(request.user))
        return FileResponse(
            io.BytesIO(buffer.getvalue()),
            as_attachment=True,
            filename=name,
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )

    def incentive_batch_view(self, request: HttpRequest) -> HttpResponse:
        """生成奖补批次: the township's organisations whose confirmed households earn an incentive."""
        user = request.user
        if getattr(user, "role", "") not in ("township", "city") and not user.is_superuser:
            raise PermissionDenied("奖补批次由乡镇或市指挥部生成。")
        townships = scoped(Township.objects.all(), user)
        form = IncentiveBatchForm(
            request.POST or None, townships=townships, initial={"year": page_year(request)}
        )
        if request.method == "POST" and form.is_valid():
            try:
                batch = services.incentive_batch_prepare(
                    actor=user,  # type: ignore[arg-type]
                    township=form.cleaned_data["township"],
                    year=form.cleaned_data["year"],
                )
            except ValidationError as exc:
                form.add_error(None, exc.messages[0])
            else:
                self.message_user(
                    request, f"已生成 {batch}：{batch.line_count} 家，合计 {batch.total:,.2f} 元。"
                )
                return HttpResponseRedirect(reverse("admin:disbursements_batch_change", args=[batch.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": "生成带贫组织奖补批次",
            "form": form,
            "submit": "生成奖补批次",
            "help": "列入本乡镇监管的、考核合格户数达到奖补条件且本年度尚未列入批次的组织；"
            "批次须先经公示，再由乡镇考核确认、市指挥部复核、产业办审批，最后兑现到组织的银行账户。",
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/job_start.html", context)


class IncentiveBatchForm(forms.Form):
    year = forms.IntegerField(label="年度", min_value=2017, max_value=2100)
    township = forms.ModelChoiceField(label="乡镇", queryset=Township.objects.none())

    def __init__(self, *args: Any, townships: QuerySet[Township], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["township"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = townships
        if townships.count() == 1:
            field.initial = townships.first()


class AgreementForm(forms.ModelForm):  # type: ignore[type-arg]
    ways = forms.MultipleChoiceField(label="帮扶方式", widget=forms.CheckboxSelectMultiple, choices=())

    class Meta:
        model = Agreement
        fields = (
            "organisation",
            "household",
            "year",
            "ways",
            "industry",
            "signed_on",
            "starts_on",
            "ends_on",
            "counts",
            "scan",
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        ways: list[str] = []
        for policy in IncentivePolicy.objects.order_by("year"):
            ways += [w for w in policy.support_ways if w not in ways]
        field = self.fields["ways"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = [(w, w) for w in ways]
        if "year" in self.fields:  # a read-only page has no year field
            self.fields["year"].initial = services.default_year()

    def clean(self) -> Any:
        """The service's refusals shown on the form (the service checks again under the lock)."""
        data = super().clean() or {}
        household, year, counts = data.get("household"), data.get("year"), data.get("counts")
        if household is not None and year and counts:
            first = services.claims_of([household.pk], year).get(household.pk)
            if first is not None:
                raise forms.ValidationError(services.MSG_CLAIMED.format(year=year, organisation=first))
        return data

    def _post_clean(self) -> None:
        pass  # the service validates and saves


@admin.register(Agreement)
class AgreementAdmin(ScopedAdminMixin, ServiceImportMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    form = AgreementForm
    list_display = (
        "organisation",
        "household",
        "year",
        "industry",
        "ways_text",
        "counts",
        "per_capita",
        "qualified",
        "pdf_link",
    )
    list_filter = ("year", "counts", "organisation__kind", "organisation__township")
    list_select_related = ("organisation", "household", "assessment")
    search_fields = ("organisation__name", "household__code", "household__head_name")
    resource_classes = [AgreementResource]
    import_title = "帮扶协议导入表"
    import_command = "import_agreements"
    import_help = (
        "必填列：组织名称、户编号、年度、帮扶方式（多个用“、”分隔）、产业、签订日期、开始日期、结束日期；"
        "选填：计入本组织奖补（是/否，空白为是；一户一年只计入一个组织）。"
    )

    @admin.display(description="帮扶方式")
    def ways_text(self, agreement: Agreement) -> str:
        return "、".join(agreement.ways)

    @admin.display(description="人均产业收入（元）")
    def per_capita(self, agreement: Agreement) -> str:
        assessment = getattr(agreement, "assessment", None)
        return f"{assessment.per_capita:,.2f}" if assessment else "未考核"

    @admin.display(description="考核合格")
    def qualified(self, agreement: Agreement) -> str:
        assessment = getattr(agreement, "assessment", None)
        return yes_no(bool(assessment and assessment.qualified))

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "household" and getattr(request.user, "role", "") == "township":
            # The supervising township signs its organisations up with households of any township.
            kwargs["queryset"] = Household.objects.all()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False if obj is not None else super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_import_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("enterprises.import_agreement")

    def get_list_display(self, request: HttpRequest) -> Any:
        if getattr(request.user, "role", "") in ("cadre", "village"):
            return ("household", "organisation", "industry", "qualified")  # fits a phone
        return super().get_list_display(request)

    def has_export_permission(self, request: HttpRequest) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Agreement, form: Any, change: bool) -> None:
        data = form.cleaned_data
        try:
            created = services.agreement_create(
                actor=request.user,  # type: ignore[arg-type]
                organisation=data["organisation"],
                household=data["household"],
                year=data["year"],
                ways=data["ways"],
                industry=data["industry"],
                signed_on=data["signed_on"],
                starts_on=data["starts_on"],
                ends_on=data["ends_on"],
                counts=data["counts"],
                scan=data.get("scan") or None,
            )
        except ValidationError as exc:
            raise PermissionDenied(exc.messages[0]) from None
        obj.pk, obj.organisation, obj.household, obj.year = (
            created.pk,
            created.organisation,
            created.household,
            created.year,
        )

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        pass

    def get_urls(self) -> list[Any]:
        return [
            path(
                "<int:pk>/pdf/",
                self.admin_site.admin_view(self.pdf_view),
                name="enterprises_agreement_pdf",
            ),
            *super().get_urls(),
        ]

    def pdf_view(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        """The printable agreement, for whoever may see it (found through the scoped queryset)."""
        agreement = (
            self.get_queryset(request)
            .filter(pk=pk)
            .select_related("organisation__township", "household__village__township")
            .first()
        )
        if agreement is None:
            raise Http404("没有这份协议，或不在您的管辖范围内。")
        pdf = selectors.agreement_pdf(agreement)
        name = f"帮扶协议-{agreement.household.code}-{agreement.organisation.name}-{agreement.year}.pdf"
        return FileResponse(io.BytesIO(pdf), filename=name, content_type="application/pdf")

    @admin.display(description="协议文本")
    def pdf_link(self, agreement: Agreement) -> str:
        return format_html(
            '<a href="{}">打印协议</a>', reverse("admin:enterprises_agreement_pdf", args=[agreement.pk])
        )


class ConfirmedFilter(admin.SimpleListFilter):
    title = "考核合格确认"
    parameter_name = "confirmed"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "已确认合格"), ("no", "达标待确认"), ("below", "未达标")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "yes":
            return queryset.filter(confirmed_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(reaches=True, confirmed_at__isnull=True)
        if self.value() == "below":
            return queryset.filter(reaches=False)
        return queryset


class AssessmentForm(forms.ModelForm):  # type: ignore[type-arg]
    size = forms.IntegerField(
        label="家庭人口", min_value=1, required=False, help_text="空白：取该户登记的家庭人口"
    )

    class Meta:
        model = Assessment
        fields = ("agreement", "income", "size", "evidence")

    def _post_clean(self) -> None:
        pass  # the service computes, validates and saves


@admin.register(Assessment)
class AssessmentAdmin(ScopedAdminMixin, RoleActionsMixin, ServiceImportMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    form = AssessmentForm
    resource_classes = [AssessmentResource]
    import_title = "考核记录导入表"
    import_command = "import_assessments"
    import_help = (
        "必填列：年度、户编号、该产业家庭收入（元），以及组织统一社会信用代码或组织名称（至少一项）；"
        "选填：家庭人口（空白取该户现有人口）、考核合格（是/否，空白为否；填“是”须人均产业收入达到标准）。"
        "只能导入本乡镇监管的组织的考核；已计入奖补批次的考核不能再改。佐证材料请在考核记录页上传。"
    )
    list_display = (
        "organisation",
        "household",
        "income_yuan",
        "size",
        "per_capita_yuan",
        "reaches",
        "confirmed_display",
    )
    income_yuan = money_column("income", "产业收入（元）")
    per_capita_yuan = money_column("per_capita", "人均产业收入（元）")
    list_filter = ("agreement__year", ConfirmedFilter, ("agreement__organisation", ScopedRelatedFilter))
    list_select_related = ("agreement__organisation", "agreement__household")
    search_fields = (
        "agreement__organisation__name",
        "agreement__household__code",
        "agreement__household__head_name",
    )
    actions = ("confirm",)
    action_roles = {"confirm": frozenset({"township", "city"})}

    def has_import_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("enterprises.import_assessment")

    def has_export_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="带贫组织", ordering="agreement__organisation__name")
    def organisation(self, assessment: Assessment) -> str:
        return assessment.agreement.organisation.name

    @admin.display(description="贫困户")
    def household(self, assessment: Assessment) -> str:
        return str(assessment.agreement.household)

    @admin.display(description="考核合格")
    def confirmed_display(self, assessment: Assessment) -> str:
        return yes_no(assessment.qualified)

    @admin.action(description="确认考核合格（乡镇）")
    def confirm(self, request: HttpRequest, queryset: QuerySet[Assessment]) -> None:
        try:
            n = services.assessments_confirm(actor=request.user, assessments=list(queryset))  # type: ignore[arg-type]
        except ValidationError as exc:
            self.message_user(request, exc.messages[0], messages.ERROR)
            return
        self.message_user(request, f"已确认 {n} 户考核合格。")

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "agreement":
            agreements = scoped(Agreement.objects.select_related("organisation", "household"), request.user)
            if getattr(request.user, "role", "") == "township":
                agreements = agreements.filter(organisation__township=request.user.township_id)  # type: ignore[union-attr]
            kwargs["queryset"] = agreements.filter(assessment__isnull=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None:
            return [f.name for f in Assessment._meta.fields]
        return ()

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        field = form.base_fields.get("agreement")
        widget: Any = field.widget if field is not None else None
        if widget is not None:  # an agreement is chosen here, never added or edited from this form
            widget.can_add_related = widget.can_change_related = widget.can_view_related = False
        return form

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None:
            return [f.name for f in Assessment._meta.fields if f.name != "id"]
        return AssessmentForm.Meta.fields

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False if obj is not None else super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Assessment, form: Any, change: bool) -> None:
        data = form.cleaned_data
        try:
            created = services.assessment_record(
                actor=request.user,  # type: ignore[arg-type]
                agreement=data["agreement"],
                income=data["income"],
                size=data.get("size"),
                evidence=data.get("evidence") or None,
            )
        except ValidationError as exc:
            raise PermissionDenied(exc.messages[0]) from None
        obj.pk, obj.agreement = created.pk, created.agreement
        self.message_user(
            request,
            f"人均产业收入 {created.per_capita:,.2f} 元，"
            + ("达到标准，待确认考核合格。" if created.reaches else "未达到标准。"),
        )

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        pass


@admin.register(Incentive)
class IncentiveAdmin(ScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("organisation", "year", "households", "amount_yuan", "status", "cancelled_at")
    amount_yuan = money_column("amount", "奖补金额（元）")
    list_filter = ("year",)
    list_select_related = ("organisation", "line__batch")
    readonly_fields = ("organisation", "year", "households", "amount", "policy_version", "explanation_text")
    fields = readonly_fields

    @admin.display(description="批次状态")
    def status(self, incentive: Incentive) -> str:
        return incentive.line.batch.status_label

    @admin.display(description="计算说明")
    def explanation_text(self, incentive: Incentive) -> str:
        return format_html_join("", "<div>{}</div>", ((line,) for line in incentive.explanation))


class LinesField(forms.CharField):
    """A list of short texts edited one per line (never as JSON)."""

    widget = forms.Textarea(attrs={"rows": 12, "cols": 30})

    def prepare_value(self, value: Any) -> Any:
        return "\n".join(value) if isinstance(value, list) else value

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        text = super().to_python(value) or ""
        lines: list[str] = []
        for line in str(text).splitlines():
            if line.strip() and line.strip() not in lines:
                lines.append(line.strip())
        return lines


class IncentivePolicyForm(forms.ModelForm):  # type: ignore[type-arg]
    support_ways = LinesField(label="帮扶方式（每行一种）")
    reason = forms.CharField(
        label="修改原因",
        max_length=200,
        required=False,
        help_text="修改已有政策时必填；记入下方的修改记录。",
    )

    class Meta:
        model = IncentivePolicy
        fields = ("year", "threshold", "base", "step", "minimum", "support_ways")


class IncentivePolicyRevisionInline(ReadOnlyAdminMixin, admin.TabularInline):  # type: ignore[type-arg]
    model = IncentivePolicyRevision
    verbose_name_plural = "修改记录（只增不改）"
    fields = ("version", "changed_at", "changed_by", "reason", "changes_text")
    readonly_fields = fields
    extra = 0

    @admin.display(description="修改内容")
    def changes_text(self, revision: IncentivePolicyRevision) -> str:
        if not revision.changes:
            return "（首次记录的政策）"
        return format_html_join(
            mark_safe("<br>"), "{}：{} → {}", ((k, old, new) for k, (old, new) in revision.changes.items())
        )


@admin.register(IncentivePolicy)
class IncentivePolicyAdmin(FileLinksMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    form = IncentivePolicyForm
    list_display = ("year", "version", "threshold", "base", "step", "minimum")
    readonly_fields = ("version", "updated_at")
    inlines = (IncentivePolicyRevisionInline,)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ("year", "version", "updated_at") if obj is not None else self.readonly_fields

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_fields(request, obj))
        if obj is not None and not self.has_change_permission(request, obj):
            fields.remove("reason")  # a reader's page: nothing to give a reason for
        return fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser or getattr(request.user, "role", "") == "city"

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change, **kwargs)

        class CheckedPolicyForm(form):  # type: ignore[valid-type, misc]
            def clean(self) -> Any:
                """The service's refusal (a change without a reason) shown on the form."""
                data = super().clean()
                changed = [f for f in self.changed_data if f != "reason"]
                if self.instance.pk is not None and changed and not (data or {}).get("reason"):
                    self.add_error("reason", services.MSG_POLICY_REASON)
                return data

        return CheckedPolicyForm

    def save_model(self, request: HttpRequest, obj: IncentivePolicy, form: Any, change: bool) -> None:
        """Through the service: the version, the revision row (who, when, what, why) and the lock."""
        try:
            revision = services.incentive_policy_save(
                policy=obj,
                actor=request.user,  # type: ignore[arg-type]
                reason=form.cleaned_data.get("reason", ""),
            )
        except ValidationError as exc:
            raise PermissionDenied(exc.messages[0]) from None
        if revision is not None and change:
            messages.info(request, f"政策已更新为第 {revision.version} 版；已生成的奖补仍按原版本计算。")
