"""The household grant registers itself with the shared machinery, like any programme would."""

from __future__ import annotations

from disbursements import summaries
from disbursements.approval import BATCH_KINDS
from disbursements.bank_files import PAYEE_IDENTITIES, PayeeIdentity
from disbursements.dashboard import DASHBOARD_SECTIONS
from disbursements.notices import NOTICE_KINDS
from disbursements.registry import ACCOUNT_KINDS, ENTRY_KINDS, FUNDS, RECONCILE_CHECKS
from households import events
from households.imports import IMPORT_KINDS


def register() -> None:
    from ..plan_import import plan_import
    from . import accounts, batches, dashboard, guard, notices, reconcile

    IMPORT_KINDS.register(plan_import)

    FUNDS.register(accounts.FUND_DEF)
    for account_kind in accounts.ACCOUNT_KIND_DEFS:
        ACCOUNT_KINDS.register(account_kind)
    for entry_kind in accounts.ENTRY_KIND_DEFS:
        ENTRY_KINDS.register(entry_kind)
    for batch_kind in batches.batch_kinds():
        BATCH_KINDS.register(batch_kind)
    for notice_kind in notices.NOTICE_KIND_DEFS:
        NOTICE_KINDS.register(notice_kind)
    DASHBOARD_SECTIONS.register(dashboard.SECTION)
    # The records the section counts that are written one at a time mark its figures stale; the
    # ledger and the registry's imports mark them themselves.
    from ..models import BenefitAnalysis, CommitmentLetter, GrantLine, HouseholdPlan, RecoveryOrder

    to_township = "household__village__township"
    summaries.watch(HouseholdPlan, township=to_township)
    summaries.watch(GrantLine, township=to_township)
    summaries.watch(RecoveryOrder, township=to_township)
    summaries.watch(CommitmentLetter, township=f"plan__{to_township}", year=None)
    summaries.watch(BenefitAnalysis, township=f"plan__{to_township}", year=None)
    # Who a household account is, for the bank's payment file (户主姓名, 身份证号 in full: the bank
    # checks them; screens and notices show them masked).
    PAYEE_IDENTITIES.register(PayeeIdentity(accounts.HOUSEHOLD, "贫困户", accounts.household_identities))
    RECONCILE_CHECKS.register(reconcile.CHECK)
    # A household's money follows it: its account to its new cadre, its allocation within the village.
    events.on_relocation(accounts.follow_households)
    events.on_reassignment(guard.follow_reassignment)
    from .. import worklist

    worklist.register()
