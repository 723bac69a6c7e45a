"""Import limits (issue 10): hostile workbooks are refused early, with flat memory and a Chinese message;
long cells are row errors, never a database error; uploads do not outlive their import; the
import-export admin pages speak Chinese.

The hostile files are built here, in the test (nothing is committed): a zip bomb (one cell of 200 MB
of one letter, ≈ 200 KB zipped) and a sheet whose last row is 1,048,576 (a few hundred bytes).
"""

from __future__ import annotations

import io
import os
import re
import time
import tracemalloc
import zipfile
from collections.abc import Callable, Iterable, Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest
from django.core.management import call_command, execute_from_command_line
from django.core.management.base import CommandError
from django.test import Client

from households.admin_base import MSG_UPLOAD_GONE
from households.demo import ROSTER_HEADER
from households.imports import (
    UPLOAD_FOLDER,
    ImportReport,
    import_limits,
    read_xlsx,
    sha256_of,
    upload_storage,
)
from households.models import Household, ImportBatch, User
from households.roster import roster_import
from subsidies.plan_import import plan_import
from tests.factories import roster_row, xlsx_bytes

IMPORT_URL = "/admin/households/household/import/"
CONFIRM_URL = "/admin/households/household/process_import/"
SHEET = "xl/worksheets/sheet1.xml"
MB = 1024 * 1024
TIME_LIMIT = 2.0  # seconds, for refusing (or reading) a hostile file
MEMORY_LIMIT = 50 * MB  # peak traced by tracemalloc while doing it

pytestmark = pytest.mark.django_db


# --- building workbooks by hand ----------------------------------------------------------------------


def _cell(column: int, row: int, value: Any) -> str:
    letters = ""
    while column:
        column, rest = divmod(column - 1, 26)
        letters = chr(65 + rest) + letters
    ref = f"{letters}{row}"
    if isinstance(value, int):
        return f'<c r="{ref}"><v>{value}</v></c>'
    return f'<c r="{ref}" t="inlineStr"><is><t>{escape(str(value))}</t></is></c>'


def _row(number: int, values: Iterable[Any]) -> str:
    cells = "".join(_cell(i, number, v) for i, v in enumerate(values, start=1) if v is not None)
    return f'<row r="{number}">{cells}</row>'


def sheet_xml(rows: Iterable[str], dimension: str | None = None) -> Iterator[bytes]:
    yield b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    yield b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    if dimension:
        yield f'<dimension ref="{dimension}"/>'.encode()
    yield b"<sheetData>"
    for row in rows:
        yield row.encode()
    yield b"</sheetData></worksheet>"


