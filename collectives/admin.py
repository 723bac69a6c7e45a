"""The programme's admin: scoped lists of funds, plans, groups, loans and their records, and every
step of a fund's year as a page of its own (a Django form that calls the service: the service checks
role, scope, order and limits again, and its refusal comes back on the form in Chinese). Records of
money are never edited here.

Who does what (the services decide; the links are only offered to the role that may):
村 drafts the plan and issues its 公示, forms groups, proposes loans, records repayments (代偿 too),
equity, dividends and cooperative income/spending, closes correction items, generates the report;
乡镇 approves the plan (after the 公示), records the 实施方案, approves loans, records 督查, submits
the report and publishes it at 乡/村/组; 市指挥部 files the 实施方案 and records the 验收."""

from __future__ import annotations

import datetime
import io
from collections.abc import Callable
from contextvars import ContextVar
from decimal import Decimal
from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from disbursements import notices
from disbursements.models import Notice
from disbursements.money import yuan
from households import once
from households.admin_base import (
    FileLinksMixin,
    ReadOnlyAdminMixin,
    RoleActionsMixin,
    ScopedAdminMixin,
    money_column,
)
from households.models import Household, User, Village, VillageGroup
from households.scoping import visible
from households.xlsx import file_name

from . import equity, loan_batches, report, selectors, services, supervision
from .admin_funds import FundAllocationMixin
from .admin_loans import LoanImportMixin, LoanStepsMixin, RepaymentImportMixin, WriteOffStepsMixin
from .models import (
    CooperativeTransaction,
    CorrectionItem,
    Counterparty,
    DividendShare,
    EquityStake,
    FundPlan,
    GroupMember,
    GuarantorDebt,
    Instalment,
    JointGroup,
    LendingPolicy,
    Loan,
    LoanEvent,
    Repayment,
    Reschedule,
    SupervisionVisit,
    VillageFund,
    WriteOff,
    YearEndReport,
)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SHORT_FREQUENCY = {"monthly": "按月", "quarterly": "按季", "bullet": "到期一次"}
VILLAGE, TOWNSHIP, CITY = frozenset({"village"}), frozenset({"township"}), frozenset({"city"})


def date_input() -> forms.DateInput:
    """`<input type=date>` takes ISO dates (2017-03-01) whatever the locale."""
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def money_input(label: str, **kwargs: Any) -> forms.DecimalField:
    return forms.DecimalField(label=label, max_digits=14, decimal_places=2, min_value=Decimal("0"), **kwargs)


def actor_of(request: HttpRequest) -> User:
    """The logged-in user (the admin's views are for logged-in staff only)."""
    return cast(User, request.user)


def own_village(request: HttpRequest) -> Village:
    """The village user's village (the steps that only a village does)."""
    village = actor_of(request).village
    if village is None:
        raise ValidationError(services.MSG_VILLAGE_ONLY)
    return village


def role_of(request: HttpRequest) -> str:
    return "admin" if request.user.is_superuser else getattr(request.user, "role", "")


def buttons(links: list[tuple[str, str]]) -> str:
    """The steps offered on a row, as small buttons (nothing when none is offered: `—`)."""
    if not links:
        return "—"
    return format_html_join(
        " ",
        '<a class="button step-link" style="white-space:nowrap;display:inline-block" href="{}">{}</a>',
        links,
    )


def household_label(household: Household) -> str:
    return f"{household.head_name}（{household.code}）"


class HouseholdChoice(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        return household_label(obj)


class HouseholdsChoice(forms.ModelMultipleChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        return household_label(obj)


class FundVillageChoice(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.village.name)


class GroupsChoice(forms.ModelMultipleChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.name)


def labelled(model: Any, name: str) -> bool:
    """False for a field nobody named in Chinese (a ledger entry, who recorded it): internal links
    that the change page leaves out (the entries are on the ledger's own pages)."""
    try:
        field = model._meta.get_field(name)
    except Exception:  # a display column of the admin
        return True
    return str(getattr(field, "verbose_name", "")) != name.replace("_", " ")


_ROLE: ContextVar[str] = ContextVar("collectives_admin_role", default="")
_LATE: ContextVar[dict[int, Any] | None] = ContextVar("collectives_admin_late", default=None)


class ReadOnlyScoped(ScopedAdminMixin, RoleActionsMixin, ReadOnlyAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    """Scoped, read-only lists; the steps are pages of their own (`step`) calling the services."""

    add_roles: frozenset[str] = frozenset()

    # The role of the request being rendered, for the list's 办理 column (list_display callables get no
    # request). A ModelAdmin is one instance shared by every request and thread, so the role lives in
    # a context variable (per thread under WSGI, per task under ASGI), never on the instance.
    @property
    def _role(self) -> str:
        return _ROLE.get()

    @_role.setter
    def _role(self, role: str) -> None:
        _ROLE.set(role)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [
            f for f in super().get_fields(request, obj) if not isinstance(f, str) or labelled(self.model, f)
        ]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return role_of(request) in self.add_roles and super(ReadOnlyAdminMixin, self).has_view_permission(
            request
        )

    def may(self, request: HttpRequest, roles: frozenset[str]) -> bool:
        return role_of(request) in roles

    def mine(self, request: HttpRequest, pk: int, model_admin: Any = None) -> Any:
        """The object of a step, found through the user's scoped list (another area's id: 404)."""
        obj = (model_admin or self).get_queryset(request).filter(pk=pk).first()
        if obj is None:
            raise Http404("没有该记录，或不在您的管辖范围内。")
        return obj

    def step(
        self,
        request: HttpRequest,
        *,
        title: str,
        form: forms.Form,
        run: Callable[[dict[str, Any]], Any],
        done: Callable[[Any], str],
        back: Callable[[Any], str],
        roles: frozenset[str],
        help: str = "",
        facts: list[tuple[str, str]] | None = None,
        about: str = "",
        submit: str = "",
    ) -> HttpResponse:
        """A step's page: the form; on a valid POST the service runs, and a refusal (any
        `ValidationError`) comes back on the form, nothing changed. Offered only to `roles`; the
        service checks role and scope again."""
        if not self.may(request, roles):
            raise PermissionDenied("此事项不由您的角色办理。")
        if request.method == "POST" and form.is_valid():
            try:
                with transaction.atomic():  # the form's token and the work, together or not at all
                    once.claim(request)
                    result = run(form.cleaned_data)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                self.message_user(request, done(result), messages.SUCCESS)
                return redirect(back(result))
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "form": form,
            "opts": self.model._meta,
            "help": help,
            "facts": facts or [],
            "about": about,
            "submit": submit or title,
            "multipart": any(isinstance(f, forms.FileField) for f in form.fields.values()),
            **once.context(),
        }
        return TemplateResponse(request, "admin/collectives/step.html", context)

    def change_url(self, obj: Any) -> str:
        opts = obj._meta
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])

    def list_url(self, model: Any = None) -> str:
        opts = (model or self.model)._meta
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")

    def view(self, name: str, route: str, fn: Callable[..., HttpResponse]) -> Any:
        return path(route, self.admin_site.admin_view(fn), name=f"collectives_{name}")


