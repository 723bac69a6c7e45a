"""The organisation programme in the browser (issue 12): the township registers a cooperative,
imports 15 agreements, records the assessments, confirms 12; the incentive (6,000) goes through its
公示 and the chain and is paid to the cooperative's bank account; the books reconcile."""

from __future__ import annotations

import datetime
import importlib
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, expect
from pytest_django.live_server_helper import LiveServer
from stdnum.cn import uscc

from disbursements.models import Batch, Entry, Notice
from enterprises.models import Agreement, Assessment, Organisation
from households.models import Household, Role, Township

from ..factories import id_number, jpeg_bytes, make_user, roster_row, xlsx_bytes
from .conftest import TIMEOUT_MS, login

pytestmark = pytest.mark.e2e

SHOTS = Path("/tmp/shots/enterprises")
OFFICIAL: ViewportSize = {"width": 1366, "height": 768}
PHONE: ViewportSize = {"width": 390, "height": 844}
NAMES = [
    "格桑",
    "卓玛",
    "达瓦",
    "次里",
    "扎西",
    "央金",
    "拉姆",
    "平措",
    "尼玛",
    "白玛",
    "多吉",
    "曲珍",
    "旺堆",
    "德吉",
    "桑珠",
]
HEADER = [
    "组织名称",
    "户编号",
    "年度",
    "帮扶方式",
    "产业",
    "签订日期",
    "开始日期",
    "结束日期",
    "计入本组织奖补",
]
CO_OP = "香格里拉市高原牦牛养殖专业合作社"


@pytest.fixture(autouse=True)
def _incentive_policy(_geography: None) -> None:
    from django.apps import apps

    from enterprises.models import IncentivePolicy

    if not IncentivePolicy.objects.filter(year=2017).exists():
        importlib.import_module("enterprises.migrations.0002_policy_2017").seed(apps, None)


@pytest.fixture
def year(import_rows: Any) -> dict[str, Any]:
    rows = [
        roster_row(户编号=f"E{n:02d}", 户主姓名=name, 家庭人口=2, 劳动力=1) for n, name in enumerate(NAMES, 1)
    ]
    assert import_rows(rows).ok
    return {
        "township": make_user(Role.TOWNSHIP, "jt_official", name="建塘镇 周副镇长"),
        "city": make_user(Role.CITY, "city_official"),
        "cashier": make_user(Role.CITY, "city_cashier"),
        "approver": make_user(Role.APPROVER, "leader"),
    }


@pytest.fixture
def open_as(browser: Browser, live_server: LiveServer) -> Iterator[Any]:
    contexts: list[BrowserContext] = []

    def open_(username: str, viewport: ViewportSize = OFFICIAL) -> Page:
        context = browser.new_context(viewport=viewport, locale="zh-CN")
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        login(page, live_server, username)
        return page

    yield open_
    for context in contexts:
        context.close()


def shoot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def fits(page: Page, width: int = OFFICIAL["width"]) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def take_step(page: Page, label: str) -> None:
    with page.expect_navigation():
        page.locator("#batch-actions a", has_text=label).click()
    page.locator("#note").fill(f"{label}：已核对")
    with page.expect_navigation():
        page.locator("#act-form input[type=submit]").click()
    expect(page.locator(".messagelist .error")).to_have_count(0)


