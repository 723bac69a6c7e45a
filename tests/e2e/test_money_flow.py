"""Money in the browser: a tranche-1 batch from the cadre's page through every approval to the payout,
the reconciliation, maker-checker and scope refusals, and the auditor's read-only view.

Every role logs in for real, each in its own browser context; the data (roster, plans, allocation)
is built through the services, as tests/disbursements/conftest.py's `city_year` builds it.
"""

from __future__ import annotations

import datetime
import importlib
import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from pytest_django.live_server_helper import LiveServer

from disbursements.approval import advance
from disbursements.models import Batch, Payout, Transition
from households.imports import ImportReport
from households.models import Household, Role, Township, User, Village
from subsidies import services as plan_services
from subsidies.models import Policy
from subsidies.money import services as money

from ..factories import city_year_rows, make_user, sign
from .conftest import PASSWORD, TIMEOUT_MS, VIEWPORT, login

# Transactional: the live server (another thread) must see what the test wrote. See conftest.py.
pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ImportRows = Callable[..., ImportReport]  # tests/conftest.py: rows through the real roster import
OpenAs = Callable[..., Page]

BATCHES = "/admin/disbursements/batch/"
QUEUE = BATCHES + "?queue=mine"
RECONCILE = "/admin/disbursements/account/reconcile/?year=2017"
QUEUE_SCREENSHOT = Path("/tmp/queue.png")
RECONCILE_SCREENSHOT = Path("/tmp/reconcile.png")

LIMING = "gb13800000001"  # the roster import names a cadre's user after the phone: 李明
STEP_LABELS = ("提交入户核实", "入户核实", "乡镇复核汇总", "市指挥部复核", "产业办和分管领导审批")
PAY_LABEL = "登记兑现（逐户核对日期、方式和凭证）"
PHONE: Any = {"width": 390, "height": 844}
SHOTS = Path("/tmp/shots/work")


# --- data: as tests/disbursements/conftest.py's city_year, plus the allocation and more officials ---


@pytest.fixture(autouse=True)
def _policy_2017(_geography: None) -> None:
    """The 2017 policy of the data migration, which a previous test's flush removed (as _geography)."""
    from django.apps import apps

    if not Policy.objects.filter(year=2017).exists():
        importlib.import_module("subsidies.migrations.0002_policy_2017").seed(apps, None)


@pytest.fixture
def money_year(import_rows: ImportRows) -> dict[str, Any]:
    """city_year's households and plans (H1 + H2 of 李明 in 红坡村: tranche 1 = 900 + 1,200), the
    2017 allocation posted, and one official per role (all with the test password)."""
    rows = city_year_rows()
    report = import_rows(rows)
    assert report.ok, [str(e) for e in report.errors]
    cadres = {u.name: u for u in User.objects.filter(role=Role.CADRE)}
    for user in cadres.values():
        user.set_password(PASSWORD)
        user.save(update_fields=["password"])
    assert cadres["李明"].username == LIMING
    for code, species, qty in (
        ("H1", "猪", 3),
        ("H2", "羊", 6),
        ("H3", "鸡", 55),
        ("J1", "中蜂", 4),
        ("J2", "猪", 2),
        ("T1", "羊", 2),
    ):
        household = Household.objects.get(code=code)
        plan = plan_services.plan_save(
            household=household,
            year=2017,
            species=species,
            quantity=Decimal(qty),
            actor=household.cadre,  # type: ignore[arg-type]
        )
        sign(plan)  # the 到户承诺书: a batch takes only signed plans
    allocation = money.allocate(year=2017, actor=None)
    assert allocation.households == 6 and allocation.target_total == Decimal("18000.00")
    return {
        "cadres": cadres,
        "liming": cadres["李明"],
        "hongpo": Village.objects.get(name="红坡村"),
        "village_user": make_user(Role.VILLAGE, "hongpo_official"),
        "township_user": make_user(Role.TOWNSHIP, "jiantang_official"),
        "city_user": make_user(Role.CITY, "city_official"),
        "approver": make_user(Role.APPROVER, "leader"),
        "auditor": make_user(Role.AUDITOR, "auditor"),
        "other_township_user": make_user(
            Role.TOWNSHIP, "huxiaxia_official", township=Township.objects.get(name="虎跳峡镇")
        ),
    }


