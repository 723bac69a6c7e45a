"""Excel in of the agreements admin: the 帮扶协议导入表 import runs `agreement_import`."""

from __future__ import annotations

from import_export import fields

from households.resources import ServiceResource

from .agreement_import import agreement_import
from .assessment_import import assessment_import
from .models import Agreement, Assessment


class AgreementResource(ServiceResource):
    importer = staticmethod(agreement_import)

    organisation = fields.Field(attribute="organisation__name", column_name="组织名称")
    code = fields.Field(attribute="household__code", column_name="户编号")
    year = fields.Field(attribute="year", column_name="年度")
    ways = fields.Field(column_name="帮扶方式")
    industry = fields.Field(attribute="industry", column_name="产业")
    signed_on = fields.Field(attribute="signed_on", column_name="签订日期")
    starts_on = fields.Field(attribute="starts_on", column_name="开始日期")
    ends_on = fields.Field(attribute="ends_on", column_name="结束日期")
    counts = fields.Field(column_name="计入本组织奖补")

    class Meta:
        model = Agreement
        fields = (
            "organisation",
            "code",
            "year",
            "ways",
            "industry",
            "signed_on",
            "starts_on",
            "ends_on",
            "counts",
        )
        export_order = fields


class AssessmentResource(ServiceResource):
    """Excel in of the assessments admin: the 考核记录导入表 import runs `assessment_import`."""

    importer = staticmethod(assessment_import)

    year = fields.Field(attribute="agreement__year", column_name="年度")
    credit_code = fields.Field(
        attribute="agreement__organisation__credit_code", column_name="组织统一社会信用代码"
    )
    organisation = fields.Field(attribute="agreement__organisation__name", column_name="组织名称")
    code = fields.Field(attribute="agreement__household__code", column_name="户编号")
    income = fields.Field(attribute="income", column_name="该产业家庭收入（元）")
    size = fields.Field(attribute="size", column_name="家庭人口")
    confirm = fields.Field(column_name="考核合格")

    class Meta:
        model = Assessment
        fields = ("year", "credit_code", "organisation", "code", "income", "size", "confirm")
        export_order = fields
