"""python manage.py print_notice --kind grant --year 2017 (--village 红坡村 | --township 建塘镇)
--output FILE.pdf: one village's notice, or every village of a township in one PDF."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from disbursements.notices import NOTICE_KINDS, build_sheet, render_sheets, villages_of
from households.models import Township, Village


class Command(BaseCommand):
    help = "打印公示（A4 PDF）：一个村，或一个乡镇的所有村（每村一份，合为一个文件）。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--kind", choices=NOTICE_KINDS.codes(), required=True)
        parser.add_argument("--year", type=int, required=True)
        where = parser.add_mutually_exclusive_group(required=True)
        where.add_argument("--village")
        where.add_argument("--township")
        parser.add_argument("--output", type=Path, required=True)
        parser.add_argument(
            "--start", type=datetime.date.fromisoformat, help="公示开始日期 YYYY-MM-DD（默认今天）"
        )
        parser.add_argument("--days", type=int, help="公示天数（默认按政策，不少于 7 天）")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["village"]:
            matches = list(Village.objects.filter(name=options["village"]).select_related("township"))
            if len(matches) != 1:
                raise CommandError(
                    f"找不到村委会“{options['village']}”"
                    if not matches
                    else "有重名的村委会，请用 --township 打印全乡镇"
                )
            villages = matches
        else:
            township = Township.objects.filter(name=options["township"]).first()
            if township is None:
                raise CommandError(f"找不到乡镇“{options['township']}”")
            villages = villages_of(township, None)
        try:
            sheets = [
                build_sheet(
                    kind=options["kind"],
                    year=options["year"],
                    village=v,
                    user=None,
                    start=options["start"],
                    days=options["days"],
                )
                for v in villages
            ]
        except ValidationError as exc:
            raise CommandError(exc.messages[0]) from None
        sheets = [s for s in sheets if s.rows]
        if not sheets:
            raise CommandError("没有可公示的内容。")
        options["output"].write_bytes(render_sheets(sheets))
        lines = sum(len(s.rows) for s in sheets)
        unit = NOTICE_KINDS[options["kind"]].unit
        self.stdout.write(
            self.style.SUCCESS(f"已生成 {len(sheets)} 个村、{lines} {unit}的公示：{options['output']}")
        )
