"""Province scale on PostgreSQL (issue 14): generate N households set-based, then time the pages.

    .venv/bin/python bench/scale.py generate --database scale_2m --households 2000000   # drops it first!
    .venv/bin/python bench/scale.py measure --database scale_1k --database scale_2m [--repeat 3] [--explain]

`generate` creates the database, migrates it, fills it with `scale_data.generate` (set-based SQL)
and posts the 2017 allocation with the real `allocate` command. `measure` runs each database in its
own subprocess (so peak RSS is its own), signs in as the city, the first synthetic township and its
first cadre, and times every page with Django's test client (median of `--repeat`), counting
queries; `--explain` adds `EXPLAIN (ANALYZE, BUFFERS)` of the slowest query of each page at the
largest size. The markdown table goes to stdout and `bench/out/scale.md`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
SERVER = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")


def dsn(database: str) -> str:
    return f"{SERVER}/{database}"


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


TIMEOUT_S = 30  # a page still running after this is cancelled and reported as such


def _django(database: str) -> None:
    os.environ["DATABASE_URL"] = dsn(database)
    os.environ["PGOPTIONS"] = f"-c statement_timeout={TIMEOUT_S * 1000}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    sys.path.insert(0, str(ROOT))
    import django
    from django.conf import settings

    django.setup()
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["*"]
    # The manifest needs collectstatic; the pages' own work is what is measured.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def cmd_generate(args: argparse.Namespace) -> None:
    import psycopg

    sys.path.insert(0, str(Path(__file__).parent))
    import scale_data

    with psycopg.connect(dsn("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{args.database}"')  # type: ignore[arg-type]
        conn.execute(f'CREATE DATABASE "{args.database}"')  # type: ignore[arg-type]
    env = {
        **os.environ,
        "DATABASE_URL": dsn(args.database),
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    started = time.perf_counter()
    scale_data.generate(dsn(args.database), args.households)
    print(f"generated {args.households:,} households in {time.perf_counter() - started:.0f} s")
    if not args.no_allocate:
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "manage.py", "allocate", "--year", "2017"], cwd=ROOT, env=env, check=True
        )
        print(f"allocate: {time.perf_counter() - started:.0f} s")
    fill_dashboard_summaries(env)


def fill_dashboard_summaries(env: dict[str, str]) -> None:
    """The dashboards read summary tables (issue 14 goal 3): fill them, and refresh the planner's
    statistics (the generator analysed before `allocate` wrote its entries)."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "manage.py", "refresh_dashboard"], cwd=ROOT, env=env, check=True)
    print(f"dashboard summaries: {time.perf_counter() - started:.0f} s")
    import psycopg

    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
        conn.execute("ANALYZE")


def pages(city: object, township: object, cadre: object, t_id: int, sample: dict[str, str]) -> list[tuple]:
    hh = "/admin/households/household/"
    plans = "/admin/subsidies/householdplan/"
    return [
        ("households, city, page 1", city, hh),
        # Page 500 at 2 M: an estimated list offers 100 pages (households/pagination.py), so this
        # shows page 100 with a request to narrow the list; at 1 k, the middle page.
        ("households, city, page 500 (→ 100) / the middle one", city, hh + f"?p={sample['page']}"),
        ("households, city, search name 扎西", city, hh + "?q=扎西"),
        ("households, city, search 身份证号", city, hh + "?q=" + sample["id_number"]),
        ("households, city, search 户编号", city, hh + "?q=" + sample["code"]),
        ("households, city, filter 脱贫年度", city, hh + "?exit_year=2017"),
        ("plans, city, 2017", city, plans + "?year=2017"),
        ("plans, city, search 户编号", city, plans + "?q=" + sample["code"]),
        ("batches, city", city, "/admin/disbursements/batch/"),
        ("payouts, city", city, "/admin/disbursements/payout/"),
        ("ledger entries, city", city, "/admin/disbursements/entry/"),
        ("notices, city", city, "/admin/disbursements/notice/"),
        ("households, township", township, hh),
        ("plans, township, 2017", township, plans + "?year=2017"),
        ("batches, township", township, "/admin/disbursements/batch/"),
        ("cadre, /cadre/", cadre, "/cadre/"),
        ("dashboard, city", city, "/dashboard/"),
        ("dashboard, city → township", city, f"/dashboard/?township={t_id}"),
        ("dashboard, township", township, "/dashboard/"),
        ("dashboard, cadre", cadre, "/dashboard/"),
        *dashboard_exports(city, township, cadre, t_id),
    ]


