"""Hand-run benchmark: roster import vs. a bare openpyxl read-only parse of the same file.

    .venv/bin/python bench/roster_import.py [--sizes 6132,100000] [--database-url URL] [--profile]

For each size a roster .xlsx is generated with `households.demo.roster_rows` over every village of
the database, then each measurement runs in its own fresh subprocess, so that the peak RSS
(`ru_maxrss`) belongs to that measurement alone:

    parse      openpyxl.load_workbook(read_only=True, data_only=True), every row, values_only=True
    import     first import into an empty, freshly migrated database
    re-import  the same file again (every row unchanged)
    dry run    the same file with dry_run=True

The import is timed like `manage.py import_households` does it (sha256 of the file, `read_xlsx`,
`roster_import`), without the progress line. Results go to stdout and bench/out/roster_import.md.

Goal (issue): import ≤ 3× the parse time; peak memory for 100,000 rows ≤ 2× that for 6,132.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
SETTINGS = "config.settings.local"
DEFAULT_SIZES = (6132, 100_000)
TIME_GOAL = 3.0  # import / parse
MEMORY_GOAL = 2.0  # peak RSS of the largest import / the smallest
RESULT_MARK = "@@BENCH@@ "  # prefix of the one JSON line a worker prints

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


# --- inside a worker subprocess -----------------------------------------------------------------


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports ru_maxrss in KiB)."""
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss / (1024 * 1024) if sys.platform == "darwin" else maxrss / 1024


def work_parse(path: Path) -> dict[str, Any]:
    import openpyxl

    started = time.perf_counter()
    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    rows = 0
    for _ in book.worksheets[0].iter_rows(values_only=True):
        rows += 1
    book.close()
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows": rows - 1}  # minus the header


