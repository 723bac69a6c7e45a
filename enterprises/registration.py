"""The organisation programme registers itself with the shared machinery, like any programme."""

from __future__ import annotations

from disbursements.approval import BATCH_KINDS
from disbursements.dashboard import DASHBOARD_SECTIONS
from disbursements.notices import NOTICE_KINDS
from disbursements.registry import ACCOUNT_KINDS, ENTRY_KINDS, FUNDS, RECONCILE_CHECKS
from households.imports import IMPORT_KINDS


def register() -> None:
    from . import money, worklist
    from .agreement_import import agreement_import
    from .assessment_import import assessment_import

    FUNDS.register(money.FUND_DEF)
    for account_kind in money.ACCOUNT_KIND_DEFS:
        ACCOUNT_KINDS.register(account_kind)
    for entry_kind in money.ENTRY_KIND_DEFS:
        ENTRY_KINDS.register(entry_kind)
    BATCH_KINDS.register(money.BATCH_KIND)
    NOTICE_KINDS.register(money.NOTICE_KIND)
    DASHBOARD_SECTIONS.register(money.SECTION)
    RECONCILE_CHECKS.register(money.CHECK)
    IMPORT_KINDS.register(agreement_import)
    IMPORT_KINDS.register(assessment_import)
    worklist.register()
