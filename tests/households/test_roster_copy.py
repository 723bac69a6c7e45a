"""The roster import's bulk rows on PostgreSQL go through COPY (issue 14 goal 5), stored exactly as the
portable INSERT path stores them on SQLite."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from households.imports import any_of
from households.models import CadreAssignment, Household, HouseholdChange

from ..factories import roster_row

pytestmark = pytest.mark.django_db


def test_new_households_their_cadres_and_audit_rows_are_stored_whichever_way_they_are_written(
    import_rows,
) -> None:  # type: ignore[no-untyped-def]
    rows = [roster_row(户编号=f"C{i}", 户主姓名="农布次仁", 挂包干部="阿旺次仁多吉") for i in range(3)]
    with CaptureQueriesContext(connection) as ctx:
        assert import_rows(rows).ok
    copies = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith("COPY")]
    if connection.vendor == "postgresql":
        # households, cadre assignments, audit rows: one COPY each, none as INSERT … VALUES
        assert len(copies) == 3, copies
        assert not any('INSERT INTO "households_household"' in q["sql"] for q in ctx.captured_queries)
    else:
        assert copies == []
    household = Household.objects.get(code="C1")
    assert household.head_name == "农布次仁" and household.cadre is not None
    assert household.created_at is not None and household.created_at.tzinfo is not None
    assert CadreAssignment.objects.get(household=household).cadre == household.cadre
    change = HouseholdChange.objects.get(household=household)
    assert change.action == HouseholdChange.Action.CREATE
    assert change.changes["户主姓名"] == ["", "农布次仁"]
    assert change.changes["挂包干部"] == ["", "阿旺次仁多吉（13800000001）"]


def test_the_chunk_lookups_send_one_array_on_postgresql_and_find_what_in_finds(import_rows) -> None:  # type: ignore[no-untyped-def]
    assert import_rows([roster_row(户编号=f"D{i}") for i in range(3)]).ok
    codes = ["D0", "D2", "nowhere", "D2", None]
    query = Household.objects.filter(any_of("code", codes)).order_by()
    with CaptureQueriesContext(connection) as ctx:
        found = sorted(query.values_list("code", flat=True))
    assert found == sorted(Household.objects.filter(code__in=codes).values_list("code", flat=True))
    assert found == ["D0", "D2"]
    sql = ctx.captured_queries[0]["sql"]
    if connection.vendor == "postgresql":
        assert "= ANY(" in sql and "IN (" not in sql, sql
    else:
        assert "IN (" in sql, sql
    assert list(Household.objects.filter(any_of("code", [None]))) == []
