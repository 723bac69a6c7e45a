"""The year-end report's income change of the households reached: recorded per household by the
village (the registry holds no income), averaged into the report, its xlsx and its 公示."""

from __future__ import annotations

import datetime
import io
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from openpyxl import load_workbook

from collectives import report
from collectives.models import MemberIncome

from .conftest import lend

pytestmark = pytest.mark.django_db
D = Decimal


def test_income_change_of_the_households_reached(lending_village: dict[str, Any]) -> None:
    ctx = lending_village
    lend(ctx, "C1", "6000")
    lend(ctx, "C2", "8000")
    fund = ctx["fund"]
    report.income_record(
        fund=fund,
        household=ctx["households"]["C1"],
        before=D("2800"),
        after=D("3650.50"),
        actor=ctx["village_user"],
    )
    report.income_record(
        fund=fund,
        household=ctx["households"]["C2"],
        before=D("3000"),
        after=D("3200"),
        actor=ctx["village_user"],
    )
    # A household the fund did not reach, and a township user, are refused.
    with pytest.raises(ValidationError, match="不是本村扶持资金的受益户"):
        report.income_record(
            fund=fund,
            household=ctx["households"]["C5"],
            before=D("1"),
            after=D("2"),
            actor=ctx["village_user"],
        )
    with pytest.raises(ValidationError, match="由本村村委会登记"):
        report.income_record(
            fund=fund,
            household=ctx["households"]["C1"],
            before=D("1"),
            after=D("2"),
            actor=ctx["township_user"],
        )
    # Recorded again: the figures are replaced, not added.
    report.income_record(
        fund=fund,
        household=ctx["households"]["C2"],
        before=D("3000"),
        after=D("3300"),
        actor=ctx["village_user"],
    )
    assert MemberIncome.objects.count() == 2
    generated = report.report_generate(
        fund=fund, actor=ctx["village_user"], today=datetime.date(2017, 12, 31)
    )
    figures = generated.figures
    assert (figures["income_households"], figures["income_before"], figures["income_after"]) == (
        "2",
        "2900.00",
        "3475.25",
    )
    assert figures["income_change"] == "575.25" and figures["households"] == "2"
    out = io.BytesIO()
    report.report_xlsx(out, generated)
    sheet = load_workbook(io.BytesIO(out.getvalue())).active
    cells = {row[0]: row[1] for row in sheet.iter_rows(values_only=True) if row and row[0]}
    assert cells["受益户人均纯收入增加（平均）"] == 575.25
    assert cells["其中登记收入变化的户（户）"] == 2
    # Submitted: the income figures are frozen with the report.
    report.report_submit(report=generated, submitted_on=datetime.date(2018, 1, 5), actor=ctx["township_user"])
    with pytest.raises(ValidationError, match="不能再改"):
        report.income_record(
            fund=fund,
            household=ctx["households"]["C1"],
            before=D("1"),
            after=D("2"),
            actor=ctx["village_user"],
        )


def test_the_village_enters_an_income_in_the_admin(lending_village: dict[str, Any]) -> None:
    ctx = lending_village
    lend(ctx, "C3", "5000")
    client = Client()
    client.force_login(ctx["village_user"])
    data = {"fund": ctx["fund"].pk, "before": "2500", "after": "2600", "source": "入户调查"}
    refused = client.post(
        "/admin/collectives/memberincome/add/", {**data, "household": ctx["households"]["C4"].pk}
    )
    assert "不是本村扶持资金的受益户" in refused.content.decode() and not MemberIncome.objects.exists()
    negative = client.post(
        "/admin/collectives/memberincome/add/",
        {**data, "before": "-5", "household": ctx["households"]["C3"].pk},
    )  # a typing slip: the form says so, never a server error
    assert negative.status_code == 200 and "收入不能为负数" in negative.content.decode()
    assert not MemberIncome.objects.exists()
    done = client.post(
        "/admin/collectives/memberincome/add/", {**data, "household": ctx["households"]["C3"].pk}
    )
    assert done.status_code == 302 and MemberIncome.objects.get().after == D("2600.00")
