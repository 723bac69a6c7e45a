"""Excel in and out of the admin (django-import-export).

Export: the roster columns of `excel-formats.md` §1, so an export doubles as the import template.
Import: the library's upload → preview → confirm flow, but the rows go through our set-based
`roster_import` service (the same one the command uses) instead of the library's per-row
machinery, which silently skips missing headers, turns duplicate keys into updates and costs a
query per row (library-notes §1).
"""

from __future__ import annotations

from typing import Any

from import_export import fields, resources
from import_export.results import Result

from .imports import ImportReport
from .masking import mask_id_number
from .models import Household
from .roster import COLUMNS, roster_import


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
