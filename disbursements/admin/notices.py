"""公示 in the admin: issue (印发), print (打印, nothing recorded), the township's batch print in the
background, and a notice's own steps — 登记张贴 (a photo and the date), 登记异议 (naming the row it
is about), 处理异议, 结束公示 — each a page of its own. Every write goes through `disbursements.notices`.
"""

from __future__ import annotations

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
from django.utils.html import format_html
from django.utils.http import content_disposition_header

from households.admin_base import (
    ReadOnlyAdminMixin,
    RoleActionsMixin,
    ScopedAdminMixin,
    ScopedRelatedFilter,
    job_url,
)
from households.masking import mask_phone
from households.models import Township, Village
from households.scoping import visible

from .. import notices
from ..approval import BATCH_KINDS
from ..models import Batch, Notice, Objection
from ..money import yuan
from ..notices import NOTICE_KINDS

# 印发 and 打印 in one sentence each, on the list and on their own pages.
HELP_ISSUE = (
    "印发＝冻结本村此刻的公示名单、生成张贴用的 PDF 并记入公示台账（此后名单不随计划变动），"
    "贴出后再“登记张贴”上传现场照片。"
)
HELP_PRINT = (
    "打印＝按当前数据生成 PDF，不记录、不冻结名单：用于印发前预览或全乡镇各村批量打印；"
    "补打已印发的公示，请在该公示页面下载“印发原件”。"
)


def iso_date_input() -> forms.DateInput:
    """`<input type=date>` accepts only ISO dates (2017-03-01), whatever the locale's format."""
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class ObjectionInline(ScopedAdminMixin, ReadOnlyAdminMixin, admin.TabularInline):
    """The notice's objections, read-only: recorded and resolved on their own pages (the services)."""

    model = Objection
    fields = (
        "about",
        "received_on",
        "source",
        "content",
        "resolution",
        "resolved_on",
        "resolved_by",
        "handle",
    )
    readonly_fields = fields
    extra = 0

    @admin.display(description="涉及对象")
    def about(self, objection: Objection) -> str:
        if objection.row is None:
            return "（未指明）"
        return f"{objection.row}. {objection.payee_name}"

    @admin.display(description="反映人")
    def source(self, objection: Objection) -> str:
        """Who raised it and how; an online objector's phone masked (the full number is for calling
        back, from the objection's own record)."""
        if objection.channel == Objection.Channel.ONLINE:
            return f"{objection.raised_by}（网上提交，{mask_phone(objection.phone)}）"
        return objection.raised_by

    @admin.display(description="处理")
    def handle(self, objection: Objection) -> str:
        if not objection.is_open:
            return "已处理"
        url = reverse("admin:disbursements_notice_resolve", args=[objection.pk])
        return format_html('<a class="button" href="{}">处理异议</a>', url)