def dashboard_exports(city: object, township: object, cadre: object, t_id: int) -> list[tuple]:
    """The dashboards' xlsx (issue 14 goal 3): the same summary figures as the pages."""
    return [
        ("dashboard xlsx, city", city, "/dashboard/xlsx/"),
        ("dashboard xlsx, city → township", city, f"/dashboard/xlsx/?township={t_id}"),
        ("dashboard xlsx, township", township, "/dashboard/xlsx/"),
        ("dashboard xlsx, cadre", cadre, "/dashboard/xlsx/"),
    ]


def summary_refresh(township: Any, repeat: int) -> list[dict[str, Any]]:
    """What the worker does after a change in one township: rebuild its dashboard figures."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from disbursements import summaries

    times, queries = [], 0
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as ctx:
            started = time.perf_counter()
            summaries.refresh(year=2017, township_ids=[township.pk])
            times.append(time.perf_counter() - started)
        queries = len(ctx.captured_queries)
    label = "dashboard summary refresh (worker), one township"
    return [{"label": label, "url": "", "seconds": statistics.median(times), "queries": queries, "status": 0}]


def cmd_worker(args: argparse.Namespace) -> None:
    """Measure one database; prints one JSON line."""
    _django(args.database)
    from django.db import OperationalError, connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from households.models import Household, Role, Township, User

    township = Township.objects.filter(code__startswith="S").order_by("code").first()
    assert township is not None, "generate the database first"
    city, _ = User.objects.get_or_create(
        username="bench_city", defaults={"role": Role.CITY, "is_staff": True}
    )
    town, _ = User.objects.get_or_create(
        username="bench_township", defaults={"role": Role.TOWNSHIP, "is_staff": True, "township": township}
    )
    cadre = User.objects.filter(role=Role.CADRE, township=township).order_by("id").first()
    assert cadre is not None
    first = Household.objects.filter(village__township=township).order_by("id").values("code", "id_number")[3]
    sample = {"code": first["code"], "id_number": first["id_number"]}
    households = Household.objects.count()
    sample["page"] = str(max(1, min(500, households // 200)))
    clients = {}
    for user in (city, town, cadre):
        client = Client()
        client.force_login(user)
        clients[user.pk] = client
    results = []
    for label, user, url in pages(city, town, cadre, township.pk, sample):
        client = clients[user.pk]  # type: ignore[attr-defined]
        times = []
        slowest: tuple[float, str] = (0.0, "")
        queries = 0
        status = 0
        try:
            client.get(url)  # warm: templates compiled, connection open
        except OperationalError:
            results.append({"label": label, "url": url, "seconds": None, "queries": 0, "status": 0})
            print(f"  {households:>9,} {label}: cancelled at {TIMEOUT_S} s", file=sys.stderr, flush=True)
            continue
        for _ in range(args.repeat):
            with CaptureQueriesContext(connection) as ctx:
                started = time.perf_counter()
                response = client.get(url)
                times.append(time.perf_counter() - started)
            status = response.status_code
            queries = len(ctx.captured_queries)
            for query in ctx.captured_queries:
                if float(query["time"]) > slowest[0]:
                    slowest = (float(query["time"]), query["sql"])
        row: dict[str, Any] = {
            "label": label,
            "url": url,
            "seconds": statistics.median(times),
            "queries": queries,
            "status": status,
        }
        if args.explain and slowest[1].lstrip().upper().startswith("SELECT"):
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + slowest[1])
                row["explain"] = "\n".join(r[0] for r in cursor.fetchall())
                row["slowest_sql"] = slowest[1][:2000]
        results.append(row)
        print(
            f"  {households:>9,} {label}: {row['seconds']:.3f} s, {queries} q, {status}",
            file=sys.stderr,
            flush=True,
        )
    results += summary_refresh(township, args.repeat)
    print(json.dumps({"households": households, "pages": results, "peak_rss_mb": peak_rss_mb()}))


def cmd_measure(args: argparse.Namespace) -> None:
    runs = []
    for database in args.database:
        command = [sys.executable, __file__, "worker", "--database", database, "--repeat", str(args.repeat)]
        if args.explain and database == args.database[-1]:
            command.append("--explain")
        out = subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.PIPE, text=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    small, large = runs[0], runs[-1]
    lines = [
        f"| page (median of {args.repeat}) | {small['households']:,} | q | {large['households']:,} | q | ratio |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]

    def secs(page: dict) -> str:
        return f"cancelled at {TIMEOUT_S} s" if page["seconds"] is None else f"{page['seconds']:.3f} s"

    for a, b in zip(small["pages"], large["pages"], strict=True):
        ratio = f"{b['seconds'] / a['seconds']:.1f}×" if a["seconds"] and b["seconds"] else "∞"
        flag = "" if b["status"] in (0, 200) else f" (HTTP {b['status']})"
        lines.append(
            f"| {a['label']}{flag} | {secs(a)} | {a['queries']} | {secs(b)} | {b['queries']} | {ratio} |"
        )
    lines.append(
        f"\npeak RSS of the measuring process: {small['peak_rss_mb']:.0f} MB / {large['peak_rss_mb']:.0f} MB"
    )
    table = "\n".join(lines)
    print(table)
    OUT.mkdir(exist_ok=True)
    (OUT / "scale.md").write_text(table + "\n")
    explains = [
        f"## {p['label']} ({p['seconds']:.3f} s)\n\n{p['slowest_sql']}\n\n{p['explain']}\n"
        for p in large["pages"]
        if "explain" in p
    ]
    if explains:
        (OUT / "scale-explain.md").write_text("\n".join(explains))
        print(f"plans of the slowest queries: {OUT / 'scale-explain.md'}")


# --- commands with flat memory (issue 14 goal 4) ----------------------------------------------------


def _timed_command(database: str, argv: list[str]) -> dict[str, Any]:
    """One management command under `/usr/bin/time -v`: wall seconds and peak RSS (its own process)."""
    env = {
        **os.environ,
        "DATABASE_URL": dsn(database),
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DEBUG": "False",  # as in production: DEBUG keeps the last 9,000 statements (bulk INSERTs) in memory
    }
    started = time.perf_counter()
    done = subprocess.run(
        ["/usr/bin/time", "-v", sys.executable, "manage.py", *argv],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    seconds = time.perf_counter() - started
    rss = next(
        (
            int(line.split(":")[1]) / 1024
            for line in done.stderr.splitlines()
            if "Maximum resident set size" in line
        ),
        0.0,
    )
    return {"seconds": seconds, "rss_mb": rss, "status": done.returncode}


def _allocation_floor(database: str, year: int, *, commit: bool = False) -> dict[str, Any]:
    """allocate's floor: one bare `INSERT … SELECT` of the same entries (the year's funding and
    allocation entries copied as they are). Rolled back, as the issue measured it; or, with
    `commit`, committed (what any command that writes them pays: the WAL flushed) and the copies
    then deleted (bench databases only)."""
    import psycopg

    with psycopg.connect(dsn(database)) as conn:
        columns = "year, fund, kind, source_id, target_id, amount, memo, created_by_id, created_at"
        (last,) = conn.execute("SELECT COALESCE(MAX(id), 0) FROM disbursements_entry").fetchone()  # type: ignore[misc]
        started = time.perf_counter()
        cursor = conn.execute(
            f"INSERT INTO disbursements_entry ({columns}) SELECT {columns} FROM disbursements_entry "  # type: ignore[arg-type]
            "WHERE year = %s AND kind IN ('funding', 'allocation')",
            [year],
        )
        rows = cursor.rowcount
        if commit:
            conn.commit()
        seconds = time.perf_counter() - started
        if commit:
            conn.execute("DELETE FROM disbursements_entry WHERE id > %s", [last])
            conn.commit()
        else:
            conn.rollback()
    return {"seconds": seconds, "rows": rows}


def _unallocate(database: str, year: int) -> int:
    """Bench databases only: remove the year's allocation entries so that `allocate` posts them all again."""
    import psycopg

    with psycopg.connect(dsn(database), autocommit=True) as conn:
        cursor = conn.execute(
            "DELETE FROM disbursements_entry WHERE year = %s AND kind IN ('funding', 'allocation')", [year]
        )
        removed = cursor.rowcount
    _vacuum(database)
    return removed


