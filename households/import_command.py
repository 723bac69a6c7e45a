"""The shell door onto the imports: one base for every `import_*` management command."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from .imports import ImportFileError, ImportReport, import_limits, msg_file_too_large, read_xlsx, sha256_of


class Progress:
    """One line on stderr, rewritten in place: rows read and rate. Quiet when not a terminal."""

    def __init__(self, stream: Any, enabled: bool) -> None:
        self.stream = stream
        self.enabled = enabled
        self.started = time.monotonic()

    def __call__(self, rows: int) -> None:
        if self.enabled:
            elapsed = max(time.monotonic() - self.started, 1e-6)
            bar = "#" * min(30, rows // 5000) if rows else ""
            self.stream.write(f"\r已读取 {rows:>7} 行 [{bar:<30}] {rows / elapsed:,.0f} 行/秒")
            self.stream.flush()

    def done(self, rows: int) -> None:
        if self.enabled:
            self(rows)
            self.stream.write("\n")


class ExcelImportCommand(BaseCommand):
    """`manage.py import_x FILE.xlsx [--dry-run]`: exits non-zero on any error, nothing written then."""

    importer: Callable[..., ImportReport]
    # True: the import is done in a user's name and scope (e.g. a village's loan register): --user.
    needs_user = False

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help=".xlsx 文件")
        if self.needs_user:
            parser.add_argument("--user", required=True, help="以该用户的身份和管辖范围导入（用户名）")
        parser.add_argument("--dry-run", action="store_true", help="只检查并报告，不写入")
        parser.add_argument("--no-progress", action="store_true", help="不显示进度")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"找不到文件：{path}")
        limits = import_limits()
        size = path.stat().st_size
        if size > limits.max_file_bytes:  # before the file is hashed or opened as a workbook
            raise CommandError(msg_file_too_large(size, limits))
        actor = None  # the server's operator; admin imports carry the user
        if self.needs_user:
            from .models import User

            actor = User.objects.filter(username=options["user"], is_active=True).first()
            if actor is None:
                raise CommandError(f"没有用户 {options['user']}。")
        progress = Progress(sys.stderr, enabled=not options["no_progress"] and sys.stderr.isatty())
        with path.open("rb") as stream:
            digest = sha256_of(stream)
            try:
                header, rows = read_xlsx(stream)
            except ImportFileError as exc:
                raise CommandError(exc.messages[0]) from None
            report = type(self).importer(
                header=header,
                rows=rows,
                actor=actor,
                file_name=path.name,
                file_sha256=digest,
                dry_run=options["dry_run"],
                on_progress=progress,
            )
        progress.done(report.rows_total)
        self.print_report(report)
        if not report.ok:
            raise CommandError(f"导入未完成：{len(report.errors)} 处错误。")

    def print_report(self, report: ImportReport) -> None:
        for warning in report.warnings:
            self.stdout.write(self.style.WARNING(warning))
        for error in report.errors:
            self.stdout.write(str(error))
        if report.ok:
            for change in report.changed_rows[:20]:
                fields = "，".join(
                    f"{k}：{old or '（空）'} → {new}" for k, (old, new) in change.fields.items()
                )
                self.stdout.write(f"第 {change.row} 行 {change.key} {change.label}：{fields}")
            if report.rows_updated > 20:
                self.stdout.write(f"……另有 {report.rows_updated - 20} 条修改，详见后台记录。")
        style = self.style.SUCCESS if report.ok else self.style.ERROR
        self.stdout.write(style(report.summary()))
