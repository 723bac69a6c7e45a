"""How the 补助测算表 prints (issue 10): pages, columns per page, header on every page; and its cost.

    .venv/bin/python bench/xlsx_print.py [--households 5377] [--repeat 3]

Builds N households over every village of the city (户编号 = the village's 12-digit statistical code
+ a 4-digit serial, as the townships number them; names from `households.demo`) with plans of
varied size in a fresh SQLite database (bulk inserts: a benchmark fixture, not the import path),
then in one process times (a) `write_entitlements` — the real export: query, stream, write,
totals — and (b) openpyxl write-only writing the very same rows, already in memory, with no layout.

Then, when LibreOffice is installed (`apt-get install libreoffice-calc-nogui`), converts both files
to PDF (`soffice --headless --convert-to pdf`) and reads them back with `pdftotext -layout`
(poppler-utils), page by page: the page count, and whether every page shows the whole header row
(its first and last column, 户编号 … 第三期（产后）: no column was split onto another page) and
starts its body lines with a 户编号; whether amounts print as 1,000.00; the page header and footer.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"

# (crops, area, species, quantity): a spread of grants, so amounts have 3 to 4 digits.
PLANS = [
    ("青稞", Decimal("1.5"), "猪", Decimal(3)),
    ("玛咖", Decimal(3), "", Decimal(0)),
    ("", Decimal(0), "羊", Decimal(6)),
    ("核桃", Decimal(2), "中蜂", Decimal(4)),
    ("", Decimal(0), "牦牛", Decimal(1)),
    ("", Decimal(0), "鸡", Decimal(55)),
]


def build(count: int) -> None:
    import random

    from households.demo import head_name
    from households.models import Household, Village, VillageGroup
    from subsidies import rules
    from subsidies.models import HouseholdPlan, Policy

    rng = random.Random(2017)
    villages = list(Village.objects.order_by("code"))
    groups = VillageGroup.objects.bulk_create([VillageGroup(village=v, name="一组") for v in villages])
    group_of = {g.village_id: g for g in groups}
    serial: dict[int, int] = {}
    households = []
    for n in range(count):
        village = villages[n % len(villages)]
        serial[village.pk] = serial.get(village.pk, 0) + 1
        households.append(
            Household(
                code=f"{village.code}{serial[village.pk]:04d}",
                head_name=head_name(rng),
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
    quotes = []
    for crops, area, species, quantity in PLANS:
        facts = rules.PlanFacts(
            planting_area=area or None, crops=crops, breeding=[(species, quantity)] if species else []
        )
        quotes.append(
            (crops, area, species, quantity, rules.quote(terms, facts, exit_year=2017, consolidation=False))
        )
    plans = []
    for i, pk in enumerate(Household.objects.order_by("pk").values_list("pk", flat=True)):
        crops, area, species, quantity, quote = quotes[i % len(quotes)]
        plans.append(
            HouseholdPlan(
                household_id=pk,
                year=2017,
                crops=crops,
                planting_area=area,
                species=species,
                breeding_quantity=quantity,
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
        )
    HouseholdPlan.objects.bulk_create(plans, batch_size=5000)


def worker(count: int, repeat: int) -> None:
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
    for _ in range(repeat):
        started = time.perf_counter()
        with (OUT / "print-entitlements.xlsx").open("wb") as stream:
            write_entitlements(plans, stream)
        best_export = min(best_export, time.perf_counter() - started)
        started = time.perf_counter()
        book = Workbook(write_only=True)
        sheet = book.create_sheet("补助测算表")
        sheet.append(HEADER)
        for row in rows:
            sheet.append(row)
        with (OUT / "print-plain.xlsx").open("wb") as stream:
            book.save(stream)
        best_plain = min(best_plain, time.perf_counter() - started)
    print(json.dumps({"households": count, "export": best_export, "plain": best_plain}))


def to_pdf(xlsx: Path) -> Path:
    """LibreOffice headless, with a profile of its own (a running desktop LibreOffice is left alone)."""
    profile = Path(tempfile.mkdtemp(prefix="lo-profile-"))
    try:
        subprocess.run(
            [
                "soffice",
                f"-env:UserInstallation=file://{profile}",
                "--headless",
                "--convert-to",
                "pdf",
                "--outdir",
                str(xlsx.parent),
                str(xlsx),
            ],
            check=True,
            capture_output=True,
            timeout=900,
        )
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    return xlsx.with_suffix(".pdf")


def inspect_pdf(pdf: Path, codes: re.Pattern[str]) -> dict[str, Any]:
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    pages = text.split("\f")
    if pages and not pages[-1].strip():
        pages.pop()
    whole_header = 0  # pages showing the first and the last column's heading
    coded = 0  # pages whose every table line starts with a whole 户编号 (or is the 合计 line)
    amounts = grouped = 0
    for page in pages:
        if "户编号" in page and "第三期" in page:
            whole_header += 1
        body = [
            line.strip()
            for line in page.splitlines()
            if re.search(r"\d{3}", line) and not re.search(r"页|补助测算表|户编号|制表", line)
        ]
        if body and all(codes.match(line) or line.startswith("合计") for line in body):
            coded += 1
        for line in body:
            for token in re.findall(r"(?<![\d,.])\d[\d,]*(?:\.\d+)?(?![\d,.])", line):
                if len(token) < 16:  # not a 户编号
                    amounts += 1
                    grouped += bool(re.fullmatch(r"\d{1,3}(?:,\d{3})*\.\d{2}", token))
    first = pages[0] if pages else ""
    return {
        "pages": len(pages),
        "pages_with_whole_header": whole_header,
        "pages_with_codes": coded,
        "amounts_as_money": grouped / amounts if amounts else 0.0,
        "page_header": "补助测算表" in first.splitlines()[0] if first.strip() else False,
        "page_footer": bool(re.search(r"第 1 页 / 共 \d+ 页", first)),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--households", type=int, default=5377)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--worker", type=int)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.repeat)
        return
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "bench-xlsx-print.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{path}",
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DEBUG": "False",
    }
    result = subprocess.run(
        [sys.executable, __file__, "--worker", str(args.households), "--repeat", str(args.repeat)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    timing = json.loads(result.stdout.strip().splitlines()[-1])
    lines = [
        f"## 补助测算表 printing — {timing['households']:,} households\n",
        "| file | write s | pages | pages with the whole header row | pages whose lines start with a 户编号 "
        "| amounts as 1,000.00 | page header / footer |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    files = [
        ("export (`write_entitlements`)", OUT / "print-entitlements.xlsx", timing["export"]),
        ("openpyxl alone, no layout", OUT / "print-plain.xlsx", timing["plain"]),
    ]
    have_tools = shutil.which("soffice") and shutil.which("pdftotext")
    codes = re.compile(r"\d{16}\s")
    for label, xlsx, seconds in files:
        if have_tools:
            found = inspect_pdf(to_pdf(xlsx), codes)
            lines.append(
                f"| {label} | {seconds:.2f} | {found['pages']} | {found['pages_with_whole_header']} "
                f"| {found['pages_with_codes']} | {found['amounts_as_money']:.0%} "
                f"| {'yes' if found['page_header'] else 'no'} / {'yes' if found['page_footer'] else 'no'} |"
            )
        else:
            lines.append(f"| {label} | {seconds:.2f} | – | – | – | – | – |")
    lines.append(f"\nexport / openpyxl alone: **{timing['export'] / timing['plain']:.2f}×**")
    if not have_tools:
        lines.append("\n(no PDF figures: LibreOffice `soffice` or poppler's `pdftotext` is not installed)")
    text = "\n".join(lines) + "\n"
    print(text)
    (OUT / "xlsx_print.md").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
