"""公示 in the admin: issue (印发), print (打印, nothing recorded), the township's batch print in the
background, posting, objections and closing. Every write goes through `disbursements.notices`."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import content_disposition_header

from households.admin_base import RoleActionsMixin, ScopedAdminMixin, ScopedRelatedFilter, job_url
from households.models import Township, Village
from households.scoping import visible

from .. import notices
from ..approval import BATCH_KINDS
from ..models import Batch, Notice, Objection
from ..notices import NOTICE_KINDS


class ObjectionInline(admin.TabularInline):
    model = Objection
    fields = ("received_on", "raised_by", "content", "resolution", "resolved_on", "resolved_by")
    readonly_fields = ("resolved_by",)
    extra = 1

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class NoticeForm(forms.Form):
    kind = forms.ChoiceField(label="类别", choices=NOTICE_KINDS.choices)
    year = forms.IntegerField(label="年度", initial=2017)
    village = forms.ModelChoiceField(label="村委会", queryset=Village.objects.none())
    start = forms.DateField(label="公示开始日期", widget=forms.DateInput(attrs={"type": "date"}))
    days = forms.IntegerField(
        label="公示天数", min_value=7, initial=10, help_text="不少于 7 天，原则上 10 天"
    )
    contact = forms.CharField(label="异议受理联系人及电话", max_length=64, required=False)
    batch = forms.ModelChoiceField(
        label="须经公示的批次（可选）", queryset=Batch.objects.none(), required=False
    )


@admin.register(Notice)
class NoticeAdmin(ScopedAdminMixin, RoleActionsMixin, admin.ModelAdmin):
    list_display = (
        "title",
        "kind_label",
        "year",
        "level",
        "village",
        "period_start",
        "period_end",
        "status",
        "open_objections",
    )
    list_filter = ("year", "level", "status", ("village", ScopedRelatedFilter))
    list_select_related = ("village", "township")
    inlines = (ObjectionInline,)
    change_list_template = "admin/disbursements/notice/change_list.html"
    readonly_fields = (
        "kind_label",
        "year",
        "level",
        "township",
        "village",
        "group",
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
    fields = (*readonly_fields[:13], "posted_photo", *readonly_fields[13:])
    actions = ["close_notices"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Notice]:
        return super().get_queryset(request).prefetch_related("objections")

    @admin.display(description="类别", ordering="kind")
    def kind_label(self, notice: Notice) -> str:
        return notice.kind_label

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
            path("<int:pk>/pdf/", view(self.pdf_view), name="disbursements_notice_pdf"),
            *super().get_urls(),
        ]

    def issue_view(self, request: HttpRequest) -> HttpResponse:
        """印发公示: print a village's notice and record it (list and PDF frozen as issued)."""
        if getattr(request.user, "role", "") not in ("village", "township"):
            raise PermissionDenied
        form = NoticeForm(request.POST or None, initial={"start": timezone.localdate()})
        form.fields["village"].queryset = visible(Village, request.user)  # type: ignore[attr-defined]
        gated = [k.code for k in BATCH_KINDS if k.notice_gate is not None]
        form.fields["batch"].queryset = visible(Batch, request.user).filter(kind__in=gated)  # type: ignore[attr-defined]
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
        if getattr(request.user, "role", "") in notices.PRINT_JOB_ROLES or request.user.is_superuser:
            form.fields["township"].queryset = visible(Township, request.user)  # type: ignore[attr-defined]
        else:  # read-only roles print one village at a time: a batch print writes a job and a file
            del form.fields["township"]
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
                    response["Content-Disposition"] = (
                        content_disposition_header(False, f"{sheet.title}（预览）.pdf") or ""
                    )
                    return response
                if data.get("township"):
                    job = notices.print_job_start(
                        kind=data["kind"],
                        year=data["year"],
                        township=data["township"],
                        actor=request.user,  # type: ignore[arg-type]
                    )
                    return redirect(job_url(job))
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

    def pdf_view(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        notice = self.get_queryset(request).filter(pk=pk).first()
        if notice is None:
            raise Http404
        return FileResponse(
            notice.pdf.open("rb"), content_type="application/pdf", filename=f"{notice.title}.pdf"
        )


class PrintForm(forms.Form):
    kind = forms.ChoiceField(label="类别", choices=NOTICE_KINDS.choices)
    year = forms.IntegerField(label="年度", initial=2017)
    village = forms.ModelChoiceField(
        label="村委会（打印一个村）", queryset=Village.objects.none(), required=False
    )
    township = forms.ModelChoiceField(
        label="或乡镇（全乡镇各村，后台生成）", queryset=Township.objects.none(), required=False
    )
