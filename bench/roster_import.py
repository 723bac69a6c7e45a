"""Hand-run benchmark: roster import vs. a bare openpyxl read-only parse of the same file.

    .venv/bin/python bench/roster_import.py [--sizes 6132,100000] [--database-url URL]
                                            [--repeat N] [--excel-like] [--profile]

For each size a roster .xlsx is generated with `households.demo.roster_rows` over every village of
the database, then each measurement runs in its own fresh subprocess, so that the peak RSS
(VmHWM; see `peak_rss_mb`) belongs to that measurement alone:

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
import hashlib
import io
import json
import os
import platform
import pstats
import re
import resource
import shutil
import subprocess
import sys
import time
import zipfile
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
    """Peak resident set size of this process so far, in MB.

    On Linux this is VmHWM from /proc/self/status: `ru_maxrss` is no good here, because a child
    starts from its parent's peak (Linux carries the maximum over fork and exec), so every worker
    would report at least the orchestrator's own peak (400+ MB after writing a 100,000-row file).
    Elsewhere, ru_maxrss is the best there is.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss / (1024 * 1024) if sys.platform == "darwin" else maxrss / 1024


def work_parse(path: Path) -> dict[str, Any]:
    import openpyxl

    started, cpu_started = time.perf_counter(), time.process_time()
    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    rows = 0
    for _ in book.worksheets[0].iter_rows(values_only=True):
        rows += 1
    book.close()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return {"seconds": seconds, "cpu_seconds": cpu, "rows": rows - 1}  # minus the header


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
    started, cpu_started = time.perf_counter(), time.process_time()
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
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    if profiler and profile_to:
        profiler.dump_stats(str(profile_to))
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "server_cpu_seconds": server_cpu_seconds(),
        "baseline_rss_mb": baseline,
        "rows": report.rows_total,
        "new": report.rows_new,
        "updated": report.rows_updated,
        "unchanged": report.rows_unchanged,
        "errors": [str(e) for e in report.errors[:5]],
        "error_count": len(report.errors),
    }


def server_cpu_seconds() -> float | None:
    """CPU time of this process's PostgreSQL backend over its whole life (it was started by the
    import: connecting is part of the work), read from /proc when the server runs on this machine;
    None on SQLite or a remote server. With the Python process's CPU time it says what the import
    costs whatever else the machine is doing: on a loaded machine wall-clock ratios mostly measure
    the load."""
    from django.db import connection

    if connection.vendor != "postgresql" or connection.connection is None:
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


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
            raise SystemExit(
                "--database-url must name a scratch database (it is dropped), e.g. /bench_roster"
            )
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


def write_roster(path: Path, villages: list[tuple[str, str]], size: int, excel_like: bool) -> float:
    """The generated roster as .xlsx (openpyxl write-only); returns the seconds it took.

    openpyxl stores every string inline and, in write-only mode, writes no `<dimension>`. Files saved
    by Excel or WPS use a shared-string table and carry `<dimension>`; `excel_like` rewrites the
    file that way (see `share_strings`).
    """
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
    if excel_like:
        share_strings(tmp, rows=size + 1, columns=len(ROSTER_HEADER))
    tmp.replace(path)
    return time.perf_counter() - started


SHEET = "xl/worksheets/sheet1.xml"
INLINE_STRING = re.compile(r'<c r="([A-Z]+[0-9]+)" t="inlineStr"><is>(<t(?: [^>]*)?>.*?</t>)</is></c>')
SST = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
SST_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
SST_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"


def share_strings(path: Path, *, rows: int, columns: int) -> None:
    """Rewrite an openpyxl workbook in place the way Excel stores it: every string cell points into
    xl/sharedStrings.xml, and the sheet states its `<dimension>`."""
    from openpyxl.utils import get_column_letter

    with zipfile.ZipFile(path) as source:
        parts = {name: source.read(name) for name in source.namelist()}
    table: dict[str, int] = {}
    cells = 0

    def shared(match: re.Match[str]) -> str:
        nonlocal cells
        cells += 1
        index = table.setdefault(match.group(2), len(table))
        return f'<c r="{match.group(1)}" t="s"><v>{index}</v></c>'

    sheet = INLINE_STRING.sub(shared, parts[SHEET].decode())
    if "inlineStr" in sheet:
        raise SystemExit(f"{path}: an inline string was left in the sheet; share_strings needs updating")
    if "<dimension " not in sheet:
        ref = f"A1:{get_column_letter(columns)}{rows}"
        sheet = sheet.replace("<sheetViews>", f'<dimension ref="{ref}" /><sheetViews>', 1)
    parts[SHEET] = sheet.encode()
    items = "".join(f"<si>{t}</si>" for t in table)  # `<t …>…</t>`, already XML-escaped
    parts["xl/sharedStrings.xml"] = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<sst xmlns="{SST}" count="{cells}" uniqueCount="{len(table)}">{items}</sst>'
    ).encode()
    parts["[Content_Types].xml"] = (
        parts["[Content_Types].xml"]
        .decode()
        .replace(
            "</Types>", f'<Override PartName="/xl/sharedStrings.xml" ContentType="{SST_TYPE}" /></Types>'
        )
        .encode()
    )
    rels = "xl/_rels/workbook.xml.rels"
    parts[rels] = (
        parts[rels]
        .decode()
        .replace(
            "</Relationships>",
            f'<Relationship Type="{SST_REL}" Target="sharedStrings.xml" Id="rIdSharedStrings" /></Relationships>',
        )
        .encode()
    )
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for name, data in parts.items():
            target.writestr(name, data)


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
    ratios: list[float]  # first import / parse of each run, parse and import run back to back


