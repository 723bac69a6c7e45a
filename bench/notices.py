"""Notice rendering vs the same layout with a Latin-only font (issue 5 goal: ≤ 2×).

    .venv/bin/python bench/notices.py [--rows 100,600] [--repeat 3]

For each size: a village sheet of N households rendered by the project's notice renderer (Noto
Sans CJK SC, Chinese text) against the same template and rows transliterated to ASCII with the
font set to DejaVu Sans. Both in this one process, after a warm-up render, fastest of --repeat.
Needs no database: the sheet is built in memory.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")


def sheets(rows: int, latin: bool):  # type: ignore[no-untyped-def]
    from disbursements.notice_layout import totals_of
    from disbursements.notices import NOTICE_KINDS, Area, Sheet
    from households.demo import roster_rows
    from households.masking import mask_id_number
    from households.models import Township, Village
    from subsidies.rules import yuan

    township = Township(name="Jiantang" if latin else "建塘镇", code="533401101")
    village = Village(name="Hongpo" if latin else "红坡村", code="533401101201", kind="村", township=township)
    data = []
    for number, row in enumerate(roster_rows([("建塘镇", "红坡村")], rows), start=1):
        name = f"Tashi {number}" if latin else row[1]
        group = f"Group {number % 6}" if latin else row[5]
        project = "Pig 3" if latin else "猪 3头"
        data.append(
            [
                str(number),
                name,
                mask_id_number(row[2]),
                group,
                project,
                yuan(Decimal(1500)),
                yuan(Decimal(900)),
                yuan(Decimal(300)),
                yuan(Decimal(300)),
            ]
        )
    columns = (
        ["No", "Head", "ID", "Group", "Project", "Grant", "T1", "T2", "T3"]
        if latin
        else NOTICE_KINDS["grant"].columns
    )
    start = datetime.date(2017, 3, 1)
    return [
        Sheet(
            kind="grant",
            year=2017,
            area=Area(township, village),
            title=("Grant notice 2017 Hongpo" if latin else "2017年度红坡村精准扶贫特色产业到户扶持资金公示"),
            issuer="Jiantang" if latin else "建塘镇人民政府",
            contact="Village committee" if latin else "红坡村村民委员会",
            period_start=start,
            period_end=start + datetime.timedelta(days=9),
            columns=columns,
            rows=data,
            totals=totals_of(
                data,
                header=columns,
                amount_from=NOTICE_KINDS["grant"].amount_from,
                money_columns=NOTICE_KINDS["grant"].summed_columns,
            ),
            total=Decimal(1500 * rows),
        )
    ]


def render(rows: int, latin: bool) -> tuple[float, int]:
    from django.template import loader
    from weasyprint import HTML

    from disbursements import notice_layout
    from disbursements.notices import HOTLINE
    from households.pdf import STATIC_DIRS, _local_only

    (sheet,) = sheets(rows, latin)
    context = {"sheet": sheet, "pages": sheet.pages(), "hotline": HOTLINE, "layout": notice_layout}
    html = str(loader.render_to_string("notices/notice.html", context))
    if latin:
        html = html.replace('"Noto Sans CJK SC", sans-serif', '"DejaVu Sans"').replace(
            'lang="zh-CN"', 'lang="en"'
        )
    started = time.perf_counter()
    pdf = HTML(string=html, base_url=str(STATIC_DIRS[0]) + "/", url_fetcher=_local_only).write_pdf()
    return time.perf_counter() - started, len(pdf or b"")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", default="100,600")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    import django

    django.setup()
    from households.pdf import harfbuzz_subset_available

    render(10, False)
    render(10, True)  # warm-up: imports, fontconfig
    lines = [
        "## Notice rendering — Noto Sans CJK SC vs a Latin-only font, same layout",
        "",
        f"HarfBuzz subsetting available: {harfbuzz_subset_available()}",
        "",
        "| rows | Chinese s | Latin s | ratio | Chinese KB | Latin KB |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for rows in (int(r) for r in args.rows.split(",")):
        cjk = min((render(rows, False) for _ in range(args.repeat)), key=lambda r: r[0])
        latin = min((render(rows, True) for _ in range(args.repeat)), key=lambda r: r[0])
        lines.append(
            f"| {rows} | {cjk[0]:.2f} | {latin[0]:.2f} | **{cjk[0] / latin[0]:.2f}×** | {cjk[1] // 1024} | {latin[1] // 1024} |"
        )
    text = "\n".join(lines)
    print(text)
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "notices.md").write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
