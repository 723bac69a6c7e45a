"""python manage.py fund_villages --user CITY_USER [--year 2017] [--budget AMOUNT --received-on DATE
--reference 文号] — city HQ allocates every poor village's fund for the year at once (the admin's
村集体经济扶持资金 → 一次下拨), optionally after recording the programme's money arriving."""

from __future__ import annotations

import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from collectives import services
from households.models import User


class Command(BaseCommand):
    help = "市指挥部一次下拨全部贫困村的村集体经济扶持资金（已下拨的村不重复下拨）。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", required=True, help="市指挥部用户名（记为下拨人）")
        parser.add_argument("--year", type=int, default=2017, help="年度（默认 2017）")
        parser.add_argument("--budget", help="先登记专项资金到位的金额（元）")
        parser.add_argument("--received-on", help="到位日期，如 2017-03-01（与 --budget 一起）")
        parser.add_argument("--reference", default="", help="到位文号/凭证号")

    def handle(self, *args: Any, **options: Any) -> None:
        actor = User.objects.filter(username=options["user"], is_active=True).first()
        if actor is None:
            raise CommandError(f"没有用户 {options['user']}。")
        year = options["year"]
        try:
            with transaction.atomic():
                if options["budget"]:
                    try:
                        amount = Decimal(options["budget"])
                        received_on = datetime.date.fromisoformat(options["received_on"] or "")
                    except (InvalidOperation, ValueError):
                        raise CommandError(
                            "--budget 应为金额，--received-on 应为日期（如 2017-03-01）。"
                        ) from None
                    services.budget_receive(
                        year=year,
                        amount=amount,
                        received_on=received_on,
                        reference=options["reference"],
                        actor=actor,
                    )
                funds = services.funds_allocate_all(year=year, actor=actor)
        except ValidationError as exc:
            raise CommandError("；".join(exc.messages)) from None
        if not funds:
            self.stdout.write(f"{year} 年全部贫困村的扶持资金均已下拨，没有改动。")
            return
        total = sum((f.amount for f in funds), Decimal(0))
        self.stdout.write(
            self.style.SUCCESS(f"已向 {len(funds)} 个贫困村下拨 {year} 年扶持资金，合计 {total:,.2f} 元。")
        )
        self.stdout.write(f"市指挥部村集体经济专户余额 {services.city_balance(year):,.2f} 元。")
