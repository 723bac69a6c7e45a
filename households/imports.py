"""Shared machinery for the Excel imports: reading a workbook as a stream, matching the Chinese
headers, converting cells, and the report with `第 N 行 列名 值：原因` messages.

Every import (roster now, plans later) is a service that takes `(header, rows)` from here, so the
admin (django-import-export's dataset) and the management commands (streaming openpyxl) share
one validation and one wording.
"""

from __future__ import annotations

import hashlib
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import IO, Any, Protocol

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from .registry import Registry

Cell = Any
Row = Sequence[Cell]

MAX_PREVIEW_CHANGES = 200


class ImportFileError(ValidationError):
    """The file as a whole cannot be read (not xlsx, no header, missing columns)."""


@dataclass(frozen=True)
class Column:
    header: str
    key: str
    required: bool = True


@dataclass(frozen=True)
class RowError:
    row: int  # Excel row number (header is row 1)
    column: str
    value: str
    reason: str

    def __str__(self) -> str:
        if self.row == 0:
            return self.reason
        return f"第 {self.row} 行 {self.column} {self.value}：{self.reason}"


@dataclass
class Change:
    row: int
    key: str
    label: str
    fields: dict[str, tuple[str, str]]  # column → (old, new)


@dataclass
class ImportReport:
    file_name: str = ""
    dry_run: bool = False
    rows_total: int = 0
    rows_new: int = 0
    rows_updated: int = 0
    rows_unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    new_rows: list[Change] = field(default_factory=list)  # first MAX_PREVIEW_CHANGES only
    changed_rows: list[Change] = field(default_factory=list)  # first MAX_PREVIEW_CHANGES only
    extra: dict[str, int] = field(default_factory=dict)  # e.g. groups and cadres created
    batch_id: int | None = None
    unit: str = "户"  # what a row is, in the summary: 户 (roster), 份 (plans)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def nothing_changed(self) -> bool:
        return self.ok and self.rows_new == 0 and self.rows_updated == 0

    def add_error(self, row: int, column: str, value: Any, reason: str) -> None:
        self.errors.append(RowError(row, column, display(value), reason))

    def note_new(self, change: Change) -> None:
        self.rows_new += 1
        if len(self.new_rows) < MAX_PREVIEW_CHANGES:
            self.new_rows.append(change)

    def note_changed(self, change: Change) -> None:
        self.rows_updated += 1
        if len(self.changed_rows) < MAX_PREVIEW_CHANGES:
            self.changed_rows.append(change)

    def summary(self) -> str:
        if not self.ok:
            return f"发现 {len(self.errors)} 处错误，未写入任何数据。"
        if self.nothing_changed:
            return f"共 {self.rows_total} 行，与系统中的数据完全一致，没有任何改动。"
        prefix, verb = ("预览（尚未写入）：", "将") if self.dry_run else ("", "已")
        return (
            f"{prefix}共 {self.rows_total} 行，{verb}新增 {self.rows_new} {self.unit}，"
            f"{verb}修改 {self.rows_updated} {self.unit}，{self.rows_unchanged} {self.unit}未变。"
        )


def display(value: Any) -> str:
    if value is None:
        return "（空）"
    text = str(value).strip()
    return text if text else "（空）"


def normalise_header(value: Any) -> str:
    """Full-width/half-width and stray spaces do not matter in headers: （亩） == (亩)."""
    if value is None:
        return ""
    return unicodedata.normalize("NFKC", str(value)).replace(" ", "").replace("\u3000", "").strip()


def map_columns(header: Row, columns: Sequence[Column], report: ImportReport) -> dict[str, int] | None:
    """Column key → index in the row. Missing required columns are errors; unknown ones warnings."""
    wanted = {normalise_header(c.header): c for c in columns}
    positions: dict[str, int] = {}
    unknown: list[str] = []
    for index, raw in enumerate(header):
        name = normalise_header(raw)
        if not name:
            continue
        column = wanted.get(name)
        if column is None:
            unknown.append(str(raw).strip())
        elif column.key in positions:
            report.add_error(1, column.header, raw, "表头重复，请只保留一列")
        else:
            positions[column.key] = index
    missing = [c.header for c in columns if c.required and c.key not in positions]
    for name in missing:
        report.errors.append(RowError(0, name, "", f"缺少必填列：{name}"))
    if unknown:
        report.warnings.append("已忽略以下未知列：" + "、".join(unknown))
    return None if report.errors else positions


