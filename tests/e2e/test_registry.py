"""The registry as officials meet it in the browser: who sees which households, and the roster import."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, Response, expect
from pytest_django.live_server_helper import LiveServer

from households.imports import ImportReport
from households.models import Household, Role, Township

from ..factories import make_user, roster_row, xlsx_bytes
from .conftest import login

# Transactional: the live server (another thread) must see what the test wrote. See conftest.py.
pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CHANGELIST = "/admin/households/household/"
PREVIEW_SCREENSHOT = Path("/tmp/e2e-preview.png")

ImportRows = Callable[..., ImportReport]  # tests/conftest.py: rows through the real roster import


def is_upload(response: Response) -> bool:
    return response.request.method == "POST" and response.url.endswith(f"{CHANGELIST}import/")


def upload(page: Page, path: Path) -> Response:
    """Choose the file on the import page and press 上传并预览; returns the server's answer."""
    page.locator("#id_import_file").set_input_files(path)
    with page.expect_response(is_upload) as answer:
        page.get_by_role("button", name="上传并预览").click()
    page.wait_for_load_state()
    return answer.value


def open_import_page(page: Page, live_server: LiveServer) -> None:
    page.goto(live_server.url + CHANGELIST)
    page.get_by_role("link", name="导入", exact=True).click()
    expect(page.get_by_role("heading", name="上传户花名册")).to_be_visible()


# --- journey 1: a township official sees only their township -----------------------------------


def test_township_official_sees_only_own_township(
    page: Page, live_server: LiveServer, import_rows: ImportRows
) -> None:
    report = import_rows(
        [
            roster_row(户编号="JT0001", 户主姓名="扎西顿珠", 乡镇="建塘镇", 村委会="红坡村"),
            roster_row(户编号="JT0002", 户主姓名="卓玛央宗", 乡镇="建塘镇", 村委会="红坡村"),
            roster_row(户编号="JT0003", 户主姓名="格桑次仁", 乡镇="建塘镇", 村委会="吉迪村"),
            roster_row(户编号="HT0001", 户主姓名="和建国", 乡镇="虎跳峡镇", 村委会="红旗村"),
            roster_row(户编号="HT0002", 户主姓名="木春花", 乡镇="虎跳峡镇", 村委会="长胜村"),
        ]
    )
    assert report.ok, [str(e) for e in report.errors]
    make_user(Role.TOWNSHIP, "jiantang")
    elsewhere = Household.objects.get(code="HT0001")

    login(page, live_server, "jiantang")
    page.goto(live_server.url + CHANGELIST)

    results = page.locator("#result_list")
    expect(results.locator("tbody tr")).to_have_count(3)
    for name in ("扎西顿珠", "卓玛央宗", "格桑次仁"):
        expect(results).to_contain_text(name)
    for shown in ("和建国", "木春花", "HT0001", "虎跳峡镇"):
        expect(results).not_to_contain_text(shown)
    expect(results.locator("td.field-township_name")).to_have_text(["建塘镇"] * 3)

    filters = page.locator("#changelist-filter")
    expect(filters.locator('details[data-filter-title="乡镇"] li')).to_have_text(["全部", "建塘镇"])
    villages = filters.locator('details[data-filter-title="村委会"]')
    expect(villages).to_contain_text("红坡村")
    expect(villages).not_to_contain_text("红旗村")  # 虎跳峡镇's villages are not offered either

    # Editing the URL to another township's household finds nothing.
    for view in ("change", "history"):
        response = page.goto(f"{live_server.url}{CHANGELIST}{elsewhere.pk}/{view}/")
        assert response is not None and response.status in (200, 404)
        expect(page.locator("body")).not_to_contain_text("和建国")
        expect(page.locator("body")).not_to_contain_text("HT0001")
        if response.status == 200:  # Django admin: back to the index with a "does not exist" message
            expect(page.locator(".messagelist")).to_contain_text("不存在")
            expect(page).to_have_url(f"{live_server.url}/admin/")

    # Filtering by the other township's id (URL edited again) shows no households either.
    other = Township.objects.get(name="虎跳峡镇")
    response = page.goto(f"{live_server.url}{CHANGELIST}?township={other.pk}")
    assert response is not None and response.status == 200
    expect(page.locator("#changelist .paginator")).to_contain_text("0 贫困户")
    expect(page.locator("#result_list")).to_have_count(0)
    expect(page.locator("body")).not_to_contain_text("和建国")


