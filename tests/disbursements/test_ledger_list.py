"""The ledger list at a province's size (issue 14): its 年度 filter reads the year index, not every entry."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from disbursements.models import Entry
from subsidies.money import services

pytestmark = pytest.mark.django_db

ENTRIES = "/admin/disbursements/entry/"


def test_the_year_filter_lists_the_ledger_years_without_reading_every_entry(
    city_year: dict[str, Any],
) -> None:
    services.allocate(year=2017, actor=city_year["city_user"])
    client = Client()
    client.force_login(city_year["city_user"])
    with CaptureQueriesContext(connection) as ctx:
        page = client.get(ENTRIES)
    assert page.status_code == 200
    years = next(f for f in page.context["cl"].filter_specs if f.title == "年度")
    assert [c["display"] for c in years.choices(page.context["cl"])] == ["全部", "2017"]
    assert not any("DISTINCT" in q["sql"] and "disbursements_entry" in q["sql"] for q in ctx.captured_queries)
    chosen = client.get(ENTRIES + "?year=2017")
    assert len(chosen.context["cl"].result_list) == min(Entry.objects.filter(year=2017).count(), 100)
    assert client.get(ENTRIES + "?year=2016").context["cl"].result_count == 0
    assert client.get(ENTRIES + "?year=x").status_code == 200  # a typed-in value changes nothing
