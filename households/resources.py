"""Excel in and out of the admin (django-import-export).

Export: the roster columns of `excel-formats.md` §1, so an export doubles as the import template,
written by the project's one xlsx writer (`RosterXLSX` → `households.xlsx`) rather than tablib's.
Import: the library's upload → preview → confirm flow, but the rows go through our set-based
`roster_import` service (the same one the command uses) instead of the library's per-row
machinery, which silently skips missing headers, turns duplicate keys into updates and costs a
query per row (library-notes §1).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

from import_export import fields, resources
from import_export.formats.base_formats import XLSX
from import_export.results import Result

from .imports import ImportReport
from .masking import mask_id_number
from .models import Household
from .roster import COLUMNS, roster_import
from .xlsx import CITY_ISSUER, ColumnSpec, Kind, write_table


class ReportResult(Result):
    """A django-import-export Result that carries our ImportReport to the preview template."""

    def __init__(self, report: ImportReport) -> None:
        super().__init__()
        self.report = report
        self.totals.update(new=report.rows_new, update=report.rows_updated, skip=report.rows_unchanged)

    def has_errors(self) -> bool:
        return not self.report.ok

    def has_validation_errors(self) -> bool:
        return False


class ServiceResource(resources.ModelResource):
    """A resource whose import is one of our import services (`importer`), not the library's rows."""

    importer: Any = None

    def __init__(self, *, user: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.user = user

    def import_data(self, dataset: Any, dry_run: bool = False, **kwargs: Any) -> ReportResult:  # type: ignore[override]
        report = type(self).importer(
            header=dataset.headers or [],
            rows=iter(dataset),
            actor=kwargs.get("user") or self.user,
            file_name=kwargs.get("file_name") or "",
            file_sha256=kwargs.get("file_sha256", ""),
            dry_run=dry_run,
        )
        return ReportResult(report)


class HouseholdResource(ServiceResource):
    code = fields.Field(attribute="code", column_name="户编号")
    head_name = fields.Field(attribute="head_name", column_name="户主姓名")
    id_number = fields.Field(column_name="身份证号")
    township = fields.Field(attribute="village__township__name", column_name="乡镇")
    village = fields.Field(attribute="village__name", column_name="村委会")
    group = fields.Field(attribute="group__name", column_name="村民小组")
    size = fields.Field(attribute="size", column_name="家庭人口")
    labour = fields.Field(attribute="labour", column_name="劳动力")
    exit_year = fields.Field(attribute="exit_year", column_name="脱贫年度")
    consolidation = fields.Field(column_name="巩固提升")
    phone = fields.Field(attribute="phone", column_name="联系电话")
    cadre_name = fields.Field(attribute="cadre__name", column_name="挂包干部")
    cadre_phone = fields.Field(attribute="cadre__phone", column_name="挂包干部电话")

    class Meta:
        model = Household
        fields = tuple(c.key for c in COLUMNS)
        export_order = fields
        import_id_fields = ("code",)

    importer = staticmethod(roster_import)

    def __init__(self, *, whole_id_numbers: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.whole_id_numbers = whole_id_numbers

    def dehydrate_id_number(self, household: Household) -> str:
        return household.id_number if self.whole_id_numbers else mask_id_number(household.id_number)

    def dehydrate_consolidation(self, household: Household) -> str:
        return "是" if household.consolidation else "否"

    def filter_export(self, queryset: Any, **kwargs: Any) -> Any:
        return queryset.select_related("village__township", "group", "cadre")


class TableXLSX(XLSX):
    """An admin export written by `households.xlsx` instead of tablib's xlsx writer.

    So it gets what every spreadsheet of the project gets: text that never becomes a formula, kept
    as it is (the library's `IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT` deletes a leading `=`, so a
    re-import would rename the household; it also leaves `+ - @` alone and turns every number into
    text), numbers as numeric cells, and the print layout. The admin sets `title` and `issuer` for
    the request (`HouseholdAdmin.get_export_data`); `kinds` names the numeric columns by header.
    """

    title = ""
    issuer = CITY_ISSUER
    sheet_name = ""
    kinds: dict[str, Kind] = {}

    def export_data(self, dataset: Any, **kwargs: Any) -> bytes:
        columns = [ColumnSpec(str(h), self.kinds.get(str(h), Kind.TEXT)) for h in dataset.headers or []]
        whole = [i for i, c in enumerate(columns) if c.kind == Kind.INT]

        def rows() -> Iterator[list[Any]]:
            for row in dataset:
                values = list(row)
                for i in whole:  # the resource renders every value as text ("4")
                    value = values[i]
                    if isinstance(value, str) and value.isascii() and value.isdigit():
                        values[i] = int(value)
                yield values

        buffer = io.BytesIO()
        title = self.title or self.sheet_name
        write_table(
            buffer,
            title=title,
            issuer=self.issuer,
            columns=columns,
            rows=rows(),
            sheet_name=self.sheet_name or title,
        )
        return buffer.getvalue()


class RosterXLSX(TableXLSX):
    """户花名册 as the admin exports it: re-importable as it is (excel-formats §1)."""

    sheet_name = "户花名册"
    kinds = {"家庭人口": Kind.INT, "劳动力": Kind.INT, "脱贫年度": Kind.INT}