# --- journey 2: a city user imports a roster ------------------------------------------------------


def test_city_user_imports_roster_with_preview_and_confirm(
    page: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    make_user(Role.CITY, "city")
    roster = tmp_path / "户花名册.xlsx"
    roster.write_bytes(
        xlsx_bytes(
            [
                roster_row(户编号="XG0001", 户主姓名="此里卓玛", 村委会="红坡村", 村民小组="一组"),
                roster_row(户编号="XG0002", 户主姓名="鲁茸次仁", 村委会="红坡村", 村民小组="二组"),
                roster_row(户编号="XG0003", 户主姓名="和丽华", 乡镇="虎跳峡镇", 村委会="红旗村"),
            ]
        )
    )

    login(page, live_server, "city")
    open_import_page(page, live_server)
    response = upload(page, roster)

    assert response.status == 200
    summary = page.locator("#import-summary")
    expect(summary).to_contain_text("预览")
    expect(summary).to_contain_text("将新增 3 户")
    counts = page.locator("#import-counts")
    expect(counts).to_contain_text("新增：3 户")
    expect(counts).to_contain_text("修改：0 户")
    expect(page.locator("#import-new tbody tr")).to_have_count(3)
    for name in ("此里卓玛", "鲁茸次仁", "和丽华"):
        expect(page.locator("#import-new")).to_contain_text(name)
    expect(page.locator("#import-errors")).to_have_count(0)
    page.screenshot(path=PREVIEW_SCREENSHOT, full_page=True)
    assert not Household.objects.exists(), "the preview must not write"

    page.get_by_role("button", name="确认导入").click()

    expect(page).to_have_url(live_server.url + CHANGELIST)
    expect(page.locator(".messagelist .success")).to_contain_text("已新增 3 户")
    results = page.locator("#result_list")
    expect(results.locator("tbody tr")).to_have_count(3)
    for text in ("XG0001", "此里卓玛", "鲁茸次仁", "和丽华", "虎跳峡镇"):
        expect(results).to_contain_text(text)


def test_roster_with_a_bad_row_shows_the_line_and_cannot_be_confirmed(
    page: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    make_user(Role.CITY, "city")
    roster = tmp_path / "户花名册.xlsx"
    roster.write_bytes(
        xlsx_bytes(
            [
                roster_row(户编号="XG0101", 户主姓名="此里卓玛"),
                roster_row(户编号="XG0102", 户主姓名="鲁茸次仁", 家庭人口="三"),
                roster_row(户编号="XG0103", 户主姓名="和丽华", 脱贫年度=2021),
            ]
        )
    )

    login(page, live_server, "city")
    open_import_page(page, live_server)
    response = upload(page, roster)

    assert response.status == 200
    expect(page.locator("#import-summary")).to_have_text("发现 2 处错误，未写入任何数据。")
    expect(page.locator("#import-errors li")).to_have_text(
        ["第 3 行 家庭人口 三：应为整数", "第 4 行 脱贫年度 2021：应为 2014 至 2020 之间的年份"]
    )
    expect(page.get_by_role("button", name="确认导入")).to_have_count(0)
    expect(page.locator("#import-counts")).to_have_count(0)
    expect(page.get_by_role("button", name="上传并预览")).to_be_visible()  # fix the file, upload again
    assert not Household.objects.exists()


@pytest.mark.parametrize("file_name", ["户花名册.xlsx", "户花名册.txt"], ids=["text-named-xlsx", "txt"])
def test_a_file_that_is_not_xlsx_is_refused_in_plain_chinese(
    page: Page, live_server: LiveServer, tmp_path: Path, file_name: str
) -> None:
    make_user(Role.CITY, "city")
    not_a_workbook = tmp_path / file_name
    not_a_workbook.write_text("户编号,户主姓名,身份证号\nXG0201,扎西,533421198001010011\n", encoding="utf-8")

    login(page, live_server, "city")
    open_import_page(page, live_server)
    response = upload(page, not_a_workbook)

    assert response.status == 200, f"upload answered {response.status}"
    expect(page.locator("body")).not_to_contain_text(re.compile("Server Error|Traceback|Exception"))
    expect(page.locator("#import-upload .errorlist")).to_contain_text(
        "文件不是有效的 Excel 工作簿（.xlsx），无法读取。"
    )
    expect(page.get_by_role("button", name="确认导入")).to_have_count(0)
    assert not Household.objects.exists()
