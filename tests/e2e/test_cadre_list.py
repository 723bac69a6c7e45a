"""The cadre's list on a phone (390×844): Tibetan names of 4–6 characters, what needs doing first,
search, and the next page — without sideways scrolling."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from households.models import Household, User
from subsidies import services

from ..factories import roster_row, sign
from .conftest import login
from .test_cadre_plan import (
    CADRE_PASSWORD,
    CADRE_PHONE,
    ImportRows,
    _policy_2017,
    assert_no_horizontal_scroll,
    phone,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
__all__ = ["_policy_2017", "phone"]  # fixtures of the plan journey, used here too

SHOTS = Path("/tmp/shots/chinese")
NAMES = ["农布次仁", "阿旺次仁多吉", "扎西平措", "格桑卓玛", "鲁茸次里", "斯那拉姆"]


def test_the_cadre_finds_what_to_do_first_searches_and_pages_on_a_phone(
    phone: Page, live_server: LiveServer, import_rows: ImportRows
) -> None:
    rows = [
        roster_row(户编号=f"T{n:03d}", 户主姓名=NAMES[n % len(NAMES)], 脱贫年度=2017) for n in range(1, 56)
    ]
    rows += [roster_row(户编号="T900", 户主姓名="阿旺次仁多吉", 脱贫年度=2018)]  # not supported: says why
    assert import_rows(rows).ok
    cadre = User.objects.get(phone=CADRE_PHONE)
    cadre.set_password(CADRE_PASSWORD)
    cadre.save(update_fields=["password"])
    for code in [f"T{n:03d}" for n in range(1, 51)]:  # fifty with a signed plan: nothing to do
        plan = services.plan_save(
            household=Household.objects.get(code=code),
            year=2017,
            species="羊",
            quantity=Decimal(5),
            actor=cadre,
        )
        sign(plan)
    page = phone
    login(page, live_server, cadre.username, CADRE_PASSWORD)
    page.goto(f"{live_server.url}/cadre/")
    expect(page.locator("#list-title")).to_have_text("我的挂包户（56 户）")
    expect(page.locator("#list-summary")).to_contain_text("待办 5 户")
    items = page.locator("#household-list li")
    expect(items).to_have_count(50)
    # The five without a plan come first, each saying so.
    for index in range(5):
        expect(items.nth(index)).to_contain_text("待填计划")
    assert_no_horizontal_scroll(page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "e2e-cadre-list.png"))

    page.locator("#pager a[rel=next]").tap()
    expect(page.locator("#pager")).to_contain_text("第 2 / 2 页")
    last = page.locator("#household-list li").last
    expect(last).to_contain_text("阿旺次仁多吉")
    expect(last).to_contain_text("不扶持")
    expect(last).to_contain_text("脱贫年度为 2018，本方案只扶持 2017 年度脱贫户")
    assert_no_horizontal_scroll(page)
    page.screenshot(path=str(SHOTS / "e2e-cadre-list-page2.png"), full_page=True)

    page.get_by_label("户主姓名或户编号").fill("阿旺次仁多吉")
    page.get_by_role("button", name="搜索").tap()
    expect(page.locator("#search-result")).to_contain_text("“阿旺次仁多吉”：找到 11 户")
    expect(page.locator("#household-list li").first).to_contain_text("阿旺次仁多吉")
    assert_no_horizontal_scroll(page)
