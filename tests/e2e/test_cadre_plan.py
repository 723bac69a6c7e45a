"""The cadre's plan on a phone: open a household, get the live quote, save, print the 承诺书, be refused."""

from __future__ import annotations

import importlib
import io
import re
import subprocess
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect
from pypdf import PdfReader
from pytest_django.live_server_helper import LiveServer

from households.imports import ImportReport
from households.models import Household, User
from subsidies import services
from subsidies.models import HouseholdPlan, Policy

from ..factories import roster_row
from .conftest import TIMEOUT_MS, login

# Transactional: the live server (another thread) must see what the test wrote. See conftest.py.
pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ImportRows = Callable[..., ImportReport]  # tests/conftest.py: rows through the real roster import

PHONE: ViewportSize = {"width": 390, "height": 844}
CADRE_PHONE = "13800000001"  # roster_row's 挂包干部电话: the import creates this cadre (李明)
CADRE_PASSWORD = "cadre-pw-for-tests-only"
HEAD = "卓玛拉姆"
PLAN_SCREENSHOT = Path("/tmp/cadre-plan.png")
PDF_FILE = Path("/tmp/commitment.pdf")
PDF_PAGE_PREFIX = Path("/tmp/commitment")  # pdftoppm -f 1 -l 1 writes /tmp/commitment-1.png
PDF_TIMEOUT_MS = 30_000  # WeasyPrint lays out and subsets the CJK font: seconds, not milliseconds


def money(amount: str, suffix: str = "") -> re.Pattern[str]:
    """'2,500.00' → a whole-text pattern: amounts are grouped as the plan's tables write them."""
    return re.compile("^" + re.escape(amount) + re.escape(suffix) + "$")


@pytest.fixture(autouse=True)
def _policy_2017(_geography: None) -> None:
    """The 2017 policy of the data migration, which a previous test's flush removed (as _geography)."""
    from django.apps import apps

    if not Policy.objects.filter(year=2017).exists():
        importlib.import_module("subsidies.migrations.0002_policy_2017").seed(apps, None)


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    """A fresh phone-sized, touch-enabled context (no cookies, no session) per test."""
    context = browser.new_context(
        viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2, locale="zh-CN"
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()


def roster_with_cadre(import_rows: ImportRows) -> tuple[User, Household]:
    """Two 2017 households of 李明, imported as the city does; he gets a password to log in with."""
    report = import_rows(
        [
            roster_row(户编号="XG0301", 户主姓名=HEAD, 脱贫年度=2017),
            roster_row(户编号="XG0302", 户主姓名="鲁茸次仁", 脱贫年度=2017),
        ]
    )
    assert report.ok, [str(e) for e in report.errors]
    cadre = User.objects.get(phone=CADRE_PHONE)
    assert cadre.name == "李明"
    cadre.set_password(CADRE_PASSWORD)
    cadre.save(update_fields=["password"])
    return cadre, Household.objects.get(code="XG0301")


def save_plan(household: Household, cadre: User) -> HouseholdPlan:
    """玛咖 3 亩 + 猪 3 头 through the service, as the form saves it."""
    return services.plan_save(
        household=household,
        year=2017,
        crops="玛咖",
        planting_area=Decimal(3),
        species="猪",
        quantity=Decimal(3),
        actor=cadre,
    )


def assert_no_horizontal_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"] + 1, f"{page.url} scrolls sideways at {PHONE['width']}px: {width}px wide"


def pdf_text(data: bytes) -> str:
    return "\n".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(data)).pages)


# --- journey: plan, quote, save, print, refusal ----------------------------------------------------


