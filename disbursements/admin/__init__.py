"""The shared machinery in the admin: batches and payouts, the ledger and 资金对账, notices."""

from . import bank, batches, ledger, notices

__all__ = ["bank", "batches", "ledger", "notices"]
