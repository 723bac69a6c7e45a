"""Small pieces of SQL that set-based work shares on SQLite and PostgreSQL (issue 14).

Set-based commands (`allocate`) compute in the database and keep intermediate results in temporary
tables of their own connection, inside their transaction: nothing of them is seen by another
session, and a rollback (a dry run, an error) takes them away with everything else.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.db import connection, transaction


def quote(name: str) -> str:
    return connection.ops.quote_name(name)


@contextmanager
def temporary_table(prefix: str, select_sql: str, params: Sequence[Any] = ()) -> Iterator[str]:
    """A temporary table holding what `select_sql` selects, by a name no other run shares; dropped
    when the block ends without an error (an error rolls the transaction, and the table, back)."""
    if not connection.in_atomic_block:
        raise RuntimeError("temporary tables live inside the caller's transaction")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMPORARY TABLE {quote(name)} AS {select_sql}", list(params))
        if connection.vendor == "postgresql":
            cursor.execute(f"ANALYZE {quote(name)}")  # autovacuum never sees a temporary table
    yield name
    if not transaction.get_rollback():
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {quote(name)}")


def batch_memory() -> None:
    """For a batch command's transaction on PostgreSQL: sort and hash in memory (`work_mem` for
    this transaction only), not in files. A page never asks for this."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL work_mem = '256MB'")


def yuan_text(fen_sql: str) -> str:
    """SQL for a non-negative amount in whole fen as `1,234.56` (what `f"{amount:,.2f}"` prints).
    `%` is doubled: the statement is executed with parameters."""
    if connection.vendor == "postgresql":
        return f"to_char(({fen_sql}) / 100.0, 'FM999,999,999,999,990.00')"
    whole = f"CAST({fen_sql} AS INTEGER)"
    return f"printf('%%,d.%%02d', {whole} / 100, {whole} %% 100)"