def test_cadre_plans_on_a_phone_prints_the_letter_and_is_refused_a_second_species(
    phone: Page, live_server: LiveServer, import_rows: ImportRows
) -> None:
    cadre, household = roster_with_cadre(import_rows)
    page = phone

    # My households, then tap one.
    login(page, live_server, cadre.username, CADRE_PASSWORD)
    page.goto(f"{live_server.url}/cadre/")
    households = page.locator("#household-list li")
    expect(households).to_have_count(2)
    expect(households.filter(has_text=HEAD)).to_contain_text("待填计划")
    assert_no_horizontal_scroll(page)
    page.locator("#household-list a", has_text=HEAD).tap()
    plan_url = f"{live_server.url}/cadre/households/{household.pk}/?year=2017"
    expect(page).to_have_url(plan_url)
    expect(page.locator("h2").first).to_contain_text(HEAD)

    # The plan, quoted by the server as the cadre types.
    page.get_by_label("种植品种").fill("玛咖")
    page.get_by_label("种植面积（亩）").fill("3")
    page.get_by_label("养殖品种").fill("猪")
    page.get_by_label("养殖数量").fill("3")
    expect(page.locator("#quote-total")).to_have_text(money("2,500.00", " 元"))
    lines = page.locator("#quote-lines")
    expect(lines).to_contain_text("种植 3.00 亩，按 2 亩封顶 × 500 元/亩 = 1,000.00 元")
    expect(lines).to_contain_text("猪 3 头 × 500 元/头 = 1,500.00 元")
    expect(lines).to_contain_text("分三期拨付（60:20:20）：产前 1,500.00 元，产中 500.00 元，产后 500.00 元")
    tranches = page.locator("#quote-tranches tbody tr")
    expect(tranches.locator("td:nth-child(1)")).to_have_text(["产前", "产中", "产后"])
    expect(tranches.locator("td:nth-child(2)")).to_have_text(["60%", "20%", "20%"])
    expect(tranches.locator("td:nth-child(3)")).to_have_text([money("1,500.00"), "500.00", "500.00"])
    expect(page.locator("#quote-refusal")).to_have_count(0)
    assert not HouseholdPlan.objects.exists(), "the live quote must not save"
    assert_no_horizontal_scroll(page)

    # Save; the page shows the stored plan, also after a reload.
    page.get_by_role("button", name="保存计划").tap()
    expect(page).to_have_url(plan_url + "&saved=1")
    expect(page.locator("#saved")).to_have_text("已保存")
    page.reload()
    expect(page.locator("#quote-total")).to_have_text(money("2,500.00", " 元"))
    expect(page.locator("#quote-lines")).to_contain_text("合计 2,500.00 元")
    expect(page.locator("#quote-tranches tbody tr td:nth-child(3)")).to_have_text(
        [money("1,500.00"), "500.00", "500.00"]
    )
    expect(page.get_by_label("种植品种")).to_have_value("玛咖")
    expect(page.get_by_label("养殖品种")).to_have_value("猪")
    expect(page.get_by_label("养殖数量")).to_have_value("3")
    plan = HouseholdPlan.objects.get(household=household, year=2017)
    assert (plan.grant_total, plan.crops, plan.species) == (Decimal("2500.00"), "玛咖", "猪")
    assert (plan.tranche1, plan.tranche2, plan.tranche3) == (Decimal(1500), Decimal(500), Decimal(500))
    assert_no_horizontal_scroll(page)
    page.screenshot(path=PLAN_SCREENSHOT, full_page=True)

    # The commitment letter: tapping the link opens it inline as a PDF.
    link = page.locator("#commitment-pdf")
    expect(link).to_have_text("打印承诺书（PDF）")
    href = link.get_attribute("href")
    assert href == f"/cadre/plans/{plan.pk}/commitment.pdf"
    with page.expect_response(lambda r: r.url.endswith(href), timeout=PDF_TIMEOUT_MS) as opened:
        link.tap()
    assert opened.value.status == 200
    assert opened.value.headers["content-type"] == "application/pdf"
    # RFC 6266: the browser offers 到户承诺书-XG0301-卓玛拉姆-2017.pdf when saving.
    assert opened.value.headers["content-disposition"] == "inline; filename*=utf-8''" + quote(
        "到户承诺书-XG0301-卓玛拉姆-2017.pdf"
    )
    # Chromium's PDF viewer takes over the tab, so the bytes come through the same session's request.
    response = page.request.get(live_server.url + href, timeout=PDF_TIMEOUT_MS)
    assert response.status == 200
    pdf = response.body()
    assert pdf.startswith(b"%PDF-")
    PDF_FILE.write_bytes(pdf)
    text = pdf_text(pdf)
    for expected in ("到户承诺书", HEAD, "XG0301", "李明", "合计 2,500.00 元"):
        assert expected in text, f"{expected!r} is not in the commitment letter:\n{text}"
    assert re.search(r"补助合计 2,?500\.00", text), text
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(PDF_FILE), str(PDF_PAGE_PREFIX)],
        check=True,
        timeout=60,
    )
    page.go_back()
    expect(page.locator("#quote-total")).to_have_text(money("2,500.00", " 元"))

    # A second breeding species: refused as it is typed, and refused again on saving.
    page.get_by_label("养殖品种").fill("猪、羊")
    expect(page.locator("#quote-refusal")).to_contain_text("每户只能享受 1 项养殖补助")
    expect(page.locator("#quote-total")).to_have_count(0)
    page.get_by_role("button", name="保存计划").tap()
    expect(page.locator("#plan-form .errorlist")).to_contain_text("每户只能享受 1 项养殖补助")
    expect(page.locator("#quote-refusal")).to_contain_text("每户只能享受 1 项养殖补助")
    expect(page.get_by_label("养殖品种")).to_have_value("猪、羊")  # the cadre's input is kept to correct
    assert_no_horizontal_scroll(page)
    plan.refresh_from_db()
    assert (plan.grant_total, plan.species) == (Decimal("2500.00"), "猪")
    assert HouseholdPlan.objects.count() == 1

    # Back on the list, the household shows the stored plan.
    page.goto(f"{live_server.url}/cadre/")
    expect(households.filter(has_text=HEAD)).to_contain_text(re.compile(r"填报中 · 2,?500\.00 元"))


