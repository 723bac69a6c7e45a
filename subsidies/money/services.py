"""The household grant's money services, for the admin, the cadre pages and the commands (one door
each onto the same services): allocation, batches and their payouts, corrections, reconciliation."""

from disbursements.ledger import entry_reverse
from disbursements.payouts import PayoutResult, payout_reverse

from .allocation import AllocationResult, allocate, allocation_targets, eligible_households
from .batches import batch_prepare, payouts_record
from .reconcile import reconcile

__all__ = [
    "AllocationResult",
    "PayoutResult",
    "allocate",
    "allocation_targets",
    "batch_prepare",
    "eligible_households",
    "entry_reverse",
    "payout_reverse",
    "payouts_record",
    "reconcile",
]
