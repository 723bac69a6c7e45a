"""补助测算表 (`excel-formats.md` §3): one row per household with a plan in the year, and a 合计 row.

Streams: plans are read as tuples (no model instances) and written with openpyxl's write-only
workbook, so 100,000 households cost little more than writing the cells themselves.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import IO, Any

from django.db.models import QuerySet

from .models import HouseholdPlan

HEADER = [
    "户编号",
    "户主姓名",
    "乡镇",
    "村委会",
    "种植补助",
    "养殖补助",
    "补助合计",
    "第一期（产前）",
    "第二期（产中）",
    "第三期（产后）",
]
FIELDS = [
    "household__code",
    "household__head_name",
    "household__village__township__name",
    "household__village__name",
    "planting_subsidy",
    "breeding_subsidy",
    "grant_total",
    "tranche1",
    "tranche2",
    "tranche3",
]
AMOUNTS = slice(4, 10)


def entitlement_rows(plans: QuerySet[HouseholdPlan]) -> Iterator[tuple[Any, ...]]:
    yield from plans.order_by("household__code").values_list(*FIELDS).iterator(chunk_size=5000)


def write_entitlements(plans: QuerySet[HouseholdPlan], stream: IO[bytes]) -> tuple[int, list[Decimal]]:
    """Write the table to `stream`; returns (row count, column totals). Amounts stay numeric cells."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    book = Workbook(write_only=True)
    sheet = book.create_sheet("补助测算表")
    sheet.freeze_panes = "A2"
    for letter, width in zip("ABCDEFGHIJ", (14, 10, 10, 12, 11, 11, 11, 13, 13, 13), strict=True):
        sheet.column_dimensions[letter].width = width
    sheet.append(HEADER)
    totals = [Decimal("0.00")] * 6
    count = 0
    for row in entitlement_rows(plans):
        amounts = row[AMOUNTS]
        # SQLite returns amounts as Decimal already quantised by the field; sums stay in Decimal.
        totals = [t + Decimal(a) for t, a in zip(totals, amounts, strict=True)]
        sheet.append(row)
        count += 1
    bold = Font(bold=True)
    total_row = []
    for value in ["合计", "", "", "", *totals]:
        cell = WriteOnlyCell(sheet, value=value)
        cell.font = bold
        if isinstance(value, Decimal):
            cell.number_format = "#,##0.00"
        total_row.append(cell)
    sheet.append(total_row)
    book.save(stream)
    return count, totals
