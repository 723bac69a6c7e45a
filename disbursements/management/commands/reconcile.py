"""python manage.py reconcile --year 2017 [--fund CODE] [--json]: every fund's levels, accounts,
records and the programmes' own checks, to the fen. Exits 1 on any difference.

`--json` prints the townships (with their villages) of one fund: `--fund`, or the first registered."""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from disbursements.reconcile import Row, reconcile
from disbursements.registry import FUNDS


def as_dict(level: Row, key: str) -> dict[str, Any]:
    return {
        key: level.name,
        "expected": str(level.expected),
        "allocated": str(level.allocated),
        "passed_on": str(level.passed_on),
        "paid": str(level.paid),
        "recovered": str(level.recovered),
        "held": str(level.held),
        "difference": str(level.difference),
    }


class Command(BaseCommand):
    help = (
        "资金对账：各项资金的市、乡镇、村各级 下拨 = 转拨 + 兑现 + 结存，"
        "每户、每个账户、每笔业务记录，精确到分；有差额时退出码为 1。"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--year", type=int, required=True)
        parser.add_argument("--fund", help=f"只对一项资金（{', '.join(FUNDS.codes())}）")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        fund = options.get("fund")
        if options["json"] and not fund:
            fund = next(iter(FUNDS.codes()), None)
        if fund and fund not in FUNDS:
            raise CommandError(f"没有这项资金：{fund}")
        reports = reconcile(year=options["year"], fund=fund)
        if options["json"]:
            city = reports[0].city
            payload = [
                {**as_dict(t, "township"), "villages": [as_dict(v, "village") for v in t.children]}
                for t in city.children
            ]
            self.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2))
        else:
            for report in reports:
                self.stdout.write(f"== {report.label} ==")
                self.stdout.write(f"{'单位':<12}{'下拨':>14}{'转拨':>14}{'兑现':>14}{'收回':>12}{'结存':>14}")
                for level, indent in [(report.city, ""), *((t, "  ") for t in report.city.children)]:
                    self._row(level, indent)
                    if indent:
                        for village in level.children:
                            self._row(village, "    ")
        problems = [p for r in reports for p in r.problems]
        for problem in problems:
            self.stderr.write(problem)
        if problems:
            sys.exit(1)
        if not options["json"]:
            self.stdout.write(self.style.SUCCESS("各级账目平衡。"))

    def _row(self, level: Row, indent: str) -> None:
        self.stdout.write(
            f"{indent + level.name:<12}{level.allocated:>14,.2f}{level.passed_on:>14,.2f}{level.paid:>14,.2f}"
            f"{level.recovered:>12,.2f}{level.held:>14,.2f}"
        )
