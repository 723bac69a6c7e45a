"""The shared machinery in the admin: batches and payouts, the ledger and 资金对账, notices."""

from . import batches, ledger, notices

__all__ = ["batches", "ledger", "notices"]
