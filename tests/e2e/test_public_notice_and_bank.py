"""Two journeys of issue 15 in the browser.

1. A villager's phone opens the QR link of a printed 公示 (the address read back from the PDF), sees
   the notice and files an objection; the village official finds it on the to-do panel and resolves
   it; the public page then says "1 件已处理".
2. A tranche paid through the bank: the village official exports the bank file from the batch page,
   the bank's return file (one failure) is imported, the failed household's account is corrected
   in the admin, a second file pays it; the books balance.
"""

from __future__ import annotations

import csv
import io
import re
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from playwright.sync_api import Browser, Page, ViewportSize, expect
from pypdf import PdfReader
from pytest_django.live_server_helper import LiveServer

from disbursements import notices
from disbursements.bank_accounts import bank_account_set, luhn_ok
from disbursements.models import Account, BankFileLine, Objection, Payout
from households.models import Household, Role, User, Village
from subsidies import services as plan_services
from subsidies.money import services as money_services

from ..factories import make_user, roster_row, sign
from .conftest import PASSWORD, TIMEOUT_MS, login
from .test_notices import approved_batch

pytestmark = pytest.mark.e2e

SHOTS = Path("/tmp/shots/bank")
OFFICIAL: ViewportSize = {"width": 1366, "height": 768}
PHONE: ViewportSize = {"width": 390, "height": 844}
RCC = "云南省农村信用社（香格里拉市联社）"


@pytest.fixture
def hongpo(import_rows: Any) -> dict[str, Any]:
    rows = [
        roster_row(户编号=f"N{i}", 户主姓名=name) for i, name in enumerate(["格桑", "卓玛", "达瓦"], start=1)
    ]
    assert import_rows(rows).ok
    for household in Household.objects.filter(code__startswith="N").select_related("cadre"):
        assert household.cadre is not None
        sign(
            plan_services.plan_save(
                household=household, year=2017, species="猪", quantity=Decimal(3), actor=household.cadre
            )
        )
    official = make_user(Role.VILLAGE, "hongpo_official")
    official.set_password(PASSWORD)
    official.save()
    cache.clear()
    return {"official": official, "village": Village.objects.get(name="红坡村")}


