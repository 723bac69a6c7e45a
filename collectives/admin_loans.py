"""The township's forms on loans (核销 with a reason, 调整还款计划) and on write-offs (核销后收回), as
admin actions with a form page in between; each form calls its service, which checks role, scope,
state and the caps again under its locks. Mixed into the loan and write-off admins (`admin.py`)."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from disbursements.money import to_fen
from households import once
from households.admin_base import ServiceImportMixin

from . import rules, services
from .resources import LoanResource, RepaymentResource

TEMPLATE = "admin/collectives/loan_step_form.html"


class WriteOffForm(forms.Form):
    reason = forms.CharField(
        label="核销原因（必填）",
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="如：户主因病去世、家庭无力偿还，经村民会议和乡镇核实。",
    )


class RescheduleForm(forms.Form):
    term_months = forms.IntegerField(label="新期限（月，自调整之日起）", min_value=1, max_value=60)
    frequency = forms.ChoiceField(label="还款方式", choices=list(rules.FREQUENCIES.items()))
    effective_on = forms.DateField(label="调整日期", widget=forms.DateInput(attrs={"type": "date"}))
    reason = forms.CharField(
        label="调整原因（必填）",
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="如：冰雹灾害，改为秋收后一次还本。原还款计划保留备查。",
    )


class RecoveryForm(forms.Form):
    amount = forms.DecimalField(label="收回金额（元）", max_digits=12, decimal_places=2, min_value=0.01)
    received_on = forms.DateField(label="收回日期", widget=forms.DateInput(attrs={"type": "date"}))

    def clean_received_on(self) -> datetime.date:
        day: datetime.date = self.cleaned_data["received_on"]
        if day > timezone.localdate():
            raise forms.ValidationError("收回日期不能晚于今天。")
        return day


def _form_page(
    model_admin: Any,
    request: HttpRequest,
    queryset: QuerySet[Any],
    *,
    form: forms.Form,
    action: str,
    title: str,
    intro: str,
    submit: str,
) -> TemplateResponse:
    return TemplateResponse(
        request,
        TEMPLATE,
        {
            **model_admin.admin_site.each_context(request),
            "title": title,
            "intro": intro,
            "objects": queryset,
            "form": form,
            "action_name": action,
            "submit": submit,
            "opts": model_admin.model._meta,
            **once.context(),
        },
    )


def _step_action(
    *,
    name: str,
    label: str,
    title: str,
    intro: str,
    submit: str,
    form_class: type[forms.Form],
    run: Callable[[Any, dict[str, Any], Any], Any],
    done: str,
    single: bool = False,
) -> Any:
    """An action that shows `form_class` for the selected rows, then runs `run(obj, data, user)`
    for each (refusals named row by row by `each`)."""

    def action(model_admin: Any, request: HttpRequest, queryset: QuerySet[Any]) -> HttpResponse | None:
        if single and queryset.count() != 1:
            model_admin.message_user(request, "请只选择一条记录。", messages.WARNING)
            return None
        form = form_class(request.POST if request.POST.get("confirm") == "yes" else None)
        if not form.is_bound or not form.is_valid():
            return _form_page(
                model_admin,
                request,
                queryset,
                form=form,
                action=name,
                title=title,
                intro=intro,
                submit=submit,
            )
        try:
            with transaction.atomic():  # the form's token with the work: a double click does it once
                once.claim(request)
                count = model_admin.each(
                    request, queryset, lambda obj: run(obj, form.cleaned_data, request.user)
                )
        except ValidationError as exc:
            model_admin.message_user(request, exc.messages[0], messages.WARNING)
            return None
        if count:
            model_admin.message_user(request, done.format(count=count), messages.SUCCESS)
        return None

    action.__name__ = name
    return admin.action(description=label)(action)


class LoanStepsMixin:
    """核销 and 调整还款计划 on the loan list (township)."""

    write_off_loans = _step_action(
        name="write_off_loans",
        label="核销（乡镇，须写明原因）",
        title="核销联保贷款",
        intro="核销后，未还本金转入“已核销待收回”，以后收回的款项回到借款资金专户，累计不超过核销金额。",
        submit="确认核销",
        form_class=WriteOffForm,
        run=lambda loan, data, user: services.loan_write_off(loan=loan, reason=data["reason"], actor=user),
        done="已核销 {count} 笔贷款。",
    )
    reschedule_loan = _step_action(
        name="reschedule_loan",
        label="调整还款计划（乡镇审批）",
        title="调整还款计划",
        intro="未还的期次保留为原计划（已被替代），按新期限和还款方式重新排定尚欠本金；调整记录可查。",
        submit="批准调整",
        form_class=RescheduleForm,
        run=lambda loan, data, user: services.loan_reschedule(
            loan=loan,
            term_months=data["term_months"],
            frequency=data["frequency"],
            reason=data["reason"],
            effective_on=data["effective_on"],
            actor=user,
        ),
        done="已调整 {count} 笔贷款的还款计划。",
        single=True,
    )
    step_actions = ("write_off_loans", "reschedule_loan")
    step_roles = {"write_off_loans": frozenset({"township"}), "reschedule_loan": frozenset({"township"})}


class WriteOffStepsMixin:
    """核销后收回 on the write-off list (village or township), never above what was written off."""

    recover = _step_action(
        name="recover",
        label="登记核销后收回",
        title="登记核销后收回",
        intro="收回的款项回到借款资金专户；累计收回不能超过核销金额。",
        submit="登记收回",
        form_class=RecoveryForm,
        run=lambda write_off, data, user: services.write_off_recover(
            write_off=write_off, amount=to_fen(data["amount"]), received_on=data["received_on"], actor=user
        ),
        done="已登记收回 {count} 笔。",
        single=True,
    )
    step_actions = ("recover",)
    step_roles = {"recover": frozenset({"village", "township"})}


class LoanImportMixin(ServiceImportMixin):
    """贷款台账导入 on the loan list (the village): rows become proposed loans."""

    resource_classes = [LoanResource]
    import_title = "贷款台账导入表"
    import_command = "import_loans"
    import_help = (
        "必填列：台账编号（本村唯一）、户编号、联保小组、年度、借款金额（元）、期限（月）、"
        "还款方式（按月等额还本/按季等额还本/到期一次还本）、用途；选填：申报日期（空白为今天）。"
        "导入后为待审批的贷款申报，上传借款合同后列入放款批次报乡镇审批。"
    )

    def has_import_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("collectives.import_loan")

    def has_export_permission(self, request: HttpRequest) -> bool:
        return False  # the loan book and the overdue list are the actions' exports


class RepaymentImportMixin(ServiceImportMixin):
    """还款清单导入 on the repayment list (village or township)."""

    resource_classes = [RepaymentResource]
    import_title = "还款清单导入表"
    import_command = "import_repayments"
    import_help = (
        "必填列：户编号、还款日期、还款金额（元）、凭证号（银行流水号或收据号，同一笔贷款不重复登记）；"
        "选填：台账编号（该户有多笔未还清贷款时必填）、代偿人户编号（联保小组成员代还时填写）。"
        "按还款日期先后入账，每笔先还占用费、后还本金，从最早到期的一期还起。"
    )

    def has_import_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("collectives.import_repayment")

    def has_export_permission(self, request: HttpRequest) -> bool:
        return False
