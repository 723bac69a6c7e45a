"""The shared machinery's data: the ledger, batches and payouts, notices. Re-exported here, so that
`from disbursements.models import Entry` keeps working whatever module a model lives in."""

from .bank import BankAccount, BankFile, BankFileLine, BankReturn
from .batches import APPROVED, DRAFT, PAID, Batch, BatchLine, Payout, Transition, receipt_upload_to
from .ledger import Account, Entry, Reversible, money
from .notices import Notice, Objection, notice_upload_to
from .summaries import DashboardFigure, DashboardState

__all__ = [
    "APPROVED",
    "DRAFT",
    "PAID",
    "Account",
    "BankAccount",
    "BankFile",
    "BankFileLine",
    "BankReturn",
    "Batch",
    "BatchLine",
    "DashboardFigure",
    "DashboardState",
    "Entry",
    "Notice",
    "Objection",
    "Payout",
    "Reversible",
    "Transition",
    "money",
    "notice_upload_to",
    "receipt_upload_to",
]
