"""Issue 14, goal 6: the load test, on loopback only, bounded in time.

    .venv/bin/python bench/load/run.py                       # 10 minutes, 225 users (≈ 14 min in all)
    .venv/bin/python bench/load/run.py --run-time 30s --smoke # a quick look: 12 users

1. `bench/scale.py generate` a database of `--households` (1,500: 200 cadres, 10 villages, one
   township; the 2017 allocation posted) — dropped first, so name one of your own;
2. `setup.py`: one password for 200 cadres, 20 officials, 5 city users; a tranche-1 batch per village;
3. `collectstatic`, then gunicorn with `config.settings.production` on 127.0.0.1 (http, so
   `LOOPBACK_HTTP_TEST=1`: secure cookies and the https redirect off, refused for any other host)
   and the task worker (`db_worker`), both with a throw-away MEDIA_ROOT;
4. locust headless (`locustfile.py`) for `--run-time`; then gunicorn and the worker are stopped;
5. `manage.py reconcile --year 2017` must be clean (exit 0);
6. the table — p50 / p95 per page, requests, failures — and the machine's load average go to
   stdout and `bench/out/load.md`; locust's CSV files stay in `bench/out/load_*.csv`.

Exit status 0 only with no failed request and a clean reconcile.
"""

from __future__ import annotations

import argparse
import csv
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "bench" / "out"
BIN = Path(sys.executable).parent
SERVER = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", default="load_test")
    parser.add_argument("--households", type=int, default=1500)
    parser.add_argument("--port", type=int, default=8106)
    parser.add_argument("--run-time", default="10m")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers")
    parser.add_argument("--smoke", action="store_true", help="12 users instead of 225")
    parser.add_argument("--keep-database", action="store_true", help="reuse a database already set up")
    args = parser.parse_args()

    OUT.mkdir(exist_ok=True)
    database_url = f"{SERVER}/{args.database}"
    password = secrets.token_urlsafe(16)
    accounts = OUT / "load-accounts.json"
    media = Path(tempfile.mkdtemp(prefix="load-media-"))
    host = f"http://127.0.0.1:{args.port}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "CSRF_TRUSTED_ORIGINS": host,
        "LOOPBACK_HTTP_TEST": "1",
        "DATABASE_URL": database_url,
        "MEDIA_ROOT": str(media),
        "LOAD_ACCOUNTS": str(accounts),
        "LOAD_PASSWORD": password,
    }
    python = str(BIN / "python")
    if not args.keep_database:
        subprocess.run(
            [
                python,
                "bench/scale.py",
                "generate",
                "--database",
                args.database,
                "--households",
                str(args.households),
            ],
            cwd=ROOT,
            check=True,
        )
    with accounts.open("w") as out:
        subprocess.run(
            [python, "bench/load/setup.py", "--password", password], cwd=ROOT, env=env, check=True, stdout=out
        )
    subprocess.run([python, "manage.py", "collectstatic", "--no-input", "-v0"], cwd=ROOT, env=env, check=True)

    server = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "config.wsgi",
            "--workers",
            str(args.workers),
            "--bind",
            f"127.0.0.1:{args.port}",
            "--timeout",
            "120",
            "--access-logfile",
            str(OUT / "load-access.log"),
            "--error-logfile",
            str(OUT / "load-gunicorn.log"),
        ],
        cwd=ROOT,
        env=env,
    )
    worker = subprocess.Popen(
        [python, "manage.py", "db_worker", "--interval", "1", "--no-reload"],
        cwd=ROOT,
        env=env,
        stdout=(OUT / "load-worker.log").open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        for _ in range(60):
            try:
                urllib.request.urlopen(host + "/admin/login/", timeout=5)
                break
            except OSError:
                time.sleep(1)
        else:
            raise SystemExit("gunicorn did not answer")
        users = (
            ["-u", "12", "-r", "4"] if args.smoke else ["-u", "225", "-r", "2"]
        )  # sign-ins: 0.35 CPU-s each (PBKDF2)
        if args.smoke:
            env["LOAD_SMOKE"] = "1"
        load_before = os.getloadavg()
        started = time.time()
        subprocess.run(
            [
                str(BIN / "locust"),
                "-f",
                "bench/load/locustfile.py",
                "--headless",
                *users,
                "--run-time",
                args.run_time,
                "--host",
                host,
                "--csv",
                str(OUT / "load"),
                "--only-summary",
                "--stop-timeout",
                "30",
            ],
            cwd=ROOT,
            env=env,
            check=False,
        )
        elapsed = time.time() - started
        load_after = os.getloadavg()
    finally:
        for process in (server, worker):
            process.send_signal(signal.SIGTERM)
        for process in (server, worker):
            try:
                process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                process.kill()
    reconcile = subprocess.run(
        [python, "manage.py", "reconcile", "--year", "2017"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    print(reconcile.stdout[-300:], reconcile.stderr[-300:])
    table, failures = report(OUT / "load_stats.csv")
    summary = (
        f"{table}\n\nlocust {args.run_time} ({elapsed:.0f} s), gunicorn --workers {args.workers}, "
        f"{'12 (smoke)' if args.smoke else '225'} users; load average before {load_before[0]:.1f}, "
        f"after {load_after[0]:.1f} (1 min) / {load_after[1]:.1f} (5 min) on {os.cpu_count()} cores; "
        f"reconcile {'clean' if reconcile.returncode == 0 else 'NOT CLEAN'}\n"
    )
    print(summary)
    (OUT / "load.md").write_text(summary)
    return 0 if failures == 0 and reconcile.returncode == 0 else 1


def report(stats: Path) -> tuple[str, int]:
    lines = [
        "| page | requests | failures | p50 | p95 | p99 | max |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    failures = 0
    with stats.open() as f:
        for row in csv.DictReader(f):
            name = row["Name"] if row["Type"] != "" else "all"
            if row["Name"] == "Aggregated":
                name = "**all**"
            failures += int(row["Failure Count"]) if row["Name"] != "Aggregated" else 0
            lines.append(
                f"| {row['Type']} {name} | {int(row['Request Count']):,} | {row['Failure Count']} | "
                f"{row['50%']} ms | {row['95%']} ms | {row['99%']} ms | {float(row['Max Response Time']):.0f} ms |"
            )
    return "\n".join(lines), failures


if __name__ == "__main__":
    sys.exit(main())