class NoticeForm(forms.Form):
    kind = forms.ChoiceField(label="类别", choices=NOTICE_KINDS.choices)
    year = forms.IntegerField(label="年度", initial=2017)
    village = forms.ModelChoiceField(label="村委会", queryset=Village.objects.none(), required=False)
    # A kind published at township level (e.g. organisation incentives): the township, no village.
    township = forms.ModelChoiceField(
        label="乡镇（乡镇级公示）",
        queryset=Township.objects.none(),
        required=False,
        help_text="乡镇级公示（如带贫组织奖补）选乡镇、不选村委会",
    )
    start = forms.DateField(label="公示开始日期", widget=iso_date_input(), initial=timezone.localdate)
    days = forms.IntegerField(
        label="公示天数", min_value=7, initial=10, help_text="不少于 7 天，原则上 10 天"
    )
    contact = forms.CharField(label="异议受理联系人及电话", max_length=64, required=False)
    batch = forms.ModelChoiceField(
        label="须经公示的批次（可选）", queryset=Batch.objects.none(), required=False
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("village") and not data.get("township"):
            raise forms.ValidationError("请选择村委会（村级公示）或乡镇（乡镇级公示）。")
        return data


class PostForm(forms.Form):
    photo = forms.FileField(
        label="张贴现场照片", help_text="拍下贴在公示栏上的公示（JPEG/PNG）；登记后不能更换或清除。"
    )
    posted_on = forms.DateField(label="张贴日期", widget=iso_date_input(), initial=timezone.localdate)


class ObjectionForm(forms.Form):
    row = forms.TypedChoiceField(label="涉及的农户（公示名单中的一行）", coerce=int, choices=())
    received_on = forms.DateField(label="收到日期", widget=iso_date_input(), initial=timezone.localdate)
    raised_by = forms.CharField(label="反映人", max_length=64)
    content = forms.CharField(label="异议内容", widget=forms.Textarea(attrs={"rows": 3, "cols": 60}))


class ResolveForm(forms.Form):
    resolution = forms.CharField(label="处理结果", widget=forms.Textarea(attrs={"rows": 3, "cols": 60}))
    resolved_on = forms.DateField(label="处理日期", widget=iso_date_input(), initial=timezone.localdate)


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
        "posted_on",
        "open_objections",
    )
    list_filter = ("year", "level", "status", ("village", ScopedRelatedFilter))
    list_select_related = ("village", "township")
    inlines = (ObjectionInline,)
    change_list_template = "admin/disbursements/notice/change_list.html"
    change_form_template = "admin/disbursements/notice/change_form.html"
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
        "posted_on",
        "posted_photo",
        "posted_at",
        "closed_at",
        "total_yuan",
        "public_page",
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    ("kind_label", "year", "status"),
                    ("level", "township", "village", "group"),
                    ("issuer", "contact"),
                    ("total_yuan", "batch", "reprint"),
                    "public_page",
                )
            },
        ),
        (
            "公示期与张贴",
            {"fields": (("period_start", "period_end"), ("posted_on", "posted_photo", "posted_at"))},
        ),
        ("记录", {"fields": (("issued_by", "issued_at"), "closed_at")}),
    )
    actions = ["close_notices"]
    action_roles = {"close_notices": frozenset(notices.WORKER_ROLES)}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Notice]:
        return super().get_queryset(request).prefetch_related("objections")

    @admin.display(description="类别", ordering="kind")
    def kind_label(self, notice: Notice) -> str:
        return notice.kind_label

    @admin.display(description="合计金额")
    def total_yuan(self, notice: Notice) -> str:
        return f"{yuan(notice.total)} 元"

    @admin.display(description="未处理异议")
    def open_objections(self, notice: Notice) -> int:
        return sum(1 for o in notice.objections.all() if o.resolved_on is None)

    @admin.display(description="印发原件")
    def reprint(self, notice: Notice) -> str:
        url = reverse("admin:disbursements_notice_pdf", args=[notice.pk])
        return format_html('<a href="{}" target="_blank">下载公示 PDF（与张贴的一致）</a>', url)

    @admin.display(description="公示核验（公开页面）")
    def public_page(self, notice: Notice) -> str:
        if not notice.public_code:
            return "—"
        url = notices.public_url(notice.public_code)
        return format_html(
            '<a href="{}" target="_blank" rel="noopener">{}</a>（核验码 {}，公示单二维码打开此页）',
            url,
            url,
            notices.short_code(notice.public_code),
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # notices are issued through 印发公示 (the service freezes the list)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Nothing on the page is edited in place: each step is a page of its own (登记张贴,
        # 登记异议, 处理异议, 结束公示), calling its service.
        return False

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        return super().changelist_view(
            request, {**(extra_context or {}), "help_issue": HELP_ISSUE, "help_print": HELP_PRINT}
        )

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> Any:
        notice = self.get_queryset(request).filter(pk=object_id).first()
        works = getattr(request.user, "role", "") in notices.WORKER_ROLES
        steps = {
            "can_post": works and notice is not None and notice.status == Notice.Status.ISSUED,
            "can_object": works and notice is not None and notice.status != Notice.Status.CLOSED,
            "can_close": works and notice is not None and notice.status == Notice.Status.POSTED,
        }
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **steps})

    @admin.action(description="结束公示（公示期已满、异议已处理）")
    def close_notices(self, request: HttpRequest, queryset: QuerySet[Notice]) -> None:
        self.each(request, queryset, lambda notice: notices.notice_close(notice=notice, actor=request.user))  # type: ignore[arg-type]

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view
        return [
            path("issue/", view(self.issue_view), name="disbursements_notice_issue"),
            path("print/", view(self.print_view), name="disbursements_notice_print"),
            path("<int:pk>/pdf/", view(self.pdf_view), name="disbursements_notice_pdf"),
            path("<int:pk>/post/", view(self.post_view), name="disbursements_notice_post"),
            path("<int:pk>/objection/", view(self.objection_view), name="disbursements_notice_objection"),
            path("<int:pk>/close/", view(self.close_view), name="disbursements_notice_close"),
            path(
                "objection/<int:objection_id>/resolve/",
                view(self.resolve_view),
                name="disbursements_notice_resolve",
            ),
            *super().get_urls(),
        ]

    def _page(self, request: HttpRequest, title: str, form: forms.Form, **context: Any) -> TemplateResponse:
        return TemplateResponse(
            request,
            "admin/disbursements/notice/form.html",
            {
                **self.admin_site.each_context(request),
                "form": form,
                "title": title,
                "opts": self.model._meta,
                **context,
            },
        )

    def _worked_notice(self, request: HttpRequest, pk: int) -> Notice:
        """A notice of the user's area that they may work on (else 403/404, never another's)."""
        if getattr(request.user, "role", "") not in notices.WORKER_ROLES:
            raise PermissionDenied
        notice = self.get_queryset(request).filter(pk=pk).first()
        if notice is None:
            raise Http404
        return notice

    def _back_to(self, notice: Notice) -> HttpResponse:
        return redirect(reverse("admin:disbursements_notice_change", args=[notice.pk]))

    def post_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """登记张贴: the photo of the notice on the board and the date it went up; once only."""
        notice = self._worked_notice(request, pk)
        if notice.status != Notice.Status.ISSUED:
            self.message_user(request, notices.MSG_ALREADY_POSTED, messages.ERROR)
            return self._back_to(notice)
        form = PostForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                notices.notice_post(
                    notice=notice,
                    actor=request.user,  # type: ignore[arg-type]
                    photo=form.cleaned_data["photo"],
                    posted_on=form.cleaned_data["posted_on"],
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                self.message_user(
                    request, f"已登记张贴（{form.cleaned_data['posted_on']:%Y-%m-%d}），公示期内请受理异议。"
                )
                return self._back_to(notice)
        return self._page(request, "登记张贴", form, notice=notice, multipart=True, submit="登记张贴")

    def objection_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """登记异议: who objected, when, what — about which row (household) of the notice."""
        notice = self._worked_notice(request, pk)
        form = ObjectionForm(request.POST or None)
        form.fields["row"].choices = [("", "请选择……"), *notices.notice_row_choices(notice)]  # type: ignore[attr-defined]
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                objection = notices.objection_record(
                    notice=notice,
                    actor=request.user,  # type: ignore[arg-type]
                    row=data["row"],
                    raised_by=data["raised_by"],
                    content=data["content"],
                    received_on=data["received_on"],
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                held = "；处理前暂停向该户兑现" if objection.payee_id else ""
                self.message_user(
                    request, f"已登记对“{objection.payee_name}”的异议{held}。", messages.WARNING
                )
                return self._back_to(notice)
        return self._page(request, "登记异议", form, notice=notice, submit="登记异议")

    def resolve_view(self, request: HttpRequest, objection_id: int) -> HttpResponse:
        """处理异议: the result of looking into it, and when; the payee's payments resume."""
        if getattr(request.user, "role", "") not in notices.WORKER_ROLES:
            raise PermissionDenied
        objection = visible(Objection, request.user).select_related("notice").filter(pk=objection_id).first()
        if objection is None:
            raise Http404
        form = ResolveForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                notices.objection_resolve(
                    objection=objection,
                    actor=request.user,  # type: ignore[arg-type]
                    resolution=form.cleaned_data["resolution"],
                    resolved_on=form.cleaned_data["resolved_on"],
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                self.message_user(request, f"已处理对“{objection.payee_name}”的异议。")
                return self._back_to(objection.notice)
        return self._page(
            request, "处理异议", form, notice=objection.notice, objection=objection, submit="保存处理结果"
        )

    def close_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        notice = self._worked_notice(request, pk)
        if request.method != "POST":
            return self._back_to(notice)
        try:
            notices.notice_close(notice=notice, actor=request.user)  # type: ignore[arg-type]
        except ValidationError as exc:
            self.message_user(request, exc.messages[0], messages.ERROR)
        else:
            self.message_user(request, f"已结束公示：{notice.title}。")
        return self._back_to(notice)

    def issue_view(self, request: HttpRequest) -> HttpResponse:
        """印发公示: print a village's notice and record it (list and PDF frozen as issued)."""
        if getattr(request.user, "role", "") not in notices.WORKER_ROLES:
            raise PermissionDenied
        form = NoticeForm(request.POST or None)
        form.fields["village"].queryset = visible(Village, request.user)  # type: ignore[attr-defined]
        form.fields["township"].queryset = visible(Township, request.user)  # type: ignore[attr-defined]
        gated = [k.code for k in BATCH_KINDS if k.notice_gate is not None]
        form.fields["batch"].queryset = visible(Batch, request.user).filter(kind__in=gated)  # type: ignore[attr-defined]
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                notice = notices.notice_issue(
                    kind=data["kind"],
                    year=data["year"],
                    village=data["village"],
                    township=None if data["village"] else data["township"],
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
                "help": HELP_ISSUE,
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
                "help": HELP_PRINT,
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
