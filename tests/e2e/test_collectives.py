"""A village fund's year in the browser (issue 13): the village records the meeting and drafts the plan;
its 公示 is issued, posted and closed; the township approves; a group of 5 borrows; one member misses
an instalment; the group is blocked (a new loan refused with the reason shown); a member repays for
them (代偿); the block lifts; the year-end report is generated, submitted, published at 乡/村/组 and
accepted. Officials at 1366×768.

Time moves forward with a clock: `timezone.localdate` is replaced for the test (the live server runs
in this process, so the services and the pages read the same date). It starts today (a notice's
posting date cannot precede its real issue time) and jumps past the first instalment's due date.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, expect
from pytest_django.live_server_helper import LiveServer

from collectives import services
from collectives.models import FundPlan, GuarantorDebt, JointGroup, Loan, YearEndReport
from disbursements.models import Notice
from households.models import Household, Role, Village

from ..factories import jpeg_bytes, make_user, roster_row
from .conftest import TIMEOUT_MS, login

pytestmark = pytest.mark.e2e

SHOTS = Path("/tmp/shots/collectives")
OFFICIAL: ViewportSize = {"width": 1366, "height": 768}
# The group of five, and one more household of the village who is in no group.
MEMBERS = ("农布次仁", "阿旺次仁多吉", "格桑卓玛", "扎西平措", "次里拉姆")
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


class Clock:
    """The date the app believes it is (`timezone.localdate()` without arguments)."""

    def __init__(self, today: datetime.date) -> None:
        self.today = today
        self._real = timezone.localdate

    def localdate(self, value: Any = None, timezone: Any = None) -> datetime.date:
        if value is None:
            return self.today
        return self._real(value, timezone)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fixed = Clock(timezone.localdate())
    monkeypatch.setattr(timezone, "localdate", fixed.localdate)
    return fixed


@pytest.fixture
def village_year(import_rows: Any) -> dict[str, Any]:
    """红坡村, a 2017 poor village with six households, its fund allocated by city HQ (the ledger)."""
    rows = [roster_row(户编号=f"V{n}", 户主姓名=name) for n, name in enumerate((*MEMBERS, "鲁茸此里"), 1)]
    assert import_rows(rows).ok
    village = Village.objects.get(name="红坡村")
    village.is_poor_village = True
    village.save()
    city = make_user(Role.CITY, "city_hq", name="市指挥部 和主任")
    services.budget_receive(
        year=2017, amount=Decimal("20000000"), received_on=datetime.date(2017, 3, 1),
        reference="香财农〔2017〕12号", actor=city,
    )  # fmt: skip
    fund = services.fund_allocate(village=village, year=2017, actor=city)
    return {
        "village": village,
        "fund": fund,
        "village_user": make_user(Role.VILLAGE, "hongpo_secretary", name="红坡村 吴书记"),
        "township_user": make_user(Role.TOWNSHIP, "jiantang_deputy", name="建塘镇 周副镇长"),
        "city": city,
    }


@pytest.fixture
def open_as(browser: Browser, live_server: LiveServer) -> Iterator[Any]:
    contexts: list[BrowserContext] = []

    def open_(username: str) -> Page:
        context = browser.new_context(viewport=OFFICIAL, locale="zh-CN")
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
    page.screenshot(path=str(SHOTS / f"journey-{name}.png"), full_page=True)


def fits(page: Page) -> None:
    """Nothing wider than the official's screen, and a list's columns all shown beside the filters."""
    assert page.evaluate("document.documentElement.scrollWidth") <= OFFICIAL["width"]
    table = page.locator("#result_list")
    if table.count():
        box = table.bounding_box()
        assert box is not None
        limit = OFFICIAL["width"]
        if page.locator("#changelist-filter").count():
            side = page.locator("#changelist-filter").bounding_box()
            assert side is not None
            limit = int(side["x"])
        assert box["x"] + box["width"] <= limit, "the list's columns are cut off"


SLOW_MS = 60_000  # a step that renders a PDF (公示, report) on a loaded machine


def submit(page: Page) -> None:
    with page.expect_navigation(timeout=SLOW_MS):
        page.locator("#step-form input[type=submit]").click(timeout=SLOW_MS)


def ok(page: Page, text: str) -> None:
    expect(page.locator(".messagelist")).to_contain_text(text)


def refused(page: Page, text: str) -> None:
    expect(page.locator("#step-form .errorlist")).to_contain_text(text)


def run_action(page: Page, action: str) -> None:
    page.locator("#action-toggle").check()
    page.locator("select[name=action]").select_option(action)
    with page.expect_navigation(timeout=SLOW_MS):
        page.locator("button[name=index]").click(timeout=SLOW_MS)


def take_step(page: Page, label: str) -> None:
    """A step of the batch page: its button, a note, then 确认."""
    with page.expect_navigation():
        page.locator("#batch-actions a", has_text=label).click()
    page.locator("#note").fill(f"{label}：已核对借款合同和联保小组签字")
    with page.expect_navigation(timeout=SLOW_MS):
        page.locator("#act-form input[type=submit]").click(timeout=SLOW_MS)
    expect(page.locator(".messagelist .error")).to_have_count(0)


def propose(page: Page, url: str, name: str, amount: str, tmp: Path, *, contract: bool = True) -> None:
    page.goto(f"{url}/admin/collectives/loan/add/")
    page.locator("#id_group").select_option(label="红坡村第一联保小组")
    page.locator("#id_household").select_option(
        label=f"{name}（{Household.objects.get(head_name=name).code}）"
    )
    page.locator("#id_principal").fill(amount)
    page.locator("#id_term_months").fill("12")
    page.locator("#id_frequency").select_option("monthly")
    page.locator("#id_purpose").fill("养殖藏香猪")
    if contract:
        scan = tmp / "contract.pdf"
        scan.write_bytes(PDF)
        page.locator("#id_contract_scan").set_input_files(scan)
    submit(page)


def repay(
    page: Page,
    url: str,
    loan: Loan,
    amount: str,
    paid_on: datetime.date,
    payer: str = "",
    *,
    double: bool = False,
) -> None:
    page.goto(f"{url}/admin/collectives/loan/{loan.pk}/repay/")
    page.locator("#id_amount").fill(amount)
    page.locator("#id_paid_on").fill(paid_on.isoformat())
    if payer:
        page.locator("#id_payer").select_option(
            label=f"{payer}（{Household.objects.get(head_name=payer).code}）"
        )
    if double:  # a double click sends the form once
        page.locator("#step-form input[type=submit]").dblclick()
        page.wait_for_url(f"**/admin/collectives/loan/{loan.pk}/change/", timeout=SLOW_MS)
        return
    submit(page)


def test_a_village_fund_year_from_plan_to_published_report(
    open_as: Any, live_server: LiveServer, village_year: dict[str, Any], clock: Clock, tmp_path: Path
) -> None:
    url = live_server.url
    fund = village_year["fund"]
    minutes = tmp_path / "会议记录.pdf"
    minutes.write_bytes(PDF)
    photo = tmp_path / "posted.jpg"
    photo.write_bytes(jpeg_bytes())

    # 1. The village records the villager meeting and drafts the plan; a split that does not add
    #    up to the fund is refused, naming both sums, and nothing is saved.
    village = open_as("hongpo_secretary")
    village.goto(f"{url}/admin/collectives/villagefund/")
    fits(village)
    with village.expect_navigation():
        village.locator(".step-link", has_text="草拟资金方案").click()
    today = clock.today
    village.locator("#id_meeting_on").fill(f"{today - datetime.timedelta(days=20):%Y-%m-%d}")
    village.locator("#id_attendance").fill("86")
    village.locator("#id_minutes_scan").set_input_files(minutes)
    village.locator("#id_lending").fill("600000")
    village.locator("#id_equity").fill("200000")
    village.locator("#id_cooperative").fill("100000")
    submit(village)
    refused(village, "三项用途合计 900,000.00 元，须等于扶持资金 1,000,000.00 元")
    assert not FundPlan.objects.exists()
    village.locator("#id_minutes_scan").set_input_files(minutes)
    village.locator("#id_cooperative").fill("200000")
    shoot(village, "1-plan")
    submit(village)
    ok(village, "已草拟方案：贷款 600,000.00 元、入股 200,000.00 元、合作社 200,000.00 元")
    plan = FundPlan.objects.get()

    # 2. Its 公示: issued, posted with a photo; the township cannot approve before it is over.
    with village.expect_navigation():
        village.locator(".step-link", has_text="印发公示").click()
    start, end = today - datetime.timedelta(days=12), today - datetime.timedelta(days=3)
    village.locator("#id_start").fill(f"{start:%Y-%m-%d}")
    village.locator("#id_days").fill("10")
    submit(village)
    ok(village, f"已印发：2017年度红坡村村集体经济扶持资金方案公示（{start:%Y-%m-%d} 至 {end:%Y-%m-%d}）")
    notice = Notice.objects.get(kind=services.NOTICE_KIND)
    with village.expect_navigation():
        village.locator("#step-post").click()
    village.locator("#id_photo").set_input_files(photo)
    village.locator("#id_posted_on").fill(f"{today:%Y-%m-%d}")
    with village.expect_navigation():
        village.get_by_role("button", name="登记张贴").click()
    ok(village, "已登记张贴")

    township = open_as("jiantang_deputy")
    township.goto(f"{url}/admin/collectives/fundplan/")
    run_action(township, "approve_plans")
    expect(township.locator(".messagelist .error")).to_contain_text(services.MSG_PLAN_NOTICE)
    plan.refresh_from_db()
    assert plan.status == FundPlan.Status.DRAFT

    village.goto(f"{url}/admin/disbursements/notice/{notice.pk}/change/")
    with village.expect_navigation():
        village.locator("#close-form input[type=submit]").click()
    ok(village, "已结束公示")

    # 3. The township approves: the money moves into the three sub-accounts.
    township.goto(f"{url}/admin/collectives/fundplan/")
    run_action(township, "approve_plans")
    ok(township, "已批准 1 个方案")
    fits(township)
    shoot(township, "3-plan-approved")
    plan.refresh_from_db()
    assert plan.status == FundPlan.Status.APPROVED

    # 4. A group of five poor households of the village (four are refused: the policy's minimum).
    village.goto(f"{url}/admin/collectives/jointgroup/add/")
    village.locator("#id_formed_on").fill(f"{today:%Y-%m-%d}")
    for name in MEMBERS[:4]:
        village.get_by_label(name, exact=False).check()
    submit(village)
    refused(village, "至少")
    assert not JointGroup.objects.exists()
    village.get_by_label(MEMBERS[4], exact=False).check()
    shoot(village, "4-group")
    submit(village)
    ok(village, "已成立红坡村第一联保小组（5 户）")

    # 5. Each member borrows 10,000 for 12 months; 20,001 is over the cap and refused.
    propose(village, url, MEMBERS[0], "20001", tmp_path)
    refused(village, "20,000")
    assert not Loan.objects.exists()
    for name in MEMBERS:
        propose(village, url, name, "10000", tmp_path)
        ok(village, "待列入放款批次")
    # …the village puts them in one 放款 batch and submits it; the township approves and pays it
    # (the shared approval mechanism: batch kind `collective_loan`).
    village.goto(f"{url}/admin/collectives/loan/")
    fits(village)
    run_action(village, "batch_loans")
    ok(village, "已建放款批次")
    take_step(village, "提交乡镇审批")
    township.goto(village.url)
    take_step(township, "乡镇审批")
    with township.expect_navigation():
        township.locator("#batch-actions a", has_text="登记兑现").click()
    township.locator("#paid_on").fill(f"{today:%Y-%m-%d}")
    with township.expect_navigation():
        township.locator("#pay-next").click()
    expect(township.locator("#pay-summary")).to_contain_text("合计 50,000.00 元")
    with township.expect_navigation(timeout=SLOW_MS):
        township.locator("#pay-record").click(timeout=SLOW_MS)
    ok(township, "50,000.00 元")
    shoot(township, "5-loans-paid")
    loans = {loan.household.head_name: loan for loan in Loan.objects.select_related("household")}
    assert all(loan.status == Loan.Status.DISBURSED for loan in loans.values())
    fits(township)

    # 6. The first instalment (833.33) falls due a month later: four members pay, 阿旺次仁多吉 does not.
    due = loans[MEMBERS[1]].instalments.get(number=1).due_on
    clock.today = due + datetime.timedelta(days=1)
    for name in (MEMBERS[0], *MEMBERS[2:]):
        repay(village, url, loans[name], "833.33", due, double=name == MEMBERS[0])
        ok(village, "已登记还款 833.33 元")
    assert loans[MEMBERS[0]].repayments.count() == 1
    late = MEMBERS[1]

    # 7. Past the grace period the group is blocked: a new loan to 农布次仁 is refused, naming who is late.
    clock.today = due + datetime.timedelta(days=9)
    village.goto(f"{url}/admin/collectives/jointgroup/")
    expect(village.locator("#result_list")).to_contain_text(late)
    village.goto(f"{url}/admin/collectives/loan/")
    expect(village.locator("#result_list tr", has_text=late)).to_contain_text("9 天")
    fits(village)
    shoot(village, "7-overdue")
    propose(village, url, MEMBERS[0], "5000", tmp_path)
    refused(village, f"联保小组有逾期未还的成员（{late}），在还清前小组成员不能再借款。")
    shoot(village, "7-blocked")
    assert Loan.objects.count() == 5

    # 8. 农布次仁 repays the instalment for 阿旺次仁多吉 (代偿): a debt between the two.
    repay(village, url, loans[late], "833.33", clock.today, payer=MEMBERS[0])
    ok(village, f"已登记 {MEMBERS[0]} 代 {late} 还款 833.33 元（代偿）")
    debt = GuarantorDebt.objects.get()
    assert (debt.debtor.head_name, debt.creditor.head_name, debt.amount) == (
        late,
        MEMBERS[0],
        Decimal("833.33"),
    )

    # 9. The block lifts: the same new loan is now accepted.
    village.goto(f"{url}/admin/collectives/jointgroup/")
    expect(village.locator("#result_list")).not_to_contain_text(late)
    propose(village, url, MEMBERS[0], "5000", tmp_path)
    ok(village, "待列入放款批次")
    assert Loan.objects.count() == 6

    # 10. Year end: the village generates the report, the township submits it and publishes it at
    #     township, village and group level; city HQ records the acceptance.
    clock.today = due + datetime.timedelta(days=20)
    village.goto(f"{url}/admin/collectives/villagefund/")
    with village.expect_navigation():
        village.locator(".step-link", has_text="生成效益分析报告").click()
    village.locator("#id_as_of").fill(f"{clock.today:%Y-%m-%d}")
    submit(village)
    ok(village, "效益分析报告")
    report = YearEndReport.objects.get()
    expect(village.locator("#report-figures")).to_contain_text("50,000.00")
    shoot(village, "10-report")
    assert report.figures["out"] == "50000.00" and report.figures["repaid"] == "4166.65"

    township.goto(f"{url}/admin/collectives/yearendreport/")
    fits(township)
    with township.expect_navigation():
        township.locator(".step-link", has_text="报市指挥部").click()
    township.locator("#id_submitted_on").fill(f"{clock.today:%Y-%m-%d}")
    submit(township)
    ok(township, "已报市指挥部")
    with township.expect_navigation():
        township.locator(".step-link", has_text="发布公示").click()
    township.locator("#id_start").fill(f"{clock.today:%Y-%m-%d}")
    shoot(township, "10-publish")
    submit(township)
    ok(township, "已印发 3 份公示")
    published = Notice.objects.filter(kind="collective_report")
    assert sorted(published.values_list("level", flat=True)) == ["group", "township", "village"]
    assert len({tuple(map(tuple, n.rows)) for n in published}) == 1  # the same figures on every board
    fits(township)

    city = open_as("city_hq")
    city.goto(f"{url}/admin/collectives/yearendreport/")
    with city.expect_navigation():
        city.locator(".step-link", has_text="验收").click()
    city.locator("#id_outcome").select_option("passed")
    city.locator("#id_accepted_on").fill(f"{clock.today:%Y-%m-%d}")
    submit(city)
    ok(city, "验收合格")
    report.refresh_from_db()
    assert report.outcome == "passed" and fund.pk == report.fund_id
