"""The daily overdue run and the year-end figures of the village funds, 20 villages × N loans with
monthly schedules over 3 years (issue 13 goal: the overdue run for all 20 villages ≤ 2× one bare SQL
aggregate over the same schedule rows, its floor; both set-based: constant query counts).

    .venv/bin/python bench/village_funds.py [--loans 1000] [--database-url postgres://…/bench_collectives]

A fresh database (SQLite file in bench/out/, or the PostgreSQL database given, dropped and
recreated). The loans and schedules are written in bulk for speed (not through the services, whose
per-loan cost is not what is measured); about 5% of the loans miss their instalments from month 7.
Timed, fastest of 5: the bare aggregate (floor), `services.overdue` for every village, and
`services.portfolio` (the year-end per-village figures: out, repaid, outstanding, PAR by bucket).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"


def build(loans_per_village: int) -> None:
    import datetime
    from decimal import Decimal

    from collectives import rules
    from collectives.models import FundPlan, Instalment, JointGroup, Loan, VillageFund
    from disbursements.models import Entry
    from households.models import Household, Role, Township, User, Village, VillageGroup

    city = User.objects.create(username="bench_city", role=Role.CITY)
    source_entry_kwargs = {
        "year": 2017,
        "fund": "village_collective",
        "kind": "vc_funding",
        "amount": Decimal("1000000"),
    }
    from collectives import accounts

    villages = list(Village.objects.order_by("code")[:20])
    Village.objects.filter(pk__in=[v.pk for v in villages]).update(is_poor_village=True)
    start = datetime.date(2017, 1, 15)
    plan = rules.schedule(Decimal("18000"), 36, rules.MONTHLY, start)
    today = datetime.date(2018, 1, 20)
    serial = 0
    for village in villages:
        group_row = VillageGroup.objects.filter(village=village).first() or VillageGroup.objects.create(
            village=village, name="一组"
        )
        entry = Entry.objects.create(
            source=accounts.source(),
            target=accounts.village_account(village, accounts.UNALLOCATED),
            **source_entry_kwargs,
        )
        fund = VillageFund.objects.create(
            village=village, year=2017, amount=Decimal("1000000"), entry=entry, allocated_by=city
        )
        FundPlan.objects.create(
            fund=fund,
            village=village,
            meeting_on=start,
            attendance=50,
            minutes_scan="x.pdf",
            lending=Decimal("1000000"),
            equity=0,
            cooperative=0,
            drafted_by=city,
        )
        group = JointGroup.objects.create(village=village, name="联保小组", formed_on=start)
        households = []
        for _ in range(loans_per_village):
            serial += 1
            households.append(
                Household(
                    code=f"BENCH{serial:07d}",
                    head_name="扎西",
                    id_number=f"{serial:018d}",
                    village=village,
                    group=group_row,
                    size=4,
                    labour=2,
                    exit_year=2017,
                )
            )
        Household.objects.bulk_create(households, batch_size=2000)
        loans = Loan.objects.bulk_create(
            [
                Loan(
                    fund=fund,
                    village=village,
                    group=group,
                    household=h,
                    principal=Decimal("18000"),
                    term_months=36,
                    frequency=rules.MONTHLY,
                    purpose="养殖",
                    status=Loan.Status.DISBURSED,
                    proposed_by=city,
                    disbursed_on=start,
                )
                for h in households
            ],
            batch_size=2000,
        )
        rows = []
        for n, loan in enumerate(loans):
            late = n % 20 == 0
            for i in plan:
                paid = i.due_on <= today and not (late and i.number >= 7)
                rows.append(
                    Instalment(
                        loan=loan,
                        number=i.number,
                        due_on=i.due_on,
                        principal=i.principal,
                        fee=i.fee,
                        paid_principal=i.principal if paid else 0,
                        paid_fee=i.fee if paid else 0,
                    )
                )
        Instalment.objects.bulk_create(rows, batch_size=5000)
    del Township


def worker(loans_per_village: int) -> None:
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    import datetime

    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    call_command("migrate", verbosity=0)
    from collectives import services
    from collectives.models import Instalment

    started = time.perf_counter()
    build(loans_per_village)
    build_s = time.perf_counter() - started
    today = datetime.date(2018, 1, 20)
    cutoff = today - datetime.timedelta(days=5)
    table = Instalment._meta.db_table
    floor_sql = (
        f"SELECT loan_id, SUM(principal + fee - paid_principal - paid_fee), MIN(due_on) FROM {table} "
        "WHERE superseded_by_id IS NULL AND due_on < %s AND (paid_principal < principal OR paid_fee < fee) "
        "GROUP BY loan_id"
    )

    def best(run: object, repeat: int = 5) -> tuple[float, int, object]:
        times = []
        result = None
        queries = 0
        for _ in range(repeat):
            with CaptureQueriesContext(connection) as captured:
                t = time.perf_counter()
                result = run()  # type: ignore[operator]
                times.append(time.perf_counter() - t)
            queries = len(captured.captured_queries)
        return min(times), queries, result

    def floor() -> list[object]:
        with connection.cursor() as cursor:
            cursor.execute(floor_sql, [cutoff])
            return cursor.fetchall()

    floor_s, floor_q, floor_rows = best(floor)
    overdue_s, overdue_q, late = best(lambda: services.overdue(today=today))
    portfolio_s, portfolio_q, _book = best(lambda: services.portfolio(None, today=today), repeat=3)
    rows = Instalment.objects.count()
    assert len(late) == len(floor_rows)  # type: ignore[arg-type]
    print(
        f"{loans_per_village}\t{rows}\t{build_s:.1f}\t{floor_s:.4f}\t{floor_q}\t{overdue_s:.4f}\t{overdue_q}"
        f"\t{portfolio_s:.4f}\t{portfolio_q}\t{len(late)}"  # type: ignore[arg-type]
    )


def fresh_database(database_url: str | None) -> str:
    if database_url:
        import psycopg

        base, name = database_url.rsplit("/", 1)
        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        return database_url
    path = OUT / "bench-collectives.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{path}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--loans", type=int, default=1000, help="loans per village (20 villages)")
    parser.add_argument("--database-url")
    parser.add_argument("--worker", type=int)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker)
        return
    OUT.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "DATABASE_URL": fresh_database(args.database_url),
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DEBUG": "False",
    }
    done = subprocess.run(
        [sys.executable, __file__, "--worker", str(args.loans)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        print(done.stderr[-3000:])
        raise SystemExit(1)
    loans, rows, build_s, floor_s, floor_q, overdue_s, overdue_q, portfolio_s, portfolio_q, late = (
        done.stdout.strip().splitlines()[-1].split("\t")
    )
    engine = "PostgreSQL" if args.database_url else "SQLite"
    text = "\n".join(
        [
            f"## Village funds: overdue run and year-end figures — {engine}",
            "",
            f"20 villages × {int(loans):,} loans, {int(rows):,} monthly instalments (built in {build_s} s); "
            f"{late} loans overdue.",
            "",
            "| measurement | s (fastest) | queries |",
            "|---|---:|---:|",
            f"| bare SQL aggregate over the schedule rows (floor) | {float(floor_s):.3f} | {floor_q} |",
            f"| `services.overdue` for all 20 villages | {float(overdue_s):.3f} | {overdue_q} |",
            f"| `services.portfolio` (year-end per-village figures, PAR) | {float(portfolio_s):.3f} | {portfolio_q} |",
            "",
            f"Overdue run / floor: **{float(overdue_s) / float(floor_s):.2f}×** (goal ≤ 2×).",
        ]
    )
    print(text)
    (OUT / f"collectives-{engine.lower()}.md").write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
