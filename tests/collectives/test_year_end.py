"""The year-end 效益分析报告: figures from the records, PDF and xlsx, its 公示 at township, village
and group level from the same data, submission and acceptance."""

from __future__ import annotations

import datetime
import io
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from openpyxl import load_workbook

from collectives import report, services
from disbursements import notices
from households.models import VillageGroup

from .conftest import lend

pytestmark = pytest.mark.django_db


def test_report_generated_published_at_three_levels_and_accepted(lending_village: dict[str, Any]) -> None:
    ctx = lending_village
    loan = lend(ctx, "C1", "6000", term=6)
    services.repayment_record(
        loan=loan, amount=Decimal("2000"), paid_on=datetime.date(2017, 7, 1), actor=ctx["village_user"]
    )
    made = report.report_generate(
        fund=ctx["fund"], actor=ctx["village_user"], today=datetime.date(2017, 12, 31)
    )
    assert made.figures["out"] == "6000.00" and made.figures["repaid"] == "2000.00"
    assert made.figures["outstanding"] == "4000.00" and made.figures["households"] == "1"
    assert made.figures["lending_balance"] == "596000.00"
    with made.pdf.open("rb") as pdf:
        assert pdf.read(5) == b"%PDF-"
    out = io.BytesIO()
    report.report_xlsx(out, made)
    cells = {
        r[0]: r[1]
        for r in load_workbook(io.BytesIO(out.getvalue())).worksheets[0].iter_rows(values_only=True)
    }
    assert cells["未还本金"] == 4000 and cells["扶持资金下拨"] == 1000000
    village = ctx["village"]
    group = VillageGroup.objects.filter(village=village).first()
    issued = [
        notices.notice_issue(
            kind=report.REPORT_NOTICE, year=2017, township=village.township, actor=ctx["township_user"]
        ),
        notices.notice_issue(
            kind=report.REPORT_NOTICE, year=2017, village=village, actor=ctx["village_user"]
        ),
        notices.notice_issue(kind=report.REPORT_NOTICE, year=2017, group=group, actor=ctx["village_user"]),
    ]
    assert [n.level for n in issued] == ["township", "village", "group"]
    assert issued[0].rows == issued[1].rows == issued[2].rows  # one set of figures on every board
    assert any("4,000.00" in cell for row in issued[1].rows for cell in row)
    with pytest.raises(ValidationError, match="尚未报市指挥部"):
        report.acceptance_record(
            report=made,
            outcome="passed",
            note="",
            accepted_on=datetime.date(2018, 1, 20),
            actor=ctx["city_user"],
        )
    report.report_submit(report=made, submitted_on=datetime.date(2018, 1, 10), actor=ctx["township_user"])
    with pytest.raises(ValidationError, match="不能重新生成"):
        report.report_generate(fund=ctx["fund"], actor=ctx["village_user"])
    accepted = report.acceptance_record(
        report=made,
        outcome="passed",
        note="资金使用规范，台账齐全",
        accepted_on=datetime.date(2018, 1, 20),
        actor=ctx["city_user"],
    )
    assert accepted.get_outcome_display() == "验收合格"
