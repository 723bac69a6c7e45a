"""Every spreadsheet the project writes goes through `households.xlsx` (issue 10).

Hostile names go through every export — the 补助测算表 (command and admin download), the dashboard
download and the 户花名册 admin export — and come out as text: no cell is a formula, the text is the
name as stored, and a name that a spreadsheet would read as a formula when typed (`= + - @`, tab,
CR) carries the quote-prefix flag instead of a visible apostrophe. The one change a name can
undergo is XML's: a carriage return is read back as a line feed. Money cells are numbers in
`#,##0.00`; each sheet prints A4 landscape, one page wide, with the header row repeated, and the
downloads are named in Chinese with RFC 6266's `filename*=`.
"""

from __future__ import annotations

import datetime
import io
import shutil
import subprocess
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import openpyxl
import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client

from households.files import file_url
from households.imports import sha256_of
from households.models import Household, Job, Role, User, Village
from households.roster import roster_import
from households.xlsx import (
    FORMULA_STARTS,
    MONEY_FORMAT,
    ColumnSpec,
    Kind,
    SheetSpec,
    display_width,
    file_name,
    write_table,
    write_workbook,
)
from subsidies.plan_import import plan_import

from ..factories import make_user, roster_row, xlsx_bytes

pytestmark = pytest.mark.django_db

LONG = "=" + "扎" * 31  # names are at most 32 characters
HOSTILE = [
    '=HYPERLINK("http://x","y")',
    "+1+1",
    "-2+3",
    "@SUM(A1)",
    "\t=1",
    "\r=1",
    LONG,
    "农布次仁",
    "阿旺次仁多吉",
]
# The roster import trims a cell (as Excel users expect), so these two are stored directly.
NOT_IMPORTABLE = {"\t=1", "\r=1"}
HOSTILE_GROUPS = ["=1+1", "@SUM(A1)"]
PLAN_HEADER = ["户编号", "年度", "种植品种", "种植面积（亩）", "养殖品种", "养殖数量"]
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def shown(name: str) -> str:
    """The text a reader gets back: XML turns a carriage return into a line feed."""
    return name.replace("\r", "\n")


def rfc6266(name: str) -> str:
    return f"attachment; filename*=utf-8''{quote(name)}"


@pytest.fixture
def hostile_city(import_rows: Any) -> dict[str, Household]:
    """One household per hostile name in 红坡村 (建塘镇), in the hostile 村民小组, each with a plan."""
    rows = [
        roster_row(
            户编号=f"Z{i:02d}",
            户主姓名="占位" if name in NOT_IMPORTABLE else name,
            村民小组=HOSTILE_GROUPS[i % len(HOSTILE_GROUPS)],
        )
        for i, name in enumerate(HOSTILE)
    ]
    report = import_rows(rows)
    assert report.ok, [str(e) for e in report.errors]
    for i, name in enumerate(HOSTILE):
        if name in NOT_IMPORTABLE:
            Household.objects.filter(code=f"Z{i:02d}").update(head_name=name)
    plans = [[f"Z{i:02d}", 2017, "青稞", 1.5, "猪", 3] for i in range(len(HOSTILE))]
    data = xlsx_bytes(plans, PLAN_HEADER)
    sheet = openpyxl.load_workbook(io.BytesIO(data), read_only=True).worksheets[0]
    values = sheet.iter_rows(values_only=True)
    report = plan_import(
        header=next(values),
        rows=values,
        actor=None,
        file_name="plans.xlsx",
        file_sha256=sha256_of(io.BytesIO(data)),
        dry_run=False,
    )
    assert report.ok, [str(e) for e in report.errors]
    return {h.head_name: h for h in Household.objects.filter(code__startswith="Z")}


# --- what every file must satisfy -----------------------------------------------------------------


