"""The incentive's money on the shared machinery: its fund and accounts (the programme's funding and
each organisation), the incentive batch kind (乡镇考核确认 → 市指挥部复核 → 产业办/分管领导审批 → 兑现 to the
organisation's bank account, with a 公示 before the township's step passes), its notice kind, its
dashboard section and its reconcile check. Registered in `registration.py`."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.utils import timezone

from disbursements import ledger
from disbursements.approval import BatchHooks, BatchKind, LineDetails, NoticeGate, Step
from disbursements.dashboard import Area, Column, Computed, Level, Section
from disbursements.models import Account, Batch, BatchLine, Payout
from disbursements.money import ZERO, to_fen, yuan
from disbursements.notices import Area as NoticeArea
from disbursements.notices import NoticeKind, NoticeRow
from disbursements.registry import AccountKind, Counts, EntryKind, Fund, ReconcileCheck, Record
from disbursements.registry import Level as AccountLevel
from households.masking import mask_id_number
from households.models import User
from households.scoping import scoped

from . import rules
from .models import Agreement, Incentive, IncentivePolicy, Organisation

FUND = "org_incentive"
KIND = "org_incentive"
NOTICE = "org_incentive"

SOURCE = "org_source"
PAYEE = "org_payee"
E_PAYOUT = "org_payout"

FUND_DEF = Fund(FUND, "带贫组织奖补资金")
ACCOUNT_KIND_DEFS = (
    AccountKind(SOURCE, "财政专项资金（带贫奖补）", FUND, AccountLevel.SOURCE, may_go_negative=True),
    AccountKind(PAYEE, "带贫组织", FUND, AccountLevel.PAYEE),
)
ENTRY_KIND_DEFS = (
    EntryKind(E_PAYOUT, "带贫奖补兑现", Counts.PAYMENT, Record("disbursements.Payout", "entry", "amount")),
)

MSG_NO_BANK = "{name} 没有登记银行账号，奖补须兑现到组织的银行账户，请先补充。"
MSG_INCOMPLETE = "{name} 由原入股合作方迁入，登记信息尚未补全（统一社会信用代码、负责人等），不能兑现。"


def source_account() -> Account:
    return ledger.account(ledger.Spec(FUND, SOURCE, "source", "财政专项扶贫资金（带贫奖补）"))


def organisation_accounts(organisations: list[Organisation]) -> dict[int, Account]:
    """Each organisation's account in the fund, found by its key (created in bulk where missing)."""
    specs = {
        o.pk: ledger.Spec(FUND, PAYEE, f"org:{o.pk}", o.name, township_id=o.township_id)
        for o in organisations
    }
    found = ledger.accounts(specs.values())
    return {pk: found[(FUND, s.key)] for pk, s in specs.items()}


# --- the batch kind ----------------------------------------------------------------------------------

STATUSES = {
    "draft": "待乡镇考核确认",
    "confirmed": "待市指挥部复核",
    "reviewed": "待产业办审批",
    "approved": "已批准，待兑现",
    "paid": "已兑现",
}
STEPS = (
    Step("org_confirm", "draft", "confirmed", frozenset({"township"}), "乡镇考核确认"),
    # Labels apart from the grant's: the batch list offers every kind's steps in one action menu.
    Step("org_review", "confirmed", "reviewed", frozenset({"city"}), "市指挥部复核（带贫奖补）"),
    Step("org_approve", "reviewed", "approved", frozenset({"approver"}), "产业办和分管领导审批（带贫奖补）"),
)


def _incentives(lines: list[BatchLine]) -> dict[int, Incentive]:
    return {i.line_id: i for i in Incentive.objects.filter(line__in=lines).select_related("organisation")}


