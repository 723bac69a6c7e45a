"""python manage.py purge_imports [--older-than-hours 24] — remove admin uploads never confirmed.

An Excel file uploaded in the admin (贫困户 / 产业计划 → 导入) waits in the import storage
(`MEDIA_ROOT/imports/django-import-export/`) between its preview and its confirm, because the confirm
step imports it again. It holds whole ID numbers, so it is kept no longer than it can be needed:

- removed as soon as it is confirmed (imported or not);
- removed at once when the preview refuses it (unreadable, over a limit, any row error);
- otherwise — the preview was abandoned — removed by this command once older than
  `--older-than-hours` (default `settings.IMPORT_LIMITS["UPLOAD_MAX_AGE_HOURS"]`, 24).

Run it from cron (or a systemd timer) every hour on each server that writes `MEDIA_ROOT`:
`0 * * * * cd /srv/fupin && .venv/bin/python manage.py purge_imports`. It only touches files named as
MediaStorage names uploads; a confirm that arrives after its upload was purged is told to upload again.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from households.imports import import_limits, purge_uploads


class Command(BaseCommand):
    help = (
        "删除后台上传后未确认导入的 Excel 文件（含身份证号）。上传的文件在确认导入或预览被拒绝时即删除；"
        "放弃的预览留下的文件由本命令在超过保留时限（默认 IMPORT_LIMITS['UPLOAD_MAX_AGE_HOURS'] = 24 小时）"
        "后删除。请每小时运行一次（cron）。"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than-hours",
            type=float,
            default=None,
            help="只删除早于这么多小时之前上传的文件（默认：IMPORT_LIMITS['UPLOAD_MAX_AGE_HOURS']）",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        hours = options["older_than_hours"]
        if hours is None:
            hours = import_limits().upload_max_age_hours
        if hours < 0:
            raise CommandError("--older-than-hours 不能为负数。")
        removed, kept = purge_uploads(timedelta(hours=hours))
        self.stdout.write(
            f"已删除 {len(removed)} 个超过 {hours:g} 小时未确认的上传文件，保留 {kept} 个较新的文件。"
        )
