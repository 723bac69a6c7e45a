"""python manage.py allocate --year 2017 [--dry-run] [-v 2]: city → townships → villages → cadres.

Prints the entries per level; `-v 2` lists every move too (at province scale, 269 k lines)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from disbursements.ledger import Move
from subsidies.money.allocation import allocate


class Command(BaseCommand):
    help = "按符合条件的贫困户数逐级下拨到户产业扶持资金（可重复运行，只补差额）。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--year", type=int, required=True)
        parser.add_argument("--dry-run", action="store_true", help="只计算，不记账")

    def handle(self, *args: Any, **options: Any) -> None:
        def show(move: Move) -> None:
            self.stdout.write(
                f"{move.source.name} → {move.target.name}：{move.amount:,.2f} 元（{move.memo}）"
            )

        every = show if options["verbosity"] >= 2 else None
        try:
            result = allocate(year=options["year"], actor=None, dry_run=options["dry_run"], on_move=every)
        except ValidationError as exc:
            raise CommandError(exc.messages[0]) from None
        verb = "将记账" if options["dry_run"] else "已记账"
        if not result.move_count:
            self.stdout.write(
                self.style.SUCCESS(f"{result.year} 年度：与花名册一致，无需下拨（{result.households} 户）。")
            )
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    f"{result.year} 年度：符合条件 {result.households} 户，"
                    f"应下拨 {result.target_total:,.2f} 元；{result.money_line}，"
                    f"{verb} {result.move_count} 笔："
                )
            )
            for row in result.levels:
                self.stdout.write(f"  {row.label}：{row.entries} 笔，{row.amount:,.2f} 元")
            if every is None:
                self.stdout.write("逐笔明细：加 --verbosity 2。")
