"""Shared machinery for the Excel imports: reading a workbook as a stream, matching the Chinese
headers, converting cells, and the report with `第 N 行 列名 值：原因` messages.

Every import (roster now, plans later) is a service that takes `(header, rows)` from here, so the
admin (django-import-export's upload, read by `read_xlsx` through `admin_base.StreamedXLSX`) and the
management commands read a file the same way and share one validation and one wording.

**Limits** (`settings.IMPORT_LIMITS`, `import_limits()`) are checked here once, while the file
streams, before anything large is allocated: the file's size before it is opened; the zip's
central directory, each part's unzipped size and compression ratio before any XML is parsed; each
XML part while it is unzipped (no text run longer than any cell Excel can hold, no DTD); each
worksheet row while it is parsed (its size, its cells, no content beyond the last allowed column or
row; rows the file does not hold are not made up, so a sheet whose last row is 1,048,576 costs what
its XML costs); and each mapped cell's length against its model field's `max_length`.

Uploads waiting between the admin's preview and confirm live in `ImportUploadStorage`
(`MEDIA_ROOT/imports`); they are removed on confirm and on refusal, and `manage.py purge_imports`
removes any left behind (`UPLOAD_MAX_AGE_HOURS`).
"""

from __future__ import annotations

import functools
import hashlib
import io
import itertools
import os
import re
import struct
import time
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import IO, Any, Protocol, cast
from xml.etree.ElementTree import Element, ParseError, XMLPullParser

from django.conf import settings
from django.core.exceptions import EmptyResultSet, ValidationError
from django.core.files.storage import FileSystemStorage, Storage, storages
from django.db import models, transaction
from django.utils import timezone
from django.utils.functional import cached_property

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
    # The longest text the column may hold: its model field's `max_length` (`max_length_of`); None =
    # the general `MAX_CELL_CHARS`. Checked by the frame before the job sees the row.
    max_length: int | None = None


def max_length_of(model: type[models.Model], field_name: str) -> int:
    """The `max_length` of a model's text field: what a column stored in it may hold."""
    field = model._meta.get_field(field_name)
    assert isinstance(field, models.CharField), f"{model._meta.label}.{field_name} is not a CharField"
    assert field.max_length is not None
    return field.max_length


@dataclass(frozen=True)
class RowError:
    row: int  # Excel row number (header is row 1)
    column: str
    value: str  # "" when the value is not worth repeating (too long to show)
    reason: str

    def __str__(self) -> str:
        if self.row == 0:
            return self.reason
        if not self.value:
            return f"第 {self.row} 行 {self.column}：{self.reason}"
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


# --- limits ------------------------------------------------------------------------------------

MB = 1024 * 1024

# What an import may cost (settings.IMPORT_LIMITS overrides any of them).
DEFAULT_LIMITS: dict[str, int] = {
    "MAX_FILE_BYTES": 20 * MB,  # the uploaded .xlsx
    "MAX_ROWS": 200_000,  # data rows, after the header (row 1)
    "MAX_COLUMNS": 40,
    "MAX_CELL_CHARS": 200,  # any mapped cell; a column stored in a model field: that field's max_length
    "MAX_PART_BYTES": 160 * MB,  # a worksheet's XML, unzipped (200,000 roster rows ≈ 140 MB)
    "MAX_SHARED_STRINGS_BYTES": 40 * MB,  # the shared-string table, unzipped (held in memory whole)
    "MAX_COMPRESSION_RATIO": 100,  # unzipped / zipped of a part over 1 MB (spreadsheets: 5–20)
    "UPLOAD_MAX_AGE_HOURS": 24,  # an upload waiting for its confirm is purged after this
    # An admin upload this large is checked and imported by the background worker (households.
    # import_job), its page showing progress; smaller ones (≈ 10,000 roster rows, 2–3 s) in the request.
    "BACKGROUND_FROM_BYTES": 512 * 1024,
}

# Beyond the settings: shapes no spreadsheet program writes, refused whatever the limits.
EXCEL_MAX_CELL_CHARS = 32_767
MAX_TEXT_RUN_BYTES = 256 * 1024  # XML between two tags: > any cell Excel holds (32,767 chars, escaped)
MAX_ROW_BYTES = 1 * MB  # one <row> element of a worksheet, as XML
MAX_ROW_CELLS = 16_384  # Excel's last column, XFD
MAX_ZIP_DIRECTORY_BYTES = 1 * MB  # an .xlsx has a few dozen parts: a few KB of central directory
MAX_OTHER_XML_BYTES = 8 * MB  # styles, workbook, relationships: parsed whole, as one tree, by openpyxl
RATIO_FROM_BYTES = 1 * MB  # small parts (styles, rels) may compress well without meaning anything