def prepared_batch(data: dict[str, Any], *, up_to: str | None = None) -> Batch:
    """李明's tranche-1 batch of 红坡村 through the services, advanced up to and including `up_to`."""
    batch = money.batch_prepare(village=data["hongpo"], year=2017, tranche=1, actor=data["liming"])
    actors = {
        "submit": data["liming"],
        "verify": data["village_user"],
        "township_review": data["township_user"],
        "city_review": data["city_user"],
        "approve": data["approver"],
    }
    for action, actor in actors.items():
        if up_to is None:
            break
        advance([batch], action=action, actor=actor)
        if action == up_to:
            break
    batch.refresh_from_db()
    return batch


# --- browser helpers ------------------------------------------------------------------------------


@pytest.fixture
def open_as(browser: Browser, live_server: LiveServer) -> Iterator[OpenAs]:
    """open_as(username): a fresh desktop context (own cookies) logged in as that user."""
    contexts: list[BrowserContext] = []

    def open_(username: str, viewport: Any = None) -> Page:
        context = browser.new_context(viewport=viewport or VIEWPORT, locale="zh-CN")
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        login(page, live_server, username)
        return page

    yield open_
    for context in contexts:
        context.close()


def batch_rows(page: Page) -> Any:
    return page.locator("#result_list tbody tr")


def offered_actions(page: Page) -> list[str]:
    """The labels of the admin action dropdown, without the empty choice."""
    options = page.locator("#changelist-form select[name=action] option:not([value=''])")
    return [o.strip() for o in options.all_inner_texts()]


def run_action(page: Page, label: str) -> None:
    """Tick the only batch of the list, choose the action by its Chinese label and press Run."""
    rows = batch_rows(page)
    expect(rows).to_have_count(1)
    rows.first.locator("input.action-select").check()
    page.locator("#changelist-form select[name=action]").select_option(label=label)
    with page.expect_navigation():
        page.locator("#changelist-form button[name=index]").click()
    confirm = page.locator("input[type=submit][value^=确认]")
    if label in STEP_LABELS and confirm.count():  # a step asks for the note (and photos) first
        page.locator("#note").fill(f"{label}：已核对")
        with page.expect_navigation():
            confirm.click()


def open_batch(page: Page) -> None:
    """From a batch list, open the only batch's page (the place of work)."""
    expect(batch_rows(page)).to_have_count(1)
    with page.expect_navigation():
        batch_rows(page).first.locator("a").first.click()
    expect(page.locator("#batch-page")).to_be_visible()


def take_step(page: Page, label: str, note: str = "") -> None:
    """On the batch page: press the step's button, read the confirmation, write the note, confirm."""
    with page.expect_navigation():
        page.locator("#batch-actions a", has_text=label).click()
    expect(page.locator("#act-form")).to_be_visible()
    page.locator("#note").fill(note or f"{label}：已核对")
    with page.expect_navigation():
        page.locator("#act-form input[type=submit]").click()


def expect_success(page: Page, text: str | re.Pattern[str]) -> None:
    """The action's confirmation (message_user's default level: info), and no error beside it."""
    expect(page.locator(".messagelist .error")).to_have_count(0)
    expect(page.locator(".messagelist li")).to_contain_text(text)


def status_of(batch: Batch) -> str:
    batch.refresh_from_db()
    return batch.status


# --- journey 1: tranche 1 from the cadre's page to the households' hands ---------------------------


