"""Province scale (issue 14 goal 4): `allocate` and `reconcile` read the ledger per level, township
and village in the database, not per account or entry in Python — so their queries do not grow with
the number of cadres, and their figures stay those of one posting."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from disbursements.models import Account, Entry
from disbursements.reconcile import reconcile
from subsidies.money import services
from subsidies.money.allocation import MOVES_KEPT

from ..factories import roster_row

pytestmark = pytest.mark.django_db


def more_cadres(import_rows, n: int, prefix: str) -> None:  # type: ignore[no-untyped-def]
    """n more eligible households in 红坡村, each held by a cadre of its own."""
    rows = [
        roster_row(
            户编号=f"{prefix}{i}", 挂包干部=f"干部{prefix}{i}", 挂包干部电话=f"1390{prefix == 'B':d}{i:06d}"
        )
        for i in range(n)
    ]
    assert import_rows(rows).ok


def test_reconcile_takes_the_same_queries_for_4_cadre_purses_as_for_44(
    city_year: dict[str, Any], import_rows
) -> None:  # type: ignore[no-untyped-def]
    services.allocate(year=2017, actor=None)
    with CaptureQueriesContext(connection) as few:
        assert all(report.problems == [] for report in reconcile(year=2017))
    more_cadres(import_rows, 40, "A")
    services.allocate(year=2017, actor=None)
    assert Account.objects.filter(kind="cadre").count() == 44  # 王芳 holds two villages
    with CaptureQueriesContext(connection) as many:
        reports = reconcile(year=2017)
    assert all(report.problems == [] for report in reports)
    assert len(many.captured_queries) == len(few.captured_queries)
    city = reports[0].city
    assert city.allocated == Decimal("138000.00") == city.passed_on  # 46 eligible × 3,000


def test_reconcile_still_names_a_cadre_purse_below_zero(city_year: dict[str, Any]) -> None:
    """The negative-balance check runs in SQL and brings back only the account that is below zero."""
    services.allocate(year=2017, actor=None)
    purse = Account.objects.get(kind="cadre", holder=city_year["cadres"]["李明"], village__name="红坡村")
    village = Account.objects.get(kind="village", village__name="红坡村")
    # Planted as a tamperer would, past the ledger's own check.
    Entry.objects.create(
        year=2017, fund=purse.fund, kind="allocation_return", source=purse, target=village, amount="6000.01"
    )
    problems = [p for report in reconcile(year=2017) for p in report.problems]
    assert f"挂包干部：{purse.name}：余额为负 -0.01 元" in problems


def test_allocate_counts_every_move_but_keeps_only_the_first_for_the_preview(
    city_year: dict[str, Any], import_rows, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("subsidies.money.allocation.MOVES_KEPT", 5)
    out = io.StringIO()
    call_command("allocate", "--year", "2017", "--verbosity", "2", stdout=out)
    posted = Entry.objects.filter(year=2017).count()
    printed = [line for line in out.getvalue().splitlines() if "→" in line and "元（" in line]
    assert len(printed) == posted > 5  # every move listed, not only the preview's
    assert f"已记账 {posted} 笔" in out.getvalue()
    assert MOVES_KEPT == 1000  # the default the admin's preview (300 shown) reads from
