"""`read_xlsx` reads its own shared strings and shared-string cells (issue 14 goal 5: openpyxl builds
an object per string and a dict per cell); whatever the workbook holds, it must read the values
openpyxl's read-only reader reads."""

from __future__ import annotations

import datetime
import io
import re
import zipfile
from typing import Any

import openpyxl
import pytest
from openpyxl.cell.rich_text import CellRichText, TextBlock
from openpyxl.cell.text import InlineFont
from openpyxl.reader.strings import read_string_table

from households.imports import ImportFileError, _shared_strings, read_xlsx

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
SHEET = "xl/worksheets/sheet1.xml"
INLINE = re.compile(r'<c ([^>]*?)t="inlineStr"([^>]*)><is>(.*?)</is></c>')


def openpyxl_rows(data: bytes) -> list[tuple[Any, ...]]:
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    rows = [_trimmed(row) for row in book.worksheets[0].iter_rows(values_only=True)]
    book.close()
    return [row for row in rows if row]


def our_rows(data: bytes) -> list[tuple[Any, ...]]:
    header, rows = read_xlsx(io.BytesIO(data))
    return [row for row in (_trimmed(header), *(_trimmed(r) for r in rows)) if row]


def _trimmed(row: Any) -> tuple[Any, ...]:
    values = list(row)
    while values and values[-1] is None:
        values.pop()
    return tuple(values)


def _saved(book: openpyxl.Workbook) -> bytes:
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _parts(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        return {name: source.read(name) for name in source.namelist()}


def _zipped(parts: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name, content in parts.items():
            target.writestr(name, content)
    return out.getvalue()


def as_excel_saves_it(data: bytes) -> bytes:
    """openpyxl writes every string inline; Excel and WPS put them in the shared-string table."""
    parts = _parts(data)
    table: list[str] = []

    def shared(match: re.Match[str]) -> str:
        table.append(match.group(3))
        return f'<c {match.group(1)}t="s"{match.group(2)}><v>{len(table) - 1}</v></c>'

    parts[SHEET] = INLINE.sub(shared, parts[SHEET].decode()).encode()
    items = "".join(f"<si>{item}</si>" for item in table)
    parts["xl/sharedStrings.xml"] = f'<sst xmlns="{MAIN}" count="{len(table)}">{items}</sst>'.encode()
    parts["[Content_Types].xml"] = (
        parts["[Content_Types].xml"]
        .decode()
        .replace(
            "</Types>",
            '<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
        )
        .encode()
    )
    rels = "xl/_rels/workbook.xml.rels"
    parts[rels] = (
        parts[rels]
        .decode()
        .replace(
            "</Relationships>",
            '<Relationship Id="rIdStrings" Target="sharedStrings.xml" Type="http://schemas.'
            'openxmlformats.org/officeDocument/2006/relationships/sharedStrings"/></Relationships>',
        )
        .encode()
    )
    return _zipped(parts)


def test_every_kind_of_cell_reads_as_openpyxl_reads_it() -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["户编号", "户主姓名", "数", "日期", "布尔", "公式", "空白"])
    sheet.append(["5334210001", "农布次仁", 4, datetime.date(2017, 3, 1), True, "=1+1", "   "])
    at = datetime.datetime(2017, 3, 1, 8, 30)  # noqa: DTZ001 (a cell has no time zone)
    sheet.append([5334210002, "  扎西  ", 4.5, at, False, None, ""])
    sheet.append(["#N/A", "_x005F_x000D_", -3, datetime.time(8, 30), None, "x", "全角１２３"])
    sheet["B5"] = CellRichText(["卓玛", TextBlock(InlineFont(b=True), "（户主）")])
    sheet["D6"] = 12345678901234567890
    sheet["G7"] = "最后一列"
    inline = _saved(book)
    shared = as_excel_saves_it(inline)
    assert b't="s"' in _parts(shared)[SHEET] and b"<is>" not in _parts(shared)[SHEET]
    for data in (inline, shared):
        assert our_rows(data) == openpyxl_rows(data)
    assert our_rows(shared)[4][1] == "卓玛（户主）"


def test_cells_without_addresses_and_rows_without_numbers_read_as_openpyxl_reads_them() -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["户编号", "户主姓名", "家庭人口"])
    sheet.append(["A1", "农布次仁", 4])
    sheet.append(["A2", None, 5])
    parts = _parts(as_excel_saves_it(_saved(book)))
    xml = parts[SHEET].decode()
    # Excel may leave out a cell's r="B2" (cells follow on) and a row's r="2" (rows follow on).
    xml = xml.replace(' r="B2"', "").replace(' r="C2"', "").replace('<row r="3"', "<row")
    parts[SHEET] = xml.encode()
    data = _zipped(parts)
    assert our_rows(data) == openpyxl_rows(data)
    assert our_rows(data)[1] == ("A1", "农布次仁", 4)


@pytest.mark.parametrize(
    "items",
    [
        "<si><t>plain</t></si>",
        '<si><t xml:space="preserve">  spaced  </t></si>',
        "<si><t></t></si><si><t/></si><si/>",
        "<si><r><rPr><b/></rPr><t>卓玛</t></r><r><t>（户主）</t></r></si>",
        "<si><t>a</t><t>b</t></si>",  # openpyxl keeps the last plain text
        "<si><r><t>x</t><t>y</t></r><t>p</t></si>",  # plain text first, then the runs
        "<si><t>扎西_x005F_x000D_</t></si>",
        '<si><t>东</t><rPh sb="0" eb="1"><t>ドン</t></rPh><phoneticPr fontId="1"/></si>',
        "<si><r><t/></r><r><t>z</t></r></si>",
        "<si><t>a&amp;b &lt;c&gt;</t></si>",
    ],
)
def test_the_shared_strings_read_as_openpyxl_reads_them(items: str) -> None:
    table = f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{MAIN}">{items}</sst>'.encode()
    assert _shared_strings(io.BytesIO(table)) == read_string_table(io.BytesIO(table))


def test_a_cell_pointing_past_the_shared_strings_is_a_broken_file() -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["户编号", "户主姓名"])
    sheet.append(["A1", "农布次仁"])
    parts = _parts(as_excel_saves_it(_saved(book)))
    parts[SHEET] = parts[SHEET].replace(b"<v>3</v>", b"<v>999</v>")
    _header, rows = read_xlsx(io.BytesIO(_zipped(parts)))
    with pytest.raises(ImportFileError):
        list(rows)


def test_a_damaged_sheet_met_while_reading_is_a_clear_message_not_a_crash() -> None:
    """The compressed sheet damaged past its start: the zip opens, the error comes mid-stream."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["户编号", "户主姓名"])
    for n in range(3000):
        sheet.append([f"H{n}", "阿旺次仁多吉"])
    data = bytearray(_saved(book))
    data[data.find(b"xl/worksheets/sheet1.xml") + 200] ^= 0xFF
    with pytest.raises(ImportFileError, match="不是有效的 Excel 工作簿"):
        _header, rows = read_xlsx(io.BytesIO(bytes(data)))
        list(rows)
