"""What officials see: the loan book and overdue list in Excel, the dashboard rows, the to-do item,
the admin pages — scoped, in Chinese, with a constant number of queries."""

from __future__ import annotations

import datetime
import io
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from collectives import selectors, services
from collectives.dashboard import overdue_loans
from households.models import Role

from ..factories import make_user
from .conftest import lend

pytestmark = pytest.mark.django_db
D = Decimal
LATE = datetime.date(2017, 7, 20)


def test_overdue_list_and_book_in_excel(lending_village: dict[str, Any]) -> None:
    ctx = lending_village
    loan = lend(ctx, "C1", "6000", term=6)
    lend(ctx, "C2", "3000", term=3)
    services.repayment_record(
        loan=loan, amount=D("1000"), paid_on=datetime.date(2017, 6, 1), actor=ctx["village_user"]
    )
    from collectives.models import Loan

    other = Loan.objects.exclude(pk=loan.pk).get()
    services.repayment_record(
        loan=other, amount=D("2000"), paid_on=datetime.date(2017, 7, 1), actor=ctx["village_user"]
    )
    out = io.BytesIO()
    selectors.export_loan_book(out, ctx["township_user"], today=LATE, overdue_only=True)
    sheet = load_workbook(io.BytesIO(out.getvalue())).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:5] == ("乡镇", "村委会", "联保小组", "户编号", "户主姓名")
    assert [r[4] for r in rows[1:-1]] == ["扎西"]  # 卓玛 is up to date; 扎西 missed July
    assert rows[1][5].count("*") == 8  # the ID number masked
    assert (rows[1][13], rows[1][14], rows[1][15], rows[1][16]) == (5000, 1000, 19, "1–30天")
    book = io.BytesIO()
    selectors.export_loan_book(book, ctx["township_user"], today=LATE)
    all_rows = list(load_workbook(io.BytesIO(book.getvalue())).worksheets[0].iter_rows(values_only=True))
    assert all_rows[-1][0] == "合计" and all_rows[-1][10] == 9000 and all_rows[-1][13] == 6000


def test_another_township_sees_none_of_it(lending_village: dict[str, Any]) -> None:
    from households.models import Township

    lend(lending_village, "C1", "6000", term=6)
    stranger = make_user(Role.TOWNSHIP, "huxiaxia_c", township=Township.objects.get(name="虎跳峡镇"))
    assert selectors.loan_book(stranger, today=LATE) == []
    assert overdue_loans(stranger, 2017)[0].count == 0


def test_overdue_is_one_query_whatever_the_loans(lending_village: dict[str, Any]) -> None:
    ctx = lending_village
    lend(ctx, "C1", "6000", term=6)
    with CaptureQueriesContext(connection) as one:
        services.overdue(today=LATE)
    for code in ("C2", "C3", "C4"):
        lend(ctx, code, "3000", term=3)
    with CaptureQueriesContext(connection) as four:
        late = services.overdue(today=LATE)
    assert len(late) == 4
    assert len(one) == len(four) == 2  # the policy, then the aggregate


def test_dashboard_and_admin_pages(lending_village: dict[str, Any], client: Any) -> None:
    ctx = lending_village
    lend(ctx, "C1", "6000", term=6)
    client.force_login(ctx["township_user"])
    for name in (
        "villagefund",
        "fundplan",
        "jointgroup",
        "loan",
        "repayment",
        "guarantordebt",
        "writeoff",
        "reschedule",
        "supervisionvisit",
        "correctionitem",
        "yearendreport",
        "equitystake",
        "dividendshare",
        "cooperativetransaction",
    ):
        response = client.get(f"/admin/collectives/{name}/")
        assert response.status_code == 200, name
        assert f"/admin/collectives/{name}/" in response.content.decode()  # in the township's menu
    page = client.get("/admin/collectives/loan/").content.decode()
    assert "扎西" in page and "6,000.00" in page
    response = client.get("/dashboard/?year=2017")
    assert response.status_code == 200
    assert "村集体经济扶持资金" in response.content.decode()
