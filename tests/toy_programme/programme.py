"""The toy programme: organisation incentives paid by a township, on the shared machinery."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Count, Q, Sum

from disbursements import ledger
from disbursements.approval import BATCH_KINDS, BatchHooks, BatchKind, NoticeGate, Step
from disbursements.dashboard import DASHBOARD_SECTIONS, Area, Column, Computed, Level, Section
from disbursements.models import Account, Batch, BatchLine, Payout
from disbursements.money import ZERO, yuan
from disbursements.notices import NOTICE_KINDS, NoticeKind, NoticeRow
from disbursements.notices import Area as NoticeArea
from disbursements.registry import (
    ACCOUNT_KINDS,
    ENTRY_KINDS,
    FUNDS,
    AccountKind,
    Counts,
    EntryKind,
    Fund,
    Record,
)
from households.models import Township, User
from households.scoping import scoped

FUND = "toy_incentive"
KIND = "toy_incentive"
NOTICE = "toy_incentive"


class Hooks(BatchHooks):
    def sources(self, batch: Batch, lines: list[BatchLine]) -> dict[int, Account]:
        purse = township_account(batch.township)
        return {line.pk: purse for line in lines}


def township_account(township: Township) -> Account:
    return ledger.account(
        ledger.Spec(
            FUND, "toy_township", f"toy:{township.pk}", f"{township.name}（奖补）", township_id=township.pk
        )
    )


def organisation_account(name: str, township: Township) -> Account:
    return ledger.account(ledger.Spec(FUND, "toy_org", f"org:{name}", name, township_id=township.pk))


def source_account() -> Account:
    return ledger.account(ledger.Spec(FUND, "toy_source", "source", "奖补资金来源"))


def prepare(*, township: Township, year: int, actor: User, payees: dict[Account, Decimal]) -> Batch:
    batch = Batch.objects.create(
        kind=KIND,
        year=year,
        township=township,
        created_by=actor,
        total=sum(payees.values(), ZERO),
        line_count=len(payees),
    )
    BatchLine.objects.bulk_create([BatchLine(batch=batch, account=a, amount=x) for a, x in payees.items()])
    return batch


def notice_rows(year: int, area: NoticeArea, user: User | None) -> tuple[list[NoticeRow], Decimal]:
    lines = BatchLine.objects.filter(batch__kind=KIND, batch__year=year, batch__township=area.township)
    if user is not None:
        lines = scoped(lines, user)
    rows = [
        NoticeRow([str(n), line.account.name, yuan(line.amount)], str(line.account_id))
        for n, line in enumerate(lines.select_related("account").order_by("pk"), 1)
    ]
    return rows, sum((line.amount for line in lines), ZERO)


def notice_payee(reference: str) -> Account:
    """A row of the toy notice names the organisation's account itself."""
    return Account.objects.get(pk=int(reference))


def compute(area: Area) -> Computed:
    paid = scoped(Payout.objects.filter(line__batch__kind=KIND, line__batch__year=area.year), area.user)
    if area.level != Level.TOWNSHIP:
        return Computed(values={})
    values = {
        row["line__batch__township"]: {"organisations": row["n"], "paid": row["amount"]}
        for row in paid.filter(Q(reversed_at__isnull=True))
        .values("line__batch__township")
        .annotate(n=Count("pk"), amount=Sum("amount"))
    }
    return Computed(values=values)


FUND_DEF = Fund(FUND, "测试奖补资金")
ACCOUNT_KIND_DEFS = (
    AccountKind("toy_source", "奖补资金来源", FUND, "source", may_go_negative=True),
    AccountKind("toy_township", "乡镇奖补专户", FUND, "township"),
    AccountKind("toy_org", "带贫组织", FUND, "payee"),
)
ENTRY_KIND_DEFS = (
    EntryKind("toy_funding", "奖补资金到位", Counts.FUNDING),
    EntryKind("toy_payment", "奖补兑现", Counts.PAYMENT, Record("disbursements.Payout", "entry", "amount")),
)
BATCH_KIND = BatchKind(
    code=KIND,
    label="带贫组织奖补",
    fund=FUND,
    steps=(
        Step("toy_confirm", "draft", "confirmed", frozenset({"township"}), "乡镇考核确认"),
        Step("toy_review", "confirmed", "reviewed", frozenset({"city"}), "市指挥部复核"),
        Step("toy_approve", "reviewed", "approved", frozenset({"approver"}), "产业办审批"),
    ),
    pay_roles=frozenset({"township"}),
    payment_entry_kind="toy_payment",
    statuses={"confirmed": "待市指挥部复核", "reviewed": "待审批"},
    hooks=Hooks(),
    notice_gate=NoticeGate("toy_review", NOTICE),
    unit="家",
)
NOTICE_KIND = NoticeKind(
    NOTICE,
    "带贫组织奖补",
    "{year}年度{area}带贫组织奖补公示",
    ("序号", "组织名称", "奖补金额"),
    notice_rows,
    amount_from=2,
    total_column=2,
    unit="家",
    levels=("township",),
    payee=notice_payee,
)
SECTION = Section(
    code="toy",
    label="带贫组织奖补（测试）",
    columns=(Column("organisations", "已兑现组织"), Column("paid", "已兑现奖补（元）", money=True)),
    compute=compute,
)


def register() -> None:
    FUNDS.register(FUND_DEF)
    for kind in ACCOUNT_KIND_DEFS:
        ACCOUNT_KINDS.register(kind)
    for entry_kind in ENTRY_KIND_DEFS:
        ENTRY_KINDS.register(entry_kind)
    BATCH_KINDS.register(BATCH_KIND)
    NOTICE_KINDS.register(NOTICE_KIND)
    DASHBOARD_SECTIONS.register(SECTION)


def unregister() -> None:
    FUNDS.unregister(FUND)
    for kind in ACCOUNT_KIND_DEFS:
        ACCOUNT_KINDS.unregister(kind.code)
    for entry_kind in ENTRY_KIND_DEFS:
        ENTRY_KINDS.unregister(entry_kind.code)
    BATCH_KINDS.unregister(KIND)
    NOTICE_KINDS.unregister(NOTICE)
    DASHBOARD_SECTIONS.unregister(SECTION.code)