class IncentiveHooks(BatchHooks):
    def check_payments(self, batch: Batch, lines: list[BatchLine], actor: User) -> None:
        incentives = _incentives(lines)
        ids = sorted(i.organisation_id for i in incentives.values())
        locked = list(Organisation.objects.select_for_update(no_key=True).filter(pk__in=ids).order_by("pk"))
        problems = [MSG_NO_BANK.format(name=o.name) for o in locked if not o.bank_account]
        problems += [MSG_INCOMPLETE.format(name=o.name) for o in locked if o.needs_completion]
        if problems:
            raise ValidationError("；".join(problems))

    def sources(self, batch: Batch, lines: list[BatchLine]) -> dict[int, Account]:
        """Paid from the programme's funding straight to the organisation's account (no allocation
        down the chain: the incentive is paid by city HQ once approved)."""
        purse = source_account()
        return {line.pk: purse for line in lines}

    def memo(self, batch: Batch, line: BatchLine, method_label: str) -> str:
        return f"{batch.year}年带贫组织奖补（{method_label}）"

    def describe_lines(self, batch: Batch, lines: list[BatchLine]) -> LineDetails:
        cells = {
            line_id: (
                i.organisation.name,
                i.organisation.get_kind_display(),
                f"{i.households} 户",
                i.organisation.bank_account or "（未登记）",
            )
            for line_id, i in _incentives(lines).items()
        }
        return LineDetails(("组织名称", "类别", "考核合格户", "银行账号"), cells)

    def after_paid(self, batch: Batch, payouts: list[Payout], actor: User) -> None:
        """A paid incentive marks the organisation 推荐申报 for later projects."""
        organisation_ids = Incentive.objects.filter(line__payout__in=payouts).values("organisation_id")
        Organisation.objects.filter(pk__in=organisation_ids, recommended_at__isnull=True).update(
            recommended_at=timezone.now()
        )

    def after_reverse(self, payout: Payout, actor: User) -> None:
        Incentive.objects.filter(line_id=payout.line_id).update(cancelled_at=payout.reversed_at)


BATCH_KIND = BatchKind(
    code=KIND,
    label="带贫组织奖补",
    fund=FUND,
    steps=STEPS,
    pay_roles=frozenset({"city"}),
    payment_entry_kind=E_PAYOUT,
    statuses=STATUSES,
    hooks=IncentiveHooks(),
    # The organisations, their qualified households and the amounts are published before the
    # township's 考核确认 passes.
    notice_gate=NoticeGate("org_confirm", NOTICE),
    unit="家",
)


# --- the notice ---------------------------------------------------------------------------------------


def notice_rows(year: int, area: NoticeArea, user: User | None) -> tuple[list[NoticeRow], Decimal]:
    incentives = Incentive.objects.filter(
        year=year, cancelled_at__isnull=True, line__batch__township=area.township
    ).select_related("organisation", "line")
    if user is not None:
        incentives = scoped(incentives, user)
    incentives = incentives.order_by("organisation__name")
    households: dict[int, list[str]] = defaultdict(list)
    for incentive_id, name, id_number in (
        Incentive.agreements.through.objects.filter(incentive__in=incentives)
        .order_by("agreement__household__code")
        .values_list("incentive_id", "agreement__household__head_name", "agreement__household__id_number")
    ):
        households[incentive_id].append(f"{name}（{mask_id_number(id_number)}）")
    rows: list[NoticeRow] = []
    total = ZERO
    for n, incentive in enumerate(incentives, 1):
        rows.append(
            NoticeRow(
                [
                    str(n),
                    incentive.organisation.name,
                    str(incentive.households),
                    "、".join(households[incentive.pk]),
                    yuan(incentive.amount),
                ],
                str(incentive.line.account_id),
            )
        )
        total += to_fen(incentive.amount)
    return rows, total


def notice_payee(reference: str) -> Account:
    return Account.objects.get(pk=int(reference), fund=FUND)


NOTICE_KIND = NoticeKind(
    NOTICE,
    "带贫组织奖补",
    "{year}年度{area}带贫组织考核奖补公示",
    ("序号", "组织名称", "合格户数", "考核合格户（户主、身份证号）", "奖补金额（元）"),
    notice_rows,
    amount_from=4,
    total_column=4,
    money_columns=(4,),
    wrap_column=3,
    unit="家",
    levels=("township",),
    payee=notice_payee,
    preamble=(
        "根据《香格里拉市精准扶贫特色产业扶持方案》，经乡镇监督、指导、考核、统计，"
        "现将以下带贫组织、其考核合格的贫困户及奖补金额予以公示，接受群众监督。"
    ),
)


