"""What `reconcile` checks for the grant fund beyond the levels: what each level should have been
allocated (the allocation's own targets), and every household (cap, one route, recovery orders)."""

from __future__ import annotations

from typing import Any

from disbursements.reconcile import Row, reconcile_fund
from disbursements.registry import ReconcileCheck

from .accounts import FUND
from .allocation import allocation_targets
from .guard import breaches


def expected(year: int) -> dict[str, Any]:
    targets = allocation_targets(year, per_cadre=False)
    return {"city": targets.city, "township": dict(targets.township), "village": dict(targets.village)}


CHECK = ReconcileCheck("households", "每户到户资金", FUND, breaches, expected)


def reconcile(*, year: int) -> tuple[Row, list[str]]:
    """The grant fund's report: the city's tree and the problems (empty when everything balances)."""
    report = reconcile_fund(year=year, fund=FUND)
    return report.city, report.problems
