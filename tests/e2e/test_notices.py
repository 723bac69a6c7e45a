"""A village official's 公示 in the browser: issue and print, record the posting with a photo,
record an objection and its resolution; what the township sees moves with the money."""

from __future__ import annotations

import datetime
import io
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Page, ViewportSize, expect
from pypdf import PdfReader
from pytest_django.live_server_helper import LiveServer

from disbursements.models import Batch, Notice, Payout
from households.models import Household, Role, User, Village
from subsidies import services as plan_services

from ..factories import jpeg_bytes, make_user, roster_row, sign
from .conftest import PASSWORD, login

pytestmark = pytest.mark.e2e


@pytest.fixture
def hongpo_year(import_rows: Any) -> dict[str, Any]:
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
    return {"official": official, "village": Village.objects.get(name="红坡村")}


SHOTS = Path("/tmp/shots/notices")
OFFICIAL_VIEWPORT: ViewportSize = {"width": 1366, "height": 768}


def shoot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def fits_the_screen(page: Page) -> None:
    """Nothing runs off a 1366-pixel screen: the page never scrolls sideways."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= OFFICIAL_VIEWPORT["width"], width


def approved_batch(village: Village) -> Batch:
    """The village's tranche-1 batch, approved at every level (built through the services)."""
    from disbursements.approval import advance
    from subsidies.money import services

    services.allocate(year=2017, actor=None)
    cadre = User.objects.get(phone="13800000001")
    batch = services.batch_prepare(village=village, year=2017, tranche=1, actor=cadre)
    advance([batch], action="submit", actor=cadre)
    advance([batch], action="verify", actor=make_user(Role.VILLAGE, village=village))
    advance([batch], action="township_review", actor=make_user(Role.TOWNSHIP))
    advance([batch], action="city_review", actor=make_user(Role.CITY))
    advance([batch], action="approve", actor=make_user(Role.APPROVER))
    return batch


def pay_from_the_batch_page(page: Page, live_server: LiveServer, batch: Batch) -> None:
    """登记兑现 as offered (held households unticked, with their reason), confirm the total, record."""
    page.goto(f"{live_server.url}/admin/disbursements/batch/{batch.pk}/change/")
    with page.expect_navigation():
        page.locator("#batch-actions a", has_text="登记兑现").click()
    with page.expect_navigation():
        page.locator("#pay-next").click()
    with page.expect_navigation():
        page.locator("#pay-record").click()