@admin.register(LendingPolicy)
class LendingPolicyAdmin(FileLinksMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = (
        "year",
        "loan_cap_yuan",
        "max_term_months",
        "min_group_size",
        "annual_fee_rate",
        "grace_days",
    )
    loan_cap_yuan = money_column("loan_cap", "每户借款上限（元）")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --- the fund and its plan ---------------------------------------------------------------------------


class PlanForm(forms.Form):
    meeting_on = forms.DateField(label="村民大会日期", widget=date_input())
    attendance = forms.IntegerField(label="参会人数", min_value=1)
    minutes_scan = forms.FileField(
        label="会议记录扫描件", help_text="PDF 或照片（JPEG/PNG），签到表与决议在内"
    )
    lending = money_input("联保小额贷款（元）")
    equity = money_input("入股分红（元）")
    cooperative = money_input("合作社经营（元）")


class ReportForm(forms.Form):
    as_of = forms.DateField(label="统计截至日期", widget=date_input(), help_text="逾期与未还本金按此日计算")


@admin.register(VillageFund)
class VillageFundAdmin(FundAllocationMixin, ReadOnlyScoped):  # type: ignore[misc]
    list_display = ("village", "year", "amount_yuan", "plan_status", "steps")
    list_filter = ("year",)
    list_select_related = ("village", "plan", "report")
    amount_yuan = money_column("amount", "扶持资金（元）")

    @admin.display(description="资金方案")
    def plan_status(self, fund: VillageFund) -> str:
        plan = getattr(fund, "plan", None)
        return plan.get_status_display() if plan else "未草拟"

    @admin.display(description="办理")
    def steps(self, fund: VillageFund) -> str:
        role = getattr(self, "_role", "")
        plan = getattr(fund, "plan", None)
        links = []
        if role == "village" and (plan is None or plan.status == FundPlan.Status.DRAFT):
            links.append((reverse("admin:collectives_plan_draft", args=[fund.pk]), "草拟资金方案"))
        done = getattr(fund, "report", None)
        if (
            role in ("village", "township")
            and plan is not None
            and plan.status == FundPlan.Status.APPROVED
            and (done is None or done.submitted_on is None)
        ):
            links.append((reverse("admin:collectives_report_generate", args=[fund.pk]), "生成效益分析报告"))
        return buttons(links)

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        self._role = role_of(request)
        return super().changelist_view(request, extra_context)

    def get_urls(self) -> list[Any]:
        return [
            self.view("plan_draft", "<int:pk>/plan/", self.plan_view),
            self.view("report_generate", "<int:pk>/report/", self.report_view),
            *super().get_urls(),
        ]

    def plan_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """村党总支: the villager meeting and the split of the fund between the three uses."""
        fund = self.mine(request, pk)
        plan = getattr(fund, "plan", None)
        initial = (
            {"meeting_on": plan.meeting_on, "attendance": plan.attendance, "lending": plan.lending,
             "equity": plan.equity, "cooperative": plan.cooperative}
            if plan else {"lending": fund.amount, "equity": 0, "cooperative": 0}
        )  # fmt: skip
        form = PlanForm(request.POST or None, request.FILES or None, initial=initial)
        return self.step(
            request,
            title="草拟资金方案（村民大会）",
            form=form,
            roles=VILLAGE,
            about=str(fund),
            facts=[("扶持资金", f"{yuan(fund.amount)} 元"), ("三项用途合计", "须等于扶持资金")],
            help="村党总支召开村民大会讨论后草拟方案；草拟后请“印发公示”，公示结束后由乡镇批准，"
            "批准后资金才拨入三个专户。",
            run=lambda d: services.plan_draft(fund=fund, actor=actor_of(request), **d),  # type: ignore[arg-type]
            done=lambda p: (
                f"已草拟方案：贷款 {yuan(p.lending)} 元、入股 {yuan(p.equity)} 元、"
                f"合作社 {yuan(p.cooperative)} 元。下一步：印发公示。"
            ),
            back=lambda p: reverse("admin:collectives_fundplan_change", args=[p.pk]),
            submit="保存方案",
        )

    def report_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        fund = self.mine(request, pk)
        year_end = datetime.date(fund.year, 12, 31)
        form = ReportForm(request.POST or None, initial={"as_of": min(timezone.localdate(), year_end)})
        return self.step(
            request,
            title="生成效益分析报告",
            form=form,
            roles=frozenset({"village", "township"}),
            about=str(fund),
            help="按截至日的台账和账户生成报告（PDF、Excel）；报市指挥部前可重新生成，报送后冻结。",
            run=lambda d: report.report_generate(fund=fund, actor=actor_of(request), today=d["as_of"]),  # type: ignore[arg-type]
            done=lambda r: f"已生成{r}。",
            back=lambda r: reverse("admin:collectives_yearendreport_change", args=[r.pk]),
            submit="生成报告",
        )


class NoticeStartForm(forms.Form):
    start = forms.DateField(label="公示开始日期", widget=date_input())
    days = forms.IntegerField(
        label="公示天数", min_value=7, initial=10, help_text="不少于 7 天，原则上 10 天"
    )
    contact = forms.CharField(label="异议受理联系人及电话", max_length=64, required=False)


class ImplementationForm(forms.Form):
    scan = forms.FileField(label="乡镇村集体经济产业发展实施方案（扫描件）")


class FilingForm(forms.Form):
    filed_on = forms.DateField(label="市指挥部备案日期", widget=date_input())


@admin.register(FundPlan)
class FundPlanAdmin(ReadOnlyScoped):
    # The meeting (date, attendance, minutes) is on the plan's page: the list fits 1366 px.
    list_display = ("village", "lending_yuan", "equity_yuan", "cooperative_yuan", "status", "steps")
    list_filter = ("status",)
    list_select_related = ("village", "fund")
    lending_yuan = money_column("lending", "联保小额贷款（元）")
    equity_yuan = money_column("equity", "入股分红（元）")
    cooperative_yuan = money_column("cooperative", "合作社经营（元）")
    readonly_fields = ("steps",)
    actions = ["approve_plans"]
    action_roles = {"approve_plans": TOWNSHIP}

    @admin.display(description="办理")
    def steps(self, plan: FundPlan) -> str:
        role = getattr(self, "_role", "")
        links = []
        if role == "village" and plan.status == FundPlan.Status.DRAFT:
            links.append((reverse("admin:collectives_plan_draft", args=[plan.fund_id]), "修改方案"))
            links.append((reverse("admin:collectives_plan_notice", args=[plan.pk]), "印发公示"))
        if role == "township" and plan.status == FundPlan.Status.APPROVED:
            links.append((reverse("admin:collectives_plan_implementation", args=[plan.pk]), "上传实施方案"))
        if role == "city" and plan.implementation_scan and plan.city_filed_on is None:
            links.append((reverse("admin:collectives_plan_file", args=[plan.pk]), "备案"))
        return buttons(links)

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        self._role = role_of(request)
        return super().changelist_view(request, extra_context)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> Any:
        self._role = role_of(request)
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.action(description="批准方案（公示结束后，资金拨入三个专户）")
    def approve_plans(self, request: HttpRequest, queryset: QuerySet[FundPlan]) -> None:
        done = self.each(
            request, queryset, lambda plan: services.plan_approve(plan=plan, actor=actor_of(request))
        )  # type: ignore[arg-type]
        if done:
            self.message_user(request, f"已批准 {done} 个方案。", messages.SUCCESS)

    def get_urls(self) -> list[Any]:
        return [
            self.view("plan_notice", "<int:pk>/notice/", self.notice_view),
            self.view("plan_implementation", "<int:pk>/implementation/", self.implementation_view),
            self.view("plan_file", "<int:pk>/file/", self.file_view),
            *super().get_urls(),
        ]

    def notice_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """印发 the plan's 公示 (the shared notice machinery); posting and closing are on the notice."""
        plan = self.mine(request, pk)
        form = NoticeStartForm(request.POST or None, initial={"start": timezone.localdate()})
        return self.step(
            request,
            title="印发资金方案公示",
            form=form,
            roles=VILLAGE,
            about=str(plan),
            facts=[
                ("联保小额贷款", f"{yuan(plan.lending)} 元"),
                ("入股分红", f"{yuan(plan.equity)} 元"),
                ("合作社经营", f"{yuan(plan.cooperative)} 元"),
            ],
            help="印发后到公示页面“登记张贴”（现场照片）；公示期满、异议处理完后“结束公示”，乡镇才能批准方案。",
            run=lambda d: notices.notice_issue(
                kind=services.NOTICE_KIND,
                year=plan.fund.year,
                village=plan.village,
                actor=actor_of(request),
                **d,  # type: ignore[arg-type]
            ),
            done=lambda n: f"已印发：{n.title}（{n.period_start:%Y-%m-%d} 至 {n.period_end:%Y-%m-%d}）。",
            back=lambda n: reverse("admin:disbursements_notice_change", args=[n.pk]),
        )

    def implementation_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        plan = self.mine(request, pk)
        return self.step(
            request,
            title="上传乡镇产业发展实施方案",
            form=ImplementationForm(request.POST or None, request.FILES or None),
            roles=TOWNSHIP,
            about=str(plan),
            run=lambda d: services.implementation_record(plan=plan, scan=d["scan"], actor=actor_of(request)),  # type: ignore[arg-type]
            done=lambda p: "已上传实施方案，待市指挥部备案。",
            back=self.change_url,
        )

    def file_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        plan = self.mine(request, pk)
        return self.step(
            request,
            title="实施方案备案",
            form=FilingForm(request.POST or None, initial={"filed_on": timezone.localdate()}),
            roles=CITY,
            about=str(plan),
            run=lambda d: services.implementation_file(
                plan=plan, filed_on=d["filed_on"], actor=actor_of(request)
            ),  # type: ignore[arg-type]
            done=lambda p: "已备案。",
            back=self.change_url,
        )


# --- joint-guarantee groups --------------------------------------------------------------------------


class GroupForm(forms.Form):
    name = forms.CharField(label="小组名称", max_length=32, initial="第一联保小组")
    formed_on = forms.DateField(label="成立日期", widget=date_input())
    households = HouseholdsChoice(
        label="成员（本村贫困户）",
        queryset=Household.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        help_text="每户只能在一个联保小组；至少 5 户（政策）。",
    )


class LeaveForm(forms.Form):
    left_on = forms.DateField(label="退出日期", widget=date_input())


class MemberInline(FileLinksMixin, admin.TabularInline):  # type: ignore[type-arg]
    model = GroupMember
    fields = ("household", "joined_on", "left_on", "leave")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="退出小组")
    def leave(self, member: GroupMember) -> str:
        if member.left_on is not None:
            return "已退出"
        return format_html(
            '<a href="{}">办理退出</a>', reverse("admin:collectives_member_leave", args=[member.pk])
        )


