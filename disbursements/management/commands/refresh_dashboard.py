"""python manage.py refresh_dashboard [--year 2017] [--township CODE …] [--stale]: rebuild the
进度看板's summary figures now, in this process (a deployment's first fill, after restoring a backup,
or from cron as a safety net). Without --year: every year a section knows. --stale: only the
townships waiting for a refresh (what the worker's task does)."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from disbursements import summaries
from disbursements.dashboard import years
from households.models import Township


class Command(BaseCommand):
    help = "重新统计进度看板的汇总数据"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--year", type=int, action="append", help="年度（可重复；默认全部年度）")
        parser.add_argument("--township", action="append", help="乡镇代码（可重复；默认全部乡镇）")
        parser.add_argument("--stale", action="store_true", help="只统计等待更新的乡镇")

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        if options["stale"]:
            count = summaries.refresh_stale()
            self.stdout.write(f"已更新 {count} 个乡镇，用时 {time.perf_counter() - started:.1f} 秒")
            return
        townships = None
        if options["township"]:
            found = dict(Township.objects.filter(code__in=options["township"]).values_list("code", "pk"))
            unknown = sorted(set(options["township"]) - set(found))
            if unknown:
                raise CommandError(f"没有这些乡镇代码：{'、'.join(unknown)}")
            townships = list(found.values())
        for year in options["year"] or years():
            count = summaries.refresh(year=year, township_ids=townships)
            took = time.perf_counter() - started
            self.stdout.write(f"{year} 年度：已统计 {count} 个乡镇，用时 {took:.1f} 秒")