def test_village_official_issues_posts_and_handles_an_objection_that_holds_one_payment(
    page: Page, live_server: LiveServer, hongpo_year: dict[str, Any], tmp_path: Path
) -> None:
    page.set_viewport_size(OFFICIAL_VIEWPORT)
    batch = approved_batch(hongpo_year["village"])
    today = timezone.localdate()
    login(page, live_server, "hongpo_official")
    page.goto(f"{live_server.url}/admin/disbursements/notice/")
    expect(page.locator("#notice-help")).to_contain_text("印发＝冻结本村此刻的公示名单")
    expect(page.locator("#notice-help")).to_contain_text("打印＝按当前数据生成 PDF，不记录")
    shoot(page, "1-list")

    # 印发: the start date is already today, in the form the date input accepts; nothing to type.
    page.get_by_role("link", name="印发公示").click()
    expect(page.locator("#page-help")).to_contain_text("冻结本村此刻的公示名单")
    expect(page.locator("#id_start")).to_have_value(today.isoformat())
    page.locator("#id_kind").select_option(value="grant")
    page.locator("#id_village").select_option(label="红坡村")
    page.locator("#id_contact").fill("红坡村委会 吴书记 13988700002")
    shoot(page, "2-issue")
    page.locator("input[type=submit][value=印发公示]").click()
    expect(page.locator(".messagelist")).to_contain_text(
        "已印发：2017年度红坡村精准扶贫特色产业到户扶持资金公示"
    )
    notice = Notice.objects.get()
    assert notice.period_start == today and notice.period_end == today + datetime.timedelta(days=9)
    assert notice.status == "issued"

    # The printed sheet, exactly as issued: masked IDs, page subtotal and total, where to object.
    href = page.get_by_role("link", name="下载公示 PDF（与张贴的一致）").get_attribute("href")
    response = page.request.get(f"{live_server.url}{href}")
    assert response.headers["content-type"] == "application/pdf"
    text = "".join("".join(p.extract_text() for p in PdfReader(io.BytesIO(response.body())).pages).split())
    for household in Household.objects.filter(code__startswith="N"):
        assert household.id_number not in text
        assert household.id_number[:6] + "********" + household.id_number[-4:] in text
    assert "本页小计" in text and "合计（共3户）4,500.00" in text and "12317" in text
    assert "吴书记13988700002" in text

    # 登记张贴: its own page; without a photo it is refused, with one it is recorded for good.
    page.locator("#step-post").click()
    expect(page.locator("#id_posted_on")).to_have_value(today.isoformat())
    page.locator("input[type=submit][value=登记张贴]").click()  # the browser refuses: no photo
    expect(page.locator("#id_photo")).to_have_attribute("required", "")
    expect(page.locator(".messagelist")).to_have_count(0)
    notice.refresh_from_db()
    assert notice.status == "issued"
    photo = tmp_path / "board.jpg"
    photo.write_bytes(jpeg_bytes())
    page.locator("#id_photo").set_input_files(str(photo))
    page.locator("input[type=submit][value=登记张贴]").click()
    expect(page.locator(".messagelist")).to_contain_text("已登记张贴")
    notice.refresh_from_db()
    assert notice.status == "posted" and notice.posted_on == today and notice.posted_photo
    expect(page.locator("#step-post")).to_have_count(0)  # once only
    expect(page.locator("input[type=file]")).to_have_count(0)  # the photo is never an input again
    link = page.locator(f"a[href='/files/disbursements/notice/{notice.pk}/posted_photo/']")
    image = page.request.get(f"{live_server.url}{link.get_attribute('href')}")
    assert image.status == 200 and image.headers["content-type"] == "image/jpeg"

    # 登记异议 against a named household: 卓玛, by her row of the notice.
    zhuoma = Household.objects.get(code="N2")
    page.locator("#step-objection").click()
    option = page.locator("#id_row option", has_text=re.compile(r"^\d+\. 卓玛"))
    expect(option).to_contain_text(zhuoma.id_number[:6] + "********" + zhuoma.id_number[-4:])
    page.locator("#id_row").select_option(value=option.get_attribute("value"))
    page.locator("#id_raised_by").fill("村民 次里")
    page.locator("#id_content").fill(
        "卓玛家实际只养了 2 头猪，且去年已享受过同类补助，请村委会入户核实后再兑现。"
    )
    shoot(page, "3-objection")
    page.locator("input[type=submit][value=登记异议]").click()
    expect(page.locator(".messagelist")).to_contain_text("已登记对“卓玛”的异议；处理前暂停向该户兑现")
    expect(page.locator("#objections-group")).to_contain_text("卓玛家实际只养了 2 头猪")
    fits_the_screen(page)
    shoot(page, "4-notice-with-objection")

    # The batch page names her; paying pays the other two and holds hers back, saying why.
    page.goto(f"{live_server.url}/admin/disbursements/batch/{batch.pk}/change/")
    expect(page.locator("#held-by-objections")).to_contain_text(f"{zhuoma.code} 卓玛")
    expect(page.locator("#held-by-objections")).to_contain_text("村民 次里")
    fits_the_screen(page)
    shoot(page, "5-batch-held")
    # Her cadre sees it too, on the phone.
    liming = User.objects.get(phone="13800000001")
    liming.set_password(PASSWORD)
    liming.save()
    cadre = page.context.browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")  # type: ignore[union-attr]
    phone = cadre.new_page()
    login(phone, live_server, "gb13800000001")
    phone.goto(f"{live_server.url}/admin/disbursements/batch/{batch.pk}/change/")
    expect(phone.locator("#held-by-objections")).to_contain_text(f"{zhuoma.code} 卓玛")
    shoot(phone, "5b-batch-held-cadre-phone")
    cadre.close()
    pay_from_the_batch_page(page, live_server, batch)
    expect(page.locator(".messagelist .success")).to_contain_text("已登记兑现 2 户")
    expect(page.locator(".messagelist .success")).to_contain_text("1 户未兑现")
    expect(page.locator("#batch-lines")).to_contain_text("未兑现：公示异议尚未处理")
    shoot(page, "6-paid-but-held")
    assert set(Payout.objects.values_list("line__account__name", flat=True)) == {"N1 格桑", "N3 达瓦"}

    # 处理异议: resolved, the batch page no longer warns and her payment goes through.
    page.goto(f"{live_server.url}/admin/disbursements/notice/{notice.pk}/change/")
    page.get_by_role("link", name="处理异议").click()
    expect(page.locator("#objection-shown")).to_contain_text("卓玛家实际只养了 2 头猪")
    page.locator("#id_resolution").fill("入户核实存栏 3 头，去年未享受同类补助，异议不成立，维持公示")
    page.locator("input[type=submit][value=保存处理结果]").click()
    expect(page.locator("#objections-group")).to_contain_text("异议不成立")
    objection = notice.objections.get()
    assert objection.resolved_on == today and objection.resolved_by == hongpo_year["official"]
    page.goto(f"{live_server.url}/admin/disbursements/batch/{batch.pk}/change/")
    expect(page.locator("#held-by-objections")).to_have_count(0)
    pay_from_the_batch_page(page, live_server, batch)
    expect(page.locator(".messagelist .success")).to_contain_text("已登记兑现 1 户")
    batch.refresh_from_db()
    assert batch.status == "paid"

    # Ten days on (the period is moved back, as time would), the notice closes.
    Notice.objects.filter(pk=notice.pk).update(
        period_start=today - datetime.timedelta(days=12), period_end=today - datetime.timedelta(days=3)
    )
    page.goto(f"{live_server.url}/admin/disbursements/notice/{notice.pk}/change/")
    page.locator("#close-form input[type=submit]").click()
    expect(page.locator(".messagelist")).to_contain_text("已结束公示")
    notice.refresh_from_db()
    assert notice.status == "closed"
    expect(page.locator("#step-objection")).to_have_count(0)
    shoot(page, "7-closed")