@admin.register(JointGroup)
class JointGroupAdmin(ReadOnlyScoped):
    list_display = ("name", "village", "formed_on", "size", "blocked")
    list_select_related = ("village",)
    inlines = [MemberInline]
    add_roles = VILLAGE

    def get_queryset(self, request: HttpRequest) -> QuerySet[JointGroup]:
        # The list's 在组户数 in the list's own query, not one count per group.
        return (
            super()
            .get_queryset(request)
            .annotate(current_members=Count("members", filter=Q(members__left_on__isnull=True)))
        )

    @admin.display(description="在组户数")
    def size(self, group: JointGroup) -> int:
        return group.current_members  # type: ignore[attr-defined]

    @admin.display(description="逾期成员（暂停借款）")
    def blocked(self, group: JointGroup) -> str:
        return "、".join(services.group_overdue_members(group, timezone.localdate())) or "—"

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [*super().get_readonly_fields(request, obj), "blocked"]

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        """村委会 forms a group of its poor households (dated membership)."""
        village = request.user.village  # type: ignore[union-attr]
        form = GroupForm(request.POST or None, initial={"formed_on": timezone.localdate()})
        field = form.fields["households"]
        assert isinstance(field, forms.ModelMultipleChoiceField)
        in_groups = GroupMember.objects.filter(left_on__isnull=True).values("household")
        field.queryset = (
            visible(Household, request.user)
            .filter(village=village)
            .exclude(pk__in=in_groups)
            .order_by("code")
        )
        return self.step(
            request,
            title="成立联保小组",
            form=form,
            roles=VILLAGE,
            help="联保小组成员互相承担连带责任：一户逾期，全组暂停借款，直到还清（可由组员代偿）。",
            run=lambda d: services.group_create(
                village=own_village(request),
                name=d["name"],
                households=list(d["households"]),
                formed_on=d["formed_on"],
                actor=actor_of(request),
            ),
            done=lambda g: f"已成立{g}（{g.members.count()} 户）。",
            back=self.change_url,
        )

    def get_urls(self) -> list[Any]:
        return [self.view("member_leave", "member/<int:pk>/leave/", self.leave_view), *super().get_urls()]

    def leave_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        member = (
            visible(GroupMember, request.user)
            .select_related("group__village", "household")
            .filter(pk=pk)
            .first()
        )
        if member is None:
            raise Http404("没有该成员，或不在您的管辖范围内。")
        return self.step(
            request,
            title="成员退出联保小组",
            form=LeaveForm(request.POST or None, initial={"left_on": timezone.localdate()}),
            roles=VILLAGE,
            about=str(member.group),
            facts=[("成员", household_label(member.household)), ("加入日期", f"{member.joined_on:%Y-%m-%d}")],
            help="小组有未还清的贷款时，成员不能退出（联保责任未了）。",
            run=lambda d: services.member_leave(member=member, left_on=d["left_on"], actor=actor_of(request)),  # type: ignore[arg-type]
            done=lambda m: f"{m.household.head_name} 已退出{m.group}。",
            back=lambda m: self.change_url(m.group),
        )