@dataclass(frozen=True)
class ImportLimits:
    max_file_bytes: int
    max_rows: int
    max_columns: int
    max_cell_chars: int
    max_part_bytes: int
    max_shared_strings_bytes: int
    max_compression_ratio: int
    upload_max_age_hours: int
    background_from_bytes: int


def import_limits() -> ImportLimits:
    """The limits in force: `DEFAULT_LIMITS` overridden by `settings.IMPORT_LIMITS` (read at each import)."""
    configured = {**DEFAULT_LIMITS, **getattr(settings, "IMPORT_LIMITS", {})}
    unknown = configured.keys() - DEFAULT_LIMITS.keys()
    if unknown:
        raise ValueError(f"Unknown IMPORT_LIMITS keys: {sorted(unknown)}")
    return ImportLimits(**{key.lower(): int(value) for key, value in configured.items()})


def _megabytes(size: int) -> str:
    return f"{size / MB:.1f}".removesuffix(".0")


def size_text(size: int) -> str:
    """12.5 MB, 300 KB: a file's size as the user's file manager shows it."""
    return f"{_megabytes(size)} MB" if size >= MB else f"{-(-size // 1024)} KB"


def column_letter(number: int) -> str:
    """1 → A, 27 → AA (Excel's column names)."""
    letters = ""
    while number > 0:
        number, rest = divmod(number - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


MSG_NOT_XLSX = "文件不是 Excel 工作簿（.xlsx），无法读取。请在 Excel 中“另存为 .xlsx”后再导入。"
MSG_BAD_XLSX = "文件不是有效的 Excel 工作簿（.xlsx），无法读取。"
MSG_NO_HEADER = "工作表第 1 行应为表头，但它是空的。"
MSG_NOT_SPREADSHEET = (
    "文件的内部结构不像 Excel 保存的工作簿（{what}），为安全起见已拒绝读取。"
    "请在 Excel 中打开后“另存为 .xlsx”再导入。"
)


def msg_file_too_large(size: int, limits: ImportLimits) -> str:
    return (
        f"文件过大（{size_text(size)}），不能超过 {size_text(limits.max_file_bytes)}。"
        "请拆分成几个文件分别导入。"
    )


def msg_too_many_columns(row: int, column: int, limits: ImportLimits) -> str:
    return (
        f"第 {row} 行第 {column_letter(column)} 列有内容，但工作表最多 {limits.max_columns} 列"
        f"（A 至 {column_letter(limits.max_columns)} 列）。请删除多余的列后再导入。"
    )


def msg_too_many_rows(limits: ImportLimits) -> str:
    return (
        f"工作表超过 {limits.max_rows:,} 行（不含表头，带格式的空行也算在内）。"
        "请拆分成几个文件，或删除数据下方多余的行后再导入。"
    )


def msg_row_beyond_limit(row: int, limits: ImportLimits) -> str:
    return (
        f"第 {row:,} 行有内容，但工作表最多 {limits.max_rows:,} 行数据"
        f"（第 2 至第 {limits.max_rows + 1:,} 行）。请删除多余的行后再导入。"
    )


def msg_too_long(length: int, limit: int) -> str:
    return f"内容过长（{length} 个字），不能超过 {limit} 个字。"


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


def _check_zip_directory(stream: IO[bytes], size: int) -> None:
    """Refuse a central directory no workbook has, before `zipfile` turns every entry into an object."""
    tail_size = min(size, 22 + 65_535)  # the end record and at most a 64 KB comment
    stream.seek(size - tail_size)
    tail = stream.read(tail_size)
    stream.seek(0)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + 22 > len(tail):
        raise ImportFileError(MSG_NOT_XLSX)
    entries, directory_bytes = struct.unpack("<HL", tail[at + 10 : at + 16])
    if entries > 10_000 or directory_bytes > MAX_ZIP_DIRECTORY_BYTES:
        raise ImportFileError(MSG_NOT_SPREADSHEET.format(what=f"压缩包内有 {entries} 个文件"))


class _GuardedPart(io.BufferedIOBase):
    """One XML part of the workbook, as it is unzipped: refused as soon as it shows what no spreadsheet
    program writes — a DTD (entity expansion), or a text run (the bytes between two tags) longer than
    any cell Excel can hold. So a 200 MB cell is refused after its first 256 KB, not parsed."""

    def __init__(self, raw: IO[bytes]) -> None:
        super().__init__()
        self._raw = raw
        self._run = 0  # bytes since the last "<"
        self._tail = b""  # the end of the previous read: a marker may straddle two reads

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            return b"".join(iter(lambda: self.read(1 << 16), b""))
        data = self._raw.read(size)
        self._check(data)
        return data

    def read1(self, size: int = -1) -> bytes:
        return self.read(size if size > 0 else 1 << 16)

    def close(self) -> None:
        self._raw.close()
        super().close()

    def _check(self, data: bytes) -> None:
        seam = self._tail + data[:16]
        if b"<!DOCTYPE" in data or b"<!ENTITY" in data or b"<!DOCTYPE" in seam or b"<!ENTITY" in seam:
            raise ImportFileError(MSG_NOT_SPREADSHEET.format(what="含有 DTD"))
        self._tail = data[-16:]
        run, step = self._run, MAX_TEXT_RUN_BYTES
        # In slices of at most `step` bytes, a run longer than `step` must cross a slice boundary, so
        # two C-level searches per slice find it exactly.
        for start in range(0, len(data), step):
            stop = min(start + step, len(data))
            first = data.find(b"<", start, stop)
            if first < 0:
                run += stop - start
            else:
                if run + first - start > step:
                    break
                run = stop - data.rfind(b"<", start, stop) - 1
            if run > step:
                break
        else:
            self._run = run
            return
        raise ImportFileError(
            f"文件中有超长的单元格（超过 Excel 允许的 {EXCEL_MAX_CELL_CHARS} 个字），"
            "不是正常的 Excel 工作簿，已拒绝读取。"
        )


class _GuardedZip(zipfile.ZipFile):
    """The workbook's zip: every part's unzipped size and compression ratio are checked before anything
    is unzipped (`zipfile` never yields more than a part's declared size), and every part is read
    through `_GuardedPart`."""

    def __init__(self, stream: IO[bytes], limits: ImportLimits) -> None:
        super().__init__(stream)
        for info in self.infolist():
            name = info.filename.lower()
            advice = "请拆分成几个文件分别导入。"
            if "sharedstrings" in name:
                bound = limits.max_shared_strings_bytes
            elif name.endswith((".xml", ".rels")) and not name.startswith("xl/worksheets/"):
                bound = min(MAX_OTHER_XML_BYTES, limits.max_part_bytes)
                advice = "请在 Excel 中打开后“另存为 .xlsx”再导入。"
            else:
                bound = limits.max_part_bytes
            if info.file_size > bound:
                raise ImportFileError(
                    f"文件中的 {info.filename} 解压后有 {size_text(info.file_size)}，"
                    f"超过上限 {size_text(bound)}，已拒绝读取。{advice}"
                )
            ratio = info.file_size / max(info.compress_size, 1)
            if info.file_size > RATIO_FROM_BYTES and ratio > limits.max_compression_ratio:
                raise ImportFileError(
                    MSG_NOT_SPREADSHEET.format(what=f"{info.filename} 的压缩比高达 {ratio:,.0f} 倍")
                )

    def open(  # type: ignore[override]
        self, name: str | zipfile.ZipInfo, mode: str = "r", pwd: bytes | None = None, **kwargs: Any
    ) -> IO[bytes]:
        part = super().open(name, mode, pwd, **kwargs)  # type: ignore[arg-type]
        return cast(IO[bytes], _GuardedPart(part)) if mode == "r" else part


def _open_workbook(archive: _GuardedZip) -> tuple[Any, Any, str]:
    """(workbook, shared strings, path of the first worksheet) through openpyxl's own reader, minus the
    worksheets: `ReadOnlyWorksheet` would scan a sheet without a `<dimension>` once more just to size it,
    and pad missing rows; `SheetRows` reads the sheet itself."""
    from openpyxl.reader.excel import ExcelReader

    class FirstSheetReader(ExcelReader):  # type: ignore[misc]
        sheet_path: str | None = None

        def __init__(self) -> None:
            # ExcelReader.__init__ would open the zip again, unguarded; these are its attributes.
            self.archive = archive
            self.valid_files = archive.namelist()
            self.read_only = True
            self.keep_vba = False
            self.data_only = True
            self.keep_links = False
            self.rich_text = False
            self.shared_strings: list[Any] = []

        def read_strings(self) -> None:
            from openpyxl.xml.constants import SHARED_STRINGS

            found = self.package.find(SHARED_STRINGS)
            if found is not None:
                with self.archive.open(found.PartName[1:]) as part:
                    self.shared_strings = _shared_strings(part)

        def read_worksheets(self) -> None:
            for _sheet, rel in self.parser.find_sheets():
                if rel.target in self.valid_files and "chartsheet" not in rel.Type:
                    self.sheet_path = rel.target
                    return

    reader = FirstSheetReader()
    reader.read()
    if reader.sheet_path is None:
        raise ImportFileError("工作簿中没有工作表。")
    return reader.wb, reader.shared_strings, reader.sheet_path


def _shared_strings(part: IO[bytes]) -> list[str]:
    """The shared-string table as openpyxl's `read_string_table` reads it (`Text.from_tree(si).content`:
    the last plain `<t>`, then the last `<t>` of each `<r>` run, phonetic runs left out; `_x005F_`
    unescaped), without building its `Text`/`RichText` objects: a third of the parse of a file saved
    by Excel, which keeps every name, ID number and phone in this table."""
    from openpyxl.xml.constants import SHEET_MAIN_NS
    from openpyxl.xml.functions import iterparse

    item = f"{{{SHEET_MAIN_NS}}}si"
    strings: list[str] = []
    for _event, node in iterparse(part):
        if node.tag != item:
            continue
        plain: str | None = None
        runs: list[str] = []
        for child in node:
            name = child.tag.rpartition("}")[2]  # openpyxl matches children by local name
            if name == "t":
                plain = child.text
            elif name == "r":
                run: str | None = None
                for part_of_run in child:
                    if part_of_run.tag.rpartition("}")[2] == "t":
                        run = part_of_run.text
                if run is not None:
                    runs.append(run)
        text = "".join(runs) if plain is None else plain + "".join(runs)
        strings.append(text.replace("x005F_", ""))
        node.clear()
    return strings


class SheetRows(Iterator[Row]):
    """The data rows of a worksheet (after its header), streamed with their Excel row numbers.

    Only the rows the file holds are read: the gap before a row 1,048,576 is not made of a million
    empty rows. Rows are cut at `MAX_COLUMNS` (content beyond is refused). Iterate `numbered()`
    (as `iterate_numbered` does) to keep the row numbers; plain iteration drops them.
    """

    def __init__(self, numbered: Iterator[tuple[int, Row]]) -> None:
        self._numbered = numbered

    def __iter__(self) -> SheetRows:
        return self

    def __next__(self) -> Row:
        return next(self._numbered)[1]

    def numbered(self) -> Iterator[tuple[int, Row]]:
        return self._numbered


def _sheet_rows(
    part: IO[bytes], book: Any, shared_strings: Any, limits: ImportLimits
) -> Iterator[tuple[int, Row]]:
    """(row number, values) of each `<row>` of a worksheet part, parsed by openpyxl's own row parser."""
    from openpyxl.worksheet._reader import ROW_TAG, WorkSheetParser
    from openpyxl.xml.constants import SHEET_MAIN_NS

    sheet_data_tag = f"{{{SHEET_MAIN_NS}}}sheetData"
    parser = WorkSheetParser(
        part,
        shared_strings,
        data_only=True,
        epoch=book.epoch,
        date_formats=book._date_formats,
        timedelta_formats=book._timedelta_formats,
    )
    width = limits.max_columns
    pull: XMLPullParser[Element] = XMLPullParser(events=("end",))
    with part:
        try:
            since_row = 0  # bytes fed since the last complete row
            while chunk := part.read(1 << 14):
                pull.feed(chunk)
                since_row += len(chunk)
                for _event, element in cast(Iterator[tuple[str, Element]], pull.read_events()):
                    if element.tag == ROW_TAG:
                        if len(element) > MAX_ROW_CELLS:
                            raise ImportFileError(
                                MSG_NOT_SPREADSHEET.format(what="一行中的单元格超过 16384 个")
                            )
                        number, cells = _parse_row(parser, element, shared_strings)
                        element.clear()
                        since_row = 0
                        yield number, _row_values(number, cells, width, limits)
                    elif element.tag == sheet_data_tag:
                        return  # what follows the rows (merged cells, validations …) is not read
                if since_row > MAX_ROW_BYTES:
                    raise ImportFileError(MSG_NOT_SPREADSHEET.format(what="一行的内容超过 1 MB"))
            pull.close()
        except (ParseError, ValueError, IndexError, KeyError, TypeError, OverflowError) as exc:
            raise ImportFileError(MSG_BAD_XLSX) from exc
        except (zlib.error, zipfile.BadZipFile, EOFError) as exc:  # a damaged part, met only while read
            raise ImportFileError(MSG_BAD_XLSX) from exc


def _parse_row(
    parser: Any, row: Element, shared_strings: Sequence[str]
) -> tuple[int, list[tuple[int, Cell]]]:
    """(row number, [(column, value)]) of a `<row>`: openpyxl's `WorkSheetParser.parse_row`, data only.

    A shared-string cell (`t="s"`: every text cell of a file saved by Excel) is read here, as
    `parse_cell` reads it, without building its dict of row, column, value, type and style; every
    other cell (numbers, dates, booleans, inline strings, errors) goes through `parse_cell` itself.
    Row heights and styles are not kept.
    """
    from openpyxl.worksheet._reader import VALUE_TAG

    r = row.get("r")
    if r is None:
        parser.row_counter += 1
    else:
        try:
            parser.row_counter = int(r)
        except ValueError:
            number = float(r)
            if not number.is_integer():
                raise ValueError(f"{r} is not a valid row number") from None
            parser.row_counter = int(number)
    parser.col_counter = 0
    cells: list[tuple[int, Cell]] = []
    for element in row:
        if element.get("t") != "s":
            cell = parser.parse_cell(element)
            cells.append((cell["column"], cell["value"]))
            continue
        coordinate = element.get("r")
        if coordinate:
            column = _column_of(coordinate)
            parser.col_counter = column
        else:
            parser.col_counter += 1
            column = parser.col_counter
        index = element.findtext(VALUE_TAG, None) or None
        cells.append((column, None if index is None else shared_strings[int(index)]))
    return parser.row_counter, cells


_BEFORE_DIGITS = re.compile(r"[^0-9]*")


@functools.lru_cache(maxsize=256)
def _column_index(letters: str) -> int:
    from openpyxl.utils.cell import column_index_from_string

    return cast(int, column_index_from_string(letters))


def _column_of(coordinate: str) -> int:
    """The column of a cell address ("AB12" → 28), as openpyxl's `coordinate_to_tuple` reads it (its
    errors included: ValueError for an address it cannot read), the letters looked up once a file."""
    split = cast(re.Match[str], _BEFORE_DIGITS.match(coordinate)).end()
    if split == len(coordinate):  # no ASCII digit: openpyxl's own split, whatever it makes of it
        from openpyxl.utils.cell import coordinate_to_tuple

        return cast(int, coordinate_to_tuple(coordinate)[1])
    int(coordinate[split:])  # the row part must be a number, as openpyxl requires
    return _column_index(coordinate[:split])


def _row_values(number: int, cells: list[tuple[int, Cell]], width: int, limits: ImportLimits) -> Row:
    if not cells:
        return ()
    values: list[Cell] = [None] * min(cells[-1][0], width)
    for column, value in cells:
        if column > width:
            if not (value is None or (isinstance(value, str) and not value.strip())):
                raise ImportFileError(msg_too_many_columns(number, column, limits))
            continue
        if column > len(values):  # cells out of order: tolerated, as openpyxl does
            values.extend([None] * (column - len(values)))
        if column >= 1:
            values[column - 1] = value
    return tuple(values)


def read_xlsx(stream: IO[bytes]) -> tuple[Row, Iterator[Row]]:
    """(header, rows) of the first worksheet, streamed, within `import_limits()`. Raises ImportFileError.

    The rows are a `SheetRows`: `iterate_numbered` gives each its Excel row number. Refused before
    anything is parsed: a file over `MAX_FILE_BYTES`, a zip whose directory or parts no workbook has
    (too large unzipped, or compressed beyond `MAX_COMPRESSION_RATIO`: a zip bomb). Refused while
    reading: see `_GuardedPart` and `_sheet_rows`.
    """
    limits = import_limits()
    size = stream.seek(0, io.SEEK_END)
    stream.seek(0)
    if size > limits.max_file_bytes:
        raise ImportFileError(msg_file_too_large(size, limits))
    if not zipfile.is_zipfile(stream):
        raise ImportFileError(MSG_NOT_XLSX)
    _check_zip_directory(stream, size)
    try:
        archive = _GuardedZip(stream, limits)
        book, shared_strings, sheet_path = _open_workbook(archive)
        numbered = _sheet_rows(archive.open(sheet_path), book, shared_strings, limits)
        first = next(numbered, None)
    except ImportFileError:
        raise
    except (OSError, zipfile.BadZipFile, ValueError, KeyError, IndexError, TypeError, ParseError) as exc:
        raise ImportFileError(MSG_BAD_XLSX) from exc
    if first is None or first[0] != 1 or is_blank(first[1]):
        raise ImportFileError(MSG_NO_HEADER)
    return first[1], SheetRows(numbered)


def check_width(number: int, row: Row, limits: ImportLimits) -> None:
    """Content beyond `MAX_COLUMNS` refuses the file (`SheetRows` are cut while read; this is for others)."""
    for index in range(limits.max_columns, len(row)):
        value = row[index]
        if not (value is None or (isinstance(value, str) and not value.strip())):
            raise ImportFileError(msg_too_many_columns(number, index + 1, limits))


def iterate_numbered(
    rows: Iterable[Row],
    on_progress: Callable[[int], None] | None = None,
    limits: ImportLimits | None = None,
) -> Iterator[tuple[int, Row]]:
    """(Excel row number, row) for each non-blank row; the header is row 1.

    Rows are counted as they come: more than `MAX_ROWS` rows after the header (blank ones included:
    they cost the same to read), or content below row `MAX_ROWS + 1`, stops the import with
    ImportFileError.
    """
    limits = limits or import_limits()
    source = rows.numbered() if isinstance(rows, SheetRows) else enumerate(rows, start=2)
    last_row = limits.max_rows + 1
    read = 0
    for number, row in source:
        read += 1
        if on_progress is not None and read % 1000 == 0:
            on_progress(read)
        if read > limits.max_rows:
            raise ImportFileError(msg_too_many_rows(limits))
        if len(row) > limits.max_columns:
            check_width(number, row, limits)
        if is_blank(row):
            continue
        if number > last_row:
            raise ImportFileError(msg_row_beyond_limit(number, limits))
        yield number, row


def within_lengths(
    rows: Iterable[tuple[int, Row]],
    positions: dict[str, int],
    columns: Sequence[Column],
    limits: ImportLimits,
    report: ImportReport,
) -> Iterator[tuple[int, Row]]:
    """The rows whose mapped cells fit their columns; a longer cell is reported
    (`第 N 行 列名：内容过长（300 个字），不能超过 32 个字。`) and its row is not passed on, so no job
    ever tries to store it (SQLite would, PostgreSQL raises DataError)."""
    bounds = [
        (positions[c.key], c.header, min(c.max_length or limits.max_cell_chars, limits.max_cell_chars))
        for c in columns
        if c.key in positions
    ]
    for number, row in rows:
        fits = True
        for index, header, bound in bounds:
            if index >= len(row):
                continue
            value = row[index]
            if isinstance(value, str):
                # The stored value is `text(value)` (NFKC, trimmed): measure that, normalising only
                # when the raw string could be too long or could change.
                if len(value) <= bound and unicodedata.is_normalized("NFKC", value):
                    continue
                length = len(text(value))
            elif isinstance(value, int) and not -(10**15) < value < 10**15:
                length = len(str(value))  # a huge integer cell becomes its digits
            else:
                continue
            if length > bound:
                report.errors.append(RowError(number, header, "", msg_too_long(length, bound)))
                fits = False
        if fits:
            yield number, row


# --- uploads waiting for their confirm -------------------------------------------------------------

# django-import-export's MediaStorage keeps an upload as <its folder>/<uuid4 hex> in the storage named
# "import_export" (settings.STORAGES); the hidden `import_file_name` of the confirm form is that name.
UPLOAD_FOLDER = "django-import-export"
UPLOAD_NAME = re.compile(r"[0-9a-f]{32}")


class ImportUploadStorage(FileSystemStorage):
    """`MEDIA_ROOT/imports` (unless given a location), following MEDIA_ROOT as the default storage does,
    so a test's MEDIA_ROOT applies too. Uploaded rosters hold whole ID numbers: files and folders are
    the server user's alone."""

    def __init__(self, location: str | os.PathLike[str] | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("file_permissions_mode", 0o600)
        kwargs.setdefault("directory_permissions_mode", 0o700)
        super().__init__(location=location, **kwargs)
        self._given_location = location

    @cached_property
    def base_location(self) -> str:  # cleared by FileSystemStorage when MEDIA_ROOT changes
        if self._given_location is not None:
            return os.fspath(self._given_location)
        return os.path.join(settings.MEDIA_ROOT, "imports")


def upload_storage() -> Storage:
    """The storage MediaStorage uses (the "import_export" one, else the default)."""
    return storages["import_export"] if "import_export" in settings.STORAGES else storages["default"]


def is_upload_name(name: Any) -> bool:
    """A name MediaStorage gives (32 hex digits): nothing else is ever looked up (no paths, no `..`)."""
    return isinstance(name, str) and UPLOAD_NAME.fullmatch(name) is not None


def remove_upload(name: str) -> None:
    if is_upload_name(name):
        upload_storage().delete(f"{UPLOAD_FOLDER}/{name}")


def purge_uploads(older_than: timedelta | None = None) -> tuple[list[str], int]:
    """Remove uploads older than `older_than` (default `UPLOAD_MAX_AGE_HOURS`); returns (removed, kept)."""
    if older_than is None:
        older_than = timedelta(hours=import_limits().upload_max_age_hours)
    storage = upload_storage()
    try:
        _folders, names = storage.listdir(UPLOAD_FOLDER)
    except FileNotFoundError:
        return [], 0
    cutoff = timezone.now() - older_than
    removed: list[str] = []
    kept = 0
    for name in sorted(names):
        path = f"{UPLOAD_FOLDER}/{name}"
        try:
            stale = storage.get_modified_time(path) <= cutoff
        except FileNotFoundError:  # removed meanwhile (its import was confirmed)
            continue
        if stale:
            storage.delete(path)
            removed.append(name)
        else:
            kept += 1
    return removed, kept


# --- the run -----------------------------------------------------------------------------------


class ImportJob(Protocol):
    def run(self, positions: dict[str, int], rows: Iterator[tuple[int, Row]]) -> None: ...


def cell_at(row: Row, positions: dict[str, int], key: str) -> Cell:
    """The row's value in the column `key` (None when the file has no such column or the row ends early)."""
    index = positions.get(key)
    return row[index] if index is not None and index < len(row) else None


class ChunkedImportJob:
    """The row loop a programme's import job shares: each row is checked alone (`_cells`: the row's
    values, or None after reporting its errors), then the checked rows are processed in chunks of
    `chunk_size` with a fixed number of queries each (`_process`). Duplicate rows within the file
    are found with `first_row`."""

    chunk_size = 2000
    report: ImportReport

    def run(self, positions: dict[str, int], rows: Iterable[tuple[int, Row]]) -> None:
        chunk: list[tuple[int, dict[str, Any]]] = []
        for number, row in rows:
            self.report.rows_total += 1
            values = self._cells(number, row, positions)
            if values is not None:
                chunk.append((number, values))
            if len(chunk) >= self.chunk_size:
                self._process(chunk)
                chunk = []
        if chunk:
            self._process(chunk)

    def _cells(self, number: int, row: Row, positions: dict[str, int]) -> dict[str, Any] | None:
        raise NotImplementedError

    def _process(self, chunk: list[tuple[int, dict[str, Any]]]) -> None:
        raise NotImplementedError

    @staticmethod
    def first_row[K](seen: dict[K, int], key: K, number: int) -> int | None:
        """The row that already had `key` (None when this row is the first)."""
        first = seen.setdefault(key, number)
        return None if first == number else first


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
    error or in a dry run), the header check, the limits on rows, columns and cell lengths
    (`import_limits()`), and the report. `lock` serialises imports of a kind."""
    from .models import ImportBatch

    limits = import_limits()
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
        check_width(1, header, limits)
        positions = map_columns(header, columns, report)
        if positions is not None:
            with transaction.atomic():
                lock()
                numbered = iterate_numbered(rows, on_progress, limits)
                make_job(report, batch).run(
                    positions, within_lengths(numbered, positions, columns, limits, report)
                )
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


class AnyOf(models.lookups.In):
    """`column IN (…)` for the long lists an import looks up per chunk (2,000 codes or ID numbers).

    On PostgreSQL it is sent as `column = ANY(%s)` with the list as one array parameter, instead of
    2,000 placeholders that Django prepares and psycopg splits out one by one (≈ 7 ms of CPU a query
    on the client); the server plans both the same way (an index scan per value). Elsewhere it is
    Django's own IN. Use it as a filter: `Household.objects.filter(any_of("code", codes))`.
    """

    def as_postgresql(self, compiler: Any, connection: Any) -> tuple[str, tuple[Any, ...]]:
        if not self.rhs_is_direct_value():
            return cast(tuple[str, tuple[Any, ...]], self.as_sql(compiler, connection))
        field = self.lhs.output_field
        values = [
            field.get_db_prep_value(value, connection, prepared=True)
            for value in dict.fromkeys(self.rhs)
            if value is not None
        ]
        if not values:
            raise EmptyResultSet
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s)", (*lhs_params, values)


def any_of(field_name: str, values: Iterable[Any]) -> AnyOf:
    """A filter: the rows whose `field_name` is one of `values` (see `AnyOf`)."""
    return AnyOf(models.F(field_name), list(values))


def insert_rows(model: Any, fields: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """INSERT many rows of `model` without building model instances (audit rows of bulk imports).

    Portable SQL through Django's cursor; each value goes through its field's own
    `get_db_prep_save`, so JSON, dates and booleans are stored exactly as the ORM would store them.
    """
    from django.db import DEFAULT_DB_ALIAS, connections

    # The connection itself, not `django.db.connection`: that proxy looks the connection up again on
    # every attribute a field's conversion reads (`connection.ops`), once per row and column.
    connection = connections[DEFAULT_DB_ALIAS]
    opts = model._meta
    columns = [opts.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    head = "INSERT INTO {} ({}) VALUES ".format(
        quote(opts.db_table), ", ".join(quote(f.column) for f in columns)
    )
    one = "(" + ", ".join(["%s"] * len(columns)) + ")"

    # Text, integers, booleans and ids go to the driver as they are; dates, JSON and decimals need
    # their field's conversion (time zone, JSON encoding, quantisation), exactly as the ORM does it.
    converting = (models.DateField, models.JSONField, models.DecimalField)

    def prep(field: Any) -> Callable[[Any], Any] | None:
        if not isinstance(field, converting):
            return None
        convert = functools.partial(field.get_db_prep_save, connection=connection)
        # A bulk import stamps every row with one `now`: a date column converts it once, not per row.
        return _LastValue(convert) if isinstance(field, models.DateField) else convert

    preps = [prep(field) for field in columns]
    if connection.vendor == "postgresql":
        _copy_rows(opts.db_table, [f.column for f in columns], preps, rows)
        return
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


class _LastValue:
    """`convert`, remembering its last argument (held, so its identity cannot be reused) and result."""

    def __init__(self, convert: Callable[[Any], Any]) -> None:
        self.convert = convert
        self.value: Any = self  # nothing yet: no caller passes this object
        self.result: Any = None

    def __call__(self, value: Any) -> Any:
        if value is not self.value:
            self.result = self.convert(value)
            self.value = value
        return self.result


def _copy_rows(
    table: str, columns: Sequence[str], preps: Sequence[Any], rows: Iterable[Sequence[Any]]
) -> None:
    """PostgreSQL: the rows through `COPY … FROM STDIN` (psycopg 3), one statement whatever their number.

    The server parses COPY's stream far faster than multi-row INSERTs (issue 14: the roster import
    on PostgreSQL spent most of its time in the server). Values are adapted by psycopg as for an
    INSERT (JSON through the field's own `Jsonb` wrapper). The statement is added to Django's query
    log when it is kept (DEBUG, `CaptureQueriesContext`), so query counts stay honest.
    """
    from django.db import connection

    quote = connection.ops.quote_name
    sql = "COPY {} ({}) FROM STDIN".format(quote(table), ", ".join(quote(c) for c in columns))
    rows = iter(rows)
    first = next(rows, None)
    if first is None:
        return  # as the INSERT path: no statement for nothing
    width = len(columns)
    converting = [(index, prep) for index, prep in enumerate(preps) if prep is not None]
    started = time.monotonic()
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for row in itertools.chain([first], rows):
            if len(row) != width:
                raise ValueError(f"{table}: a row of {len(row)} values for {width} columns")
            if converting:
                row = list(row)
                for index, prep in converting:
                    row[index] = prep(row[index])
            copy.write_row(row)
    if connection.queries_logged:
        connection.queries_log.append({"sql": sql, "time": f"{time.monotonic() - started:.3f}"})


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