def no_formula_anywhere(data: bytes) -> None:
    """No cell is a formula: neither as openpyxl reads it nor in the sheets' XML (no `<f>` element)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for part in archive.namelist():
            if part.startswith("xl/worksheets/") and part.endswith(".xml"):
                assert b"<f>" not in archive.read(part) and b"<f " not in archive.read(part), part
    book = openpyxl.load_workbook(io.BytesIO(data))
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str) and cell.value[:1] in FORMULA_STARTS | {"\n"}:
                    assert cell.data_type == "s" and cell.quotePrefix, (cell.coordinate, cell.value)


def texts_of(sheet: Any, column: int) -> list[Any]:
    return [row[column - 1].value for row in sheet.iter_rows(min_row=2)]


def assert_print_layout(sheet: Any, *, title: str, issuer: str) -> None:
    assert sheet.print_title_rows == "$1:$1"  # the header row on every printed page
    assert sheet.freeze_panes == "B2"
    setup = sheet.page_setup
    assert (setup.orientation, setup.paperSize) == ("landscape", 9)  # A4
    assert (setup.fitToWidth, setup.fitToHeight) == (1, 0)  # one page wide, as tall as needed
    assert sheet.sheet_properties.pageSetUpPr.fitToPage
    assert sheet.print_options.gridLines
    assert sheet.oddHeader.center.text == title
    assert sheet.oddHeader.left.text == f"制表单位：{issuer}"
    assert sheet.oddFooter.center.text == "第 &P 页 / 共 &N 页"
    assert sheet.page_margins.top > sheet.page_margins.header  # room for the page header
    for letter, dimension in sheet.column_dimensions.items():
        assert dimension.width and dimension.width >= 6, letter


def assert_money(sheet: Any, columns: range) -> None:
    for row in sheet.iter_rows(min_row=2):
        for index in columns:
            cell = row[index - 1]
            if cell.value is None:
                continue
            assert cell.data_type == "n" and isinstance(cell.value, int | float), (
                cell.coordinate,
                cell.value,
            )
            assert cell.number_format == MONEY_FORMAT, cell.coordinate


# --- 补助测算表 --------------------------------------------------------------------------------------


def check_entitlements(data: bytes, *, title: str, issuer: str) -> None:
    no_formula_anywhere(data)
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    assert sheet is not None
    names = texts_of(sheet, 2)
    assert names[-1] is None and texts_of(sheet, 1)[-1] == "合计"
    assert sorted(n for n in names if n) == sorted(shown(n) for n in HOSTILE)
    assert_money(sheet, range(5, 11))
    total = [c.value for c in sheet[sheet.max_row]]
    assert Decimal(str(total[6])) == Decimal("2250.00") * len(HOSTILE)  # 青稞 1.5 亩 750 + 猪 3 头 1,500
    assert_print_layout(sheet, title=title, issuer=issuer)
    widths = {letter: d.width for letter, d in sheet.column_dimensions.items()}
    assert widths["A"] >= display_width("Z00") + 1 and widths["B"] >= display_width("阿旺次仁多吉") + 1
    # A 32-character name would make the column as wide as the rest of the table: it wraps instead.
    assert widths["B"] < display_width(LONG)
    assert all(c.alignment.wrap_text for c in sheet["B"][1:] if c.value)


def test_the_entitlements_command_writes_names_as_text(hostile_city: Any, tmp_path: Path) -> None:
    output = tmp_path / "补助测算表.xlsx"
    call_command("export_entitlements", "--year", "2017", "--output", str(output), stdout=io.StringIO())
    check_entitlements(
        output.read_bytes(), title="2017年补助测算表（全市）", issuer="香格里拉市产业扶贫指挥部"
    )


def test_the_admin_entitlements_download_is_text_and_named_in_chinese(
    hostile_city: Any, django_capture_on_commit_callbacks: Any
) -> None:
    client = Client()
    client.force_login(make_user(Role.TOWNSHIP))
    with django_capture_on_commit_callbacks(execute=True):  # a township's table: a background job
        client.post("/admin/subsidies/householdplan/entitlements/", {"year": 2017})
    response = client.get(file_url(Job.objects.get(), "file"))  # type: ignore[arg-type]
    assert response.status_code == 200
    assert response["Content-Type"] == XLSX_TYPE
    assert response["Content-Disposition"] == rfc6266("2017年补助测算表-建塘镇.xlsx")
    assert b"=?utf-8?" not in response.serialize_headers()  # not RFC 2047
    data = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    check_entitlements(data, title="2017年补助测算表（建塘镇）", issuer="建塘镇人民政府")
    village = Client()  # a village's table is small: downloaded at once, named likewise
    village.force_login(make_user(Role.VILLAGE))
    direct = village.get("/admin/subsidies/householdplan/entitlements/?year=2017")
    assert direct["Content-Disposition"] == rfc6266("2017年补助测算表-红坡村.xlsx")
    check_entitlements(direct.content, title="2017年补助测算表（红坡村）", issuer="红坡村村民委员会")


# --- the dashboard ----------------------------------------------------------------------------------


def test_the_dashboard_download_writes_group_names_as_text(hostile_city: Any) -> None:
    client = Client()
    client.force_login(make_user(Role.VILLAGE))  # 红坡村: one row per 村民小组
    response = client.get("/dashboard/xlsx/?year=2017")
    assert response.status_code == 200
    assert response["Content-Disposition"] == rfc6266("2017年度产业扶持进度-红坡村.xlsx")
    no_formula_anywhere(response.content)
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    for sheet in book.worksheets:
        assert sheet["A1"].value == "村民小组"
        groups = texts_of(sheet, 1)
        assert set(HOSTILE_GROUPS) <= set(groups) and groups[-1] == "合计"
        headers = [c.value for c in sheet[1]]
        money = [i for i, h in enumerate(headers, start=1) if h and "（元）" in h]
        assert money, headers
        for index in money:
            assert_money(sheet, range(index, index + 1))
        assert_print_layout(sheet, title=f"{sheet.title}（红坡村各村民小组）", issuer="红坡村村民委员会")


def test_the_dashboard_download_of_the_city_is_named_for_the_city(hostile_city: Any) -> None:
    client = Client()
    client.force_login(make_user(Role.CITY))
    response = client.get("/dashboard/xlsx/?year=2017")
    assert response["Content-Disposition"] == rfc6266("2017年度产业扶持进度-全市.xlsx")
    village = Village.objects.get(name="红坡村")
    response = client.get(f"/dashboard/xlsx/?year=2017&village={village.pk}")
    assert response["Content-Disposition"] == rfc6266("2017年度产业扶持进度-红坡村.xlsx")
    no_formula_anywhere(response.content)
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).worksheets[0]
    assert sheet.oddHeader.left.text == "制表单位：香格里拉市产业扶贫指挥部"  # who downloads it


# --- 户花名册 --------------------------------------------------------------------------------------

EXPORT_FIELDS = (
    "code",
    "head_name",
    "id_number",
    "township",
    "village",
    "group",
    "size",
    "labour",
    "exit_year",
    "consolidation",
    "phone",
    "cadre_name",
    "cadre_phone",
)


def export_roster(user: User) -> Any:
    client = Client()
    client.force_login(user)
    return client.post(
        "/admin/households/household/export/",
        {"format": "0", "resource": "0", **{f"householdresource_{f}": "on" for f in EXPORT_FIELDS}},
    )


def test_the_roster_export_keeps_names_as_text_and_re_imports_unchanged(hostile_city: Any) -> None:
    assert settings.IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT is True  # for any export tablib writes
    township = make_user(Role.TOWNSHIP)
    response = export_roster(township)
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Disposition"] == rfc6266("户花名册-建塘镇.xlsx")
    assert b"=?utf-8?" not in response.serialize_headers()
    data = response.content
    no_formula_anywhere(data)
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    assert sheet is not None
    header = [c.value for c in sheet[1]]
    assert header[:3] == ["户编号", "户主姓名", "身份证号"]
    by_code = {row[0]: row for row in sheet.iter_rows(min_row=2, values_only=True)}
    for name, household in hostile_city.items():
        row = by_code[household.code]
        assert row[1] == shown(name)  # exactly the name: no apostrophe, no "=" dropped
        assert row[5] == household.group.name  # 村民小组 =1+1 is text too
        assert row[6:9] == (household.size, household.labour, household.exit_year)  # numeric cells
    assert_print_layout(sheet, title="户花名册（建塘镇）", issuer="建塘镇人民政府")

    # Re-imported as it is, the file changes nothing but the two names the import trims.
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    values = book.worksheets[0].iter_rows(values_only=True)
    report = roster_import(
        header=next(values),
        rows=values,
        actor=township,
        file_name="户花名册-建塘镇.xlsx",
        file_sha256=sha256_of(io.BytesIO(data)),
        dry_run=True,
    )
    assert report.ok, [str(e) for e in report.errors]
    assert report.rows_new == 0
    assert report.rows_updated == len(NOT_IMPORTABLE)


def test_the_roster_export_of_the_city_is_named_for_the_city(hostile_city: Any) -> None:
    response = export_roster(make_user(Role.CITY))
    assert response["Content-Disposition"] == rfc6266("户花名册-全市.xlsx")
    no_formula_anywhere(response.content)


# --- the writer itself ------------------------------------------------------------------------------


def test_widths_count_cjk_double_and_follow_the_content() -> None:
    assert display_width("农布次仁") == 8
    assert display_width("5334011010010001") == 16
    assert display_width("ＡＢ") == 4  # full-width
    out = io.BytesIO()
    write_table(
        out,
        title="测试",
        issuer="测试单位",
        columns=[ColumnSpec("户编号"), ColumnSpec("户主姓名"), ColumnSpec("金额", Kind.MONEY)],
        rows=[["5334011010010001", "阿旺次仁多吉", Decimal("1234567.50")], ["1", "扎西", Decimal(0)]],
        total_row=["合计", "", Decimal("1234567.50")],
    )
    sheet = openpyxl.load_workbook(io.BytesIO(out.getvalue())).active
    assert sheet is not None
    widths = {letter: d.width for letter, d in sheet.column_dimensions.items()}
    assert widths["A"] >= 17 and widths["B"] >= 13 and widths["C"] >= len("1,234,567.50") + 1
    assert sheet["C2"].number_format == MONEY_FORMAT and sheet["C4"].font.b  # the 合计 row is bold


def test_a_streamed_total_is_written_after_the_rows_and_fits_its_column() -> None:
    seen: list[int] = []

    def rows() -> Any:
        for n in range(3):
            seen.append(n)
            yield [f"H{n}", Decimal("99999.99")]

    out = io.BytesIO()
    write_table(
        out,
        title="测试",
        issuer="测试单位",
        columns=[ColumnSpec("户编号"), ColumnSpec("金额", Kind.MONEY)],
        rows=rows(),
        total_row=lambda: ["合计", Decimal("99999.99") * len(seen)],
    )
    sheet = openpyxl.load_workbook(io.BytesIO(out.getvalue())).active
    assert sheet is not None
    assert sheet["B5"].value == pytest.approx(299999.97)
    assert sheet.column_dimensions["B"].width >= len("299,999.97") + 1


def test_kinds_and_characters_xml_cannot_hold() -> None:
    out = io.BytesIO()
    write_workbook(
        out,
        issuer="测试单位",
        sheets=[
            SheetSpec(
                name="a/b:c*",  # characters a sheet name may not have
                title="测试 & 标题",
                columns=[
                    ColumnSpec("姓名"),
                    ColumnSpec("人口", Kind.INT),
                    ColumnSpec("日期", Kind.DATE),
                    ColumnSpec("金额", Kind.MONEY),
                ],
                rows=[["扎西\x07", 4, datetime.date(2017, 4, 15), "待定"], [None, None, None, None]],
            ),
            SheetSpec(name="a/b:c*", title="第二张", columns=[ColumnSpec("姓名")], rows=[["-1"]]),
        ],
    )
    no_formula_anywhere(out.getvalue())
    book = openpyxl.load_workbook(io.BytesIO(out.getvalue()))
    first, second = book.worksheets
    assert (first.title, second.title) == ("a_b_c_", "a_b_c_(2)")
    assert first["A2"].value == "扎西\ufffd"
    assert first["B2"].value == 4 and first["B2"].data_type == "n"
    assert first["C2"].is_date and first["C2"].number_format == "yyyy-mm-dd"
    assert first["D2"].value == "待定" and first["D2"].data_type == "s"  # not a number: kept as text
    assert first.oddHeader.center.text == "测试 && 标题"  # "&" starts a code in a page header
    assert second["A2"].value == "-1" and second["A2"].quotePrefix


def test_file_names_keep_chinese_and_drop_what_file_systems_refuse() -> None:
    assert file_name("2017年补助测算表", "建塘镇") == "2017年补助测算表-建塘镇.xlsx"
    assert file_name("户花名册", 'a/b:"c"') == "户花名册-a_b_c_.xlsx"


def test_libreoffice_shows_the_text_and_evaluates_nothing(tmp_path: Path) -> None:
    """Opened in LibreOffice (scripts/test installs libreoffice-calc-nogui), no name becomes a formula."""
    assert shutil.which("soffice"), "apt-get install libreoffice-calc-nogui (scripts/test does this)"
    names = [n for n in HOSTILE if "\r" not in n and "\t" not in n]
    source = tmp_path / "names.xlsx"
    with source.open("wb") as stream:
        write_table(
            stream,
            title="测试",
            issuer="测试单位",
            columns=[ColumnSpec("户主姓名"), ColumnSpec("金额", Kind.MONEY)],
            rows=[[name, Decimal(1000)] for name in names],
        )
    subprocess.run(
        [
            "soffice",
            f"-env:UserInstallation=file://{tmp_path / 'profile'}",
            "--headless",
            "--convert-to",
            "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,true",  # as shown (formatted)
            "--outdir",
            str(tmp_path),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    import csv

    with (tmp_path / "names.csv").open(encoding="utf-8") as shown_file:
        rows = list(csv.reader(shown_file))
    assert [row[0] for row in rows[1:]] == names  # "+1+1" is not 2, "=HYPERLINK" is no link
    assert {row[1] for row in rows[1:]} == {"1,000.00"}
