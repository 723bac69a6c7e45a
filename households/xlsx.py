"""The one xlsx writer: every spreadsheet the project hands out is written here.

Callers describe a table — its columns (`ColumnSpec`: label and kind), its rows, an optional 合计
row — and this module writes it with openpyxl's write-only workbook (rows are streamed: a table of
100,000 households costs little more than openpyxl writing the bare cells), with:

* **Text stays text, never a formula.** A text cell is written as an inline string cell (`t=
  "inlineStr"`, openpyxl `data_type "s"`) whatever its first character, so a household head named
  `=HYPERLINK(...)` is never stored as a formula (plain openpyxl turns any string starting with
  `=` into one). Values starting with `= + - @`, a tab or a carriage return (and their full-width
  forms) also get the *quote prefix* cell attribute (`quotePrefix="1"`): the flag Excel and
  LibreOffice set when someone types `'=1+1`. So the text is shown exactly as stored, with no
  visible apostrophe, and stays text if a user edits the cell and presses Enter. We do *not* prefix
  the value with a literal `'`: in an xlsx cell that apostrophe would be part of the text (shown,
  printed, and re-imported into the registry). The only change a value can undergo is XML's:
  a carriage return is read back as a line feed, and characters XML cannot carry (control
  characters other than tab, CR, LF) become U+FFFD.
* **Numbers stay numbers**: `int` and `money` columns hold numeric cells (Decimal included);
  money cells carry the number format `#,##0.00`; `date` cells `yyyy-mm-dd`.
* **The print layout an office files**: column widths from the content (a CJK character counts
  two), the header row bold, frozen and repeated on every printed page (print titles), A4
  landscape fitted to one page wide (as many pages tall as needed), the title and the issuing
  body in the page header, `第 &P 页 / 共 &N 页` in the footer, gridlines printed.

Widths are measured on the header, the first `WIDTH_SAMPLE` rows (buffered before the first row is
written: the widths must precede the rows in the file) and the 合计 row. A 合计 row given as a
callable (computed while the rows stream) is assumed to be at most the sum of each money or int
column: exact when the rows fit in the sample, and wide enough for 12 integer digits otherwise.
"""

from __future__ import annotations

import datetime
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache, partial
from itertools import chain, islice
from typing import IO, TYPE_CHECKING, Any

from django.utils import timezone

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from .models import Township, User, Village

CITY_ISSUER = "香格里拉市产业扶贫指挥部"
CITY_AREA = "全市"

MONEY_FORMAT = "#,##0.00"
DATE_FORMAT = "yyyy-mm-dd"
WIDTH_SAMPLE = 10_000  # rows measured for the column widths (the whole city has ≈ 6,000 households)
MIN_WIDTH = 6
MAX_WIDTH = 40  # wider text wraps (a 32-character name would take half a landscape page)
PADDING = 2
LARGE_TOTAL = Decimal("999999999999.99")  # the width a streamed 合计 gets when the sample was not all

# What spreadsheet programs read as the start of a formula when typed (OWASP "CSV injection").
FORMULA_STARTS = frozenset("=+-@\t\r＝＋－＠")
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_SHEET_NAME_UNSAFE = re.compile(r"[\[\]:*?/\\]")


class Kind(StrEnum):
    TEXT = "text"
    INT = "int"
    MONEY = "money"
    DATE = "date"


@dataclass(frozen=True)
class ColumnSpec:
    label: str
    kind: Kind = Kind.TEXT
    width: float | None = None  # in characters; None: measured from the header and the content


TotalRow = Sequence[Any] | Callable[[], Sequence[Any]] | None


@dataclass
class SheetSpec:
    """One sheet: a table under a title (printed in the page header)."""

    name: str
    title: str
    columns: Sequence[ColumnSpec]
    rows: Iterable[Sequence[Any]]
    total_row: TotalRow = None
    frozen_columns: int = 1  # the key column(s) stay in view when scrolling right


def write_table(
    stream: IO[bytes],
    *,
    title: str,
    issuer: str,
    columns: Sequence[ColumnSpec],
    rows: Iterable[Sequence[Any]],
    total_row: TotalRow = None,
    sheet_name: str | None = None,
    frozen_columns: int = 1,
    date: datetime.date | None = None,
) -> None:
    """One table on one sheet. `total_row` may be a callable, called once the rows are written."""
    sheet = SheetSpec(sheet_name or title, title, columns, rows, total_row, frozen_columns)
    write_workbook(stream, issuer=issuer, sheets=[sheet], date=date)


