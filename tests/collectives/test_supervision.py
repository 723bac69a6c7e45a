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


def test_a_month_without_a_visit_is_on_the_to_do(lending_village: dict[str, Any]) -> None:
    """乡政府、村总支、工作组每月督查: a funded village with a past month unvisited is flagged for the
    township and city HQ, and only within their areas."""
    from collectives.dashboard import months_unvisited
    from households.models import Role, Township

    from ..factories import make_user

    ctx = lending_village
    flagged = months_unvisited(ctx["township_user"], 2017)[0]
    assert (flagged.count, flagged.urgent) == (1, True)  # 2017 is long past: no month was visited
    assert months_unvisited(ctx["city_user"], 2017)[0].count == 1
    elsewhere = Township.objects.exclude(pk=ctx["village"].township_id).first()
    assert elsewhere is not None
    other = make_user(Role.TOWNSHIP, "other_township", township=elsewhere)
    assert months_unvisited(other, 2017)[0].count == 0
    for month in range(1, 13):
        supervision.visit_record(
            village=ctx["village"],
            visited_on=datetime.date(2017, month, 10),
            inspectors="建塘镇 李乡长；村党总支 和书记；工作组 王组长",
            findings="按月检查借款台账。",
            items=[],
            actor=ctx["township_user"],
        )
    done = months_unvisited(ctx["township_user"], 2017)[0]
    assert (done.count, done.urgent) == (0, False)