# --- loans -------------------------------------------------------------------------------------------


class LoanForm(forms.Form):
    group = forms.ModelChoiceField(label="联保小组", queryset=JointGroup.objects.none())
    household = HouseholdChoice(label="借款户（小组成员）", queryset=Household.objects.none())
    principal = money_input("借款金额（元）", help_text="每户未还借款合计不超过 20,000.00 元")
    term_months = forms.IntegerField(
        label="期限（月）", min_value=1, max_value=60, help_text="不超过 36 个月"
    )
    frequency = forms.ChoiceField(
        label="还款方式",
        choices=list(Loan._meta.get_field("frequency").choices or []),
        help_text="按月、按季等额还本；种养殖收益集中在秋收的，可到期一次还本。",
    )
    purpose = forms.CharField(label="用途（种养殖产业）", max_length=64)
    contract_scan = forms.FileField(
        label="借款合同（含联保小组成员签字）", required=False, help_text="放款前必须上传；PDF 或照片"
    )


class ContractForm(forms.Form):
    scan = forms.FileField(label="借款合同（含联保小组成员签字）", help_text="PDF 或照片")


class RepaymentForm(forms.Form):
    amount = money_input("还款金额（元）")
    paid_on = forms.DateField(label="还款日期", widget=date_input())
    payer = HouseholdChoice(
        label="还款人", queryset=Household.objects.none(), help_text="组员代借款户还款（代偿）时选代偿户"
    )
    reference = forms.CharField(label="凭证号/银行流水号", max_length=64, required=False)


class InstalmentInline(FileLinksMixin, admin.TabularInline):  # type: ignore[type-arg]
    model = Instalment
    fields = ("number", "due_on", "principal", "fee", "paid_principal", "paid_fee", "superseded_by")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class EventInline(FileLinksMixin, admin.TabularInline):  # type: ignore[type-arg]
    model = LoanEvent
    fields = ("at", "action", "who", "note")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="经办人")
    def who(self, event: LoanEvent) -> str:
        return event.actor.name or event.actor.username


