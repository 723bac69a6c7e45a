"""The plan table's uniqueness as the database keeps it, and the shape that lets approving a batch's
plans be a HOT update on PostgreSQL (no index reads `status`; room in each page)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from households.models import Household
from subsidies.models import HouseholdPlan, PlanStatus, Policy

from ..factories import roster_row

pytestmark = pytest.mark.django_db


@pytest.fixture
def household(import_rows) -> Household:  # type: ignore[no-untyped-def]
    report = import_rows([roster_row(户编号="U2017", 脱贫年度=2017)])
    assert report.ok, report.errors
    return Household.objects.get(code="U2017")


def _plan(
    household: Household, *, status: str = PlanStatus.DRAFT, amends: HouseholdPlan | None = None
) -> HouseholdPlan:
    policy = Policy.objects.get(year=2017)
    return HouseholdPlan.objects.create(
        household=household,
        year=2017,
        status=status,
        amends=amends,
        species="猪",
        breeding_quantity=Decimal(3),
        tranche1_percent=Decimal(60),
        tranche2_percent=Decimal(20),
        tranche3_percent=Decimal(20),
        policy=policy,
        policy_version=policy.version,
        planting_subsidy=Decimal("0.00"),
        breeding_subsidy=Decimal("1500.00"),
        grant_total=Decimal("1500.00"),
        tranche1=Decimal("900.00"),
        tranche2=Decimal("300.00"),
        tranche3=Decimal("300.00"),
    )


def _refused(**kwargs: object) -> bool:
    try:
        with transaction.atomic():
            _plan(**kwargs)  # type: ignore[arg-type]
    except IntegrityError:
        return True
    return False


def test_one_live_original_plan_per_household_and_year(household: Household) -> None:
    first = _plan(household, status=PlanStatus.APPROVED)
    assert first.live
    assert _refused(household=household)
    HouseholdPlan.objects.filter(pk=first.pk).update(status=PlanStatus.SUPERSEDED)
    first.refresh_from_db()
    assert not first.live
    assert not _refused(household=household)


def test_one_live_amendment_per_plan(household: Household) -> None:
    original = _plan(household, status=PlanStatus.APPROVED)
    amendment = _plan(household, amends=original)
    assert _refused(household=household, amends=original)
    HouseholdPlan.objects.filter(pk=amendment.pk).update(status=PlanStatus.SUPERSEDED)
    assert not _refused(household=household, amends=original)


def test_no_index_of_the_plan_table_reads_status() -> None:
    """Approval changes `status` only: with `status` in no index nor index condition, PostgreSQL may
    update the batch's plans in place (README, “Approving and paying one batch”)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'subsidies_householdplan'")
        else:
            cursor.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'subsidies_householdplan'"
                " AND sql IS NOT NULL"
            )
        definitions = [row[0] for row in cursor.fetchall()]
        assert any("live" in d for d in definitions)
        assert [d for d in definitions if "status" in d] == []
        if connection.vendor == "postgresql":
            cursor.execute("SELECT reloptions FROM pg_class WHERE relname = 'subsidies_householdplan'")
            assert "fillfactor=50" in cursor.fetchone()[0]