def test_township_registers_imports_assesses_and_the_incentive_is_paid(
    open_as: Any, live_server: LiveServer, year: dict[str, Any], tmp_path: Path
) -> None:
    url = live_server.url
    township = open_as("jt_official")

    # 1. The township registers a cooperative (统一社会信用代码 checked: GB 32100).
    township.goto(f"{url}/admin/enterprises/organisation/add/")
    body = "93533421MA6K00011"
    township.locator("#id_name").fill(CO_OP)
    township.locator("#id_kind").select_option(label="农民专业合作社")
    township.locator("#id_operating_model").select_option(label="合作社+贫困户")
    township.locator("#id_credit_code").fill(body + "9" if uscc.calc_check_digit(body) != "9" else body + "8")
    township.locator("#id_leader_name").fill("格桑")
    township.locator("#id_leader_id_number").fill(id_number())
    township.locator("#id_phone").fill("13988770001")
    township.locator("#id_industry").fill("牦牛养殖")
    township.locator("#id_bank_name").fill("香格里拉农村商业银行建塘支行")
    township.locator("#id_bank_account").fill("6228480000000001")
    township.locator("input[name=_save]").click()
    expect(township.locator(".errorlist")).to_contain_text("GB 32100")
    township.locator("#id_credit_code").fill(body + uscc.calc_check_digit(body))
    shoot(township, "1-register-cooperative")
    township.locator("input[name=_save]").click()
    expect(township.locator(".messagelist .success")).to_be_visible()
    organisation = Organisation.objects.get()
    assert organisation.township.name == "建塘镇" and organisation.kind == "cooperative"

    # 2. 15 agreements by Excel import: preview, then 确认导入.
    sheet = tmp_path / "帮扶协议.xlsx"
    rows = [
        [
            CO_OP,
            f"E{n:02d}",
            2017,
            "订单种植/养殖、保底收购、技术指导",
            "牦牛养殖",
            datetime.date(2017, 3, 1),
            datetime.date(2017, 3, 1),
            datetime.date(2017, 12, 31),
            "",
        ]
        for n in range(1, 16)
    ]
    sheet.write_bytes(xlsx_bytes(rows, HEADER))
    township.goto(f"{url}/admin/enterprises/agreement/")
    township.get_by_role("link", name="导入", exact=True).click()
    township.locator("#id_import_file").set_input_files(sheet)
    township.get_by_role("button", name="上传并预览").click()
    expect(township.locator("#import-summary")).to_contain_text("将新增 15 份")
    shoot(township, "2-import-preview")
    assert not Agreement.objects.exists()
    township.get_by_role("button", name="确认导入").click()
    expect(township.locator(".messagelist .success")).to_contain_text("已新增 15 份")
    expect(township.locator("#result_list tbody tr")).to_have_count(15)
    fits(township)
    shoot(township, "3-agreements")

    # 3. The assessments: 12 households earn 7,000 (3,500 each of 2), 3 earn 6,599.98 (3,299.99).
    for n in range(15):
        township.goto(f"{url}/admin/enterprises/assessment/add/")
        township.locator("#id_agreement").select_option(index=1)
        township.locator("#id_income").fill("7000.00" if n < 12 else "6599.98")
        if n == 0:
            evidence = tmp_path / "sales.jpg"
            evidence.write_bytes(jpeg_bytes())
            township.locator("#id_evidence").set_input_files(evidence)
            shoot(township, "4-assessment-form")
        township.locator("input[name=_save]").click()
        expect(township.locator(".messagelist .success")).to_be_visible()
    assert Assessment.objects.filter(reaches=True).count() == 12
    assert Assessment.objects.filter(per_capita=Decimal("3299.99"), reaches=False).count() == 3

    # 4. The township confirms the 12 that reach the standard (the to-do panel shows them first).
    township.goto(f"{url}/admin/")
    expect(township.locator("#todo-panel")).to_contain_text("待确认考核合格的带贫协议：12 户")
    township.goto(f"{url}/admin/enterprises/assessment/?agreement__year=2017&confirmed=no")
    expect(township.locator("#result_list tbody tr")).to_have_count(12)
    township.locator("#action-toggle").check()
    township.locator("#changelist-form select[name=action]").select_option(label="确认考核合格（乡镇）")
    township.locator("#changelist-form button[name=index]").click()
    expect(township.locator(".messagelist")).to_contain_text("已确认 12 户考核合格")
    shoot(township, "5-confirmed")

    # 5. The organisation list and page: 15 linked, 12 qualified; the township builds the batch.
    township.goto(f"{url}/admin/enterprises/organisation/")
    row = township.locator("#result_list tbody tr", has_text=CO_OP)
    expect(row).to_contain_text("15")
    expect(row).to_contain_text("12")
    shoot(township, "6-organisations")
    township.get_by_role("link", name="生成奖补批次").click()
    township.locator("input[type=submit]").click()
    expect(township.locator(".messagelist")).to_contain_text("1 家，合计 6,000.00 元")
    batch = Batch.objects.get(kind="org_incentive")
    assert batch.total == Decimal("6000.00")
    shoot(township, "7-batch")

    # 6. The 公示 of the organisation, its 12 households (masked) and the amount, at township level.
    township.goto(f"{url}/admin/disbursements/notice/issue/")
    start = timezone.localdate() - datetime.timedelta(days=12)
    township.locator("#id_kind").select_option(value="org_incentive")
    township.locator("#id_township").select_option(label="建塘镇")
    township.locator("#id_start").fill(start.isoformat())
    township.locator("#id_contact").fill("建塘镇扶贫办 13988700009")
    township.locator("#id_batch").select_option(value=str(batch.pk))
    township.locator("input[type=submit]").click()
    expect(township.locator(".messagelist")).to_contain_text("建塘镇带贫组织考核奖补公示")
    notice = Notice.objects.get()
    href = township.get_by_role("link", name="下载公示 PDF（与张贴的一致）").get_attribute("href")
    pdf = township.request.get(f"{url}{href}").body()
    import io

    from pypdf import PdfReader

    text = "".join("".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages).split())
    first = Household.objects.get(code="E01")
    assert CO_OP in text and "6,000.00" in text and first.id_number not in text
    assert first.id_number[:6] + "********" + first.id_number[-4:] in text
    township.locator("#step-post").click()
    photo = tmp_path / "board.jpg"
    photo.write_bytes(jpeg_bytes())
    township.locator("#id_photo").set_input_files(photo)
    township.locator("input[type=submit][value=登记张贴]").click()
    expect(township.locator(".messagelist")).to_contain_text("已登记张贴")
    township.locator("#close-form input[type=submit]").click()
    expect(township.locator(".messagelist")).to_contain_text("已结束公示")
    notice.refresh_from_db()
    assert notice.status == "closed"

    # 7. The chain: township 考核确认 → city HQ 复核 → 产业办审批 → city pays to the bank account.
    township.goto(f"{url}/admin/disbursements/batch/{batch.pk}/change/")
    take_step(township, "乡镇考核确认")
    city = open_as("city_official")
    city.goto(f"{url}/admin/disbursements/batch/{batch.pk}/change/")
    expect(city.locator("#batch-lines")).to_contain_text(CO_OP)
    take_step(city, "市指挥部复核")
    leader = open_as("leader")
    leader.goto(f"{url}/admin/disbursements/batch/{batch.pk}/change/")
    take_step(leader, "产业办和分管领导审批")
    cashier = open_as("city_cashier")
    cashier.goto(f"{url}/admin/disbursements/batch/{batch.pk}/change/")
    with cashier.expect_navigation():
        cashier.locator("#batch-actions a", has_text="登记兑现").click()
    cashier.locator("#method").select_option(label="银行转账")
    cashier.locator("#reference").fill("NS-2017-0001")
    with cashier.expect_navigation():
        cashier.locator("#pay-next").click()
    expect(cashier.locator("#pay-summary")).to_contain_text("合计 6,000.00 元")
    with cashier.expect_navigation():
        cashier.locator("#pay-record").click()
    expect(cashier.locator(".messagelist .success")).to_contain_text("6,000.00")
    shoot(cashier, "8-paid")
    batch.refresh_from_db()
    assert batch.status == "paid"
    entry = Entry.objects.get(kind="org_payout")
    organisation = Organisation.objects.get(name=CO_OP)
    assert entry.amount == Decimal("6000.00") and entry.target.key == f"org:{organisation.pk}"

    # 8. The cooperative is now 推荐申报; the city's books reconcile.
    city.goto(f"{url}/admin/enterprises/organisation/?recommended=yes")
    expect(city.locator("#result_list tbody tr")).to_have_count(1)
    expect(city.locator("#result_list")).to_contain_text("6,000.00")
    shoot(city, "9-recommended")
    city.goto(f"{url}/admin/disbursements/account/reconcile/?year=2017")
    expect(city.locator("#reconcile-ok")).to_be_visible()
    expect(city.locator("#reconcile-problems")).to_have_count(0)
    shoot(city, "10-reconcile")
    city.goto(f"{url}/dashboard/?year=2017")
    expect(city.locator("body")).to_contain_text("带贫组织考核奖补")
    shoot(city, "11-dashboard")

    # 9. The cadre reads the agreements of the households he holds, on his phone; he changes nothing.
    cadre_user = Household.objects.get(code="E01").cadre
    assert cadre_user is not None
    cadre_user.set_password("pw-for-tests-only")
    cadre_user.save()
    cadre = open_as(cadre_user.username, PHONE)
    cadre.goto(f"{url}/admin/enterprises/agreement/")
    expect(cadre.locator("#result_list tbody tr")).to_have_count(15)
    expect(cadre.get_by_role("link", name="增加 帮扶协议")).to_have_count(0)
    shoot(cadre, "12-cadre-agreements-phone")
    assert Township.objects.get(name="建塘镇")