@admin.register(Loan)
class LoanAdmin(LoanStepsMixin, LoanImportMixin, ReadOnlyScoped):  # type: ignore[misc]
    # Fits 1366 px beside the menu and the filters: borrower, amount, terms in one column, status,
    # arrears and the step; the group, dates and people are on the loan's page.
    list_display = ("household", "principal_yuan", "terms", "status", "overdue_days", "steps")
    list_filter = ("status", "frequency")
    list_select_related = ("household", "village", "group__village")
    search_fields = ("household__code", "household__head_name")
    principal_yuan = money_column("principal", "借款金额（元）")
    fields = (
        "village", "group", "household", "register_no", "principal", "term_months", "frequency", "fee_rate",
        "purpose", "contract_scan", "status", "proposed_by", "approved_by", "disbursed_on", "owed", "steps",
    )  # fmt: skip
    inlines = [InstalmentInline, EventInline]
    actions = ["batch_loans", *LoanStepsMixin.step_actions, "export_book", "export_overdue"]
    action_roles = {"batch_loans": VILLAGE, **LoanStepsMixin.step_roles}
    add_roles = VILLAGE

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [*super().get_readonly_fields(request, obj), "owed", "steps"]

    @admin.display(description="期限／还款方式")
    def terms(self, loan: Loan) -> str:
        return f"{loan.term_months} 个月·{SHORT_FREQUENCY.get(loan.frequency, loan.get_frequency_display())}"

    @admin.display(description="未还本金")
    def owed(self, loan: Loan) -> str:
        return f"{yuan(services.outstanding(loan))} 元"

    @admin.display(description="办理")
    def steps(self, loan: Loan) -> str:
        role = getattr(self, "_role", "")
        if role in ("village", "township") and loan.status == Loan.Status.DISBURSED:
            return buttons([(reverse("admin:collectives_loan_repay", args=[loan.pk]), "登记还款")])
        if role == "village" and loan.status == Loan.Status.PROPOSED:
            label = "更换借款合同" if loan.contract_scan else "上传借款合同"
            return buttons([(reverse("admin:collectives_loan_contract", args=[loan.pk]), label)])
        return "—"

    def _late_today(self, request: HttpRequest) -> None:
        self._role = role_of(request)
        self._late = services.overdue(self.get_queryset(request), today=timezone.localdate())

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        self._late_today(request)
        return super().changelist_view(request, extra_context)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> Any:
        self._role = role_of(request)
        return super().change_view(request, object_id, form_url, extra_context)

    # The page's overdue loans, for the 逾期天数 column: per request, like `_role` (not on the instance).
    @property
    def _late(self) -> dict[int, Any]:
        return _LATE.get() or {}

    @_late.setter
    def _late(self, late: dict[int, Any]) -> None:
        _LATE.set(late)

    @admin.display(description="逾期天数")
    def overdue_days(self, loan: Loan) -> str:
        late = getattr(self, "_late", {}).get(loan.pk)
        return f"{late.days} 天" if late else "—"

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        """村委会申报: refused with the reason when a rule forbids it (cap, term, group size, a group
        member overdue)."""
        form = LoanForm(request.POST or None, request.FILES or None)
        groups = visible(JointGroup, request.user).select_related("village")
        members = GroupMember.objects.filter(group__in=groups, left_on__isnull=True).values("household")
        group_field, household_field = form.fields["group"], form.fields["household"]
        assert isinstance(group_field, forms.ModelChoiceField)
        assert isinstance(household_field, forms.ModelChoiceField)
        group_field.queryset = groups
        household_field.queryset = visible(Household, request.user).filter(pk__in=members).order_by("code")
        today = timezone.localdate()

        @transaction.atomic
        def run(d: dict[str, Any]) -> Loan:
            loan = services.loan_propose(
                group=d["group"], household=d["household"], principal=d["principal"],
                term_months=d["term_months"], frequency=d["frequency"], purpose=d["purpose"],
                actor=actor_of(request), year=self._fund_year(d["group"]), today=today,
            )  # fmt: skip
            if d["contract_scan"]:
                loan = services.loan_contract_attach(
                    loan=loan, scan=d["contract_scan"], actor=actor_of(request)
                )
            return loan

        return self.step(
            request,
            title="申报联保贷款",
            form=form,
            roles=VILLAGE,
            help="村委会申报后，在列表中选中已申报的贷款“列入放款批次”报乡镇审批放款（须有借款合同）。"
            "小组任一成员逾期未还时，小组成员不能再借款。",
            run=run,
            done=lambda loan: f"已申报：{loan}，待列入放款批次报乡镇审批。",
            back=self.change_url,
            submit="申报",
        )

    @staticmethod
    def _fund_year(group: JointGroup) -> int:
        fund = VillageFund.objects.filter(village=group.village_id).order_by("-year").first()
        return fund.year if fund is not None else timezone.localdate().year

    def get_urls(self) -> list[Any]:
        return [
            self.view("loan_repay", "<int:pk>/repay/", self.repay_view),
            self.view("loan_contract", "<int:pk>/contract/", self.contract_view),
            *super().get_urls(),
        ]

    def contract_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """The signed contract of a proposed loan (借款合同，含联保小组成员签字)."""
        loan = self.mine(request, pk)
        return self.step(
            request,
            title="上传借款合同",
            form=ContractForm(request.POST or None, request.FILES or None),
            roles=VILLAGE,
            about=str(loan),
            facts=[("借款户", household_label(loan.household)), ("借款金额", f"{yuan(loan.principal)} 元")],
            run=lambda d: services.loan_contract_attach(loan=loan, scan=d["scan"], actor=actor_of(request)),
            done=lambda loan: f"已上传借款合同：{loan}。",
            back=self.change_url,
        )

    def repay_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """还款 (full, partial, early); a group member paying for the borrower is 代偿."""
        loan = self.mine(request, pk)
        form = RepaymentForm(
            request.POST or None, initial={"paid_on": timezone.localdate(), "payer": loan.household_id}
        )
        payer = form.fields["payer"]
        assert isinstance(payer, forms.ModelChoiceField)
        payer.queryset = Household.objects.filter(
            pk__in=GroupMember.objects.filter(group=loan.group_id, left_on__isnull=True).values("household")
        ).order_by("code")
        late = services.overdue(Loan.objects.filter(pk=loan.pk), today=timezone.localdate()).get(loan.pk)
        return self.step(
            request,
            title="登记还款",
            form=form,
            roles=frozenset({"village", "township"}),
            about=str(loan),
            facts=[
                ("借款户", household_label(loan.household)),
                ("联保小组", str(loan.group)),
                ("未还本金", f"{yuan(services.outstanding(loan))} 元"),
                ("逾期欠款", f"{yuan(late.arrears)} 元（逾期 {late.days} 天）" if late else "无"),
            ],
            help="先还最早一期，先占用费后本金；多还的部分提前归还以后各期本金。本金回到借款资金专户，可再借出。",
            run=lambda d: services.repayment_record(
                loan=loan,
                amount=d["amount"],
                paid_on=d["paid_on"],
                payer=d["payer"],
                reference=d["reference"],
                actor=actor_of(request),
            ),
            done=lambda r: (
                f"已登记 {r.payer.head_name} 代 {loan.household.head_name} 还款 {yuan(r.amount)} 元（代偿）。"
                if r.payer_id != loan.household_id
                else f"已登记还款 {yuan(r.amount)} 元。"
            ),
            back=lambda r: self.change_url(loan),
        )

    @admin.action(description="列入放款批次（报乡镇审批，须已上传借款合同）")
    def batch_loans(self, request: HttpRequest, queryset: QuerySet[Loan]) -> HttpResponse | None:
        """The village's selected proposed loans become one `collective_loan` batch; the township
        approves and pays it on the batch page."""
        try:
            batch = loan_batches.loan_batch_create(
                village=own_village(request), loans=list(queryset), actor=actor_of(request)
            )
        except ValidationError as exc:
            self.message_user(request, "；".join(exc.messages), messages.ERROR)
            return None
        self.message_user(request, f"已建放款批次 {batch}，请在批次页提交乡镇审批。", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:disbursements_batch_change", args=[batch.pk]))

    def _xlsx(self, request: HttpRequest, overdue_only: bool) -> HttpResponse:
        today = timezone.localdate()
        out = io.BytesIO()
        selectors.export_loan_book(out, request.user, today=today, overdue_only=overdue_only)  # type: ignore[arg-type]
        name = file_name(f"联保贷款{'逾期清单' if overdue_only else '台账'}", f"{today:%Y%m%d}")
        response = HttpResponse(out.getvalue(), content_type=XLSX)
        response["Content-Disposition"] = f"attachment; filename*=UTF-8''{name}"
        return response

    @admin.action(description="导出贷款台账（Excel，本人管辖范围内全部贷款）")
    def export_book(self, request: HttpRequest, queryset: QuerySet[Loan]) -> HttpResponse:
        return self._xlsx(request, overdue_only=False)

    @admin.action(description="导出逾期清单（Excel）")
    def export_overdue(self, request: HttpRequest, queryset: QuerySet[Loan]) -> HttpResponse:
        return self._xlsx(request, overdue_only=True)


@admin.register(Repayment)
class RepaymentAdmin(RepaymentImportMixin, ReadOnlyScoped):  # type: ignore[misc]
    list_display = ("loan", "payer", "paid_on", "amount_yuan", "principal_yuan", "fee_yuan", "reference")
    list_select_related = ("loan__household", "payer")
    amount_yuan = money_column("amount", "还款金额（元）")
    principal_yuan = money_column("principal", "其中本金（元）")
    fee_yuan = money_column("fee", "其中占用费（元）")


@admin.register(GuarantorDebt)
class GuarantorDebtAdmin(ReadOnlyScoped):
    list_display = ("debtor", "creditor", "amount_yuan", "settled_on")
    list_select_related = ("debtor", "creditor")
    amount_yuan = money_column("amount", "代偿金额（元）")


@admin.register(WriteOff)
class WriteOffAdmin(WriteOffStepsMixin, ReadOnlyScoped):
    list_display = ("loan", "amount_yuan", "reason", "approved_by", "approved_at")
    actions = list(WriteOffStepsMixin.step_actions)
    action_roles = dict(WriteOffStepsMixin.step_roles)
    list_select_related = ("loan__household", "approved_by")
    amount_yuan = money_column("amount", "核销本金（元）")


@admin.register(Reschedule)
class RescheduleAdmin(ReadOnlyScoped):
    list_display = (
        "loan",
        "effective_on",
        "outstanding",
        "term_months",
        "frequency",
        "reason",
        "approved_by",
    )
    list_select_related = ("loan__household", "approved_by")


# --- supervision -------------------------------------------------------------------------------------


class VisitForm(forms.Form):
    village = FundVillageChoice(label="村委会", queryset=VillageFund.objects.none())
    visited_on = forms.DateField(label="督查日期", widget=date_input())
    inspectors = forms.CharField(label="督查人员（乡政府、村总支、工作组）", max_length=200)
    findings = forms.CharField(label="督查发现", widget=forms.Textarea(attrs={"rows": 3, "cols": 60}))
    items = forms.CharField(
        label="整改事项（督查通知）",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="每行一项：事项，整改期限（如：补登借款台账，2017-07-05）",
    )
    photo = forms.FileField(label="现场照片", required=False)

    def clean_items(self) -> list[tuple[str, datetime.date]]:
        items = []
        for n, line in enumerate(self.cleaned_data["items"].splitlines(), 1):
            if not line.strip():
                continue
            text, _, due = line.replace("，", ",").rpartition(",")
            try:
                due_on = datetime.date.fromisoformat(due.strip())
            except ValueError:
                raise ValidationError(
                    f"第 {n} 行 整改期限 “{due.strip()}”：须写成“事项，2017-07-05”。"
                ) from None
            if not text.strip():
                raise ValidationError(f"第 {n} 行 整改事项：不能为空。")
            items.append((text.strip()[:200], due_on))
        return items


class CloseItemForm(forms.Form):
    closed_on = forms.DateField(label="整改完成日期", widget=date_input())
    evidence = forms.FileField(label="整改佐证材料", help_text="PDF 或照片")


class CorrectionInline(FileLinksMixin, admin.TabularInline):  # type: ignore[type-arg]
    model = CorrectionItem
    fields = ("text", "due_on", "closed_on", "closer", "close")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="销号人")
    def closer(self, item: CorrectionItem) -> str:
        return (item.closed_by.name or item.closed_by.username) if item.closed_by else "—"

    @admin.display(description="销号")
    def close(self, item: CorrectionItem) -> str:
        if item.closed_on is not None:
            return "已销号"
        return format_html(
            '<a href="{}">整改销号</a>', reverse("admin:collectives_item_close", args=[item.pk])
        )