def write_workbook(
    stream: IO[bytes], *, issuer: str, sheets: Iterable[SheetSpec], date: datetime.date | None = None
) -> None:
    """Several tables, one sheet each (the dashboard: one per section)."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    titles = []
    for spec in sheets:
        _write_sheet(book, spec, issuer=issuer, date=date or timezone.localdate())
        titles.append(spec.title)
    if not titles:
        raise ValueError("a workbook needs at least one sheet")
    book.properties.title = titles[0]
    book.properties.creator = issuer
    book.save(stream)


# --- the user's area: for file names and page headers ---------------------------------------------


def _own_area(user: User | AnonymousUser) -> tuple[str, Township | None, Village | None]:
    """The user's role and own township / village (None where the role has none)."""
    role = str(getattr(user, "role", "") or "")
    return role, getattr(user, "township", None), getattr(user, "village", None)


def area_name(user: User | AnonymousUser) -> str:
    """The area a user's downloads cover, for file names: 全市, 建塘镇, 红坡村, or the cadre's households."""
    from .scoping import sees_everything

    if sees_everything(user):
        return CITY_AREA
    role, township, village = _own_area(user)
    if role == "village" and village is not None:
        return village.name
    if role == "township" and township is not None:
        return township.name
    if role == "cadre":
        return f"{getattr(user, 'display_name', '')}挂包户"
    return CITY_AREA


def issuer_for(user: User | AnonymousUser) -> str:
    """Who issues what the user downloads (制表单位 in the page header)."""
    from .scoping import sees_everything

    if sees_everything(user):
        return CITY_ISSUER
    role, township, village = _own_area(user)
    if role == "village" and village is not None:
        return village.committee
    if role == "township" and township is not None:
        return f"{township.name}人民政府"
    if role == "cadre":
        return f"挂包干部 {getattr(user, 'display_name', '')}"
    return CITY_ISSUER


def file_name(*parts: str, extension: str = "xlsx") -> str:
    """`2017年补助测算表`, `建塘镇` → `2017年补助测算表-建塘镇.xlsx`, without characters that file
    systems refuse (the name goes into `Content-Disposition` through Django's RFC 6266 helper)."""
    name = "-".join(re.sub(r'[\\/:*?"<>|\x00-\x1f]+', "_", part).strip() for part in parts if part)
    return f"{name}.{extension}"


# --- widths ---------------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def display_width(text: str) -> int:
    """Columns a text needs: CJK (wide and full-width) characters count two, combining marks none."""
    if text.isascii():
        return max((len(line) for line in text.splitlines()), default=0)
    widest = 0
    for line in text.splitlines():
        width = 0
        for char in line:
            if unicodedata.combining(char):
                continue
            width += 2 if unicodedata.east_asian_width(char) in "WF" else 1
        widest = max(widest, width)
    return widest


def _shown(value: Any, kind: Kind) -> str:
    if value is None:
        return ""
    if kind == Kind.MONEY and isinstance(value, int | float | Decimal):
        return f"{value:,.2f}"
    if kind == Kind.DATE and isinstance(value, datetime.date):
        return "0000-00-00"
    return str(value)


def _header_need(label: str) -> int:
    """A long heading wraps onto two lines rather than widening its column."""
    width = display_width(label)
    return width if width <= 16 else math.ceil(width / 2) + 1


def _widest(values: Iterable[Any], kind: Kind) -> int:
    """The width of the widest of `values` as the column shows them."""
    numbers: list[Any] = []
    texts: set[str] = set()
    for value in values:
        if kind in (Kind.MONEY, Kind.INT) and isinstance(value, int | float | Decimal):
            numbers.append(value)
        else:
            texts.add(_shown(value, kind))
    widest = max(map(display_width, texts), default=0)
    if numbers:
        # The widest number is the largest in magnitude, with its sign if any number is negative.
        sign = 1 if min(numbers) < 0 else 0
        widest = max(widest, display_width(_shown(max(numbers, key=abs), kind).lstrip("-")) + sign)
    return widest