def _vacuum(database: str) -> None:
    """As a database that never had the removed rows: no dead rows for the allocation (or its floor)
    to step over, and statistics that know the accounts (autovacuum would, minutes later)."""
    import psycopg

    with psycopg.connect(dsn(database), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE disbursements_entry")
        conn.execute("VACUUM ANALYZE disbursements_account")


COMMANDS = [
    ("reconcile --year 2017", ["reconcile", "--year", "2017"]),
    ("allocate --dry-run (nothing to post)", ["allocate", "--year", "2017", "--dry-run"]),
]


def _notice_print_rows(databases: list[str]) -> list[tuple[str, list[dict[str, Any]]]]:
    """The notice print of the first synthetic township (基准1乡: 10 villages; ~800 rows at 1 k, ~10,700
    at 2 M), laid out village by village and joined (issue 14 goal 4)."""
    OUT.mkdir(exist_ok=True)
    out = str(OUT / "scale-notice.pdf")
    argv = ["print_notice", "--kind", "grant", "--year", "2017", "--township", "基准1乡", "--output", out]
    return [("print_notice --township 基准1乡", [_timed_command(db, argv) for db in databases])]


def cmd_commands(args: argparse.Namespace) -> None:
    """Peak RSS and time of the year's commands at each size, the same run; with `--allocate`, also
    a first allocation (the year's allocation entries removed, then posted again) against its floor."""
    rows = []
    for label, argv in COMMANDS:
        rows.append((label, [_timed_command(db, argv) for db in args.database]))
    if args.export:
        out = str(OUT / "scale-entitlements.xlsx")
        argv = ["export_entitlements", "--year", "2017", "--output", out]
        rows.append(("export_entitlements, whole city", [_timed_command(db, argv) for db in args.database]))
    if args.notice:
        rows.extend(_notice_print_rows(args.database))
    if args.allocate:
        for db in args.database:  # no dead rows of earlier runs for the floor to step over either
            _vacuum(db)
        for label, commit in (("rolled back", False), ("committed", True)):
            floors = [_allocation_floor(db, 2017, commit=commit) for db in args.database]
            rows.append(
                (
                    f"bare INSERT … SELECT of the same entries, {label} (floor)",
                    [
                        {"seconds": f["seconds"], "rss_mb": 0.0, "status": 0, "rows": f["rows"]}
                        for f in floors
                    ],
                )
            )
        for db in args.database:
            _unallocate(db, 2017)
        rows.append(
            (
                "allocate --year 2017 (posts every entry)",
                [_timed_command(db, ["allocate", "--year", "2017"]) for db in args.database],
            )
        )
        rows.append(
            (
                "reconcile --year 2017 (after)",
                [_timed_command(db, ["reconcile", "--year", "2017"]) for db in args.database],
            )
        )
    head = " | ".join(f"{db}: s | MB" for db in args.database)
    lines = [f"| command | {head} |", "| --- |" + " ---: | ---: |" * len(args.database)]
    for label, results in rows:
        cells = " | ".join(
            f"{r['seconds']:.2f}{'' if r['status'] == 0 else ' (exit ' + str(r['status']) + ')'} | {r['rss_mb']:.0f}"
            for r in results
        )
        lines.append(f"| {label} | {cells} |")
    lines.append(f"\nload average at the end: {os.getloadavg()[0]:.1f}")
    table = "\n".join(lines)
    print(table)
    OUT.mkdir(exist_ok=True)
    (OUT / "scale-commands.md").write_text(table + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate")
    gen.add_argument("--database", required=True)
    gen.add_argument("--households", type=int, required=True)
    gen.add_argument("--no-allocate", action="store_true")
    gen.set_defaults(func=cmd_generate)
    measure = sub.add_parser("measure")
    measure.add_argument("--database", action="append", required=True)
    measure.add_argument("--repeat", type=int, default=3)
    measure.add_argument("--explain", action="store_true")
    measure.set_defaults(func=cmd_measure)
    worker = sub.add_parser("worker")
    worker.add_argument("--database", required=True)
    worker.add_argument("--repeat", type=int, default=3)
    worker.add_argument("--explain", action="store_true")
    worker.set_defaults(func=cmd_worker)
    commands = sub.add_parser("commands")
    commands.add_argument("--database", action="append", required=True)
    commands.add_argument("--allocate", action="store_true", help="also a first allocation (writes!)")
    commands.add_argument("--export", action="store_true", help="also export_entitlements (slow at 2 M)")
    commands.add_argument("--notice", action="store_true", help="also a township's notice print")
    commands.set_defaults(func=cmd_commands)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