def context_page(browser: Browser, viewport: ViewportSize) -> Page:
    context = browser.new_context(viewport=viewport, locale="zh-CN", accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    return context.new_page()


def shoot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def address_on_the_sheet(pdf: bytes, tmp_path: Path) -> str:
    """What a phone's camera reads: the QR code on the printed sheet, decoded from the page as
    printed (pdftoppm, then zbarimg); the address printed beside it must say the same."""
    text = "".join("".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages).split())
    match = re.search(r"访问(http://[^（]+?/gs/[A-Z0-9]{12}/)", text)
    assert match, "the printed sheet carries the public address beside its QR code"
    (tmp_path / "sheet.pdf").write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "150", str(tmp_path / "sheet.pdf"), str(tmp_path / "page")], check=True
    )
    decoded = subprocess.run(
        ["zbarimg", "--quiet", "--raw", *sorted(str(p) for p in tmp_path.glob("page*.png"))],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert decoded == [match.group(1)], decoded
    return decoded[0]


def test_a_phone_opens_the_printed_qr_files_an_objection_and_sees_it_resolved(
    browser: Browser, live_server: LiveServer, hongpo: dict[str, Any], settings: Any, tmp_path: Path
) -> None:
    settings.PUBLIC_BASE_URL = live_server.url  # what the QR on the sheet encodes
    notice = notices.notice_issue(
        kind="grant", year=2017, village=hongpo["village"], actor=hongpo["official"]
    )
    notice.pdf.open("rb")
    pdf = notice.pdf.read()
    SHOTS.mkdir(parents=True, exist_ok=True)
    (SHOTS / "0-printed-notice.pdf").write_bytes(pdf)  # looked at as PNG (pdftoppm) by the reviewer
    url = address_on_the_sheet(pdf, tmp_path)
    assert url == f"{live_server.url}/gs/{notice.public_code}/"

    phone = context_page(browser, PHONE)
    phone.goto(url)
    expect(phone.locator("h1")).to_have_text(notice.title)
    expect(phone.locator(".status")).to_have_text("公示中")
    expect(phone.locator("#objections")).to_have_text("未收到异议")
    zhuoma = Household.objects.get(code="N2")
    masked = zhuoma.id_number[:6] + "********" + zhuoma.id_number[-4:]
    expect(phone.locator("table")).to_contain_text(masked)
    assert zhuoma.id_number not in phone.content()
    width = phone.evaluate("document.body.scrollWidth")
    assert width <= PHONE["width"], width  # the table scrolls inside its card, the page does not
    shoot(phone, "1-public-notice-phone")
    row = next(n for n, r in enumerate(notice.rows, start=1) if masked in r)
    phone.locator("#id_row").select_option(str(row))
    phone.locator("#id_name").fill("次仁")
    phone.locator("#id_phone").fill("13987654321")
    phone.locator("#id_content").fill("卓玛家今年只养了 1 头猪，和名单不符")
    with phone.expect_navigation():
        phone.get_by_role("button", name="提交异议").click()
    expect(phone.locator("#sent")).to_contain_text("已收到您的异议")
    expect(phone.locator("#objections")).to_have_text("收到 1 件，0 件已处理")
    shoot(phone, "2-objection-sent-phone")
    objection = Objection.objects.get()
    assert objection.channel == "online" and objection.payee_name == "卓玛"

    official = context_page(browser, OFFICIAL)
    login(official, live_server, "hongpo_official")
    official.goto(f"{live_server.url}/admin/")
    expect(official.locator("#todo-panel")).to_contain_text("待处理的公示异议")
    official.goto(f"{live_server.url}/admin/disbursements/notice/{notice.pk}/change/")
    expect(official.locator("#objections-group")).to_contain_text("次仁（网上提交，139****4321）")
    shoot(official, "3-official-sees-online-objection")
    official.get_by_role("link", name="处理异议").click()
    official.locator("#id_resolution").fill("入户核实存栏 3 头，异议不成立，已电话告知反映人")
    official.locator("input[type=submit][value=保存处理结果]").click()
    expect(official.locator("#objections-group")).to_contain_text("异议不成立")

    phone.goto(url)
    expect(phone.locator("#objections")).to_have_text("收到 1 件，1 件已处理")
    assert "次仁" not in phone.content() and "13987654321" not in phone.content()
    shoot(phone, "4-public-page-resolved-phone")


def luhn_number(prefix: str) -> str:
    body = prefix.ljust(18, "0")
    return next(body + d for d in "0123456789" if luhn_ok(body + d))


def bank_answer(export: bytes, failing: str) -> bytes:
    """The bank's return file: every line 成功 but the one for `failing` (a 姓名)."""
    rows = list(csv.reader(io.StringIO(export.decode("gbk"))))
    out = [[*rows[0], "处理结果", "失败原因", "银行流水号"]]
    for n, row in enumerate(rows[1:-1], start=1):
        failed = row[1] == failing
        out.append(
            [
                *row,
                "失败" if failed else "成功",
                "账户已销户" if failed else "",
                "" if failed else f"YN{n:06d}",
            ]
        )
    out.append([*rows[-1], "", "", ""])
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(out)
    return buffer.getvalue().encode("gbk")


def test_a_tranche_paid_through_the_bank_failures_and_all(
    browser: Browser, live_server: LiveServer, hongpo: dict[str, Any], tmp_path: Path
) -> None:
    batch = approved_batch(hongpo["village"])
    cadre = User.objects.get(phone="13800000001")
    for n, household in enumerate(Household.objects.filter(code__startswith="N").order_by("code"), start=1):
        account = Account.objects.get(kind="household", grant_household__household=household)
        bank_account_set(
            account=account,
            bank=RCC,
            number=luhn_number(f"6217993{n}"),
            holder_name=household.head_name,
            actor=cadre,
        )
    page = context_page(browser, OFFICIAL)
    login(page, live_server, "hongpo_official")
    page.goto(f"{live_server.url}/admin/disbursements/batch/{batch.pk}/change/")
    with page.expect_navigation():
        page.locator("#bank-export button").click()
    expect(page.locator(".messagelist .success")).to_contain_text("已生成银行代发文件")
    expect(page.locator("#batch-lines")).to_contain_text("在途：已送银行")
    with page.expect_download() as download_info:
        page.locator(".bank-file a", has_text="下载").click()
    export = Path(download_info.value.path()).read_bytes()
    assert export.decode("gbk").splitlines()[0].startswith("序号,姓名,身份证号,开户行,账号")
    shoot(page, "5-bank-file-sent")

    answer = tmp_path / "return.csv"
    answer.write_bytes(bank_answer(export, failing="卓玛"))
    page.locator(".bank-return input[type=file]").set_input_files(str(answer))
    with page.expect_navigation():
        page.locator(".bank-return button").click()
    expect(page.locator(".messagelist .success")).to_contain_text("成功 2 笔")
    expect(page.locator(".messagelist .success")).to_contain_text("失败 1 笔")
    summary = page.locator("#bank-summary")
    expect(summary).to_contain_text("银行已确认兑现")
    expect(summary.locator("tr", has_text="银行退回")).to_contain_text("1")
    expect(page.locator("#batch-lines")).to_contain_text("未兑现：银行退回：账户已销户")
    shoot(page, "6-bank-return-one-failed")
    assert Payout.objects.filter(method="bank").count() == 2
    assert money_services.reconcile(year=2017)[1] == []

    # The same file again changes nothing.
    page.locator(".bank-return input[type=file]").first.set_input_files(str(answer))
    with page.expect_navigation():
        page.locator(".bank-return button").first.click()
    expect(page.locator(".messagelist")).to_contain_text("没有任何变化")
    assert Payout.objects.count() == 2

    # The account is corrected in the admin; a second file pays 卓玛.
    page.goto(f"{live_server.url}/admin/disbursements/bankaccount/add/")
    page.locator("#id_account").select_option(label=str(Account.objects.get(name__contains="卓玛")))
    page.locator("#id_bank").select_option(RCC)
    page.locator("#id_number").fill(luhn_number("62179977"))
    page.locator("#id_holder_name").fill("卓玛")
    page.locator("#id_note").fill("原卡已销户，换新卡")
    shoot(page, "7-bank-account-corrected")
    with page.expect_navigation():
        page.locator("input[name=_save]").click()
    expect(page.locator(".messagelist .success")).to_be_visible()
    expect(page.locator("#result_list")).to_contain_text("621799")
    assert "62179977" not in page.locator("#result_list").inner_text()  # masked in the list

    page.goto(f"{live_server.url}/admin/disbursements/batch/{batch.pk}/change/")
    with page.expect_navigation():
        page.locator("#bank-export button").click()
    second = page.locator(".bank-file").last
    with page.expect_download() as download_info:
        second.locator("a", has_text="下载").click()
    export2 = Path(download_info.value.path()).read_bytes()
    answer2 = tmp_path / "return2.csv"
    answer2.write_bytes(bank_answer(export2, failing="nobody"))
    second.locator("input[type=file]").set_input_files(str(answer2))
    with page.expect_navigation():
        second.locator("button").click()
    expect(page.locator(".messagelist .success")).to_contain_text("成功 1 笔")
    expect(page.locator("#batch-status")).to_have_text(re.compile("已兑现"))
    shoot(page, "8-batch-paid-through-the-bank")
    assert Payout.objects.filter(method="bank").count() == 3
    assert set(BankFileLine.objects.values_list("status", flat=True)) == {"success", "failed"}
    assert money_services.reconcile(year=2017)[1] == []
