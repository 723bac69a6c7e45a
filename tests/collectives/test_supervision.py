"""Monthly 督查: the visit, its 督查通知 PDF, items closed only with evidence, months without a visit."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from collectives import supervision
from collectives.dashboard import open_corrections

from ..factories import jpeg_upload, pdf_upload

pytestmark = pytest.mark.django_db


def test_visit_notice_items_and_gaps(lending_village: dict[str, Any]) -> None:
    ctx = lending_village
    village = ctx["village"]
    visit = supervision.visit_record(
        village=village,
        visited_on=datetime.date(2017, 3, 20),
        inspectors="建塘镇 李乡长；村党总支 和书记；工作组 王组长",
        findings="借款台账未按月登记；合作社收支凭证缺两张。",
        items=[
            ("补登 2 月借款台账", datetime.date(2017, 4, 5)),
            ("补齐合作社收支凭证", datetime.date(2017, 4, 10)),
        ],
        actor=ctx["township_user"],
        photo=jpeg_upload(),
    )
    with visit.notice_pdf.open("rb") as pdf:
        assert pdf.read(5) == b"%PDF-"
    assert open_corrections(ctx["village_user"], 2017)[0].count == 2
    first = visit.items.order_by("pk")[0]
    with pytest.raises(ValidationError, match="须附佐证材料"):
        supervision.item_close(
            item=first, closed_on=datetime.date(2017, 4, 1), evidence=None, actor=ctx["village_user"]
        )
    supervision.item_close(
        item=first, closed_on=datetime.date(2017, 4, 1), evidence=pdf_upload(), actor=ctx["village_user"]
    )
    assert open_corrections(ctx["village_user"], 2017)[0].count == 1
    gaps = supervision.months_without_visit([village.pk], 2017, datetime.date(2017, 6, 15))
    assert gaps[village.pk] == [1, 2, 4, 5]
    with pytest.raises(ValidationError, match="由乡镇登记"):
        supervision.visit_record(
            village=village,
            visited_on=datetime.date(2017, 4, 20),
            inspectors="x",
            findings="y",
            items=[],
            actor=ctx["village_user"],
        )