def _measure(spec: SheetSpec, sample: list[Sequence[Any]], complete: bool) -> tuple[list[float], set[int]]:
    """The columns' widths, and the columns whose content is wider than `MAX_WIDTH` (they wrap)."""
    widths: list[float] = []
    wrapped: set[int] = set()
    total = spec.total_row if not callable(spec.total_row) else None
    for index, column in enumerate(spec.columns):
        if column.width is not None:
            widths.append(column.width)
            continue
        values = [row[index] for row in sample]
        need = max(_header_need(column.label), _widest(values, column.kind))
        if total is not None:
            need = max(need, _widest([total[index]], column.kind) + 1)  # bold
        elif callable(spec.total_row) and column.kind in (Kind.MONEY, Kind.INT):
            numbers = [abs(Decimal(v)) for v in values if isinstance(v, int | float | Decimal)]
            bound = sum(numbers, Decimal(0)) if complete else LARGE_TOTAL
            need = max(need, _widest([bound], column.kind) + 1)
        if need + PADDING > MAX_WIDTH and column.kind == Kind.TEXT:
            wrapped.add(index)
        widths.append(float(min(max(need + PADDING, MIN_WIDTH), MAX_WIDTH)))
    return widths, wrapped


# --- cells ----------------------------------------------------------------------------------------


class _CellMaker:
    """Turns a row's values into what openpyxl's write-only sheet appends, by column kind.

    Plain values are appended as they are (openpyxl reuses one cell for them); a value that needs a
    style or a forced type gets its own cell, whose style array is built once and shared. Text in a
    column narrower than its content (`wrapped`) wraps onto several lines.
    """

    def __init__(
        self, sheet: Any, columns: Sequence[ColumnSpec], *, bold: bool = False, wrapped: Iterable[int] = ()
    ) -> None:
        self.sheet = sheet
        self.cell_class = _cell_class()
        wrapped = set(wrapped)

        def style(**kwargs: Any) -> Any:
            return _style_of(sheet, bold=bold, **kwargs)

        self.plain = style() if bold else None
        self.money = style(number_format=MONEY_FORMAT)
        self.date = style(number_format=DATE_FORMAT)
        self.text = partial(self._text, plain=self.plain, quoted=style(quote=True))
        self.converters: list[Callable[[Any], Any]] = []
        for index, column in enumerate(columns):
            if column.kind == Kind.MONEY:
                self.converters.append(partial(self._number, style=self.money))
            elif column.kind == Kind.INT:
                self.converters.append(partial(self._number, style=self.plain))
            elif column.kind == Kind.DATE:
                self.converters.append(self._date)
            elif index in wrapped:
                self.converters.append(
                    partial(self._text, plain=style(wrap=True), quoted=style(quote=True, wrap=True))
                )
            else:
                self.converters.append(self.text)

    def row(self, values: Sequence[Any]) -> list[Any]:
        return [convert(value) for convert, value in zip(self.converters, values, strict=True)]

    def _cell(self, value: Any, style: Any) -> Any:
        cell = self.cell_class(self.sheet, row=1, column=1, value=value)
        cell._style = style  # shared, never changed after this
        return cell

    def _text(self, value: Any, *, plain: Any, quoted: Any) -> Any:
        if value is None or value == "":
            return self._cell(None, plain) if plain is not None else None
        text = value if isinstance(value, str) else str(value)
        if not text.isprintable():
            text = _NOT_XML.sub("\ufffd", text)
        if text[0] in FORMULA_STARTS:
            cell = self._cell(None, quoted)
            cell._value = text
            cell.data_type = "s"  # set after the value: openpyxl would make `=…` a formula
            return cell
        if plain is not None:
            return self._cell(text, plain)
        return text

    def _number(self, value: Any, *, style: Any) -> Any:
        if value is None or value == "":
            return self._cell(None, self.plain) if self.plain is not None else None
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
            return self.text(value)  # not a number after all: shown as the text it is
        if style is None:
            return value
        return self._cell(value, style)

    def _date(self, value: Any) -> Any:
        if isinstance(value, datetime.date):
            return self._cell(value, self.date)
        return self.text(value)


@lru_cache(maxsize=1)
def _cell_class() -> type:
    """openpyxl's Cell with a cheap `repr`: the write-only sheet tells an appended cell from a value
    by failing to bind it as a value, and formats the cell's `repr` into the error it then drops
    (about a microsecond a cell: a good part of what a styled money cell costs)."""
    from openpyxl.cell import Cell

    class QuickCell(Cell):
        __slots__ = ()

        def __repr__(self) -> str:
            return "<Cell>"

    return QuickCell


