"""Payments through the bank in the admin: payees' bank accounts (registered through the service,
numbers masked everywhere), and on the batch page the bank file's export, download and the import
of the bank's return file. Every write goes through `disbursements.bank_accounts` / `bank_files`."""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import content_disposition_header

from households.admin_base import ScopedAdminMixin
from households.models import User
from households.scoping import scoped, visible

from ..approval import BATCH_KINDS
from ..bank_accounts import BANKS, bank_account_set
from ..bank_files import bank_file_bytes, bank_file_export, bank_file_name, bank_return_import
from ..models import Account, BankAccount, BankFile
from ..registry import ACCOUNT_KINDS, Level
from .batch_page import batch_for

MAX_RETURN_BYTES = 5 * 1024 * 1024


def payee_kinds() -> list[str]:
    return [kind.code for kind in ACCOUNT_KINDS if kind.level == Level.PAYEE]


class BankAccountForm(forms.ModelForm):  # type: ignore[type-arg]
    bank = forms.ChoiceField(label="开户行", choices=[(b.name, b.name) for b in BANKS])

    class Meta:
        model = BankAccount
        fields = ("account", "bank", "number", "holder_name", "note")
        labels = {"account": "收款对象（户）", "number": "账号", "holder_name": "户名（可为家庭其他成员）"}


@admin.register(BankAccount)
class BankAccountAdmin(ScopedAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    form = BankAccountForm
    list_display = ("payee", "bank", "masked", "holder_name", "current", "created_at", "created_by")
    list_select_related = ("account", "created_by")
    search_fields = ("account__name", "holder_name")
    readonly_fields = (
        "payee",
        "bank",
        "masked",
        "holder_name",
        "created_at",
        "created_by",
        "superseded_at",
        "note",
    )

    @admin.display(description="收款对象", ordering="account__name")
    def payee(self, row: BankAccount) -> str:
        return row.account.name

    @admin.display(description="账号")
    def masked(self, row: BankAccount) -> str:
        return row.masked_number

    @admin.display(description="状态", boolean=False)
    def current(self, row: BankAccount) -> str:
        return "现用" if row.superseded_at is None else f"已停用（{row.superseded_at:%Y-%m-%d}）"

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ("account", "bank", "number", "holder_name", "note")
        return self.readonly_fields  # the full number is never shown again

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.readonly_fields if obj is not None else ()

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "account":
            kwargs["queryset"] = (
                visible(Account, request.user).filter(kind__in=payee_kinds()).order_by("name")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: BankAccount, form: Any, change: bool) -> None:
        obj.pk = bank_account_set(
            account=form.cleaned_data["account"],
            bank=form.cleaned_data["bank"],
            number=form.cleaned_data["number"],
            holder_name=form.cleaned_data["holder_name"],
            note=form.cleaned_data.get("note", ""),
            actor=request.user,  # type: ignore[arg-type]
        ).pk

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> Any:
        try:
            return super().add_view(request, form_url, extra_context)
        except ValidationError as exc:
            for message in exc.messages:
                self.message_user(request, message, messages.ERROR)
            return redirect(request.get_full_path())


def _bank_file(request: HttpRequest, pk: int, file_pk: int) -> BankFile:
    batch = batch_for(request, pk)
    user: User = request.user  # type: ignore[assignment]
    if user.role not in BATCH_KINDS[batch.kind].pay_roles:
        raise PermissionDenied  # the file holds full ID and account numbers: the payers' only
    found = scoped(BankFile.objects.filter(batch=batch, pk=file_pk), user).first()
    if found is None:
        raise Http404("没有这个代发文件。")
    return found


def batch_bank_export(model_admin: Any, request: HttpRequest, pk: int) -> HttpResponse:
    batch = batch_for(request, pk)
    page = reverse("admin:disbursements_batch_change", args=[pk])
    if request.method != "POST":
        return redirect(page)
    try:
        bank_file = bank_file_export(batch=batch, actor=request.user)  # type: ignore[arg-type]
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(
            request,
            f"已生成银行代发文件 {bank_file.reference}：{bank_file.line_count} 笔，"
            f"合计 {bank_file.total:,.2f} 元。请下载后送银行；银行回盘前这些户不能另行兑现。",
        )
    return redirect(page)


def bank_file_download(model_admin: Any, request: HttpRequest, pk: int, file_pk: int) -> HttpResponse:
    bank_file = _bank_file(request, pk, file_pk)
    response = HttpResponse(bank_file_bytes(bank_file), content_type="text/csv")
    response["Content-Disposition"] = content_disposition_header(True, bank_file_name(bank_file))
    response["Cache-Control"] = "no-store"
    return response


def bank_return_upload(model_admin: Any, request: HttpRequest, pk: int, file_pk: int) -> HttpResponse:
    bank_file = _bank_file(request, pk, file_pk)
    page = reverse("admin:disbursements_batch_change", args=[pk])
    if request.method != "POST":
        return redirect(page)
    upload = request.FILES.get("return_file")
    if upload is None:
        messages.error(request, "请选择银行返回的回盘文件。")
        return redirect(page)
    if upload.size and upload.size > MAX_RETURN_BYTES:
        messages.error(request, "回盘文件过大（超过 5 MB），请核对是否为银行返回的原文件。")
        return redirect(page)
    try:
        paid_on = datetime.date.fromisoformat(request.POST.get("paid_on", ""))
    except ValueError:
        paid_on = None
    try:
        result = bank_return_import(
            bank_file=bank_file,
            content=upload.read(MAX_RETURN_BYTES + 1),
            actor=request.user,  # type: ignore[arg-type]
            paid_on=paid_on,
        )
    except ValidationError as exc:
        messages.error(request, "回盘文件未导入：")
        for message in exc.messages[:30]:
            messages.error(request, message)
    else:
        if result.already_imported or (not result.succeeded and not result.failed):
            for message in result.messages:
                messages.info(request, message)
        else:
            messages.success(
                request,
                f"回盘已导入：成功 {result.succeeded} 笔（合计 {result.amount:,.2f} 元，已登记兑现），"
                f"失败 {result.failed} 笔（已记录银行原因，更正账户后可再次送银行）。",
            )
    return redirect(page)