@admin.register(SupervisionVisit)
class SupervisionVisitAdmin(ReadOnlyScoped):
    list_display = ("village", "visited_on", "inspectors", "open_items", "notice_pdf")
    list_select_related = ("village",)
    inlines = [CorrectionInline]
    add_roles = TOWNSHIP

    def get_queryset(self, request: HttpRequest) -> QuerySet[SupervisionVisit]:
        # The list's 未销号整改事项 in the list's own query, not one count per visit.
        return (
            super()
            .get_queryset(request)
            .annotate(open_item_count=Count("items", filter=Q(items__closed_on__isnull=True)))
        )

    @admin.display(description="未销号整改事项")
    def open_items(self, visit: SupervisionVisit) -> int:
        return visit.open_item_count  # type: ignore[attr-defined]

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        """乡镇每月督查: the visit, its findings and photo, and the 督查通知 with items and due dates."""
        form = VisitForm(
            request.POST or None, request.FILES or None, initial={"visited_on": timezone.localdate()}
        )
        village = form.fields["village"]
        assert isinstance(village, forms.ModelChoiceField)
        village.queryset = (
            visible(VillageFund, request.user).select_related("village").order_by("village__code")
        )

        def run(d: dict[str, Any]) -> SupervisionVisit:
            return supervision.visit_record(
                village=d["village"].village, visited_on=d["visited_on"], inspectors=d["inspectors"],
                findings=d["findings"], items=d["items"], photo=d["photo"], actor=actor_of(request),
            )  # fmt: skip

        return self.step(
            request,
            title="登记督查（生成督查通知）",
            form=form,
            roles=TOWNSHIP,
            help="乡政府、村总支、工作组每月督查；登记后生成督查通知（PDF），整改事项销号须附佐证材料。",
            run=run,
            done=lambda v: f"已登记{v}，督查通知已生成（{v.items.count()} 项整改）。",
            back=self.change_url,
        )


@admin.register(CorrectionItem)
class CorrectionItemAdmin(ReadOnlyScoped):
    list_display = ("text", "visit", "due_on", "closed_on", "steps")
    list_filter = (("closed_on", admin.EmptyFieldListFilter),)
    list_select_related = ("visit__village",)

    @admin.display(description="办理")
    def steps(self, item: CorrectionItem) -> str:
        if item.closed_on is not None or getattr(self, "_role", "") not in ("village", "township"):
            return "—"
        return buttons([(reverse("admin:collectives_item_close", args=[item.pk]), "整改销号")])

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        self._role = role_of(request)
        return super().changelist_view(request, extra_context)

    def get_urls(self) -> list[Any]:
        return [self.view("item_close", "<int:pk>/close/", self.close_view), *super().get_urls()]

    def close_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        item = self.mine(request, pk)
        return self.step(
            request,
            title="整改销号",
            form=CloseItemForm(
                request.POST or None, request.FILES or None, initial={"closed_on": timezone.localdate()}
            ),
            roles=frozenset({"village", "township"}),
            about=item.text,
            facts=[("督查", str(item.visit)), ("整改期限", f"{item.due_on:%Y-%m-%d}")],
            run=lambda d: supervision.item_close(item=item, actor=actor_of(request), **d),  # type: ignore[arg-type]
            done=lambda i: f"已销号：{i.text}。",
            back=lambda i: self.change_url(i.visit),
        )


