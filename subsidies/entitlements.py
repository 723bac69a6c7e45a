"""补助测算表 (`excel-formats.md` §3): one row per household with a plan in the year, and a 合计 row.

Streams: plans are read as tuples (no model instances) and written through the project's one xlsx
writer (`households.xlsx`, write-only), so 100,000 households cost little more than writing the
cells themselves; names are written as text that never becomes a formula, amounts as numbers in
`#,##0.00`, and the sheet prints as the townships file it (A4 landscape, one page wide, the header
row on every page, the title and the issuing body in the page header).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from households.jobs import JOB_KINDS, JobKind, JobRun, job_start
from households.models import Job, Township, User
from households.scoping import scoped
from households.xlsx import (
    CITY_AREA,
    CITY_ISSUER,
    ColumnSpec,
    Kind,
    area_name,
    file_name,
    issuer_for,
    write_table,
)

from .models import HouseholdPlan
from .selectors import plans_for

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
    on_rows: Callable[[int], None] | None = None,
) -> tuple[int, list[Decimal]]:
    """Write the table to `stream`; returns (row count, column totals). Amounts stay numeric cells.
    `on_rows(n)` is told every 1,000 rows (a background export's progress)."""
    totals = [Decimal("0.00")] * 6
    count = 0

    def rows() -> Iterator[tuple[Any, ...]]:
        nonlocal totals, count
        for row in entitlement_rows(plans):
            # SQLite returns amounts as Decimal already quantised by the field; sums stay in Decimal.
            totals = [t + Decimal(a) for t, a in zip(totals, row[AMOUNTS], strict=True)]
            count += 1
            if on_rows is not None and count % 1000 == 0:
                on_rows(count)
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


# --- a township's or the city's table, in the background (households.jobs) ------------------------

EXPORT_JOB_KIND = "entitlements_export"
EXPORT_JOB_ROLES = frozenset({"township", "city"})  # whole townships; a village downloads at once


def entitlements_job_start(*, year: int, actor: User, township: Township | None = None) -> Job:
    """补助测算表 of a township (or, for the city, of the whole city) written by the worker; the file is
    then downloaded through the scoped file view."""
    if township is None and actor.role == "township":
        township = actor.township
    if township is not None and not scoped(Township.objects.filter(pk=township.pk), actor).exists():
        raise ValidationError("该乡镇不在您的管辖范围内。")
    area = township.name if township is not None else area_name(actor)
    return job_start(
        kind=EXPORT_JOB_KIND,
        actor=actor,
        title=entitlements_title(year, area),
        params={"year": year, "township": township.pk if township is not None else None},
        township=township,
    )


def export_entitlements(job: Job, run: JobRun) -> None:
    year = int(job.params["year"])
    plans = plans_for(job.actor, year)
    area = area_name(job.actor)
    township_id = job.params.get("township")
    if township_id:
        plans = plans.filter(household__village__township_id=township_id)
        area = Township.objects.get(pk=township_id).name
    run.progress(0, total=plans.count(), step="写入 Excel")
    with tempfile.TemporaryFile() as stream:
        count, totals = write_entitlements(
            plans,
            stream,
            title=entitlements_title(year, area),
            issuer=issuer_for(job.actor),
            on_rows=lambda rows: run.progress(rows),
        )
        run.progress(count, total=count, step="保存文件")
        stream.seek(0)
        run.save_file(entitlements_file_name(year, area), stream)
    run.result = {"households": count, "grant_total": f"{totals[2]:.2f}"}


def register_jobs() -> None:
    JOB_KINDS.register(
        JobKind(
            code=EXPORT_JOB_KIND,
            label="导出补助测算表",
            run=export_entitlements,
            roles=EXPORT_JOB_ROLES,
            unit="户",
        )
    )