# --- regressions of bugs found by this journey -----------------------------------------------


def test_amounts_are_written_with_thousands_separators(
    phone: Page, live_server: LiveServer, import_rows: ImportRows
) -> None:
    cadre, household = roster_with_cadre(import_rows)
    plan = save_plan(household, cadre)
    page = phone
    login(page, live_server, cadre.username, CADRE_PASSWORD)

    page.goto(f"{live_server.url}/cadre/households/{household.pk}/?year=2017")
    expect(page.locator("#quote-lines")).to_contain_text("合计 2,500.00 元")  # rules.yuan: grouped
    expect(page.locator("#quote-total")).to_have_text("2,500.00 元", timeout=1_000)
    expect(page.locator("#quote-tranches tbody tr td:nth-child(3)")).to_have_text(
        ["1,500.00", "500.00", "500.00"], timeout=1_000
    )
    page.goto(f"{live_server.url}/cadre/")
    expect(page.locator("#household-list")).to_contain_text("2,500.00 元", timeout=1_000)
    pdf = page.request.get(f"{live_server.url}/cadre/plans/{plan.pk}/commitment.pdf", timeout=PDF_TIMEOUT_MS)
    text = pdf_text(pdf.body())
    assert "补助合计 2,500.00" in text, text
    assert "1,000.00" in text.split("补助合计")[0], text  # the 特色种植 row, before the total


def test_a_refused_save_does_not_say_saved(
    phone: Page, live_server: LiveServer, import_rows: ImportRows
) -> None:
    cadre, household = roster_with_cadre(import_rows)
    save_plan(household, cadre)
    page = phone
    login(page, live_server, cadre.username, CADRE_PASSWORD)
    page.goto(f"{live_server.url}/cadre/households/{household.pk}/?year=2017&saved=1")  # where a save lands

    page.get_by_label("养殖品种").fill("猪、羊")
    page.get_by_role("button", name="保存计划").tap()

    expect(page.locator("#plan-form .errorlist")).to_contain_text("每户只能享受 1 项养殖补助")
    expect(page.locator("#saved")).to_have_count(0, timeout=1_000)