# --- the year-end report -----------------------------------------------------------------------------


class SubmitForm(forms.Form):
    submitted_on = forms.DateField(label="报市指挥部（农科局备案）日期", widget=date_input())


class PublishForm(NoticeStartForm):
    groups = GroupsChoice(
        label="村民小组（组级公示）",
        queryset=VillageGroup.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="每个选中的村民小组各张贴一份",
    )


class AcceptanceForm(forms.Form):
    outcome = forms.ChoiceField(label="验收结论", choices=YearEndReport.Outcome.choices)
    note = forms.CharField(
        label="验收意见", widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), required=False
    )
    accepted_on = forms.DateField(label="验收日期", widget=date_input())


@admin.register(YearEndReport)
class YearEndReportAdmin(ReadOnlyScoped):
    list_display = ("village", "fund", "generated_at", "submitted_on", "outcome", "steps")
    list_select_related = ("village", "fund")
    readonly_fields = ("figures_table", "steps")
    fields = (
        "village", "fund", "figures_table", "pdf", "generated_at", "submitted_on", "outcome",
        "outcome_note", "accepted_on", "steps",
    )  # fmt: skip
    actions = ["export_xlsx"]

    @admin.display(description="报告数据")
    def figures_table(self, report_obj: YearEndReport) -> str:
        lines = [*report._lines(report_obj.figures), ("受益贫困户", f"{report_obj.figures['households']} 户")]
        return format_html(
            '<table id="report-figures">{}</table>',
            format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", lines),
        )

    @admin.display(description="办理")
    def steps(self, report_obj: YearEndReport) -> str:
        role = getattr(self, "_role", "")
        links = []
        if role == "township":
            if report_obj.submitted_on is None:
                links.append((reverse("admin:collectives_report_submit", args=[report_obj.pk]), "报市指挥部"))
            links.append(
                (reverse("admin:collectives_report_publish", args=[report_obj.pk]), "发布公示（乡、村、组）")
            )
        if role == "city" and report_obj.submitted_on is not None and not report_obj.outcome:
            links.append((reverse("admin:collectives_report_accept", args=[report_obj.pk]), "验收"))
        return buttons(links)

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        self._role = role_of(request)
        return super().changelist_view(request, extra_context)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> Any:
        self._role = role_of(request)
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self) -> list[Any]:
        return [
            self.view("report_submit", "<int:pk>/submit/", self.submit_view),
            self.view("report_publish", "<int:pk>/publish/", self.publish_view),
            self.view("report_accept", "<int:pk>/accept/", self.accept_view),
            *super().get_urls(),
        ]

    def submit_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        report_obj = self.mine(request, pk)
        return self.step(
            request,
            title="报市指挥部（农科局备案）",
            form=SubmitForm(request.POST or None, initial={"submitted_on": timezone.localdate()}),
            roles=TOWNSHIP,
            about=str(report_obj),
            help="报送后报告冻结，不能重新生成；由市指挥部会同监督单位验收。",
            run=lambda d: report.report_submit(report=report_obj, actor=actor_of(request), **d),  # type: ignore[arg-type]
            done=lambda r: f"已报市指挥部：{r}。",
            back=self.change_url,
        )

    def publish_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """The report's 公示 at 乡, 村 and 组 level: one notice per level from the same frozen figures."""
        report_obj = self.mine(request, pk)
        form = PublishForm(request.POST or None, initial={"start": timezone.localdate()})
        groups = form.fields["groups"]
        assert isinstance(groups, forms.ModelMultipleChoiceField)
        groups.queryset = VillageGroup.objects.filter(village=report_obj.village_id).order_by("name")
        groups.initial = list(groups.queryset)

        def run(d: dict[str, Any]) -> list[Notice]:
            common = {
                "kind": report.REPORT_NOTICE, "year": report_obj.fund.year, "actor": request.user,
                "start": d["start"], "days": d["days"], "contact": d["contact"],
            }  # fmt: skip
            village = report_obj.village
            issued = [
                notices.notice_issue(township=village.township, **common),
                notices.notice_issue(village=village, **common),
            ]
            issued += [notices.notice_issue(group=group, **common) for group in d["groups"]]
            return issued

        return self.step(
            request,
            title="发布效益分析公示（乡、村、组）",
            form=form,
            roles=TOWNSHIP,
            about=str(report_obj),
            help="在乡镇、村委会和所选村民小组各张贴一份，内容出自同一份报告数据；印发后到各公示页面登记张贴。",
            run=run,
            done=lambda issued: f"已印发 {len(issued)} 份公示：" + "；".join(n.title for n in issued) + "。",
            back=lambda issued: (
                f"{reverse('admin:disbursements_notice_changelist')}?kind={report.REPORT_NOTICE}"
            ),
            submit="印发公示",
        )

    def accept_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        report_obj = self.mine(request, pk)
        return self.step(
            request,
            title="验收（市指挥部会同监督单位）",
            form=AcceptanceForm(request.POST or None, initial={"accepted_on": timezone.localdate()}),
            roles=CITY,
            about=str(report_obj),
            run=lambda d: report.acceptance_record(report=report_obj, actor=actor_of(request), **d),  # type: ignore[arg-type]
            done=lambda r: f"已记录验收结论：{r.get_outcome_display()}。",
            back=self.change_url,
        )

    @admin.action(description="导出效益分析报告（Excel）")
    def export_xlsx(self, request: HttpRequest, queryset: QuerySet[YearEndReport]) -> HttpResponse:
        report_obj = queryset.first()
        out = io.BytesIO()
        if report_obj is not None:
            report.report_xlsx(out, report_obj)
        name = file_name(
            f"{report_obj.fund.year if report_obj else ''}效益分析报告",
            report_obj.village.name if report_obj else "",
        )
        response = HttpResponse(out.getvalue(), content_type=XLSX)
        response["Content-Disposition"] = f"attachment; filename*=UTF-8''{name}"
        return response


# --- equity and the cooperative ----------------------------------------------------------------------


