"""Hand-run benchmark (issue 12): importing 20,000 帮扶协议 against a bare openpyxl parse of the same
file (goal ≤ 3×), and computing every organisation's incentive set-based (constant query count).

    .venv/bin/python bench/agreements.py [--rows 20000] [--database-url postgres://…/bench_agreements]

One fresh database (SQLite file in bench/out/, or the PostgreSQL database given, dropped and
recreated), run in a subprocess. Set up (not timed): a roster of `rows` households over every
village, one organisation per 20 households in the township of its households. Timed:

    parse      openpyxl.load_workbook(read_only=True), every row, values_only=True
    import     what `manage.py import_agreements` does: sha256, `read_xlsx`, `agreement_import`
    re-import  the same file again (every row already there)
    incentives qualified households per organisation (`services.qualified_counts`) and the rules'
               amount for all of them, with 1/10 and all of the organisations (query counts equal)
    batch      `incentive_batch_prepare` for the biggest township (queries counted)
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
HEADER = [
    "组织名称",
    "户编号",
    "年度",
    "帮扶方式",
    "产业",
    "签订日期",
    "开始日期",
    "结束日期",
    "计入本组织奖补",
]


def worker(rows: int) -> None:
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    import datetime
    import hashlib
    import io
    from decimal import Decimal

    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone
    from openpyxl import Workbook, load_workbook

    call_command("migrate", verbosity=0)
    from enterprises import rules, services
    from enterprises.agreement_import import agreement_import
    from enterprises.models import Agreement, Assessment, IncentivePolicy, Organisation
    from households.demo import ROSTER_HEADER, roster_rows
    from households.imports import read_xlsx
    from households.models import Household, Role, User, Village
    from households.roster import roster_import

    villages = [
        (v.township.name, v.name) for v in Village.objects.select_related("township").order_by("code")
    ]
    report = roster_import(
        header=ROSTER_HEADER,
        rows=roster_rows(villages, rows, code_prefix="BA"),
        actor=None,
        file_name="bench",
        file_sha256="",
        dry_run=False,
    )
    assert report.ok, report.errors[:3]
    households = list(Household.objects.select_related("village").order_by("village__township_id", "code"))
    township_of = [h.village.township_id for h in households]
    organisations = []
    for n in range(0, len(households), 20):
        organisations.append(
            Organisation(
                name=f"测试合作社{n // 20:05d}",
                kind="grower",
                operating_model="grower",
                leader_name="测试",
                leader_id_number=households[n].id_number,
                township_id=township_of[n],
                industry="牦牛养殖",
                bank_account="6228480000000001",
            )
        )
    Organisation.objects.bulk_create(organisations)
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(HEADER)
    start, end = datetime.date(2017, 3, 1), datetime.date(2017, 12, 31)
    for n, household in enumerate(households):
        org = organisations[n // 20].name
        sheet.append(
            [org, household.code, 2017, "订单种植/养殖、技术指导", "牦牛养殖", start, start, end, ""]
        )
    path = OUT / f"agreements_{rows}.xlsx"
    book.save(path)
    data = path.read_bytes()

    started = time.perf_counter()
    parsed = load_workbook(io.BytesIO(data), read_only=True)
    count = sum(1 for _ in parsed.worksheets[0].iter_rows(values_only=True))
    parse_s = time.perf_counter() - started
    assert count == len(households) + 1

    def run_import() -> float:
        began = time.perf_counter()
        digest = hashlib.sha256(data).hexdigest()
        header, values = read_xlsx(io.BytesIO(data))
        result = agreement_import(
            header=header, rows=values, actor=None, file_name="bench.xlsx", file_sha256=digest, dry_run=False
        )
        assert result.ok, [str(e) for e in result.errors[:3]]
        return time.perf_counter() - began

    import_s = run_import()
    assert Agreement.objects.count() == len(households)
    reimport_s = run_import()

    # Assessments, confirmed: 3 of 4 households qualify (set-based setup, not timed).
    actor = User.objects.create(username="bench_city", role=Role.CITY)
    now = timezone.now()
    Assessment.objects.bulk_create(
        [
            Assessment(
                agreement_id=pk,
                income=Decimal("8000.00"),
                size=2,
                per_capita=Decimal("4000.00"),
                reaches=True,
                policy_version=1,
                assessed_by=actor,
                assessed_at=now,
                confirmed_by=actor if pk % 4 else None,
                confirmed_at=now if pk % 4 else None,
            )
            for pk in Agreement.objects.values_list("pk", flat=True)
        ],
        batch_size=2000,
    )
    terms = IncentivePolicy.objects.get(year=2017).terms()

    def incentives(queryset: object) -> tuple[float, int, int]:
        with CaptureQueriesContext(connection) as queries:
            began = time.perf_counter()
            counts = services.qualified_counts(2017, queryset)
            paying = sum(1 for n in counts.values() if rules.incentive(terms, n).amount > 0)
            elapsed = time.perf_counter() - began
        return elapsed, len(queries.captured_queries), paying

    all_orgs = Organisation.objects.all()
    tenth = Organisation.objects.filter(
        pk__in=[o.pk for o in all_orgs.order_by("pk")[: max(1, len(organisations) // 10)]]
    )
    small_s, small_q, _ = incentives(tenth)
    full_s, full_q, paying = incentives(all_orgs)
    biggest = max(set(township_of), key=township_of.count)
    from households.models import Township

    with CaptureQueriesContext(connection) as queries:
        began = time.perf_counter()
        batch = services.incentive_batch_prepare(
            actor=actor, township=Township.objects.get(pk=biggest), year=2017
        )
        batch_s = time.perf_counter() - began
    print(
        "\t".join(
            str(x)
            for x in (
                rows,
                f"{parse_s:.2f}",
                f"{import_s:.2f}",
                f"{import_s / parse_s:.2f}",
                f"{reimport_s:.2f}",
                len(organisations),
                f"{small_s:.3f}/{small_q}",
                f"{full_s:.3f}/{full_q}",
                paying,
                f"{batch.line_count}",
                f"{batch_s:.3f}/{len(queries.captured_queries)}",
            )
        )
    )


def fresh_database(rows: int, database_url: str | None) -> str:
    if database_url:
        import psycopg

        base, name = database_url.rsplit("/", 1)
        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        return database_url
    path = OUT / f"agreements_{rows}.sqlite3"
    path.unlink(missing_ok=True)
    return f"sqlite:///{path}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--database-url")
    parser.add_argument("--worker", type=int)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker)
        return
    OUT.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings.local"),
        "DATABASE_URL": fresh_database(args.rows, args.database_url),
    }
    print(
        "rows\tparse s\timport s\timport/parse\tre-import s\torganisations\t"
        "incentives 1/10 (s/queries)\tincentives all (s/queries)\tpaying\tbatch lines\tbatch (s/queries)"
    )
    subprocess.run([sys.executable, __file__, "--worker", str(args.rows)], check=True, env=env)


if __name__ == "__main__":
    main()
