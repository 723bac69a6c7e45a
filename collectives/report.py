"""Year-end 效益分析报告 per village fund, generated from the records (PDF and xlsx), its 公示 at
township, village and group level (one notice kind, printed per level from the same data),
submission to city HQ and the acceptance (验收) record."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from disbursements import ledger
from disbursements.models import Account, Entry
from disbursements.money import ZERO, to_fen, yuan
from disbursements.notices import Area, NoticeKind, Rows
from households.models import User
from households.pdf import render_pdf
from households.scoping import scoped
from households.xlsx import ColumnSpec, Kind, write_table

from . import accounts, rules
from .models import DividendShare, Loan, MemberIncome, VillageFund, YearEndReport
from .services import portfolio

REPORT_NOTICE = "collective_report"
LINES = (
    ("allocated", "扶持资金下拨"),
    ("lending", "其中：联保小额贷款"),
    ("equity", "其中：入股分红"),
    ("cooperative", "其中：合作社经营"),
    ("out", "累计放款"),
    ("repaid", "已还本金"),
    ("outstanding", "未还本金"),
    ("overdue", "逾期本金"),
    ("written_off", "核销本金"),
    ("fees", "占用费收入（入公积公益金）"),
    ("lending_balance", "借款资金专户结存"),
    ("equity_balance", "入股资金专户结存"),
    ("cooperative_balance", "合作社经营资金专户结存"),
)
# Income change of the households reached (from `MemberIncome`; averages per household, per capita).
INCOME_LINES = (
    ("income_before", "受益户上年人均纯收入（平均）"),
    ("income_after", "受益户本年人均纯收入（平均）"),
    ("income_change", "受益户人均纯收入增加（平均）"),
)
MSG_NOT_REACHED = "{name} 不是本村扶持资金的受益户（借款或分红到户）。"


def figures(fund: VillageFund, today: datetime.date) -> dict[str, str]:
    """The report's figures from the records and the ledger (a fixed number of queries)."""
    village = fund.village
    plan = getattr(fund, "plan", None)
    book = portfolio([village.pk], today=today).get(village.pk, {})
    subs = accounts.sub_accounts(village)
    balances = ledger.balances(subs.values(), fund.year)
    fee_accounts = Account.objects.filter(fund=accounts.FUND, kind=accounts.RESERVE, village=village)
    fees = sum(
        (
            to_fen(a)
            for a in Entry.objects.filter(year=fund.year, target__in=fee_accounts).values_list(
                "amount", flat=True
            )
        ),
        ZERO,
    )
    reached = (
        Loan.objects.filter(fund=fund)
        .exclude(status=Loan.Status.PROPOSED)
        .values("household")
        .distinct()
        .count()
    )
    values: dict[str, Decimal] = {
        "allocated": to_fen(fund.amount),
        "lending": plan.lending if plan else ZERO,
        "equity": plan.equity if plan else ZERO,
        "cooperative": plan.cooperative if plan else ZERO,
        "out": book.get("out", ZERO),
        "repaid": book.get("repaid", ZERO),
        "outstanding": book.get("outstanding", ZERO),
        "overdue": sum((book.get(b, ZERO) for b in rules.BUCKETS), ZERO),
        "written_off": book.get("written_off", ZERO),
        "fees": fees,
        "lending_balance": balances[subs[accounts.LENDING].pk],
        "equity_balance": balances[subs[accounts.EQUITY].pk],
        "cooperative_balance": balances[subs[accounts.COOPERATIVE].pk],
    }
    incomes = list(MemberIncome.objects.filter(fund=fund).values_list("before", "after"))
    count = len(incomes)
    before = to_fen(sum((to_fen(b) for b, _ in incomes), ZERO) / count) if count else ZERO
    after = to_fen(sum((to_fen(a) for _, a in incomes), ZERO) / count) if count else ZERO
    values.update(income_before=before, income_after=after, income_change=after - before)
    return {
        **{k: str(to_fen(v)) for k, v in values.items()},
        "households": str(reached),
        "income_households": str(count),
        "as_of": today.isoformat(),
    }


def reached_households(fund: VillageFund) -> Any:
    """The households the fund reached: borrowers of its paid loans and households given a dividend."""
    from households.models import Household

    borrowers = Loan.objects.filter(fund=fund).exclude(status=Loan.Status.PROPOSED).values("household")
    shares = DividendShare.objects.filter(dividend__stake__fund=fund).values("household")
    return Household.objects.filter(Q(pk__in=borrowers) | Q(pk__in=shares))


@transaction.atomic
def income_record(
    *,
    fund: VillageFund,
    household: Any,
    before: Decimal,
    after: Decimal,
    actor: User,
    source: str = "入户调查",
) -> MemberIncome:
    """The village records a reached household's per-capita net income before and in the year; a
    second record for the same household replaces the figures until the report is submitted."""
    if not actor.is_superuser and (actor.role != "village" or actor.village_id != fund.village_id):
        raise ValidationError("受益户收入由本村村委会登记。")
    if YearEndReport.objects.filter(fund=fund, submitted_on__isnull=False).exists():
        raise ValidationError("报告已报市指挥部，收入数据不能再改。")
    if not reached_households(fund).filter(pk=household.pk).exists():
        raise ValidationError(MSG_NOT_REACHED.format(name=household.head_name))
    before, after = to_fen(before), to_fen(after)
    if before < 0 or after < 0:
        raise ValidationError("收入不能为负数。")
    row, _created = MemberIncome.objects.update_or_create(
        fund=fund,
        household=household,
        defaults={
            "village_id": fund.village_id,
            "before": before,
            "after": after,
            "source": source.strip()[:64] or "入户调查",
            "recorded_by": actor,
            "recorded_at": timezone.now(),
        },
    )
    return row