# --- cells -------------------------------------------------------------------------------------


class CellError(ValueError):
    """A cell that cannot be converted; the message is the reason shown to the user."""


def text(value: Cell) -> str:
    """A text cell, trimmed. Integral numbers become their digits (codes typed as numbers)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return unicodedata.normalize("NFKC", str(value)).strip() if isinstance(value, str) else str(value).strip()


def whole_number(value: Cell) -> int:
    """A whole number cell: 3, 3.0 and "3" are accepted; "三" and 3.5 are not."""
    if isinstance(value, bool):
        raise CellError("应为整数")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise CellError("应为整数")
    raw = text(value)
    if not raw:
        raise CellError("不能为空")
    try:
        number = Decimal(raw)
    except InvalidOperation:
        raise CellError("应为整数") from None
    if number != number.to_integral_value():
        raise CellError("应为整数")
    return int(number)


def decimal_number(value: Cell, places: int = 2) -> Decimal:
    """A decimal cell with at most `places` decimals. Floats from openpyxl go through str()."""
    if isinstance(value, bool):
        raise CellError("应为数字")
    raw = repr(value) if isinstance(value, float) else text(value)
    if not raw:
        raise CellError("不能为空")
    try:
        number = Decimal(raw)
    except InvalidOperation:
        raise CellError("应为数字") from None
    if not number.is_finite():
        raise CellError("应为数字")
    if -number.as_tuple().exponent > places and number != number.quantize(Decimal(1).scaleb(-places)):  # type: ignore[operator]
        raise CellError(f"最多 {places} 位小数")
    return number


def yes_no(value: Cell) -> bool:
    raw = text(value)
    if raw in ("", "否"):
        return False
    if raw == "是":
        return True
    raise CellError("应填“是”或“否”（空白视为否）")


def is_blank(row: Row) -> bool:
    return all(v is None or (isinstance(v, str) and not v.strip()) for v in row)


# --- files -------------------------------------------------------------------------------------


def sha256_of(stream: IO[bytes]) -> str:
    digest = hashlib.sha256()
    stream.seek(0)
    for chunk in iter(lambda: stream.read(1 << 20), b""):
        digest.update(chunk)
    stream.seek(0)
    return digest.hexdigest()


def read_xlsx(stream: IO[bytes]) -> tuple[Row, Iterator[Row]]:
    """(header, rows) of the first sheet, streamed (openpyxl read-only). Raises ImportFileError."""
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    if not zipfile.is_zipfile(stream):
        raise ImportFileError(
            "文件不是 Excel 工作簿（.xlsx），无法读取。请在 Excel 中“另存为 .xlsx”后再导入。"
        )
    stream.seek(0)
    try:
        book = openpyxl.load_workbook(stream, read_only=True, data_only=True)
    except (InvalidFileException, KeyError, OSError, zipfile.BadZipFile, ValueError) as exc:
        raise ImportFileError("文件不是有效的 Excel 工作簿（.xlsx），无法读取。") from exc
    sheet = book.worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    header = next(rows, None)
    if header is None or is_blank(header):
        raise ImportFileError("工作表第 1 行应为表头，但它是空的。")
    return header, rows


def iterate_numbered(
    rows: Iterable[Row], on_progress: Callable[[int], None] | None = None
) -> Iterator[tuple[int, Row]]:
    """(Excel row number, row) for each non-blank row; the header is row 1."""
    for number, row in enumerate(rows, start=2):
        if on_progress is not None and number % 1000 == 0:
            on_progress(number - 1)
        if is_blank(row):
            continue
        yield number, row


# --- the run -----------------------------------------------------------------------------------


class ImportJob(Protocol):
    def run(self, positions: dict[str, int], rows: Iterator[tuple[int, Row]]) -> None: ...


def run_import(
    *,
    kind: str,
    columns: Sequence[Column],
    header: Row,
    rows: Iterable[Row],
    actor: Any,
    file_name: str,
    file_sha256: str,
    dry_run: bool,
    make_job: Callable[[ImportReport, Any], ImportJob],
    lock: Callable[[], None],
    on_progress: Callable[[int], None] | None = None,
    unit: str = "户",
) -> ImportReport:
    """The frame every import runs in: an ImportBatch record, one transaction (rolled back on any
    error or in a dry run), the header check, and the report. `lock` serialises imports of a kind."""
    from .models import ImportBatch

    report = ImportReport(file_name=file_name, dry_run=dry_run, unit=unit)
    batch = ImportBatch.objects.create(
        kind=kind,
        actor=actor,
        file_name=file_name[:255],
        file_sha256=file_sha256,
        dry_run=dry_run,
        status=ImportBatch.Status.REFUSED,
    )
    try:
        positions = map_columns(header, columns, report)
        if positions is not None:
            with transaction.atomic():
                lock()
                make_job(report, batch).run(positions, iterate_numbered(rows, on_progress))
                if dry_run or report.errors:
                    transaction.set_rollback(True)
    except ImportFileError as exc:
        report.add_error(0, "", "", exc.messages[0])
    if report.errors:  # nothing was written, so nothing is new or changed
        report.rows_new = report.rows_updated = report.rows_unchanged = 0
        report.new_rows.clear()
        report.changed_rows.clear()
        batch.status = ImportBatch.Status.REFUSED
    else:
        batch.status = ImportBatch.Status.PREVIEWED if dry_run else ImportBatch.Status.IMPORTED
    batch.finished_at = timezone.now()
    batch.rows_total = report.rows_total
    batch.rows_new, batch.rows_updated, batch.rows_unchanged = (
        report.rows_new,
        report.rows_updated,
        report.rows_unchanged,
    )
    batch.errors = [str(e) for e in report.errors[:1000]]
    batch.warnings = report.warnings
    batch.save()
    report.batch_id = batch.pk
    return report


def insert_rows(model: Any, fields: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """INSERT many rows of `model` without building model instances (audit rows of bulk imports).

    Portable SQL through Django's cursor; each value goes through its field's own
    `get_db_prep_save`, so JSON, dates and booleans are stored exactly as the ORM would store them.
    """
    from django.db import connection

    opts = model._meta
    columns = [opts.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    head = "INSERT INTO {} ({}) VALUES ".format(
        quote(opts.db_table), ", ".join(quote(f.column) for f in columns)
    )
    one = "(" + ", ".join(["%s"] * len(columns)) + ")"
    from django.db import models

    # Text, integers, booleans and ids go to the driver as they are; dates, JSON and decimals need
    # their field's conversion (time zone, JSON encoding, quantisation), exactly as the ORM does it.
    converting = (models.DateField, models.JSONField, models.DecimalField)
    preps = [
        (lambda v, f=field: f.get_db_prep_save(v, connection)) if isinstance(field, converting) else None
        for field in columns
    ]
    # Multi-row VALUES statements (as bulk_create writes them), sized under SQLite's default
    # 32,766 parameters; executemany would be one round trip per row on PostgreSQL.
    per_statement = max(1, min(1000, 30000 // len(columns)))
    batch: list[Any] = []
    count = 0
    with connection.cursor() as cursor:
        for row in rows:
            batch.extend(p(v) if p else v for p, v in zip(preps, row, strict=True))
            count += 1
            if count == per_statement:
                cursor.execute(head + ", ".join([one] * count), batch)
                batch, count = [], 0
        if count:
            cursor.execute(head + ", ".join([one] * count), batch)


@dataclass(frozen=True)
class Importer:
    """One kind of import: its columns, the job that checks and writes rows, and its lock.

    Calling it runs `run_import`; the admin resource and the management command both call it. The
    app that owns it registers it in `IMPORT_KINDS` (its `AppConfig.ready()`).
    """

    kind: str
    label: str
    columns: Sequence[Column]
    job: Callable[..., ImportJob]  # job(actor=, report=, batch=)
    lock: Callable[[], None]
    unit: str = "户"

    def __call__(
        self,
        *,
        header: Row,
        rows: Iterable[Row],
        actor: Any,
        file_name: str,
        file_sha256: str,
        dry_run: bool,
        on_progress: Callable[[int], None] | None = None,
    ) -> ImportReport:
        return run_import(
            kind=self.kind,
            columns=self.columns,
            header=header,
            rows=rows,
            actor=actor,
            file_name=file_name,
            file_sha256=file_sha256,
            dry_run=dry_run,
            make_job=lambda report, batch: self.job(actor=actor, report=report, batch=batch),
            lock=self.lock,
            on_progress=on_progress,
            unit=self.unit,
        )

    @property
    def code(self) -> str:
        return self.kind


IMPORT_KINDS: Registry[Importer] = Registry("import kind")