def code_fingerprint() -> str:
    """Short hash of the application code, to notice it being edited while the benchmark runs."""
    digest = hashlib.sha256()
    for path in sorted([*ROOT.glob("households/**/*.py"), *ROOT.glob("config/**/*.py")]):
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def git_state() -> str:
    """`<commit>` or `<commit> + uncommitted changes` of the project, for the report."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "no git"
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", "households", "config")
    return f"{commit} + uncommitted changes" if dirty else commit


def best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Fastest wall-clock run of a measurement, with the highest peak RSS seen in any of them."""
    fastest = dict(min(runs, key=lambda r: r["seconds"]))
    fastest["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
    return fastest


def step(size: int, label: str, kind: str, env: dict[str, str], path: Path) -> dict[str, Any]:
    print(f"[{size}] {label} …", end=" ", flush=True)
    result = run_worker(kind, env, path)
    print(f"{result['seconds']:.2f} s, {result['peak_rss_mb']:.0f} MB", flush=True)
    return result


def roster_path(size: int, excel_like: bool) -> Path:
    return OUT / f"roster-{size}{'-excel' if excel_like else ''}.xlsx"


def measure(
    size: int, database: Database, villages: list[tuple[str, str]], repeat: int, excel_like: bool
) -> Measured:
    path = roster_path(size, excel_like)
    print(f"[{size}] writing {path.relative_to(ROOT)} …", end=" ", flush=True)
    seconds = write_roster(path, villages, size, excel_like)
    print(f"{path.stat().st_size / 1e6:.1f} MB in {seconds:.1f} s", flush=True)

    env = database.env(size)
    parses, firsts, agains, dries = [], [], [], []
    for _ in range(repeat):
        parse = step(size, "parse", "parse", env, path)
        if parse["rows"] != size:
            raise SystemExit(f"parse read {parse['rows']} rows, expected {size}")
        parses.append(parse)

        print(f"[{size}] fresh database + migrate …", flush=True)
        database.reset(size)
        first = step(size, "first import", "import", env, path)
        expect(first, "first import", size, rows=size, new=size, updated=0, unchanged=0)
        firsts.append(first)

        again = step(size, "re-import", "reimport", env, path)
        expect(again, "re-import", size, rows=size, new=0, updated=0, unchanged=size)
        agains.append(again)

        dry = step(size, "dry run", "dryrun", env, path)
        expect(dry, "dry run", size, rows=size, new=0, updated=0, unchanged=size)
        dries.append(dry)

    ratios = [f["seconds"] / p["seconds"] for p, f in zip(parses, firsts, strict=True)]
    return Measured(
        size, path.stat().st_size / 1e6, best(parses), best(firsts), best(agains), best(dries), ratios
    )


def render(
    results: list[Measured],
    database: Database,
    repeat: int,
    load: tuple[float, float],
    code: tuple[str, str],
    excel_like: bool,
) -> str:
    import django
    import openpyxl

    how = "single run" if repeat == 1 else f"fastest of {repeat} runs, highest peak RSS of them"
    kind = (
        "openpyxl write-only mode, rewritten with shared strings and `<dimension>` like Excel/WPS save"
        if excel_like
        else "openpyxl write-only mode: inline strings, no `<dimension>`"
    )
    lines = [
        f"## Roster import benchmark — {database.label}",
        "",
        f"{datetime.now().astimezone():%Y-%m-%d %H:%M %Z}; code {git_state()} (fingerprint {code[0]}); "
        f"Python {platform.python_version()}, Django {django.get_version()}, openpyxl {openpyxl.__version__}, "
        f"{os.cpu_count()} CPUs, {platform.machine()}; load average {load[0]:.1f} at start, "
        f"{load[1]:.1f} at end; {how}. Rosters written by {kind}.",
        "",
    ]
    if code[0] != code[1]:
        lines += [
            f"**Warning: the code under households/ or config/ changed during the run ({code[0]} → {code[1]});"
            " the sizes may have measured different code.**",
            "",
        ]
    lines += [
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
    lines.append(
        f"Peak RSS of an import worker right after `django.setup()`, before any work: {baseline:.0f} MB."
    )
    lines.append("")
    if len(results) >= 2:
        small, large = min(results, key=lambda r: r.size), max(results, key=lambda r: r.size)
        for label, key in (("import", "first"), ("re-import", "again"), ("dry run", "dry")):
            ratio = getattr(large, key)["peak_rss_mb"] / getattr(small, key)["peak_rss_mb"]
            verdict = "ok" if ratio <= MEMORY_GOAL else f"over the {MEMORY_GOAL:.0f}× goal"
            lines.append(f"- Peak RSS {label} {large.size:,} / {small.size:,}: **{ratio:.2f}×** ({verdict})")
        ratio = large.parse["peak_rss_mb"] / small.parse["peak_rss_mb"]
        lines.append(f"- Peak RSS bare parse {large.size:,} / {small.size:,}: {ratio:.2f}×")
    for r in results:
        ratio = r.first["seconds"] / r.parse["seconds"]
        verdict = "ok" if ratio <= TIME_GOAL else f"over the {TIME_GOAL:.0f}× goal"
        cpu = r.first["cpu_seconds"] / r.parse["cpu_seconds"]
        per_run = ", ".join(f"{x:.1f}×" for x in r.ratios)
        server = r.first.get("server_cpu_seconds")
        both = (
            f", {(r.first['cpu_seconds'] + server) / r.parse['cpu_seconds']:.1f}× with the PostgreSQL "
            f"backend's CPU time added ({r.first['cpu_seconds']:.2f} s + {server:.2f} s against "
            f"{r.parse['cpu_seconds']:.2f} s)"
            if server is not None
            else ""
        )
        lines.append(
            f"- {r.size:,} rows: first import / parse = **{ratio:.2f}×** wall-clock ({verdict}); "
            f"{cpu:.1f}× in CPU time of the Python process{both}"
            + (f"; run by run (parse and import back to back): {per_run}" if len(r.ratios) > 1 else "")
        )
    return "\n".join(lines) + "\n"


def profile(size: int, database: Database, excel_like: bool) -> str:
    """cProfile a first import and a re-import of `size` rows; top cumulative entries in households/."""
    path = roster_path(size, excel_like)
    env = database.env(size)
    database.reset(size)
    out: list[str] = []
    for kind in ("import", "reimport"):
        dump = OUT / f"profile-{path.stem.removeprefix('roster-')}-{kind}.pstats"
        print(f"[{size}] {kind} under cProfile …", flush=True)
        result = run_worker(kind, env, path, profile_to=dump)
        functions = pstats.Stats(str(dump), stream=io.StringIO()).get_stats_profile().func_profiles
        ours = sorted(
            (
                (f.cumtime, f"{Path(f.file_name).relative_to(ROOT)}:{f.line_number} {name}")
                for name, f in functions.items()
                if f.file_name.startswith(str(ROOT / "households"))
            ),
            reverse=True,
        )
        out += [
            f"### cProfile, {kind} of {size:,} rows ({result['seconds']:.1f} s under the profiler)",
            "",
            f"Stats in `{dump.relative_to(ROOT)}`. Top cumulative time in `households/`:",
            "",
            *(f"- {cumulative:6.2f} s  `{where}`" for cumulative, where in ours[:10]),
            "",
        ]
        buffer = io.StringIO()
        pstats.Stats(str(dump), stream=buffer).sort_stats("tottime").print_stats(12)
        body = buffer.getvalue()
        out += ["Top own time (all code):", "", "```", body[body.find("   ncalls") :].rstrip(), "```", ""]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default=",".join(str(s) for s in DEFAULT_SIZES), help="rows per roster")
    parser.add_argument(
        "--database-url",
        default=None,
        help="PostgreSQL scratch database (dropped and recreated per size), "
        "e.g. postgres://postgres@127.0.0.1:5432/bench_roster; default: a fresh SQLite file per size",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per measurement; the fastest counts (default 1)"
    )
    parser.add_argument(
        "--excel-like",
        action="store_true",
        help="rewrite the rosters with shared strings and <dimension>, as Excel/WPS save them",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also cProfile a first import and a re-import of the largest size",
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
    load_start, code_start = os.getloadavg()[0], code_fingerprint()

    # The villages come from the geography migration; read them from a freshly migrated database.
    database.reset(sizes[0])
    villages = [(t, v) for t, v in run_worker("villages", database.env(sizes[0]))["villages"]]
    print(f"{len(villages)} villages in the database", flush=True)

    results = [measure(size, database, villages, max(1, args.repeat), args.excel_like) for size in sizes]
    report = render(
        results,
        database,
        max(1, args.repeat),
        (load_start, os.getloadavg()[0]),
        (code_start, code_fingerprint()),
        args.excel_like,
    )
    if args.profile:
        report += "\n" + profile(max(sizes), database, args.excel_like)

    target = OUT / "roster_import.md"
    target.write_text(report, encoding="utf-8")
    # Keep the last SQLite and PostgreSQL reports side by side as well.
    backend = "sqlite" if args.database_url is None else "postgresql"
    shutil.copyfile(target, OUT / f"roster_import-{backend}{'-excel' if args.excel_like else ''}.md")
    print()
    print(report)
    print(f"written to {target.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