class FundChoiceForm(forms.Form):
    fund = forms.ModelChoiceField(label="村集体经济扶持资金", queryset=VillageFund.objects.none())

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["fund"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = (
            visible(VillageFund, user).filter(plan__status=FundPlan.Status.APPROVED).select_related("village")
        )
        if field.queryset.count() == 1:
            field.initial = field.queryset.first()


class StakeForm(FundChoiceForm):
    counterparty = forms.ModelChoiceField(label="入股组织", queryset=Counterparty.objects.order_by("name"))
    principal = money_input("入股本金（元）")
    invested_on = forms.DateField(label="入股日期", widget=date_input())
    agreement_scan = forms.FileField(label="入股协议（扫描件）")


class DividendForm(forms.Form):
    year = forms.IntegerField(label="分红年度", min_value=2017, max_value=2100)
    amount = money_input("分红金额（元）")
    received_on = forms.DateField(label="到账日期", widget=date_input())
    shares = forms.CharField(
        label="分红到户",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 50}),
        help_text="每行一户：户编号，金额（按方案分配给贫困户；合计不超过本次分红）",
    )

    def __init__(self, *args: Any, households: QuerySet[Household], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.households = households

    def clean_shares(self) -> dict[Household, Decimal]:
        shares: dict[Household, Decimal] = {}
        by_code = {h.code: h for h in self.households}
        for n, line in enumerate(self.cleaned_data["shares"].splitlines(), 1):
            if not line.strip():
                continue
            code, _, value = line.replace("，", ",").partition(",")
            household = by_code.get(code.strip())
            if household is None:
                raise ValidationError(f"第 {n} 行 户编号 “{code.strip()}”：不是本村的贫困户。")
            try:
                share = Decimal(value.strip())
            except ArithmeticError:
                raise ValidationError(f"第 {n} 行 金额 “{value.strip()}”：须是金额，如 3000.00。") from None
            if share <= 0 or share != share.quantize(Decimal("0.01")):
                raise ValidationError(f"第 {n} 行 金额 “{value.strip()}”：须大于零，最多两位小数。")
            shares[household] = shares.get(household, Decimal("0")) + share
        return shares


class ReturnForm(forms.Form):
    returned_on = forms.DateField(label="本金退还日期", widget=date_input())


@admin.register(EquityStake)
class EquityStakeAdmin(ReadOnlyScoped):
    list_display = ("village", "counterparty", "principal_yuan", "invested_on", "returned_on", "steps")
    list_select_related = ("village", "counterparty")
    principal_yuan = money_column("principal", "入股本金（元）")
    add_roles = VILLAGE

    @admin.display(description="办理")
    def steps(self, stake: EquityStake) -> str:
        if getattr(self, "_role", "") != "village":
            return "—"
        links = [(reverse("admin:collectives_stake_dividend", args=[stake.pk]), "登记分红")]
        if stake.returned_on is None:
            links.append((reverse("admin:collectives_stake_return", args=[stake.pk]), "本金退还"))
        return buttons(links)

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        self._role = role_of(request)
        return super().changelist_view(request, extra_context)

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        form = StakeForm(request.POST or None, request.FILES or None, user=request.user,
                         initial={"invested_on": timezone.localdate()})  # fmt: skip
        return self.step(
            request,
            title="入股（从入股资金专户）",
            form=form,
            roles=VILLAGE,
            help="本金保值，每年分红进村集体，按方案分配到贫困户；到期退还本金。",
            run=lambda d: equity.stake_invest(actor=actor_of(request), **d),  # type: ignore[arg-type]
            done=lambda s: f"已登记{s}。",
            back=self.change_url,
        )

    def get_urls(self) -> list[Any]:
        return [
            self.view("stake_dividend", "<int:pk>/dividend/", self.dividend_view),
            self.view("stake_return", "<int:pk>/return/", self.return_view),
            *super().get_urls(),
        ]

    def dividend_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        stake = self.mine(request, pk)
        households = visible(Household, request.user).filter(village=stake.village_id)
        form = DividendForm(
            request.POST or None,
            households=households,
            initial={"year": stake.fund.year, "received_on": timezone.localdate()},
        )
        return self.step(
            request,
            title="登记分红与分红到户",
            form=form,
            roles=VILLAGE,
            about=str(stake),
            help="分红进村集体分红收入，再按方案分到贫困户；分红从不出自借款资金专户。",
            run=lambda d: equity.dividend_record(stake=stake, actor=actor_of(request), **d),  # type: ignore[arg-type]
            done=lambda dv: f"已登记 {dv.year} 年分红 {yuan(dv.amount)} 元，分到 {dv.shares.count()} 户。",
            back=lambda dv: self.list_url(),
        )

    def return_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        stake = self.mine(request, pk)
        return self.step(
            request,
            title="入股本金退还",
            form=ReturnForm(request.POST or None, initial={"returned_on": timezone.localdate()}),
            roles=VILLAGE,
            about=str(stake),
            facts=[("入股本金", f"{yuan(stake.principal)} 元")],
            run=lambda d: equity.stake_return(stake=stake, actor=actor_of(request), **d),  # type: ignore[arg-type]
            done=lambda s: f"本金 {yuan(s.principal)} 元已退回入股资金专户。",
            back=lambda s: self.list_url(),
        )


@admin.register(DividendShare)
class DividendShareAdmin(ReadOnlyScoped):
    list_display = ("household", "of_dividend", "amount_yuan")
    fields = ("household", "of_dividend", "amount")
    readonly_fields = ("of_dividend",)

    @admin.display(description="分红")
    def of_dividend(self, share: DividendShare) -> str:
        return str(share.dividend)

    list_select_related = ("household", "dividend__stake__village", "dividend__stake__counterparty")
    amount_yuan = money_column("amount", "分得金额（元）")


class CooperativeForm(FundChoiceForm):
    kind = forms.ChoiceField(label="收支", choices=CooperativeTransaction.Kind.choices)
    amount = money_input("金额（元）")
    occurred_on = forms.DateField(label="日期", widget=date_input())
    purpose = forms.CharField(label="事由", max_length=100)
    voucher_scan = forms.FileField(label="凭证（扫描件）")


@admin.register(CooperativeTransaction)
class CooperativeTransactionAdmin(ReadOnlyScoped):
    list_display = ("village", "occurred_on", "kind", "amount_yuan", "purpose")
    list_filter = ("kind",)
    list_select_related = ("village",)
    amount_yuan = money_column("amount", "金额（元）")
    add_roles = VILLAGE

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        form = CooperativeForm(request.POST or None, request.FILES or None, user=request.user,
                               initial={"occurred_on": timezone.localdate()})  # fmt: skip
        return self.step(
            request,
            title="登记合作社收支",
            form=form,
            roles=VILLAGE,
            help="村党总支牵头的专业合作社：支出从合作社经营资金专户付出，收入回到专户；每笔附凭证。",
            run=lambda d: equity.cooperative_record(actor=actor_of(request), **d),  # type: ignore[arg-type]
            done=lambda t: f"已登记{t.get_kind_display()} {yuan(t.amount)} 元：{t.purpose}。",
            back=lambda t: self.list_url(),
        )
