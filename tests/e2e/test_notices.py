"""A village official's 公示 in the browser: issue and print, record the posting with a photo,
record an objection and its resolution; what the township sees moves with the money."""

from __future__ import annotations

import datetime
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from pypdf import PdfReader
from pytest_django.live_server_helper import LiveServer

from disbursements.models import Notice
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


def test_village_official_issues_posts_and_handles_an_objection(
    page: Page, live_server: LiveServer, hongpo_year: dict[str, Any], tmp_path: Path
) -> None:
    login(page, live_server, "hongpo_official")
    page.goto(f"{live_server.url}/admin/disbursements/notice/")
    page.get_by_role("link", name="印发公示").click()
    page.locator("#id_kind").select_option(value="grant")
    page.locator("#id_village").select_option(label="红坡村")
    page.locator("#id_start").fill("2017-03-01")
    page.locator("#id_days").fill("10")
    page.locator("#id_contact").fill("红坡村委会 吴书记 13988700002")
    page.locator("input[type=submit][value=印发公示]").click()
    expect(page.locator(".messagelist")).to_contain_text(
        "已印发：2017年度红坡村精准扶贫特色产业到户扶持资金公示"
    )
    notice = Notice.objects.get()
    assert notice.period_end == datetime.date(2017, 3, 10) and notice.status == "issued"

    # The printed sheet, exactly as issued: masked IDs, total, period, where to object.
    href = page.get_by_role("link", name="下载公示 PDF（与张贴的一致）").get_attribute("href")
    response = page.request.get(f"{live_server.url}{href}")
    assert response.headers["content-type"] == "application/pdf"
    text = "".join("".join(p.extract_text() for p in PdfReader(io.BytesIO(response.body())).pages).split())
    for household in Household.objects.filter(code__startswith="N"):
        assert household.id_number not in text
        assert household.id_number[:6] + "********" + household.id_number[-4:] in text
    assert "4,500.00" in text and "12317" in text and "吴书记13988700002" in text

    # It went up on the board: a photo of it.
    photo = tmp_path / "board.jpg"
    photo.write_bytes(jpeg_bytes())
    page.locator("#id_posted_photo").set_input_files(str(photo))
    page.locator("input[name=_continue]").click()
    expect(page.locator(".messagelist")).to_be_visible()
    notice.refresh_from_db()
    assert notice.status == "posted" and notice.posted_at is not None

    # A villager objects; the objection is recorded, then resolved.
    row = page.locator("#objections-group tbody tr.form-row").first
    row.locator("input[name$=received_on]").fill("2017-03-03")
    row.locator("input[name$=raised_by]").fill("村民 次里")
    row.locator("textarea[name$=content]").fill("格桑家只养了 2 头猪")
    page.locator("input[name=_continue]").click()
    expect(page.locator("#objections-group")).to_contain_text("格桑家只养了 2 头猪")
    assert notice.objections.get().resolved_on is None
    saved = page.locator("#objections-group tbody tr.has_original").first
    saved.locator("textarea[name$=resolution]").fill("入户核实存栏 3 头，属实，维持公示")
    saved.locator("input[name$=resolved_on]").fill("2017-03-05")
    page.locator("input[name=_continue]").click()
    expect(page.locator("#objections-group")).to_contain_text("入户核实存栏 3 头")
    objection = notice.objections.get()
    assert (
        objection.resolved_on == datetime.date(2017, 3, 5)
        and objection.resolved_by == hongpo_year["official"]
    )

    # After the period, the notice closes; the list shows no open objection.
    page.goto(f"{live_server.url}/admin/disbursements/notice/")
    expect(page.locator("#result_list td.field-open_objections")).to_have_text("0")
    page.locator("#result_list input[name=_selected_action]").first.check()
    page.locator("select[name=action]").select_option(label="结束公示（公示期已满、异议已处理）")
    page.locator("button[name=index], .actions button").first.click()
    notice.refresh_from_db()
    assert notice.status == "closed"


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
    expect(page.locator("table")).to_contain_text("红坡村")
    expect(page.locator("table")).not_to_contain_text("红旗村")  # another township

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
