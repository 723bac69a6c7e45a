"""python manage.py print_notice --kind grant --year 2017 (--village 红坡村 | --township 建塘镇)
--output FILE.pdf: one village's notice, or every village of a township in one PDF (laid out one
village at a time and joined, so memory does not grow with the township)."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from disbursements.notices import NOTICE_KINDS, print_villages, villages_of
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
        output: Path = options["output"]
        # A township's print is laid out village by village and joined (`print_villages`): its memory
        # is one village's, however large the township. Written beside the target first, so that a
        # failure leaves no half-written file under the requested name.
        partial = output.with_name(output.name + ".part")
        try:
            with partial.open("wb") as file:
                printed, lines = print_villages(
                    kind=options["kind"],
                    year=options["year"],
                    villages=villages,
                    user=None,
                    output=file,
                    start=options["start"],
                    days=options["days"],
                )
            if not printed:
                raise CommandError("没有可公示的内容。")
            partial.replace(output)
        except ValidationError as exc:
            raise CommandError(exc.messages[0]) from None
        finally:
            partial.unlink(missing_ok=True)
        unit = NOTICE_KINDS[options["kind"]].unit
        self.stdout.write(self.style.SUCCESS(f"已生成 {printed} 个村、{lines} {unit}的公示：{output}"))
