"""Approve and pay a township's batch of 1,000 households against one of 10 (issue 4 goal: ≤ 3×).

    .venv/bin/python bench/approval.py [--sizes 10,1000] [--repeat 5] [--database-url postgres://…/bench_approval]

Each size runs in a fresh database (SQLite file in bench/out/, or the PostgreSQL database given,
dropped and recreated). Timed: the approver's step (`approval.advance`) and recording the payouts
(`services.payouts_record`), with the number of SQL queries of each, and on PostgreSQL how many of
the plans the approval updated in place (HOT: no new index entries).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"


def worker(size: int) -> None:
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    import datetime

    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    call_command("migrate", verbosity=0)
    from disbursements.approval import advance
    from subsidies.money import services
    from subsidies.money.bench_support import reviewed_batch

    batch, approver = reviewed_batch(households=size, prefix=f"B{size}")
    hot_before = _plan_updates(connection)
    with CaptureQueriesContext(connection) as approve_queries:
        started = time.perf_counter()
        advance([batch], action="approve", actor=approver)
        approve_s = time.perf_counter() - started
    hot_after = _plan_updates(connection)
    with CaptureQueriesContext(connection) as pay_queries:
        started = time.perf_counter()
        result = services.payouts_record(
            batch=batch, actor=batch.created_by, paid_on=datetime.date(2017, 5, 1)
        )
        pay_s = time.perf_counter() - started
    assert result.paid == size
    hot = hot_after[1] - hot_before[1]
    print(
        f"{size}\t{approve_s:.4f}\t{len(approve_queries.captured_queries)}\t{pay_s:.4f}\t{len(pay_queries.captured_queries)}"
        f"\t{hot}"
    )


def _plan_updates(connection) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """(updates, HOT updates) of the plan table so far (PostgreSQL; (0, 0) on SQLite): whether the
    approval rewrote the plans in place or wrote new index entries for each."""
    if connection.vendor != "postgresql":
        return (0, 0)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
    time.sleep(0.1)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'subsidies_householdplan'"
        )
        return cursor.fetchone()


def fresh_database(size: int, database_url: str | None) -> str:
    if database_url:
        import psycopg

        base, name = database_url.rsplit("/", 1)
        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        return database_url
    path = OUT / f"bench-approval-{size}.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{path}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10,1000")
    parser.add_argument("--database-url")
    parser.add_argument("--repeat", type=int, default=1, help="fresh databases per size; medians shown")
    parser.add_argument("--worker", type=int)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker)
        return
    OUT.mkdir(parents=True, exist_ok=True)
    sizes = [int(s) for s in args.sizes.split(",")]
    runs: dict[int, list[list[float]]] = {size: [] for size in sizes}
    for _ in range(args.repeat):  # the sizes alternate, so a burst of load hits both
        for size in sizes:
            env = {
                **os.environ,
                "DATABASE_URL": fresh_database(size, args.database_url),
                "DJANGO_SETTINGS_MODULE": "config.settings.local",
                "DEBUG": "False",
            }
            output = (
                subprocess.run(
                    [sys.executable, __file__, "--worker", str(size)],
                    cwd=ROOT,
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                )
                .stdout.strip()
                .splitlines()[-1]
            )
            runs[size].append([float(x) for x in output.split("\t")])
    # Median of each column over the repetitions.
    rows = [[statistics.median(column) for column in zip(*runs[size], strict=True)] for size in sizes]
    engine = "PostgreSQL" if args.database_url else "SQLite"
    lines = [
        f"## Approve and pay one batch — {engine} (median of {args.repeat}, load average"
        f" {os.getloadavg()[1]:.1f})",
        "",
        "| households | approve s | approve queries | plans updated in place (HOT) | pay s | pay queries | approve+pay s |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        households, approve_s, approve_q, pay_s, pay_q, hot = row
        in_place = f"{int(hot):,}" if args.database_url else "—"
        lines.append(
            f"| {int(households):,} | {approve_s:.3f} | {int(approve_q)} | {in_place} | {pay_s:.3f} | {int(pay_q)}"
            f" | {approve_s + pay_s:.3f} |"
        )
    lines.append("")
    for size in sizes:
        lines.append(f"- {size:,}: approve s per run " + ", ".join(f"{r[1]:.4f}" for r in runs[size]))
    if len(rows) >= 2:
        small, large = rows[0], rows[-1]
        lines.append("")
        lines.append(
            f"Approving {int(large[0]):,} vs {int(small[0]):,} households: **{large[1] / small[1]:.2f}×** the time"
            f" (goal ≤ 3×), the same {int(large[2])} queries. Recording the payouts: {large[3] / small[3]:.1f}× —"
            " one ledger entry and one payout row per household, written in bulk with the same"
            f" {int(large[4])} queries, so it grows with the rows ({large[3] / large[0] * 1000:.2f} ms per household)."
        )
    text = "\n".join(lines)
    print(text)
    (OUT / f"approval-{engine.lower()}.md").write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
