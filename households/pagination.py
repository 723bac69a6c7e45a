"""Counting long lists without counting them (issue 14).

At two million households an exact `COUNT(*)` costs more than the page it numbers. On PostgreSQL the
planner already knows about how many rows a filter keeps: when it expects more than
`ESTIMATE_FROM` rows, the list is numbered from that estimate (the pages are still read exactly;
only the total and the number of pages are approximate, and no user pages through 40,000 pages).
Below that, and on SQLite, the count is exact.
"""

from __future__ import annotations

import json
from functools import cached_property
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.core.paginator import Paginator
from django.db import connections, models

ESTIMATE_FROM = 50_000


def planner_rows(queryset: models.QuerySet[Any]) -> int | None:
    """The planner's estimate of the rows of `queryset` (PostgreSQL only; None elsewhere)."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    try:
        sql, params = queryset.order_by().values("pk").query.sql_with_params()
    except EmptyResultSet:  # a scope that can see nothing (e.g. a cadre on a list of village funds)
        return 0
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


class EstimatedCountPaginator(Paginator):
    @cached_property
    def count(self) -> int:
        if isinstance(self.object_list, models.QuerySet):
            estimate = planner_rows(self.object_list)
            if estimate is not None and estimate > ESTIMATE_FROM:
                return estimate
        return super().count
