"""The household industry grant: policy as data, plans and commitment letters (`plans`), and the
grant's money records (`grant`). Re-exported so that `from subsidies.models import X` works for all."""

from .grant import (
    TRANCHES,
    BenefitAnalysis,
    Dividend,
    EquityInvestment,
    GrantLine,
    HouseholdAccount,
    RecoveryOrder,
    RecoveryRepayment,
)
from .plans import (
    BreedingCategory,
    CommitmentLetter,
    HouseholdPlan,
    PlanStatus,
    Policy,
    PolicyRevision,
    Species,
    commitment_upload_to,
    money,
)

__all__ = [
    "TRANCHES",
    "BenefitAnalysis",
    "BreedingCategory",
    "CommitmentLetter",
    "Dividend",
    "EquityInvestment",
    "GrantLine",
    "HouseholdAccount",
    "HouseholdPlan",
    "PlanStatus",
    "Policy",
    "PolicyRevision",
    "RecoveryOrder",
    "RecoveryRepayment",
    "Species",
    "commitment_upload_to",
    "money",
]
