"""Export of the 补助测算表 for N households vs openpyxl writing the same table (issue 3 goal: ≤ 2×).

    .venv/bin/python bench/entitlements.py [--households 100000] [--database-url URL]

Builds N households with plans in a fresh database (bulk inserts: this is a benchmark fixture, not
the import path), then times in one process: (a) `write_entitlements` — query, stream, write,
totals — and (b) openpyxl write-only writing the very same rows, already in memory, to a file.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"


def build(count: int) -> None:
    from households.models import Household, Village, VillageGroup
    from subsidies import rules
    from subsidies.models import HouseholdPlan, Policy

    villages = list(Village.objects.all())
    groups = VillageGroup.objects.bulk_create([VillageGroup(village=v, name="一组") for v in villages])
    group_of = {g.village_id: g for g in groups}
    households = []
    for n in range(count):
        village = villages[n % len(villages)]
        households.append(
            Household(
                code=f"E{n:07d}",
                head_name="扎西卓玛",
                id_number=f"{n:018d}",
                village=village,
                group=group_of[village.pk],
                size=4,
                labour=2,
                exit_year=2017,
            )
        )
    Household.objects.bulk_create(households, batch_size=5000)
    policy = Policy.objects.get(year=2017)
    terms = policy.terms()
    quote = rules.quote(
        terms,
        rules.PlanFacts(planting_area=Decimal("1.5"), crops="青稞", breeding=[("猪", Decimal(3))]),
        exit_year=2017,
        consolidation=False,
    )
    HouseholdPlan.objects.bulk_create(
        [
            HouseholdPlan(
                household_id=pk,
                year=2017,
                crops="青稞",
                planting_area=Decimal("1.5"),
                species="猪",
                breeding_quantity=Decimal(3),
                tranche1_percent=quote.ratios[0],
                tranche2_percent=quote.ratios[1],
                tranche3_percent=quote.ratios[2],
                policy=policy,
                policy_version=1,
                planting_subsidy=quote.planting,
                breeding_subsidy=quote.breeding,
                grant_total=quote.total,
                tranche1=quote.tranches[0],
                tranche2=quote.tranches[1],
                tranche3=quote.tranches[2],
                explanation=list(quote.lines),
            )
            for pk in Household.objects.values_list("pk", flat=True)
        ],
        batch_size=5000,
    )


def worker(count: int) -> None:
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    build(count)
    from openpyxl import Workbook

    from subsidies.entitlements import HEADER, entitlement_rows, write_entitlements
    from subsidies.models import HouseholdPlan

    plans = HouseholdPlan.objects.filter(year=2017)
    rows = list(entitlement_rows(plans))  # for the baseline, outside its timing
    best_export = best_plain = float("inf")
    for _ in range(2):
        started = time.perf_counter()
        with (OUT / "entitlements.xlsx").open("wb") as stream:
            write_entitlements(plans, stream)
        best_export = min(best_export, time.perf_counter() - started)
        started = time.perf_counter()
        book = Workbook(write_only=True)
        sheet = book.create_sheet("补助测算表")
        sheet.append(HEADER)
        for row in rows:
            sheet.append(row)
        with (OUT / "plain.xlsx").open("wb") as stream:
            book.save(stream)
        best_plain = min(best_plain, time.perf_counter() - started)
    print(f"{count}\t{best_export:.3f}\t{best_plain:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--households", type=int, default=100_000)
    parser.add_argument("--database-url")
    parser.add_argument("--worker", type=int)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker)
        return
    OUT.mkdir(parents=True, exist_ok=True)
    url = args.database_url
    if url:
        import psycopg

        base, name = url.rsplit("/", 1)
        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
    else:
        path = OUT / "bench-entitlements.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{path}"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DEBUG": "False",
    }
    result = subprocess.run(
        [sys.executable, __file__, "--worker", str(args.households)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    count, export_s, plain_s = result.stdout.strip().splitlines()[-1].split("\t")
    engine = "PostgreSQL" if args.database_url else "SQLite"
    text = (
        f"## 补助测算表 export — {engine}\n\n| households | export s | openpyxl alone s | ratio |\n|---:|---:|---:|---:|\n"
        f"| {int(count):,} | {float(export_s):.2f} | {float(plain_s):.2f} | **{float(export_s) / float(plain_s):.2f}×** |\n"
    )
    print(text)
    (OUT / f"entitlements-{engine.lower()}.md").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
