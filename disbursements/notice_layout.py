"""How a 公示 sheet goes onto A4 paper: which rows on which page, each page's 本页小计, the 合计.

WeasyPrint cannot write a running subtotal at the foot of every page of one long table, so the rows
are paginated here: every page is its own table (its header row, its rows, its 本页小计), the last
one also carries the 合计 of every money column, the notice period and the seal blocks.

Names, ID numbers, 村民小组 and amounts never wrap (`white-space: nowrap` in the template, each
column as wide as its widest cell in a fixed table layout); only the kind's one free-text column
(扶持项目, 原因) may, and a row's height is estimated from the width of its text. Pages hold a
budget of one-line rows, measured on the template (templates/notices/notice.html: A4 portrait,
8.5 pt table text). The renderer checks the plan against the laid-out document and paginates again
with a smaller budget should a sheet come out longer than planned.

Pure: no database, no Django.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from .money import ZERO, yuan

# One-line rows per page, measured on the template with tests/disbursements/test_notices.py's long
# names (at most 37 one-line rows fit under the title, 42 on a continuation page; the 合计, the
# period and the seals take 10), each less one line of margin. 90 one-line rows: 36 + 41 + 13.
FIRST_PAGE_LINES = 36
PAGE_LINES = 41
FOOTER_LINES = 11
MIN_LAST_ROWS = 5  # when the footer does not fit, this many rows go with it onto a last page

# The printed table (the template takes these numbers from here): A4 portrait, 10 mm side margins,
# 8.5 pt text, 0.8 mm side padding. Nine columns fit: a 6-character name and 村民小组, the masked ID
# number, five amounts up to 999,999.99, and the project in the rest.
FONT_PT = 8.5
SIDE_MARGIN_MM = 10
CELL_PADDING_MM = 0.8  # left and right; 0.9 mm above and below
EM_MM = FONT_PT * 25.4 / 72
TABLE_EM = (210 - 2 * SIDE_MARGIN_MM) / EM_MM
CELL_PADDING_EM = (2 * CELL_PADDING_MM + 0.25) / EM_MM  # both sides and the rule
SLACK_EM = 0.3  # so that an estimate a little short never wraps a name
EXTRA_LINE = 0.7  # a second line of text: 3.97 mm against a one-line row's 5.9 mm (rounded up)


# Advance widths of Noto Sans CJK SC in em, bold (the sums are bold), measured with fontTools; other
# Latin letters are taken as wide as an "M" would nearly be, on purpose.
NARROW = {**dict.fromkeys("0123456789", 0.59), "*": 0.51, ",": 0.33, ".": 0.33, " ": 0.25, "-": 0.4}


def text_em(text: str) -> float:
    """The width of `text` in em: a CJK character (or full-width sign) is 1 em, digits ≈ 0.59."""
    width = 0.0
    for char in text:
        if unicodedata.east_asian_width(char) in ("W", "F"):
            width += 1.0
        else:
            width += NARROW.get(char, 0.8)
    return width


def amount_of(cell: str) -> Decimal | None:
    """A printed amount ("1,500.00") back to Decimal; None for a cell that is not one."""
    try:
        value = Decimal(cell.replace(",", "").strip())
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def column_sums(rows: Sequence[Sequence[str]], columns: Sequence[int]) -> dict[int, Decimal]:
    """The sum of each money column, to the fen (Decimals, never floats)."""
    sums = dict.fromkeys(columns, ZERO)
    for row in rows:
        for column in columns:
            value = amount_of(row[column]) if column < len(row) else None
            if value is not None:
                sums[column] += value
    return sums


def column_widths(
    rows: Sequence[Sequence[str]], header: Sequence[str], wrap_column: int | None, totals: Sequence[str] = ()
) -> list[float]:
    """Each column's width in em, for a fixed table layout: every column as wide as its widest cell
    or its 合计 (it never wraps), the free-text column the rest of the page; without one, the spare
    width goes to every column in proportion."""
    widths = [text_em(label) for label in header]
    for row in [*rows, [""] * (len(header) - len(totals)) + list(totals)]:
        for index, cell in enumerate(row[: len(widths)]):
            widths[index] = max(widths[index], text_em(cell))
    widths = [w + CELL_PADDING_EM + SLACK_EM for w in widths]
    if wrap_column is not None:
        others = sum(w for i, w in enumerate(widths) if i != wrap_column)
        floor = text_em(header[wrap_column]) + CELL_PADDING_EM + SLACK_EM
        widths[wrap_column] = max(TABLE_EM - others, floor)
    elif sum(widths) < TABLE_EM:
        scale = TABLE_EM / sum(widths)
        widths = [w * scale for w in widths]
    return widths


def row_heights(
    rows: Sequence[Sequence[str]], widths: Sequence[float], wrap_column: int | None
) -> list[float]:
    """Each row's height in one-line rows: 1, and `EXTRA_LINE` for every further line its free-text
    cell wraps to (the padding and the rule are not repeated)."""
    if wrap_column is None:
        return [1.0] * len(rows)
    room = widths[wrap_column] - CELL_PADDING_EM
    return [1 + EXTRA_LINE * (max(1, math.ceil(text_em(row[wrap_column]) / room)) - 1) for row in rows]


@dataclass(frozen=True)
class Budget:
    first: int = FIRST_PAGE_LINES
    other: int = PAGE_LINES
    footer: int = FOOTER_LINES

    def tighter(self) -> Budget:
        return Budget(self.first - 2, self.other - 2, self.footer)


DEFAULT_BUDGET = Budget()


def paginate(heights: Sequence[float], budget: Budget = DEFAULT_BUDGET) -> list[list[int]]:
    """The row indexes of each page: fill every page, and leave room for the footer on the last."""
    pages: list[list[int]] = [[]]
    used = 0.0
    for index, height in enumerate(heights):
        capacity = budget.first if len(pages) == 1 else budget.other
        if pages[-1] and used + height > capacity:
            pages.append([])
            used = 0.0
        pages[-1].append(index)
        used += height
    capacity = budget.first if len(pages) == 1 else budget.other
    if used + budget.footer > capacity:
        # The footer does not fit under the last rows: a few of them go with it onto a new page.
        last = pages[-1]
        moved = max(1, min(MIN_LAST_ROWS, len(last) // 2))
        while moved > 1 and sum(heights[i] for i in last[-moved:]) + budget.footer > budget.other:
            moved -= 1
        pages[-1], tail = last[:-moved], last[-moved:]
        pages.append(tail)
        if not pages[-2]:
            pages.pop(-2)
    return pages


@dataclass(frozen=True)
class Page:
    """One printed page of a sheet: its rows, its 本页小计 and, on the last, the 合计."""

    number: int
    rows: list[list[str]]
    subtotals: list[str]  # one cell per column from the first amount column on ("" if not money)
    first: bool
    last: bool
    classes: Sequence[str] = ()  # each column's CSS class in the template (num, wrap, center)
    widths: Sequence[float] = ()  # each column's share of the table's width, in %

    @property
    def cells(self) -> list[list[tuple[str, str]]]:
        return [
            [(cell, self.classes[i] if i < len(self.classes) else "") for i, cell in enumerate(row)]
            for row in self.rows
        ]


def pages_of(
    rows: Sequence[Sequence[str]],
    *,
    header: Sequence[str],
    amount_from: int,
    money_columns: Sequence[int],
    wrap_column: int | None,
    classes: Sequence[str] = (),
    budget: Budget = DEFAULT_BUDGET,
) -> list[Page]:
    totals = totals_of(rows, header=header, amount_from=amount_from, money_columns=money_columns)
    widths = column_widths(rows, header, wrap_column, totals)
    plan = paginate(row_heights(rows, widths, wrap_column), budget) if rows else [[]]
    shares = [round(100 * w / sum(widths), 2) for w in widths]
    pages = []
    for number, indexes in enumerate(plan, start=1):
        chunk = [list(rows[i]) for i in indexes]
        sums = column_sums(chunk, money_columns)
        subtotals = [
            yuan(sums[column]) if column in sums else "" for column in range(amount_from, len(header))
        ]
        pages.append(Page(number, chunk, subtotals, number == 1, number == len(plan), classes, shares))
    return pages


def totals_of(
    rows: Sequence[Sequence[str]], *, header: Sequence[str], amount_from: int, money_columns: Sequence[int]
) -> list[str]:
    """The 合计 cells from the first amount column on: every money column summed over all rows."""
    sums = column_sums(rows, money_columns)
    return [yuan(sums[column]) if column in sums else "" for column in range(amount_from, len(header))]