def test_tranche_one_from_cadre_through_every_approval_to_payout_and_balanced_books(
    open_as: OpenAs, live_server: LiveServer, money_year: dict[str, Any]
) -> None:
    url = live_server.url  # money_year: the roster, the plans, the allocation and the officials

    # 1. The cadre prepares the batch on his phone and lands on the batch page, where he submits it.
    SHOTS.mkdir(parents=True, exist_ok=True)
    cadre = open_as(LIMING, PHONE)
    cadre.goto(f"{url}/cadre/")
    cadre.locator("#batch-village").select_option(label="红坡村")
    cadre.locator("#batch-tranche").select_option(label="第一期（产前）")
    cadre.locator("#prepare-batch").click()
    batch = Batch.objects.get()
    expect(cadre).to_have_url(f"{url}{BATCHES}{batch.pk}/change/")
    expect(cadre.locator(".messagelist li")).to_contain_text("2 户，合计 2,100.00 元")
    assert (batch.status, batch.line_count, batch.total) == ("draft", 2, Decimal("2100.00"))
    expect(cadre.locator("#batch-lines")).to_contain_text("H1")
    expect(cadre.locator("#batch-actions a")).to_have_text(["提交入户核实"])
    cadre.screenshot(path=SHOTS / "cadre-batch-page-phone.png", full_page=True)
    with cadre.expect_navigation():
        cadre.locator("#batch-actions a", has_text="提交入户核实").click()
    expect(cadre.locator("#act-form")).to_contain_text("共 2 户，合计 2,100.00 元")
    cadre.screenshot(path=SHOTS / "cadre-confirm-phone.png", full_page=True)
    with cadre.expect_navigation():
        cadre.locator("#act-form input[type=submit]").click()
    expect_success(cadre, "提交入户核实：")
    expect(cadre.locator("#batch-status")).to_have_text("待入户核实")
    assert status_of(batch) == "prepared"

    # 2. The village official finds it on the to-do panel of the admin home, opens it and verifies.
    village = open_as("hongpo_official", PHONE)
    village.goto(url + "/admin/")
    todo = village.locator("#todo-panel")
    expect(todo).to_contain_text("待我办理的拨付批次：1 批，2,100.00 元")
    village.screenshot(path=SHOTS / "village-todo-phone.png", full_page=True)
    with village.expect_navigation():
        todo.locator("a", has_text="待我办理的拨付批次").click()
    expect(village.locator("#queue-summary")).to_contain_text("合计 2,100.00 元")
    open_batch(village)
    take_step(village, "入户核实", "入户核实：种苗已落实")
    expect_success(village, "入户核实：")
    assert status_of(batch) == "verified"

    # 3–5. Township, city and the approver, each from their own queue, on the batch page.
    officials: dict[str, Page] = {}
    for username, label, status_after, waiting in (
        ("jiantang_official", "乡镇复核汇总", "township_reviewed", "待乡镇复核"),
        ("city_official", "市指挥部复核", "city_reviewed", "待市指挥部复核"),
        ("leader", "产业办和分管领导审批", "approved", "待产业办审批"),
    ):
        official = officials[username] = open_as(username)
        official.goto(url + QUEUE)
        expect(batch_rows(official)).to_contain_text(waiting)
        if username == "jiantang_official":
            official.screenshot(path=QUEUE_SCREENSHOT, full_page=True)
        open_batch(official)
        expect(official.locator("#batch-actions a")).to_have_text([label, "退回上一步"])
        if username == "jiantang_official":
            official.screenshot(path=SHOTS / "township-batch-page.png", full_page=True)
        take_step(official, label)
        expect_success(official, f"{label}：")
        expect(official.locator(".messagelist li")).to_contain_text("合计 2,100.00 元")
        assert status_of(batch) == status_after, username

    # 6. The cadre hands over the cash and records it: date, method, reference; then confirms the total.
    cadre.goto(f"{url}{BATCHES}{batch.pk}/change/")
    with cadre.expect_navigation():
        cadre.locator("#batch-actions a", has_text="登记兑现").click()
    cadre.locator("#reference").fill("HP-2017-001")
    cadre.screenshot(path=SHOTS / "cadre-pay-phone.png", full_page=True)
    with cadre.expect_navigation():
        cadre.locator("#pay-next").click()
    expect(cadre.locator("#pay-summary")).to_contain_text("兑现 2 户，合计 2,100.00 元")
    with cadre.expect_navigation():
        cadre.locator("#pay-record").click()
    expect_success(cadre, "已登记兑现 2 户，合计 2,100.00 元；本批次已全部兑现。")
    assert status_of(batch) == "paid"
    assert sorted(Payout.objects.values_list("line__grant__household__code", "amount", "reference")) == [
        ("H1", Decimal("900.00"), "HP-2017-001"),
        ("H2", Decimal("1200.00"), "HP-2017-001"),
    ]

    # 7. The city reconciles: balanced, and 红坡村 shows what was paid.
    city = officials["city_official"]
    city.goto(url + RECONCILE)
    expect(city.locator("#reconcile-ok")).to_be_visible()
    expect(city.locator("#reconcile-problems")).to_have_count(0)
    hongpo = city.locator("#reconcile-table tbody tr", has_text="红坡村")
    expect(hongpo.locator("td")).to_have_text(
        ["红坡村", "9,000.00", "9,000.00", "0.00", "2,100.00", "0.00", "6,900.00", "0.00"]
    )
    city.screenshot(path=RECONCILE_SCREENSHOT, full_page=True)

    # The batch's page lists every step with who did it.
    city.goto(f"{url}{BATCHES}{batch.pk}/change/")
    actors = city.locator("#batch-transitions tbody tr td:nth-child(4)")
    expect(actors).to_have_text(
        ["李明", "hongpo_official", "jiantang_official", "city_official", "leader", "李明"]
    )
    assert list(Transition.objects.filter(batch=batch).values_list("action", flat=True)) == [
        "submit",
        "verify",
        "township_review",
        "city_review",
        "approve",
        "pay",
    ]
    expect(city.locator("#batch-lines tbody tr:not(.total-row) td.wrap:nth-last-child(2)")).to_have_text(
        [re.compile("已兑现 .*现金，凭证 HP-2017-001")] * 2
    )


