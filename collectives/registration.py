"""The village collective programme registers itself with the shared machinery."""

from __future__ import annotations

from disbursements.approval import BATCH_KINDS
from disbursements.dashboard import DASHBOARD_SECTIONS
from disbursements.notices import NOTICE_KINDS
from disbursements.registry import ACCOUNT_KINDS, ENTRY_KINDS, FUNDS, RECONCILE_CHECKS
from households.imports import IMPORT_KINDS
from households.worklist import TODO_SOURCES


def register() -> None:
    from . import accounts, dashboard, loan_batches, loan_import, notices, reconcile, report

    FUNDS.register(accounts.FUND_DEF)
    for account_kind in accounts.ACCOUNT_KIND_DEFS:
        ACCOUNT_KINDS.register(account_kind)
    for entry_kind in accounts.ENTRY_KIND_DEFS:
        ENTRY_KINDS.register(entry_kind)
    BATCH_KINDS.register(loan_batches.BATCH_KIND)
    IMPORT_KINDS.register(loan_import.loan_import)
    IMPORT_KINDS.register(loan_import.repayment_import)
    NOTICE_KINDS.register(notices.PLAN_NOTICE)
    NOTICE_KINDS.register(report.REPORT_NOTICE_KIND)
    RECONCILE_CHECKS.register(reconcile.CHECK)
    DASHBOARD_SECTIONS.register(dashboard.SECTION)
    for source in dashboard.TODO_DEFS:
        TODO_SOURCES.register(source)
