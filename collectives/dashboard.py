"""The programme's dashboard rows (per township, per village) and its to-do sources: set-based."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.urls import reverse

from disbursements.dashboard import Area, Column, Computed, Level, Section
from disbursements.money import ZERO
from households.models import User, Village
from households.scoping import scoped
from households.worklist import TodoItem, TodoSource

from . import rules, services
from .models import CorrectionItem, Loan, VillageFund

COLUMNS = (
    Column("funds", "扶持资金（元）", money=True),
    Column("out", "累计放款（元）", money=True),
    Column("repaid", "已还本金（元）", money=True),
    Column("outstanding", "未还本金（元）", money=True),
    Column("late_loans", "逾期笔数", warn=True),
    *(Column(f"par{n}", f"逾期{b}本金（元）", money=True, warn=True) for n, b in enumerate(rules.BUCKETS)),
    Column("written_off", "核销（元）", money=True),
)


def compute(area: Area) -> Computed:
    if area.level not in (Level.TOWNSHIP, Level.VILLAGE):
        return Computed(values={})
    villages = scoped(Village.objects.filter(is_poor_village=True), area.user)
    if area.township is not None:
        villages = villages.filter(township=area.township)
    township_of = dict(villages.values_list("pk", "township_id"))
    book = services.portfolio(list(township_of), today=area.today)
    funds = dict(
        VillageFund.objects.filter(village__in=list(township_of), year=area.year).values_list(
            "village", "amount"
        )
    )
    values: dict[int, dict[str, Any]] = {}
    for village_id, township_id in township_of.items():
        key = township_id if area.level == Level.TOWNSHIP else village_id
        row = values.setdefault(key, defaultdict(lambda: ZERO))
        row["funds"] += funds.get(village_id, ZERO)
        figures = book.get(village_id, {})
        for name in ("out", "repaid", "outstanding", "written_off"):
            row[name] += figures.get(name, ZERO)
        for n, b in enumerate(rules.BUCKETS):
            row[f"par{n}"] += figures.get(b, ZERO)
        row["late_loans"] += int(figures.get("late_loans", 0))
    for row in values.values():
        row["late_loans"] = int(row["late_loans"])
    return Computed(values={k: dict(v) for k, v in values.items()})


SECTION = Section(
    code="collectives", label="村集体经济扶持资金（联保小额贷款）", columns=COLUMNS, compute=compute
)


def overdue_loans(user: User, year: int) -> list[TodoItem]:
    from django.utils import timezone

    late = services.overdue(scoped(Loan.objects.all(), user), today=timezone.localdate())
    amount = sum((o.arrears for o in late.values()), Decimal(0))
    url = reverse("admin:collectives_loan_changelist") + "?status__exact=disbursed"
    return [TodoItem("逾期未还的联保贷款（小组暂停借款）", len(late), url, "笔", amount, urgent=True)]


def loans_waiting(user: User, year: int) -> list[TodoItem]:
    waiting = scoped(Loan.objects.filter(status=Loan.Status.PROPOSED), user)
    url = reverse("admin:collectives_loan_changelist") + "?status__exact=proposed"
    return [TodoItem("待审批放款的联保贷款", waiting.count(), url, "笔")]


def open_corrections(user: User, year: int) -> list[TodoItem]:
    from django.utils import timezone

    items = scoped(CorrectionItem.objects.filter(closed_on__isnull=True), user)
    late = items.filter(due_on__lt=timezone.localdate()).count()
    url = reverse("admin:collectives_correctionitem_changelist") + "?closed_on__isempty=1"
    return [TodoItem("督查整改事项未销号", items.count(), url, "项", urgent=late > 0)]


def months_unvisited(user: User, year: int) -> list[TodoItem]:
    """乡政府、村总支、工作组每月督查: funded villages in scope with a past month of the year unvisited."""
    from django.utils import timezone

    from .supervision import months_without_visit

    villages = list(scoped(VillageFund.objects.filter(year=year), user).values_list("village", flat=True))
    gaps = months_without_visit(villages, year, timezone.localdate()) if villages else {}
    missing = [v for v, months in gaps.items() if months]
    url = reverse("admin:collectives_supervisionvisit_changelist")
    return [TodoItem(f"{year} 年有月份未督查的村", len(missing), url, "个", urgent=bool(missing))]


TODO_DEFS = (
    TodoSource(
        "collective_overdue", "逾期联保贷款", frozenset({"village", "township", "city"}), overdue_loans
    ),
    TodoSource("collective_loans_waiting", "待审批联保贷款", frozenset({"township"}), loans_waiting),
    TodoSource("collective_corrections", "督查整改", frozenset({"village", "township"}), open_corrections),
    TodoSource("collective_unvisited", "每月督查", frozenset({"township", "city"}), months_unvisited),
)