def test_a_township_official_cannot_reach_another_townships_notice(
    page: Page, live_server: LiveServer, hongpo_year: dict[str, Any]
) -> None:
    from disbursements import notices

    notice = notices.notice_issue(
        kind="grant",
        year=2017,
        village=hongpo_year["village"],
        actor=hongpo_year["official"],
        start=datetime.date(2017, 3, 1),
    )
    other = make_user(Role.TOWNSHIP, "huxia_official", township=Village.objects.get(name="红旗村").township)
    other.set_password(PASSWORD)
    other.save()
    login(page, live_server, "huxia_official")
    page.goto(f"{live_server.url}/admin/disbursements/notice/{notice.pk}/change/")
    expect(page.locator("body")).not_to_contain_text("红坡村精准扶贫")
    response = page.request.get(f"{live_server.url}/admin/disbursements/notice/{notice.pk}/pdf/")
    assert response.status == 404


def test_the_township_sees_the_dashboard_numbers_move(
    page: Page, live_server: LiveServer, hongpo_year: dict[str, Any]
) -> None:
    from disbursements.approval import advance
    from subsidies.money import services

    township = make_user(Role.TOWNSHIP, "jiantang_official")
    township.set_password(PASSWORD)
    township.save()
    login(page, live_server, "jiantang_official")
    page.goto(f"{live_server.url}/dashboard/?year=2017")
    paid_households = page.locator(".kpi", has_text="第一期已兑现户数").locator("b")
    paid_amount = page.locator(".kpi", has_text="已兑现金额").locator("b")
    expect(paid_households).to_have_text("0")
    grant_table = page.locator("table").first  # the household grant's; other programmes' follow
    expect(grant_table).to_contain_text("红坡村")
    expect(grant_table).not_to_contain_text("红旗村")  # another township

    # Meanwhile the money moves: allocated, approved at every level, paid by the cadre.
    services.allocate(year=2017, actor=None)
    cadre = User.objects.get(phone="13800000001")
    batch = services.batch_prepare(village=hongpo_year["village"], year=2017, tranche=1, actor=cadre)
    advance([batch], action="submit", actor=cadre)
    advance([batch], action="verify", actor=hongpo_year["official"])
    advance([batch], action="township_review", actor=township)
    advance([batch], action="city_review", actor=make_user(Role.CITY))
    advance([batch], action="approve", actor=make_user(Role.APPROVER))
    services.payouts_record(batch=batch, actor=cadre, paid_on=datetime.date(2017, 4, 20))

    page.reload()
    expect(paid_households).to_have_text("3")
    expect(paid_amount).to_have_text("2,700.00")  # 3 × 60% of 1,500.00


