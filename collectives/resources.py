"""Excel in of the loan and repayment admins: the 贷款台账 and 还款清单 imports run their services
(`loan_import`), as the commands do."""

from __future__ import annotations

from import_export import fields

from households.resources import ServiceResource

from .loan_import import LOAN_COLUMNS, REPAYMENT_COLUMNS, loan_import, repayment_import
from .models import Loan, Repayment


class LoanResource(ServiceResource):
    importer = staticmethod(loan_import)

    register_no = fields.Field(attribute="register_no", column_name="台账编号")
    code = fields.Field(attribute="household__code", column_name="户编号")
    group = fields.Field(attribute="group__name", column_name="联保小组")
    year = fields.Field(attribute="fund__year", column_name="年度")
    principal = fields.Field(attribute="principal", column_name="借款金额（元）")
    term = fields.Field(attribute="term_months", column_name="期限（月）")
    frequency = fields.Field(column_name="还款方式")
    purpose = fields.Field(attribute="purpose", column_name="用途")
    proposed_on = fields.Field(column_name="申报日期")

    class Meta:
        model = Loan
        fields = tuple(c.key for c in LOAN_COLUMNS)
        export_order = fields


class RepaymentResource(ServiceResource):
    importer = staticmethod(repayment_import)

    code = fields.Field(attribute="loan__household__code", column_name="户编号")
    paid_on = fields.Field(attribute="paid_on", column_name="还款日期")
    amount = fields.Field(attribute="amount", column_name="还款金额（元）")
    reference = fields.Field(attribute="reference", column_name="凭证号")
    register_no = fields.Field(attribute="loan__register_no", column_name="台账编号")
    payer = fields.Field(attribute="payer__code", column_name="代偿人户编号")

    class Meta:
        model = Repayment
        fields = tuple(c.key for c in REPAYMENT_COLUMNS)
        export_order = fields