def workbook(sheet_parts: Iterable[bytes]) -> bytes:
    """A real workbook (openpyxl's parts) whose first sheet is `sheet_parts`, written as it streams."""
    template = zipfile.ZipFile(io.BytesIO(xlsx_bytes([])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as book:
        for info in template.infolist():
            if info.filename != SHEET:
                book.writestr(info, template.read(info.filename))
        with book.open(SHEET, "w") as sheet:
            for part in sheet_parts:
                sheet.write(part)
    return out.getvalue()


@pytest.fixture(scope="module")
def zip_bomb() -> bytes:
    """A roster header, then one cell of 200 MB of 'A' in row 2: ≈ 200 KB zipped."""

    def parts() -> Iterator[bytes]:
        yield b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        yield b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        yield _row(1, ROSTER_HEADER).encode()
        yield b'<row r="2"><c r="A2" t="inlineStr"><is><t>'
        chunk = b"A" * MB
        for _ in range(200):
            yield chunk
        yield b"</t></is></c></row></sheetData></worksheet>"

    data = workbook(parts())
    assert len(data) < 300 * 1024
    return data


def million_row_sheet(last_row: str) -> bytes:
    """A header, one household, and row 1,048,576 (`last_row`): the dimension says A1:M1048576."""
    return workbook(
        sheet_xml(
            [_row(1, ROSTER_HEADER), _row(2, roster_row(户编号="M1")), last_row],
            dimension="A1:M1048576",
        )
    )


def measured(run: Callable[[], Any]) -> tuple[Any, float, int]:
    """(result, seconds, peak bytes traced): time without tracemalloc (it slows Python down), then
    memory in a second run."""
    started = time.perf_counter()
    result = run()
    seconds = time.perf_counter() - started
    tracemalloc.start()
    try:
        run()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, seconds, peak


def import_file(data: bytes, *, dry_run: bool = True, actor: User | None = None) -> ImportReport:
    """What `import_households` does with a file: read_xlsx, then the roster import."""
    stream = io.BytesIO(data)
    try:
        header, rows = read_xlsx(stream)
    except Exception as exc:  # ImportFileError: the message is the outcome
        report = ImportReport()
        report.add_error(0, "", "", exc.messages[0])  # type: ignore[attr-defined]
        return report
    return roster_import(
        header=header,
        rows=rows,
        actor=actor,
        file_name="x.xlsx",
        file_sha256=sha256_of(stream),
        dry_run=dry_run,
    )


def messages_of(report: ImportReport) -> str:
    return "\n".join(str(e) for e in report.errors)


# --- hostile files ---------------------------------------------------------------------------------


def test_a_zip_bomb_is_refused_before_it_is_unzipped(zip_bomb: bytes) -> None:
    report, seconds, peak = measured(lambda: import_file(zip_bomb))
    assert "已拒绝读取" in messages_of(report) and "解压后有 200 MB" in messages_of(report)
    assert seconds < TIME_LIMIT, seconds
    assert peak < MEMORY_LIMIT, peak / MB


def test_a_zip_bomb_within_the_part_limits_is_refused_while_it_streams(
    zip_bomb: bytes, settings: Any
) -> None:
    # Limits raised far enough for the part to be unzipped: the cell is refused after its first 256 KB.
    settings.IMPORT_LIMITS = {"MAX_PART_BYTES": 1024 * MB, "MAX_COMPRESSION_RATIO": 10**6}
    report, seconds, peak = measured(lambda: import_file(zip_bomb))
    assert messages_of(report) == (
        "文件中有超长的单元格（超过 Excel 允许的 32767 个字），不是正常的 Excel 工作簿，已拒绝读取。"
    )
    assert seconds < TIME_LIMIT, seconds
    assert peak < MEMORY_LIMIT, peak / MB
    assert not Household.objects.exists()


def test_an_absurd_compression_ratio_is_refused(settings: Any) -> None:
    # 20,000 rows of the same 13 long cells: 38 MB of XML zipped 45 times (real sheets: 5–20).
    settings.IMPORT_LIMITS = {"MAX_COMPRESSION_RATIO": 30}
    rows = [_row(1, ROSTER_HEADER)] + [_row(n, ["x" * 100] * 13) for n in range(2, 20_000)]
    data = workbook(sheet_xml(rows))
    report, seconds, peak = measured(lambda: import_file(data))
    assert "xl/worksheets/sheet1.xml 的压缩比高达 46 倍" in messages_of(report)
    assert seconds < TIME_LIMIT and peak < MEMORY_LIMIT, (seconds, peak / MB)


def test_a_sheet_ending_at_row_1048576_is_read_at_once(township_user: User) -> None:
    # The last row exists but is empty (as a formatted row would be): the one household is imported.
    data = million_row_sheet('<row r="1048576" ht="20" customHeight="1"/>')
    report, seconds, peak = measured(lambda: import_file(data, actor=township_user))
    assert report.ok and report.rows_new == 1, messages_of(report)
    assert seconds < TIME_LIMIT, seconds
    assert peak < MEMORY_LIMIT, peak / MB


def test_content_in_row_1048576_is_refused_at_once(township_user: User) -> None:
    data = million_row_sheet(_row(1048576, ["stray"]))
    assert len(data) < 8 * 1024
    report, seconds, peak = measured(lambda: import_file(data, actor=township_user))
    assert messages_of(report) == (
        "第 1,048,576 行有内容，但工作表最多 200,000 行数据（第 2 至第 200,001 行）。请删除多余的行后再导入。"
    )
    assert seconds < TIME_LIMIT, seconds
    assert peak < MEMORY_LIMIT, peak / MB


def test_rows_are_counted_while_read_and_stop_after_the_limit(settings: Any, township_user: User) -> None:
    settings.IMPORT_LIMITS = {"MAX_ROWS": 3}
    three = xlsx_bytes([roster_row() for _ in range(3)])
    assert import_file(three, actor=township_user).ok
    report = import_file(xlsx_bytes([roster_row() for _ in range(4)]), actor=township_user)
    assert messages_of(report) == (
        "工作表超过 3 行（不含表头，带格式的空行也算在内）。请拆分成几个文件，或删除数据下方多余的行后再导入。"
    )
    # Formatted empty rows cost a read too: a million of them are not read to the end.
    blank_rows = workbook(
        sheet_xml([_row(1, ROSTER_HEADER)] + [f'<row r="{n}" s="1"/>' for n in range(2, 10)])
    )
    assert "工作表超过 3 行" in messages_of(import_file(blank_rows, actor=township_user))


def test_a_row_of_more_cells_than_excel_has_is_refused_with_flat_memory() -> None:
    wide = '<row r="2">' + "<c/>" * 100_000 + "</row>"
    data = workbook(sheet_xml([_row(1, ROSTER_HEADER), wide]))
    report, seconds, peak = measured(lambda: import_file(data))
    assert "一行中的单元格超过 16384 个" in messages_of(report)
    assert seconds < TIME_LIMIT and peak < MEMORY_LIMIT, (seconds, peak / MB)


def test_a_sheet_with_a_dtd_is_refused() -> None:
    parts = [
        b'<?xml version="1.0"?><!--' + b" " * 100_000 + b'--><!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa">]>',
        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>',
        _row(1, ROSTER_HEADER).encode(),
        b"</sheetData></worksheet>",
    ]
    assert "含有 DTD" in messages_of(import_file(workbook(parts)))


def test_a_bloated_stylesheet_is_refused_before_it_is_parsed() -> None:
    # openpyxl parses styles.xml whole, as one tree: it gets a tighter bound than a worksheet.
    template = zipfile.ZipFile(io.BytesIO(xlsx_bytes([roster_row()])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as book:
        for info in template.infolist():
            if info.filename != "xl/styles.xml":
                book.writestr(info, template.read(info.filename))
        with book.open("xl/styles.xml", "w") as styles:
            styles.write(b'<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">')
            for n in range(400_000):
                styles.write(b'<numFmt numFmtId="%d" formatCode="0.%d"/>' % (n, n))
            styles.write(b"</styleSheet>")
    report, seconds, peak = measured(lambda: import_file(out.getvalue()))
    assert messages_of(report) == (
        "文件中的 xl/styles.xml 解压后有 18.5 MB，超过上限 8 MB，已拒绝读取。请在 Excel 中打开后“另存为 .xlsx”再导入。"
    )
    assert seconds < TIME_LIMIT and peak < MEMORY_LIMIT, (seconds, peak / MB)


def test_too_many_columns_are_refused() -> None:
    header = [*ROSTER_HEADER, *(f"备注{n}" for n in range(1, 29))]  # 13 + 28 = 41 columns
    assert len(header) == 41 and import_limits().max_columns == 40
    report = import_file(xlsx_bytes([], header))
    assert messages_of(report) == (
        "第 1 行第 AO 列有内容，但工作表最多 40 列（A 至 AN 列）。请删除多余的列后再导入。"
    )
    # In a data row too (the header has 13 columns); empty columns beyond do not count.
    row = roster_row() + [None] * 27 + ["多余"]
    assert "第 2 行第 AO 列有内容" in messages_of(import_file(xlsx_bytes([row])))
    assert import_file(xlsx_bytes([roster_row() + [None] * 30])).ok


# --- long cells: a row error, on SQLite and PostgreSQL alike -------------------------------------------


LONG_NAME_ERROR = "第 3 行 户主姓名：内容过长（300 个字），不能超过 32 个字。"


def test_a_300_character_name_is_a_row_error_in_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "roster.xlsx"
    path.write_bytes(xlsx_bytes([roster_row(户编号="L1"), roster_row(户编号="L2", 户主姓名="扎" * 300)]))
    with pytest.raises(CommandError, match="导入未完成：1 处错误。"):
        call_command("import_households", str(path), "--no-progress")
    assert LONG_NAME_ERROR in capsys.readouterr().out
    # From the shell: exit status 1, the row named, no traceback (DataError on PostgreSQL before).
    # (run_from_argv closes the connections when done: not the test's, which holds its transaction.)
    monkeypatch.setattr("django.core.management.base.connections.close_all", lambda: None)
    with pytest.raises(SystemExit) as exited:
        execute_from_command_line(["manage.py", "import_households", str(path), "--no-progress"])
    assert exited.value.code == 1
    out, err = capsys.readouterr()
    assert LONG_NAME_ERROR in out and "Traceback" not in out + err and "DataError" not in out + err
    assert not Household.objects.exists()


def test_each_column_is_held_to_its_field_and_the_general_limit(township_user: User) -> None:
    rows = [
        roster_row(户编号="C" * 33),
        roster_row(联系电话="1" * 21),
        roster_row(家庭人口="9" * 201),
        roster_row(户主姓名="  扎西  "),  # trimmed before it is measured (and stored)
    ]
    report = import_file(xlsx_bytes(rows), actor=township_user)
    assert [str(e) for e in report.errors] == [
        "第 2 行 户编号：内容过长（33 个字），不能超过 32 个字。",
        "第 3 行 联系电话：内容过长（21 个字），不能超过 20 个字。",
        "第 4 行 家庭人口：内容过长（201 个字），不能超过 200 个字。",
    ]


def test_a_long_plan_cell_is_a_row_error() -> None:
    report = plan_import(
        header=["户编号", "年度", "种植品种", "种植面积（亩）"],
        rows=iter([("H1", 2017, "青稞" * 40, 2)]),
        actor=None,
        file_name="plans.xlsx",
        file_sha256="",
        dry_run=True,
    )
    assert messages_of(report) == "第 2 行 种植品种：内容过长（80 个字），不能超过 64 个字。"


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(
    settings: Any, tmp_path: Path, city_user: User
) -> None:
    data = xlsx_bytes([roster_row() for _ in range(200)])
    assert len(data) > 10 * 1024
    settings.IMPORT_LIMITS = {"MAX_FILE_BYTES": 10 * 1024}
    message = f"文件过大（{-(-len(data) // 1024)} KB），不能超过 10 KB。请拆分成几个文件分别导入。"
    path = tmp_path / "big.xlsx"
    path.write_bytes(data)
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("import_households", str(path), "--no-progress")
    client = Client()
    client.force_login(city_user)
    page = upload(client, data).content.decode()
    assert message in page and "确认导入" not in page
    assert stored_uploads() == []  # never written to the import storage
    assert not ImportBatch.objects.exists()


# --- the admin: upload, preview, confirm --------------------------------------------------------------


def upload(client: Client, data: bytes, name: str = "roster.xlsx") -> Any:
    file = io.BytesIO(data)
    file.name = name
    return client.post(IMPORT_URL, {"import_file": file, "format": "0", "resource": "0"})


def stored_uploads() -> list[str]:
    storage = upload_storage()
    return storage.listdir(UPLOAD_FOLDER)[1] if storage.exists(UPLOAD_FOLDER) else []


def test_the_admin_refuses_a_300_character_name_in_the_preview(township_user: User) -> None:
    client = Client()
    client.force_login(township_user)
    response = upload(client, xlsx_bytes([roster_row(), roster_row(户主姓名="扎" * 300)]))
    page = response.content.decode()
    assert response.status_code == 200
    assert LONG_NAME_ERROR in page and "确认导入" not in page
    assert not Household.objects.exists()
    assert stored_uploads() == []  # refused: nothing can be confirmed, nothing is kept


def test_the_admin_refuses_a_zip_bomb_on_the_upload_page(zip_bomb: bytes, township_user: User) -> None:
    client = Client()
    client.force_login(township_user)
    response = upload(client, zip_bomb)
    page = response.content.decode()
    assert response.status_code == 200 and "解压后有 200 MB" in page and "确认导入" not in page
    assert stored_uploads() == []


def test_the_upload_is_removed_after_confirm(township_user: User) -> None:
    client = Client()
    client.force_login(township_user)
    preview = upload(client, xlsx_bytes([roster_row(户编号="U1")]))
    form = preview.context["confirm_form"]
    assert stored_uploads() == [form["import_file_name"].value()]
    confirm = client.post(CONFIRM_URL, {name: form[name].value() for name in form.fields}, follow=True)
    assert "已新增 1 户" in confirm.content.decode()
    assert stored_uploads() == []
    assert Household.objects.filter(code="U1").exists()
    # Confirming again (back button, double click): the upload is gone, and said so.
    again = client.post(CONFIRM_URL, {name: form[name].value() for name in form.fields}, follow=True)
    assert MSG_UPLOAD_GONE in again.content.decode()


@pytest.mark.parametrize(
    "tampered",
    [
        {"import_file_name": "../../../etc/passwd"},
        {"import_file_name": "/etc/passwd"},
        {"import_file_name": ".."},
        {"import_file_name": "../secret.xlsx"},
        {"import_file_name": "0" * 32},  # well formed, but no such upload
        {"import_file_name": ""},
        {"format": "7"},
        {"format": "x"},
        {"resource": "../1"},
    ],
)
def test_a_tampered_confirm_form_gets_a_chinese_message(
    tampered: dict[str, str], township_user: User, settings: Any
) -> None:
    # A valid roster just outside the import storage: `../secret.xlsx` must not reach it.
    Path(settings.MEDIA_ROOT, "imports").mkdir(parents=True, exist_ok=True)
    Path(settings.MEDIA_ROOT, "imports", "secret.xlsx").write_bytes(xlsx_bytes([roster_row(户编号="S1")]))
    client = Client()
    client.force_login(township_user)
    preview = upload(client, xlsx_bytes([roster_row(户编号="T1")]))
    form = preview.context["confirm_form"]
    data = {name: form[name].value() for name in form.fields} | tampered
    response = client.post(CONFIRM_URL, data)
    assert response.status_code == 302 and response["Location"] == IMPORT_URL
    page = client.get(IMPORT_URL).content.decode()
    assert MSG_UPLOAD_GONE in page
    assert not Household.objects.exists()
    assert Path(settings.MEDIA_ROOT, "imports", "secret.xlsx").exists()


def test_purge_imports_removes_old_uploads_and_keeps_fresh_ones(capsys: pytest.CaptureFixture[str]) -> None:
    storage = upload_storage()
    old, fresh = "a" * 32, "b" * 32
    for name in (old, fresh):
        storage.save(f"{UPLOAD_FOLDER}/{name}", io.BytesIO(b"roster with ID numbers"))
    day_ago = time.time() - 25 * 3600
    os.utime(storage.path(f"{UPLOAD_FOLDER}/{old}"), (day_ago, day_ago))
    assert oct(os.stat(storage.path(f"{UPLOAD_FOLDER}/{fresh}")).st_mode & 0o777) == "0o600"

    call_command("purge_imports")
    assert stored_uploads() == [fresh]
    assert "已删除 1 个超过 24 小时未确认的上传文件，保留 1 个较新的文件。" in capsys.readouterr().out
    call_command("purge_imports", "--older-than-hours", "0")
    assert stored_uploads() == []


# --- the import-export pages speak Chinese ---------------------------------------------------------------


class _VisibleText(HTMLParser):
    """The text a user reads: element text and the words of buttons, placeholders, titles, alt texts."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "svg", "template"):
            self._hidden += 1
        named = dict(attrs)
        if tag == "input" and named.get("type") == "hidden":
            return
        for key in ("value", "placeholder", "title", "aria-label", "alt"):
            if named.get(key):
                self.parts.append(str(named[key]))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "svg", "template"):
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden and data.strip():
            self.parts.append(data.strip())


def english_words(html: str, allowed: set[str]) -> set[str]:
    reader = _VisibleText()
    reader.feed(html)
    text = " ".join(reader.parts)
    return set(re.findall(r"[A-Za-z]{2,}", text)) - allowed


@pytest.mark.parametrize(
    "page",
    ["import", "preview", "refused", "export", "plan import"],
)
def test_the_import_export_pages_are_in_chinese(page: str, township_user: User) -> None:
    client = Client()
    client.force_login(township_user)
    if page == "import":
        response = client.get(IMPORT_URL)
    elif page == "preview":
        response = upload(client, xlsx_bytes([roster_row(户编号="P1")]))
        assert "确认导入" in response.content.decode()
    elif page == "refused":
        response = upload(client, b"not a workbook")
    elif page == "export":
        response = client.get("/admin/households/household/export/")
    else:
        response = client.get("/admin/subsidies/householdplan/import/")
    assert response.status_code == 200
    html = response.content.decode()
    for english in ("Select all", "Submit", "Export", "Import", "Format", "File to import", "Resource"):
        assert english not in html.replace("import_export", "").replace("process_import", ""), english
    assert english_words(html, {"Excel", "xlsx", "MB", "KB", township_user.username}) == set()


def test_the_export_download_is_named_in_chinese(township_user: User) -> None:
    client = Client()
    client.force_login(township_user)
    form = client.get("/admin/households/household/export/").context["form"]
    data = {name: "on" for name in form.fields if name.startswith("householdresource_")}
    response = client.post("/admin/households/household/export/", {"format": "0", "resource": "0", **data})
    assert response.status_code == 200
    disposition = response["Content-Disposition"]
    assert (
        disposition.startswith("attachment; filename*=utf-8''")
        and "%E6%88%B7%E8%8A%B1%E5%90%8D%E5%86%8C" in disposition
    )