# --- journey 2: maker-checker and scope, refused in Chinese ----------------------------------------


def test_whoever_did_a_step_is_refused_the_next_and_nothing_moves(
    open_as: OpenAs, live_server: LiveServer, money_year: dict[str, Any]
) -> None:
    data = money_year
    batch = prepared_batch(data, up_to="verify")
    official: User = data["township_user"]

    page = open_as(official.username)
    page.goto(live_server.url + QUEUE)
    run_action(page, "乡镇复核汇总")
    expect_success(page, "乡镇复核汇总：1 个批次")
    assert status_of(batch) == "township_reviewed"
    transitions = Transition.objects.filter(batch=batch).count()

    # The same person, now (say, seconded) at city HQ: the batch page shows the button disabled,
    # with the reason; the list's action and a forged confirmation are both refused.
    official.role = Role.CITY
    official.save(update_fields=["role"])
    page.goto(f"{live_server.url}{BATCHES}{batch.pk}/change/")
    expect(page.locator("#batch-actions")).to_contain_text("审核与经办分离")
    expect(page.locator("#batch-actions a", has_text="市指挥部复核")).to_have_count(0)
    page.goto(live_server.url + QUEUE)
    # The grant's actions for city HQ (other programmes' batch kinds add their own, named apart).
    grant_actions = [a for a in offered_actions(page) if "带贫" not in a and not a.startswith("登记兑现")]
    assert grant_actions == ["市指挥部复核", "退回上一步（须写理由）"]
    run_action(page, "市指挥部复核")
    expect(page.locator(".messagelist .error")).to_contain_text("同一人不能办理下一步")
    expect(page.locator(".messagelist li:not(.error)")).to_have_count(0)
    expect(batch_rows(page)).to_contain_text("待市指挥部复核")  # still waiting, for someone else
    page.goto(f"{live_server.url}{BATCHES}{batch.pk}/act/city_review/")
    with page.expect_navigation():
        page.locator("#act-form input[type=submit]").click()
    expect(page.locator(".messagelist .error")).to_contain_text("同一人不能办理下一步")
    assert status_of(batch) == "township_reviewed"
    assert Transition.objects.filter(batch=batch).count() == transitions


