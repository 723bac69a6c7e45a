"""Counting long lists without counting them (issue 14).

At two million households an exact `COUNT(*)` costs more than the page it numbers. On PostgreSQL the
planner already knows about how many rows a filter keeps: when it expects more than
`ESTIMATE_FROM` rows, the list is numbered from that estimate (the pages are still read exactly;
only the total and the number of pages are approximate, and the page says "约 N 条"). Below that,
and on SQLite, the count is exact.

An estimated list is also a list nobody reads to its end: it offers its first `MAX_PAGES` pages
(`OFFSET` grows with the page number, so page 500 of two million rows costs what page 1 does not)
and asks for a search or a filter beyond them (`LongListChangeList` in `admin_base.py`).
"""

from __future__ import annotations

import json
from functools import cached_property
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.core.paginator import EmptyPage, Paginator
from django.db import connections, models

ESTIMATE_FROM = 50_000
MAX_PAGES = 100  # of an estimated list: 5,000 rows at the admin's 50 a page


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
    estimated = False  # the count is the planner's estimate, shown as "约 N 条"
    capped = False  # a page past MAX_PAGES was asked for; the last offered page was given instead

    @cached_property
    def count(self) -> int:
        if isinstance(self.object_list, models.QuerySet):
            estimate = planner_rows(self.object_list)
            if estimate is not None and estimate > ESTIMATE_FROM:
                self.estimated = True
                return estimate
        return super().count

    @property
    def count_grouped(self) -> str:
        """The count as the pages write numbers: 2,000,000."""
        return f"{self.count:,}"

    @cached_property
    def num_pages(self) -> int:
        pages = super().num_pages
        return min(pages, MAX_PAGES) if self.count and self.estimated else pages

    def validate_number(self, number: Any) -> int:
        try:
            return super().validate_number(number)
        except EmptyPage:
            if self.estimated and int(number) > self.num_pages:
                self.capped = True
                return self.num_pages
            raise
