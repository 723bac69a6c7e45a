"""Reads of the programme: the loan book and the overdue list (set-based: a fixed number of queries
whatever the number of loans), written as xlsx through the one writer."""

from __future__ import annotations

import datetime
from collections import defaultdict
from decimal import Decimal
from typing import IO, Any

from django.db.models import QuerySet

from disbursements.money import ZERO, to_fen
from households.masking import mask_id_number
from households.models import User
from households.scoping import scoped
from households.xlsx import ColumnSpec, Kind, area_name, issuer_for, write_table

from . import rules
from .models import Instalment, Loan, Repayment, WriteOff
from .services import overdue

BOOK_COLUMNS = (
    ColumnSpec("乡镇"),
    ColumnSpec("村委会"),
    ColumnSpec("联保小组"),
    ColumnSpec("户编号"),
    ColumnSpec("户主姓名"),
    ColumnSpec("身份证号"),
    ColumnSpec("用途"),
    ColumnSpec("还款方式"),
    ColumnSpec("期限（月）", Kind.INT),
    ColumnSpec("放款日期", Kind.DATE),
    ColumnSpec("借款金额", Kind.MONEY),
    ColumnSpec("已还本金", Kind.MONEY),
    ColumnSpec("核销", Kind.MONEY),
    ColumnSpec("未还本金", Kind.MONEY),
    ColumnSpec("逾期欠款", Kind.MONEY),
    ColumnSpec("逾期天数", Kind.INT),
    ColumnSpec("账龄"),
    ColumnSpec("状态"),
)


def loan_book(user: User, *, today: datetime.date, loans: QuerySet[Loan] | None = None) -> list[list[Any]]:
    """台账: every loan the user may see, with repaid, written off, outstanding and its arrears."""
    loans = scoped(loans if loans is not None else Loan.objects.all(), user).exclude(
        status=Loan.Status.PROPOSED
    )
    repaid: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for loan_id, principal in Repayment.objects.filter(loan__in=loans).values_list("loan", "principal"):
        repaid[loan_id] += to_fen(principal)
    written = {k: to_fen(v) for k, v in WriteOff.objects.filter(loan__in=loans).values_list("loan", "amount")}
    late = overdue(loans, today=today)
    rows = []
    for loan in loans.select_related("village__township", "group", "household").order_by(
        "village__code", "household__code", "pk"
    ):
        out = to_fen(loan.principal) - repaid[loan.pk] - written.get(loan.pk, ZERO)
        arrears = late.get(loan.pk)
        rows.append(
            [
                loan.village.township.name,
                loan.village.name,
                loan.group.name,
                loan.household.code,
                loan.household.head_name,
                mask_id_number(loan.household.id_number),
                loan.purpose,
                rules.FREQUENCIES.get(loan.frequency, loan.frequency),
                loan.term_months,
                loan.disbursed_on,
                to_fen(loan.principal),
                repaid[loan.pk],
                written.get(loan.pk, ZERO),
                out,
                arrears.arrears if arrears else ZERO,
                arrears.days if arrears else 0,
                arrears.bucket if arrears else "",
                loan.get_status_display(),
            ]
        )
    return rows


def _total(rows: list[list[Any]]) -> list[Any]:
    money = [i for i, c in enumerate(BOOK_COLUMNS) if c.kind == Kind.MONEY]
    total: list[Any] = ["合计", "", "", "", f"共 {len(rows)} 笔"] + [""] * (len(BOOK_COLUMNS) - 5)
    for i in money:
        total[i] = sum((r[i] for r in rows), ZERO)
    return total


def export_loan_book(
    stream: IO[bytes], user: User, *, today: datetime.date, overdue_only: bool = False
) -> None:
    rows = loan_book(user, today=today)
    if overdue_only:
        rows = [r for r in rows if r[15] > 0]
    title = f"{area_name(user)}联保小额贷款{'逾期清单' if overdue_only else '台账'}（截至 {today:%Y-%m-%d}）"
    write_table(
        stream,
        title=title,
        issuer=issuer_for(user),
        columns=BOOK_COLUMNS,
        rows=rows,
        total_row=_total(rows),
        frozen_columns=5,
    )


def live_schedule(loan: Loan) -> list[Instalment]:
    return list(loan.instalments.filter(superseded_by__isnull=True).order_by("due_on", "number"))