def setup_django() -> float:
    """Set Django up; returns the peak RSS (MB) after setup, i.e. the fixed cost before any work."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS)
    import django

    django.setup()
    return peak_rss_mb()


def work_import(path: Path, dry_run: bool, profile_to: Path | None) -> dict[str, Any]:
    baseline = setup_django()
    from households.imports import read_xlsx, sha256_of
    from households.roster import roster_import

    profiler = cProfile.Profile() if profile_to else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    with path.open("rb") as stream:
        digest = sha256_of(stream)
        header, rows = read_xlsx(stream)
        report = roster_import(
            header=header,
            rows=rows,
            actor=None,
            file_name=path.name,
            file_sha256=digest,
            dry_run=dry_run,
        )
    if profiler:
        profiler.disable()
    seconds = time.perf_counter() - started
    if profiler and profile_to:
        profiler.dump_stats(str(profile_to))
    return {
        "seconds": seconds,
        "baseline_rss_mb": baseline,
        "rows": report.rows_total,
        "new": report.rows_new,
        "updated": report.rows_updated,
        "unchanged": report.rows_unchanged,
        "errors": [str(e) for e in report.errors[:5]],
        "error_count": len(report.errors),
    }


def work_villages() -> dict[str, Any]:
    setup_django()
    from households.models import Village

    villages = [
        [v.township.name, v.name] for v in Village.objects.select_related("township").order_by("code")
    ]
    return {"villages": villages}


def worker(kind: str, path: Path | None, profile_to: Path | None) -> None:
    result: dict[str, Any]
    if kind == "villages":
        result = work_villages()
    else:
        assert path is not None, "--file is required"
        if kind == "parse":
            result = work_parse(path)
        elif kind in ("import", "reimport", "dryrun"):
            result = work_import(path, dry_run=kind == "dryrun", profile_to=profile_to)
        else:
            raise SystemExit(f"unknown worker kind: {kind}")
    result["peak_rss_mb"] = peak_rss_mb()
    print(RESULT_MARK + json.dumps(result, ensure_ascii=False), flush=True)


# --- the orchestrating process ------------------------------------------------------------------


@dataclass
class Database:
    """One benchmark database: a fresh SQLite file per size, or a PostgreSQL database reset per size."""

    url: str | None  # None → SQLite under bench/out

    def url_for(self, size: int) -> str:
        return self.url or f"sqlite:///{OUT / f'bench-{size}.sqlite3'}"

    @property
    def label(self) -> str:
        if self.url is None:
            return "SQLite (bench/out/bench-<n>.sqlite3)"
        parts = urlsplit(self.url)
        return f"PostgreSQL ({parts.hostname}:{parts.port or 5432}{parts.path})"

    def reset(self, size: int) -> None:
        """Drop and recreate the database, then migrate it."""
        if self.url is None:
            path = OUT / f"bench-{size}.sqlite3"
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        else:
            self._recreate_postgres()
        run_checked(
            [sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput", "-v", "0"], self.env(size)
        )

    def _recreate_postgres(self) -> None:
        import psycopg
        from psycopg import sql

        assert self.url is not None
        parts = urlsplit(self.url)
        name = parts.path.lstrip("/")
        if not name or name == "postgres":
            raise SystemExit("--database-url must name a scratch database (it is dropped), e.g. /bench_roster")
        admin_url = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def env(self, size: int) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": SETTINGS,
                "DATABASE_URL": self.url_for(size),
                "DEBUG": "False",  # DEBUG on would keep every SQL query in memory
                "PYTHONPATH": str(ROOT),
            }
        )
        return env


def run_checked(cmd: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"failed ({done.returncode}): {' '.join(cmd)}")
    return done.stdout


def run_worker(
    kind: str, env: dict[str, str], path: Path | None = None, profile_to: Path | None = None
) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", kind]
    if path is not None:
        cmd += ["--file", str(path)]
    if profile_to is not None:
        cmd += ["--profile-to", str(profile_to)]
    stdout = run_checked(cmd, env)
    for line in reversed(stdout.splitlines()):
        if line.startswith(RESULT_MARK):
            result: dict[str, Any] = json.loads(line[len(RESULT_MARK) :])
            return result
    raise SystemExit(f"worker {kind} printed no result:\n{stdout}")


def write_roster(path: Path, villages: list[tuple[str, str]], size: int) -> float:
    """The generated roster as .xlsx (openpyxl write-only); returns the seconds it took."""
    import openpyxl

    from households.demo import ROSTER_HEADER, roster_rows

    started = time.perf_counter()
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("户花名册")
    sheet.append(ROSTER_HEADER)
    for row in roster_rows(villages, size):
        sheet.append(row)
    tmp = path.with_suffix(".tmp.xlsx")
    book.save(tmp)
    tmp.replace(path)
    return time.perf_counter() - started


def expect(result: dict[str, Any], what: str, size: int, **counts: int) -> None:
    """The import must have done what the benchmark claims to measure."""
    wrong = {k: (result[k], v) for k, v in counts.items() if result[k] != v}
    if result["error_count"] or wrong:
        raise SystemExit(
            f"{what} of {size} rows did not go as expected: {wrong or ''} "
            f"{result['error_count']} errors {result['errors']}"
        )


@dataclass
class Measured:
    size: int
    file_mb: float
    parse: dict[str, Any]
    first: dict[str, Any]
    again: dict[str, Any]
    dry: dict[str, Any]


def measure(size: int, database: Database, villages: list[tuple[str, str]]) -> Measured:
    path = OUT / f"roster-{size}.xlsx"
    print(f"[{size}] writing {path.relative_to(ROOT)} …", flush=True)
    seconds = write_roster(path, villages, size)
    print(f"[{size}]   {path.stat().st_size / 1e6:.1f} MB in {seconds:.1f} s", flush=True)

    env = database.env(size)
    print(f"[{size}] fresh database + migrate …", flush=True)
    database.reset(size)

    print(f"[{size}] parse …", flush=True)
    parse = run_worker("parse", env, path)
    if parse["rows"] != size:
        raise SystemExit(f"parse read {parse['rows']} rows, expected {size}")
    print(f"[{size}]   {parse['seconds']:.2f} s", flush=True)

    print(f"[{size}] first import …", flush=True)
    first = run_worker("import", env, path)
    expect(first, "first import", size, rows=size, new=size, updated=0, unchanged=0)
    print(f"[{size}]   {first['seconds']:.2f} s", flush=True)

    print(f"[{size}] re-import …", flush=True)
    again = run_worker("reimport", env, path)
    expect(again, "re-import", size, rows=size, new=0, updated=0, unchanged=size)
    print(f"[{size}]   {again['seconds']:.2f} s", flush=True)

    print(f"[{size}] dry run …", flush=True)
    dry = run_worker("dryrun", env, path)
    expect(dry, "dry run", size, rows=size, new=0, updated=0, unchanged=size)
    print(f"[{size}]   {dry['seconds']:.2f} s", flush=True)

    return Measured(size, path.stat().st_size / 1e6, parse, first, again, dry)


def render(results: list[Measured], database: Database) -> str:
    import django
    import openpyxl

    lines = [
        f"## Roster import benchmark — {database.label}",
        "",
        f"{datetime.now().astimezone():%Y-%m-%d %H:%M %Z}; Python {platform.python_version()}, "
        f"Django {django.get_version()}, openpyxl {openpyxl.__version__}, {os.cpu_count()} CPUs, "
        f"{platform.machine()}.",
        "",
        "| rows | file MB | parse s | import s | import/parse | re-import s | re-import/parse | dry-run s "
        "| dry-run/parse | parse peak RSS MB | import peak RSS MB | re-import peak RSS MB "
        "| dry-run peak RSS MB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        p = r.parse["seconds"]
        lines.append(
            f"| {r.size:,} | {r.file_mb:.1f} | {p:.2f} "
            f"| {r.first['seconds']:.2f} | {r.first['seconds'] / p:.1f}× "
            f"| {r.again['seconds']:.2f} | {r.again['seconds'] / p:.1f}× "
            f"| {r.dry['seconds']:.2f} | {r.dry['seconds'] / p:.1f}× "
            f"| {r.parse['peak_rss_mb']:.0f} | {r.first['peak_rss_mb']:.0f} "
            f"| {r.again['peak_rss_mb']:.0f} | {r.dry['peak_rss_mb']:.0f} |"
        )
    lines.append("")
    baseline = max(r.first["baseline_rss_mb"] for r in results)
    lines.append(f"Peak RSS of a worker right after `django.setup()` (before any work): {baseline:.0f} MB.")
    if len(results) >= 2:
        small, large = min(results, key=lambda r: r.size), max(results, key=lambda r: r.size)
        lines.append("")
        for label, key in (("import", "first"), ("re-import", "again"), ("dry run", "dry")):
            ratio = getattr(large, key)["peak_rss_mb"] / getattr(small, key)["peak_rss_mb"]
            verdict = "ok" if ratio <= MEMORY_GOAL else f"over the {MEMORY_GOAL:.0f}× goal"
            lines.append(
                f"- Peak RSS {label} {large.size:,} / {small.size:,}: **{ratio:.2f}×** ({verdict})"
            )
        ratio = large.parse["peak_rss_mb"] / small.parse["peak_rss_mb"]
        lines.append(f"- Peak RSS bare parse {large.size:,} / {small.size:,}: {ratio:.2f}×")
    lines.append("")
    for r in results:
        ratio = r.first["seconds"] / r.parse["seconds"]
        verdict = "ok" if ratio <= TIME_GOAL else f"over the {TIME_GOAL:.0f}× goal"
        lines.append(f"- {r.size:,} rows: first import / parse = **{ratio:.1f}×** ({verdict})")
    return "\n".join(lines) + "\n"


def profile(size: int, database: Database) -> str:
    """cProfile a first import and a re-import of `size` rows; top cumulative entries in households/."""
    path = OUT / f"roster-{size}.xlsx"
    env = database.env(size)
    database.reset(size)
    out: list[str] = []
    for kind in ("import", "reimport"):
        dump = OUT / f"profile-{size}-{kind}.pstats"
        result = run_worker(kind, env, path, profile_to=dump)
        stats = pstats.Stats(str(dump), stream=io.StringIO())
        entries = []
        for (filename, line, func), (_, _, _, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
            if f"{os.sep}households{os.sep}" in filename and ".venv" not in filename:
                entries.append((cumulative, f"{Path(filename).relative_to(ROOT)}:{line} {func}"))
        entries.sort(reverse=True)
        out.append(f"### cProfile, {kind} of {size:,} rows ({result['seconds']:.1f} s under the profiler)")
        out.append("")
        out.append(f"Stats in `{dump.relative_to(ROOT)}`. Top cumulative time in `households/`:")
        out.append("")
        for cumulative, where in entries[:8]:
            out.append(f"- {cumulative:6.2f} s  `{where}`")
        out.append("")
        buffer = io.StringIO()
        pstats.Stats(str(dump), stream=buffer).sort_stats("tottime").print_stats(12)
        body = buffer.getvalue()
        table = body[body.find("   ncalls") :] if "   ncalls" in body else body
        out.append("Top own time (all code):")
        out.append("")
        out.append("```")
        out.append(table.rstrip())
        out.append("```")
        out.append("")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=",".join(str(s) for s in DEFAULT_SIZES), help="rows per roster")
    parser.add_argument(
        "--database-url",
        default=None,
        help="PostgreSQL scratch database (dropped and recreated per size), "
        "e.g. postgres://postgres@127.0.0.1:5432/bench_roster; default: a fresh SQLite file per size",
    )
    parser.add_argument(
        "--profile", action="store_true", help="also cProfile a first import and a re-import of the largest size"
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--profile-to", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        worker(args.worker, args.file, args.profile_to)
        return

    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    OUT.mkdir(parents=True, exist_ok=True)
    database = Database(args.database_url)

    # The villages come from the geography migration; read them from a freshly migrated database.
    database.reset(sizes[0])
    villages = [(t, v) for t, v in run_worker("villages", database.env(sizes[0]))["villages"]]
    print(f"{len(villages)} villages in the database", flush=True)

    results = [measure(size, database, villages) for size in sizes]
    report = render(results, database)
    if args.profile:
        report += "\n" + profile(max(sizes), database)

    target = OUT / "roster_import.md"
    target.write_text(report, encoding="utf-8")
    if args.database_url is None:  # keep the SQLite and PostgreSQL reports side by side
        shutil.copyfile(target, OUT / "roster_import-sqlite.md")
    else:
        shutil.copyfile(target, OUT / "roster_import-postgresql.md")
    print()
    print(report)
    print(f"written to {target.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
