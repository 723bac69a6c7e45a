"""补助测算表 (`excel-formats.md` §3): one row per household with a plan in the year, and a 合计 row.

Streams: plans are read as tuples (no model instances) and written through the project's one xlsx
writer (`households.xlsx`, write-only), so 100,000 households cost little more than writing the
cells themselves; names are written as text that never becomes a formula, amounts as numbers in
`#,##0.00`, and the sheet prints as the townships file it (A4 landscape, one page wide, the header
row on every page, the title and the issuing body in the page header).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import IO, Any

from django.db.models import QuerySet

from households.xlsx import CITY_AREA, CITY_ISSUER, ColumnSpec, Kind, file_name, write_table

from .models import HouseholdPlan

COLUMNS = [
    ColumnSpec("户编号"),
    ColumnSpec("户主姓名"),
    ColumnSpec("乡镇"),
    ColumnSpec("村委会"),
    ColumnSpec("种植补助", Kind.MONEY),
    ColumnSpec("养殖补助", Kind.MONEY),
    ColumnSpec("补助合计", Kind.MONEY),
    ColumnSpec("第一期（产前）", Kind.MONEY),
    ColumnSpec("第二期（产中）", Kind.MONEY),
    ColumnSpec("第三期（产后）", Kind.MONEY),
]
HEADER = [column.label for column in COLUMNS]
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


def entitlements_title(year: int, area: str = CITY_AREA) -> str:
    return f"{year}年补助测算表（{area}）"


def entitlements_file_name(year: int, area: str = CITY_AREA) -> str:
    """2017年补助测算表-建塘镇.xlsx"""
    return file_name(f"{year}年补助测算表", area)


def entitlement_rows(plans: QuerySet[HouseholdPlan]) -> Iterator[tuple[Any, ...]]:
    yield from plans.order_by("household__code").values_list(*FIELDS).iterator(chunk_size=5000)


def write_entitlements(
    plans: QuerySet[HouseholdPlan],
    stream: IO[bytes],
    *,
    title: str = "补助测算表",
    issuer: str = CITY_ISSUER,
) -> tuple[int, list[Decimal]]:
    """Write the table to `stream`; returns (row count, column totals). Amounts stay numeric cells."""
    totals = [Decimal("0.00")] * 6
    count = 0

    def rows() -> Iterator[tuple[Any, ...]]:
        nonlocal totals, count
        for row in entitlement_rows(plans):
            # SQLite returns amounts as Decimal already quantised by the field; sums stay in Decimal.
            totals = [t + Decimal(a) for t, a in zip(totals, row[AMOUNTS], strict=True)]
            count += 1
            yield row

    write_table(
        stream,
        title=title,
        issuer=issuer,
        columns=COLUMNS,
        rows=rows(),
        total_row=lambda: ["合计", "", "", "", *totals],
        sheet_name="补助测算表",
    )
    return count, totals
