"""python manage.py export_entitlements --year 2017 --output FILE.xlsx"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from households.xlsx import CITY_ISSUER
from subsidies.entitlements import entitlements_title, write_entitlements
from subsidies.models import HouseholdPlan, PlanStatus


class Command(BaseCommand):
    help = "导出补助测算表（每户一行，末行合计）。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--year", type=int, required=True)
        parser.add_argument("--output", type=Path, required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        output: Path = options["output"]
        if not output.parent.exists():
            raise CommandError(f"目录不存在：{output.parent}")
        # The operator's command sees the whole city: the same plans of record as plans_for(city user).
        plans = (
            HouseholdPlan.objects.filter(year=options["year"])
            .exclude(status=PlanStatus.SUPERSEDED)
            .exclude(status=PlanStatus.DRAFT, amends__isnull=False)
        )
        with output.open("wb") as stream:
            count, totals = write_entitlements(
                plans, stream, title=entitlements_title(options["year"]), issuer=CITY_ISSUER
            )
        self.stdout.write(self.style.SUCCESS(f"已导出 {count} 户，补助合计 {totals[2]:,.2f} 元：{output}"))
