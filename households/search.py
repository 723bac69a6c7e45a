"""Searching households by what a user types (issue 14).

A 身份证号 or a 户编号 is looked up exactly (or the 户编号 by its beginning), through the unique
indexes: `UPPER(col) LIKE '%q%'`, Django's default for `search_fields`, reads every row of two
million. Anything else (a name) keeps the default `icontains`; on PostgreSQL a trigram index on
`UPPER(head_name)` serves it (migration households 0008).
"""

from __future__ import annotations

import re
from typing import Any

from django.db.models import Q, QuerySet

# 户编号 and 身份证号 are letters, digits and dashes, never Chinese, never shorter than 6.
CODE_SHAPED = re.compile(r"^[0-9A-Za-z-]{6,32}$")


def code_lookup(queryset: QuerySet[Any], term: str, *, to_household: str = "") -> QuerySet[Any] | None:
    """`queryset` narrowed to the household whose 身份证号 is `term` or whose 户编号 starts with it;
    None when `term` is not code-shaped (search it the ordinary way)."""
    term = term.strip()
    if not CODE_SHAPED.match(term):
        return None
    upper = term.upper()
    match = Q(**{f"{to_household}code__startswith": term})
    if upper != term:
        match |= Q(**{f"{to_household}code__startswith": upper})
    if len(upper) == 18:
        match |= Q(**{f"{to_household}id_number": upper})
    return queryset.filter(match)