# --- dashboard ----------------------------------------------------------------------------------------


def compute(area: Area) -> Computed:
    """Per township (city HQ) or for the one township: organisations, agreements, qualified
    households, incentives paid. Rows are by the township of the households (agreements) or of the
    supervising township (organisations, money)."""
    if area.level != Level.TOWNSHIP and area.level != Level.VILLAGE:
        return Computed(values={})
    values: dict[int, dict[str, object]] = defaultdict(dict)
    agreements = scoped(Agreement.objects.filter(year=area.year), area.user)
    if area.level == Level.TOWNSHIP:
        key = "household__village__township"
    else:
        key = "household__village"
        agreements = agreements.filter(household__village__township=area.township)
    for row in agreements.values(key).annotate(
        n=Count("pk"),
        q=Count(
            "pk",
            filter=Q(counts=True, assessment__reaches=True, assessment__confirmed_at__isnull=False),
        ),
        o=Count("organisation", distinct=True),
    ):
        values[row[key]].update(organisations=row["o"], agreements=row["n"], qualified=row["q"])
    if area.level == Level.TOWNSHIP:
        paid = scoped(
            Payout.objects.filter(
                line__batch__kind=KIND, line__batch__year=area.year, reversed_at__isnull=True
            ),
            area.user,
        )
        sums: dict[int, Decimal] = defaultdict(lambda: ZERO)
        for township_id, amount in paid.values_list("line__batch__township", "amount"):
            sums[township_id] += to_fen(amount)
        for township_id, amount in sums.items():
            values[township_id]["paid"] = amount
    return Computed(values=dict(values))


SECTION = Section(
    code="org_incentive",
    label="带贫组织考核奖补",
    columns=(
        Column("organisations", "带贫组织"),
        Column("agreements", "帮扶协议"),
        Column("qualified", "考核合格户"),
        Column("paid", "已兑现奖补（元）", money=True),
    ),
    compute=compute,
)


# --- reconcile ----------------------------------------------------------------------------------------


def breaches(year: int) -> list[str]:
    """Every live incentive pays what the rules give for its counted households, each household is
    counted once, and each counted agreement is confirmed and qualified."""
    problems: list[str] = []
    policy = IncentivePolicy.objects.filter(year=year).first()
    seen: dict[int, str] = {}
    live = Incentive.objects.filter(year=year, cancelled_at__isnull=True).select_related(
        "organisation", "line"
    )
    counted = defaultdict(list)
    for incentive_id, household_id, reaches, confirmed in Incentive.agreements.through.objects.filter(
        incentive__in=live
    ).values_list(
        "incentive_id",
        "agreement__household_id",
        "agreement__assessment__reaches",
        "agreement__assessment__confirmed_at",
    ):
        counted[incentive_id].append((household_id, bool(reaches) and confirmed is not None))
    for incentive in live:
        name = incentive.organisation.name
        members = counted[incentive.pk]
        if len(members) != incentive.households or not all(ok for _, ok in members):
            problems.append(f"{name}：计入的合格户与考核记录不符")
        for household_id, _ok in members:
            if household_id in seen and seen[household_id] != name:
                problems.append(f"{name}：有贫困户同时计入 {seen[household_id]} 的奖补")
            seen[household_id] = name
        if to_fen(incentive.amount) != to_fen(incentive.line.amount):
            problems.append(f"{name}：奖补金额与批次明细不符")
        if policy is not None and policy.version == incentive.policy_version:
            expected = rules.incentive(policy.terms(), incentive.households).amount
            if expected != to_fen(incentive.amount):
                problems.append(f"{name}：奖补 {yuan(incentive.amount)} 元，按政策应为 {yuan(expected)} 元")
    return problems


CHECK = ReconcileCheck("organisations", "带贫组织奖补", FUND, breaches)