def test_another_townships_official_editing_the_url_sees_nothing_of_the_batch(
    open_as: OpenAs, live_server: LiveServer, money_year: dict[str, Any]
) -> None:
    batch = prepared_batch(money_year, up_to="verify")  # waits for 建塘镇, not 虎跳峡镇
    page = open_as("huxiaxia_official")

    page.goto(live_server.url + QUEUE)
    expect(page.locator("#queue-summary")).to_contain_text("0 个批次，0 户")
    expect(page.locator("#result_list")).to_have_count(0)
    page.goto(live_server.url + BATCHES)
    expect(page.locator("#result_list")).to_have_count(0)

    for view in ("change", "history"):
        response = page.goto(f"{live_server.url}{BATCHES}{batch.pk}/{view}/")
        assert response is not None and response.status in (200, 404)
        body = page.locator("body")
        for shown in ("红坡村", "2,100.00", "2100", "李明", "H1"):
            expect(body).not_to_contain_text(shown)
        if response.status == 200:  # Django admin: back to the index with a "does not exist" message
            expect(page.locator(".messagelist")).to_contain_text("不存在")
            expect(page).to_have_url(f"{live_server.url}/admin/")


# --- the auditor: reads everything, presses nothing -------------------------------------------------


def test_auditor_sees_batches_and_transitions_read_only(
    open_as: OpenAs, live_server: LiveServer, money_year: dict[str, Any]
) -> None:
    batch = prepared_batch(money_year, up_to="approve")
    money.payouts_record(batch=batch, actor=money_year["liming"], paid_on=datetime.date(2017, 5, 1))
    page = open_as("auditor")

    page.goto(live_server.url + BATCHES)
    expect(batch_rows(page)).to_have_count(1)
    expect(batch_rows(page)).to_contain_text("已兑现")
    expect(page.locator("#queue-summary")).to_contain_text("1 个批次，2 户")
    # No step, send-back or payout button; with no action at all Django shows no dropdown either.
    assert not set(offered_actions(page)) & {*STEP_LABELS, PAY_LABEL, "退回上一步（须写理由）"}
    expect(page.locator("#changelist-form select[name=action]")).to_have_count(0)
    expect(page.locator("#result_list input.action-select")).to_have_count(0)
    expect(page.locator(".object-tools a.addlink")).to_have_count(0)

    page.goto(f"{live_server.url}{BATCHES}{batch.pk}/change/")
    expect(page.locator("#batch-transitions tbody tr")).to_have_count(6)
    expect(page.locator("#batch-transitions")).to_contain_text("leader")
    expect(page.locator("#batch-actions")).to_have_count(0)
    for button in ("_save", "_continue", "_addanother"):
        expect(page.locator(f"[name={button}]")).to_have_count(0)
    expect(page.locator("a.deletelink")).to_have_count(0)
    expect(page.locator("select[name=action]")).to_have_count(0)

    page.goto(live_server.url + RECONCILE)
    expect(page.locator("#reconcile-ok")).to_be_visible()


# --- what these journeys found (see the report); strict, so a fix makes them fail until unmarked -----


def test_the_approval_record_speaks_chinese(
    open_as: OpenAs, live_server: LiveServer, money_year: dict[str, Any]
) -> None:
    batch = prepared_batch(money_year, up_to="approve")
    page = open_as("auditor")
    page.goto(f"{live_server.url}{BATCHES}{batch.pk}/change/")
    record = page.locator("#batch-transitions")
    expect(record.locator("tbody tr")).to_have_count(5)
    expect(record.locator("tbody tr td:nth-child(2)")).to_have_text(list(STEP_LABELS), timeout=1_000)
    expect(record).not_to_contain_text(
        re.compile("submit|verify|review|approve|draft|prepared"), timeout=1_000
    )


def test_the_action_dropdown_speaks_chinese(
    open_as: OpenAs, live_server: LiveServer, money_year: dict[str, Any]
) -> None:
    prepared_batch(money_year, up_to="submit")
    page = open_as("hongpo_official")
    page.goto(live_server.url + QUEUE)
    blank = page.locator("#changelist-form select[name=action] option[value='']")
    expect(blank).to_have_count(1)
    expect(blank).not_to_contain_text(re.compile("[A-Za-z]"), timeout=1_000)


def test_batch_amounts_in_the_list_are_grouped_like_the_summary(
    open_as: OpenAs, live_server: LiveServer, money_year: dict[str, Any]
) -> None:
    prepared_batch(money_year, up_to="submit")
    page = open_as("hongpo_official")
    page.goto(live_server.url + QUEUE)
    expect(page.locator("#queue-summary")).to_contain_text("2,100.00")
    expect(batch_rows(page).locator("td.field-total_yuan")).to_have_text("2,100.00", timeout=1_000)