def _style_of(
    sheet: Any,
    *,
    bold: bool = False,
    number_format: str | None = None,
    quote: bool = False,
    wrap: bool = False,
) -> Any:
    """The style array of a cell so styled (registered in the workbook's style tables)."""
    from openpyxl.cell import Cell
    from openpyxl.styles import Alignment

    cell = Cell(sheet, row=1, column=1)
    if bold:
        cell.font = _bold_font()
    if number_format is not None:
        cell.number_format = number_format
    if quote:
        cell.quotePrefix = True
    if wrap:
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    return cell._style


# --- the sheet ------------------------------------------------------------------------------------


def _bold_font() -> Any:
    """The workbook's default font (Calibri 11), bold: a bare `Font(bold=True)` names no font, and
    LibreOffice then prints it in its default serif."""
    from openpyxl.styles import Font
    from openpyxl.styles.fonts import DEFAULT_FONT

    return Font(
        name=DEFAULT_FONT.name,
        sz=DEFAULT_FONT.sz,
        family=DEFAULT_FONT.family,
        scheme=DEFAULT_FONT.scheme,
        b=True,
    )


def _sheet_name(name: str, taken: set[str]) -> str:
    clean = _SHEET_NAME_UNSAFE.sub("_", name).strip("'") or "Sheet"
    clean = clean[:31]
    candidate, n = clean, 2
    while candidate.lower() in taken:
        suffix = f"({n})"
        candidate, n = clean[: 31 - len(suffix)] + suffix, n + 1
    taken.add(candidate.lower())
    return candidate


def _header_footer_text(text: str) -> str:
    return text.replace("&", "&&")


def _write_sheet(book: Any, spec: SheetSpec, *, issuer: str, date: datetime.date) -> None:
    from openpyxl.cell import Cell
    from openpyxl.styles import Alignment
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.page import PageMargins

    taken = {s.title.lower() for s in book.worksheets}
    sheet = book.create_sheet(_sheet_name(spec.name, taken))

    rows = iter(spec.rows)
    sample = list(islice(rows, WIDTH_SAMPLE))
    complete = len(sample) < WIDTH_SAMPLE
    widths, wrapped = _measure(spec, sample, complete)
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    header_lines = max(
        (
            math.ceil(display_width(c.label) / max(w - PADDING, 1))
            for c, w in zip(spec.columns, widths, strict=True)
        ),
        default=1,
    )
    if header_lines > 1:
        sheet.row_dimensions[1].height = 15 * header_lines + 4

    # Layout: what the sheet looks like on screen and on paper.
    sheet.freeze_panes = f"{get_column_letter(spec.frozen_columns + 1)}2"
    sheet.print_title_rows = "1:1"
    setup = sheet.page_setup
    setup.orientation = "landscape"
    setup.paperSize = 9  # A4
    setup.fitToWidth = 1
    setup.fitToHeight = 0  # as many pages tall as the rows need
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_options.gridLines = True
    sheet.print_options.gridLinesSet = True
    sheet.print_options.horizontalCentered = True
    sheet.page_margins = PageMargins(left=0.4, right=0.4, top=0.85, bottom=0.6, header=0.3, footer=0.25)
    header = sheet.HeaderFooter.oddHeader
    header.center.text = _header_footer_text(spec.title)
    header.center.size = 14
    header.center.font = "-,Bold"
    header.left.text = _header_footer_text(f"制表单位：{issuer}")
    header.right.text = f"导出日期：{date.isoformat()}"
    sheet.HeaderFooter.oddFooter.center.text = "第 &P 页 / 共 &N 页"

    bold = _bold_font()
    centred = Alignment(horizontal="center", vertical="center", wrap_text=True)
    head = []
    for column in spec.columns:
        cell = Cell(sheet, row=1, column=1)
        cell._value, cell.data_type = column.label, "s"
        cell.font, cell.alignment = bold, centred
        head.append(cell)
    sheet.append(head)

    maker = _CellMaker(sheet, spec.columns, wrapped=wrapped)
    for values in chain(sample, rows):
        sheet.append(maker.row(values))
    if spec.total_row is not None:
        total = spec.total_row() if callable(spec.total_row) else spec.total_row
        sheet.append(_CellMaker(sheet, spec.columns, bold=True, wrapped=wrapped).row(total))
