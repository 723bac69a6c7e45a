"""Excel in and out of the plans admin: the plan sheet import and the 补助测算表 export."""

from __future__ import annotations

from import_export import fields

from households.resources import ServiceResource

from .models import HouseholdPlan
from .plan_import import plan_import


class PlanResource(ServiceResource):
    """Columns of `excel-formats.md` §2; importing runs `plan_import`."""

    importer = staticmethod(plan_import)

    code = fields.Field(attribute="household__code", column_name="户编号")
    year = fields.Field(attribute="year", column_name="年度")
    crops = fields.Field(attribute="crops", column_name="种植品种")
    area = fields.Field(attribute="planting_area", column_name="种植面积（亩）")
    species = fields.Field(attribute="species", column_name="养殖品种")
    quantity = fields.Field(attribute="breeding_quantity", column_name="养殖数量")

    class Meta:
        model = HouseholdPlan
        fields = ("code", "year", "crops", "area", "species", "quantity")
        export_order = fields