def test_the_township_sees_the_open_objection_on_the_batch_page_and_sends_it_back(
    page: Page, live_server: LiveServer, hongpo_year: dict[str, Any]
) -> None:
    """A batch waiting for the township holds a household someone objected to on the village's 公示:
    the township's batch page shows it before any click, and the township returns the batch."""
    from disbursements import notices
    from disbursements.approval import advance
    from subsidies.money import services

    from ..factories import jpeg_upload

    village, official = hongpo_year["village"], hongpo_year["official"]
    services.allocate(year=2017, actor=None)
    cadre = User.objects.get(phone="13800000001")
    batch = services.batch_prepare(village=village, year=2017, tranche=1, actor=cadre)
    advance([batch], action="submit", actor=cadre)
    advance([batch], action="verify", actor=official)
    notice = notices.notice_issue(kind="grant", year=2017, village=village, actor=official)
    notices.notice_post(notice=notice, actor=official, photo=jpeg_upload())
    zhuoma = Household.objects.get(head_name="卓玛")
    row = next(i for i, r in enumerate(notice.rows, start=1) if "卓玛" in str(r))
    notices.objection_record(
        notice=notice,
        actor=official,
        row=row,
        raised_by="村民 次里",
        content="卓玛家实际只养了 2 头猪",
        received_on=timezone.localdate(),
    )
    township = make_user(Role.TOWNSHIP, "jiantang_official")
    township.set_password(PASSWORD)
    township.save()

    page.set_viewport_size(OFFICIAL_VIEWPORT)
    login(page, live_server, "jiantang_official")
    page.goto(f"{live_server.url}/admin/")
    todo = page.locator("#todo-panel")
    expect(todo).to_contain_text("待我办理的拨付批次：1 批")
    with page.expect_navigation():
        todo.locator("a", has_text="待我办理的拨付批次").click()
    with page.expect_navigation():
        page.locator("#result_list tbody tr a").first.click()
    held = page.locator("#held-by-objections")
    expect(held).to_contain_text(f"{zhuoma.code} 卓玛")
    expect(held).to_contain_text("卓玛家实际只养了 2 头猪")
    expect(page.locator("#batch-lines")).to_contain_text("异议未处理，暂停兑现")
    shoot(page, "8-township-batch-page-objection")
    with page.expect_navigation():
        page.locator("#batch-actions a", has_text="退回上一步").click()
    expect(page.locator("#act-objections")).to_contain_text("卓玛")
    page.locator("#note").fill("卓玛户有异议：请村委会入户核实存栏后再报")
    with page.expect_navigation():
        page.locator("#act-form input[type=submit]").click()
    expect(page.locator(".messagelist .success")).to_contain_text("已退回")
    expect(page.locator("#batch-status")).to_have_text("待入户核实")
    expect(page.locator("#batch-transitions")).to_contain_text("请村委会入户核实存栏后再报")
    fits_the_screen(page)
    batch.refresh_from_db()
    assert batch.status == "prepared"