@transaction.atomic
def report_generate(*, fund: VillageFund, actor: User, today: datetime.date | None = None) -> YearEndReport:
    """The village (or its township) generates the year-end report; regenerating before submission
    replaces the figures, after submission it is frozen."""
    today = today or timezone.localdate()
    village = fund.village
    allowed = (
        actor.is_superuser
        or (actor.role == "village" and actor.village_id == village.pk)
        or (actor.role == "township" and actor.township_id == village.township_id)
    )
    if not allowed:
        raise ValidationError("效益分析报告由本村或本乡镇生成。")
    existing = YearEndReport.objects.select_for_update().filter(fund=fund).first()
    if existing is not None and existing.submitted_on is not None:
        raise ValidationError("报告已报市指挥部，不能重新生成。")
    data = figures(fund, today)
    report = existing or YearEndReport(fund=fund, village=village, generated_by=actor)
    report.figures, report.generated_by, report.generated_at = data, actor, timezone.now()
    pdf = render_pdf(
        "collectives/year_end_report.pdf.html", {"fund": fund, "lines": _lines(data), "data": data}
    )
    report.pdf.save(f"report-{village.code}-{fund.year}.pdf", ContentFile(pdf), save=False)
    report.save()
    return report


def _lines(data: dict[str, str]) -> list[tuple[str, str]]:
    return [(label, yuan(Decimal(data.get(key, "0")))) for key, label in (*LINES, *INCOME_LINES)]


def report_xlsx(stream: IO[bytes], report: YearEndReport) -> None:
    rows: list[list[Any]] = [[label, Decimal(report.figures[key])] for key, label in LINES]
    rows.append(["受益贫困户（户）", int(report.figures["households"])])
    rows.append(["其中登记收入变化的户（户）", int(report.figures.get("income_households", 0))])
    rows.extend([label, Decimal(report.figures.get(key, "0"))] for key, label in INCOME_LINES)
    write_table(
        stream,
        title=f"{report.fund.year}年{report.village.name}村集体经济扶持资金效益分析报告",
        issuer=f"{report.village.name}村委会",
        columns=(ColumnSpec("项目"), ColumnSpec("金额（元）/户数", Kind.MONEY)),
        rows=rows,
    )


@transaction.atomic
def report_submit(*, report: YearEndReport, submitted_on: datetime.date, actor: User) -> YearEndReport:
    if not actor.is_superuser and (
        actor.role != "township" or actor.township_id != report.village.township_id
    ):
        raise ValidationError("由乡镇报市指挥部。")
    report.submitted_on = submitted_on
    report.save(update_fields=["submitted_on"])
    return report


@transaction.atomic
def acceptance_record(
    *, report: YearEndReport, outcome: str, note: str, accepted_on: datetime.date, actor: User
) -> YearEndReport:
    """验收 by the city HQ office with the supervising units: one recorded outcome per fund."""
    if not actor.is_superuser and actor.role != "city":
        raise ValidationError("验收由市指挥部办理。")
    if report.submitted_on is None:
        raise ValidationError("报告尚未报市指挥部，不能验收。")
    if outcome not in YearEndReport.Outcome.values:
        raise ValidationError("验收结论无效。")
    report.outcome, report.outcome_note, report.accepted_on, report.accepted_by = (
        outcome,
        note.strip(),
        accepted_on,
        actor,
    )
    report.save(update_fields=["outcome", "outcome_note", "accepted_on", "accepted_by"])
    return report


def report_rows(year: int, area: Area, user: User | None) -> tuple[Rows, Decimal]:
    """The notice of the reports: one row per figure for the area's villages (at group level: its
    village's), from the same frozen figures at every level."""
    reports = YearEndReport.objects.filter(fund__year=year, village__in=area.villages()).select_related(
        "village"
    )
    if user is not None:
        reports = scoped(reports, user)
    rows: list[list[str]] = []
    total = ZERO
    for report in reports.order_by("village__code"):
        for key, label in LINES:
            if key in ("lending", "equity", "cooperative"):
                continue
            rows.append([str(len(rows) + 1), report.village.name, label, yuan(Decimal(report.figures[key]))])
        rows.append(
            [str(len(rows) + 1), report.village.name, "受益贫困户", f"{report.figures['households']} 户"]
        )
        if int(report.figures.get("income_households", 0)):
            change = yuan(Decimal(report.figures["income_change"]))
            rows.append([str(len(rows) + 1), report.village.name, "受益户人均纯收入增加（平均）", change])
        total += Decimal(report.figures["allocated"])
    return rows, total


REPORT_NOTICE_KIND = NoticeKind(
    REPORT_NOTICE,
    "村集体经济效益分析报告",
    "{year}年度{area}村集体经济扶持资金效益分析公示",
    ("序号", "村委会", "项目", "金额（元）"),
    report_rows,
    amount_from=3,
    total_column=3,
    unit="项",
    levels=("township", "village", "group"),
    money_columns=(),
    preamble="根据《香格里拉市精准扶贫特色产业扶持方案》，现将村集体经济扶持资金年度使用情况和效益予以公示，接受群众监督。",
)
