"""进度看板: each role lands on its own area's progress, the numbers are the services' numbers, the
Excel says the same, and no URL parameter widens what a user sees."""

from __future__ import annotations

import datetime
import io
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any

import openpyxl
import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from disbursements import notices, summaries
from disbursements.approval import advance
from disbursements.dashboard import dashboard_for
from households.models import Household, Role, Township, User, Village
from subsidies import services as plan_services
from subsidies.money import services, settlement
from subsidies.money.dashboard import COLUMNS

from ..factories import jpeg_upload, make_user, pdf_upload, roster_row
from .test_settlement import DAY, analyse, chain


def chain_in(village: Village, batch: Any, data: dict[str, Any], maker: User) -> None:
    """The approval chain for a batch of another village than 红坡村: verified by its own official."""
    official = User.objects.filter(role=Role.VILLAGE, village=village).first() or make_user(
        Role.VILLAGE, f"official{village.pk}", village=village
    )
    chain(batch, {**data, "village_user": official}, maker)


pytestmark = pytest.mark.django_db

AFTER_DEADLINE = datetime.date(2018, 1, 10)
HEADINGS = ["户数", "符合条件", "已填计划", "承诺书按期签订", "承诺书逾期", "第一期已兑现", "第二期已兑现"]


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path  # commitment scans land here, not in the project


def sign(plan: Any, day: datetime.date, cadre: User) -> None:
    plan_services.commitment_record(plan=plan, signed_on=day, scan=pdf_upload("signed.pdf"), actor=cadre)


@pytest.fixture
def year_in_progress(city_year: dict[str, Any], import_rows: Any) -> dict[str, Any]:
    """建塘镇 in the middle of 2017, built through the services:

    红坡村: H1, H2 (李明) and H3 (王芳) eligible in 一组, H4 eligible in 二组 without a plan, X1 (2015)
    not eligible. H1's letter signed on 10 April, H2's on 20 April; H3's plan was changed after its
    letter was signed (待重新签订: no longer counts as signed). 吉迪村 and 红旗村 signed on 1 April.
    H1: 猪 3 → 1,500, tranches 1 and 2 paid (1,200), settled active: a reward of 300 waits for its 公示.
    H2: 羊 6 → 2,000, tranches 1 and 2 paid (1,600), settled inactive, recovery of 1,600, 500 repaid.
    吉迪村: J1 (中蜂 4 → 800) and J2 (2016 巩固提升, 猪 2 → 1,000), tranche 1 paid by 王芳 (480 + 600).
    虎跳峡镇 红旗村: T1 with a plan (羊 2 → 800), nothing paid.
    """
    data = city_year
    assert import_rows(
        [roster_row(户编号="H4", 村民小组="二组", 挂包干部="王芳", 挂包干部电话="13800000002")]
    ).ok
    liming, wangfang = data["cadres"]["李明"], data["cadres"]["王芳"]
    sign(data["plans"]["H1"], datetime.date(2017, 4, 10), liming)
    sign(data["plans"]["H2"], datetime.date(2017, 4, 20), liming)
    h3 = Household.objects.get(code="H3")
    plan_services.plan_save(household=h3, year=2017, species="鸡", quantity=Decimal(60), actor=wangfang)
    services.allocate(year=2017, actor=data["city_user"])

    for tranche in (1, 2):
        batch = services.batch_prepare(village=data["hongpo"], year=2017, tranche=tranche, actor=liming)
        chain(batch, data, liming)
        services.payouts_record(batch=batch, actor=liming, paid_on=DAY)
    batch = services.batch_prepare(village=data["jidi"], year=2017, tranche=1, actor=wangfang)
    chain_in(data["jidi"], batch, data, wangfang)
    services.payouts_record(batch=batch, actor=wangfang, paid_on=DAY)

    analyse(data, "H1", actual_species="猪", actual_quantity=Decimal(4))  # reward 300, not yet paid

    analyse(data, "H2", assessment="inactive")
    h2 = Household.objects.get(code="H2")
    order = settlement.recovery_raise(
        household=h2, year=2017, actor=data["village_user"], reason="未发展产业"
    )
    settlement.recovery_approve(order=order, actor=data["township_user"])
    settlement.recovery_repay(
        order=order, amount=Decimal("500.00"), received_on=DAY, actor=data["village_user"]
    )
    return data


# What a 建塘镇 official must read, row by row (counts, then money).
HONGPO: dict[str, Any] = {
    "户数": 5,
    "符合条件": 4,
    "已填计划": 3,
    "承诺书按期签订": 1,
    "承诺书逾期": 2,
    "第一期已兑现": 2,
    "第二期已兑现": 2,
    "第三期/以奖代补已兑现": 0,
    "已结算": 2,
    "收回户数": 1,
    "下拨金额（元）": Decimal("12000.00"),
    "已兑现金额（元）": Decimal("2800.00"),  # H1 900 + 300, H2 1,200 + 400
    "已收回金额（元）": Decimal("500.00"),
}
JIDI: dict[str, Any] = {
    "户数": 2,
    "符合条件": 2,
    "已填计划": 2,
    "承诺书按期签订": 2,
    "承诺书逾期": 0,
    "第一期已兑现": 2,
    "第二期已兑现": 0,
    "第三期/以奖代补已兑现": 0,
    "已结算": 0,
    "收回户数": 0,
    "下拨金额（元）": Decimal("6000.00"),
    "已兑现金额（元）": Decimal("1080.00"),
    "已收回金额（元）": Decimal("0.00"),
}


class _Table(HTMLParser):
    """The dashboard's first table (the household grant's) as the user reads it: {first cell:
    {heading: text}}, and the links. Other programmes' sections follow it in their own tables."""

    def __init__(self) -> None:
        super().__init__()
        self._done = False
        self.headings: list[str] = []
        self.rows: dict[str, dict[str, str]] = {}
        self.links: dict[str, dict[str, str]] = {}
        self._cells: list[str] | None = None
        self._hrefs: list[str | None] = []
        self._in_th = self._in_cell = False
        self._text = ""
        self._href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._done:
            return
        if tag == "tr":
            self._cells, self._hrefs = [], []
        elif tag in ("td", "th"):
            self._in_cell, self._text, self._href = True, "", None
        elif tag == "a" and self._in_cell:
            self._href = dict(attrs).get("href")

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self.headings:
            self._done = True
        if self._done:
            return
        if tag in ("td", "th") and self._cells is not None:
            self._cells.append(self._text.strip())
            self._hrefs.append(self._href)
            self._in_cell = False
        elif tag == "tr" and self._cells:
            if not self.headings:
                self.headings = self._cells
            else:
                name = self._cells[0]
                self.rows[name] = dict(zip(self.headings[1:], self._cells[1:], strict=True))
                self.links[name] = {
                    h: href for h, href in zip(self.headings[1:], self._hrefs[1:], strict=True) if href
                }
            self._cells = None

    def handle_data(self, data: str) -> None:
        if self._in_cell:
            self._text += data


def read_table(html: str) -> _Table:
    table = _Table()
    table.feed(html)
    return table


def as_numbers(cells: dict[str, str]) -> dict[str, Any]:
    def number(text: str) -> Any:
        if text == "—":
            return None
        return Decimal(text.replace(",", "")) if "." in text else int(text)

    return {heading: number(text) for heading, text in cells.items()}


def page(user: User, query: str = "") -> Any:
    client = Client()
    client.force_login(user)
    return client.get(f"/dashboard/{query}")


def test_city_hq_sees_every_township_and_a_total(year_in_progress: dict[str, Any]) -> None:
    response = page(year_in_progress["city_user"])
    assert response.status_code == 200
    table = read_table(response.content.decode())
    townships = list(Township.objects.order_by("code").values_list("name", flat=True))
    assert len(townships) == 11
    assert list(table.rows) == [*townships, "合计"]
    jiantang = as_numbers(table.rows["建塘镇"])
    assert jiantang["户数"] == 7 and jiantang["符合条件"] == 6 and jiantang["已填计划"] == 5
    assert jiantang["已兑现金额（元）"] == HONGPO["已兑现金额（元）"] + JIDI["已兑现金额（元）"]
    assert as_numbers(table.rows["虎跳峡镇"])["下拨金额（元）"] == Decimal("3000.00")
    total = as_numbers(table.rows["合计"])
    assert total["户数"] == 8 and total["符合条件"] == 7
    assert total["下拨金额（元）"] == Decimal("21000.00")  # 3,000 × 7 eligible households


def test_township_sees_its_villages_with_the_services_numbers(year_in_progress: dict[str, Any]) -> None:
    response = page(year_in_progress["township_user"])
    table = read_table(response.content.decode())
    villages = list(
        Village.objects.filter(township__name="建塘镇").order_by("code").values_list("name", flat=True)
    )
    assert list(table.rows) == [*villages, "合计"]
    assert as_numbers(table.rows["红坡村"]) == HONGPO
    assert as_numbers(table.rows["吉迪村"]) == JIDI
    assert "红旗村" not in response.content.decode() and "虎跳峡镇" not in response.content.decode()
    total = as_numbers(table.rows["合计"])
    assert total["下拨金额（元）"] == Decimal("18000.00") and total["已收回金额（元）"] == Decimal("500.00")


def test_a_paid_reward_counts_as_tranche_3(year_in_progress: dict[str, Any]) -> None:
    data = year_in_progress
    liming = data["cadres"]["李明"]
    reward = settlement.reward_batch_prepare(village=data["hongpo"], year=2017, actor=liming)
    advance([reward], action="submit", actor=liming)
    advance([reward], action="verify", actor=data["village_user"])
    notice = notices.notice_issue(
        kind="reward",
        year=2017,
        village=data["hongpo"],
        actor=data["village_user"],
        batch=reward,
        start=datetime.date(2017, 9, 1),
    )
    notices.notice_post(notice=notice, actor=data["village_user"], photo=jpeg_upload("b.jpg"))
    for action, actor in (
        ("township_review", "township_user"),
        ("city_review", "city_user"),
        ("approve", "approver"),
    ):
        advance([reward], action=action, actor=data[actor])
    services.payouts_record(batch=reward, actor=liming, paid_on=DAY)
    row = as_numbers(read_table(page(data["township_user"]).content.decode()).rows["红坡村"])
    assert row["第三期/以奖代补已兑现"] == 1
    assert row["已兑现金额（元）"] == Decimal("3100.00")  # H1 now has its whole grant of 1,500


def test_city_money_agrees_with_the_reconciliation_report(year_in_progress: dict[str, Any]) -> None:
    board = dashboard_for(year_in_progress["city_user"], year=2017, today=AFTER_DEADLINE)
    city, problems = services.reconcile(year=2017)
    assert problems == []
    by_name = {row.name: row for row in board.rows}
    for level in city.children:
        row = by_name[level.name]
        assert (row.allocated, row.paid, row.recovered) == (level.allocated, level.paid, level.recovered)
    assert (board.total.paid, board.total.recovered) == (city.paid, city.recovered)


@pytest.mark.parametrize(
    "query",
    [
        "?township={huxia}",
        "?village={hongqi}",
        "?township={own}&village={hongqi}",
        "?year=2017&village={hongqi}&township={huxia}",
        "?township=abc",
        "?village=-1",
    ],
)
@pytest.mark.parametrize("path", ["/dashboard/", "/dashboard/xlsx/"])
def test_no_url_parameter_shows_a_township_official_another_township(
    year_in_progress: dict[str, Any], query: str, path: str
) -> None:
    user = year_in_progress["township_user"]
    ids = {
        "huxia": Township.objects.get(name="虎跳峡镇").pk,
        "hongqi": Village.objects.get(name="红旗村").pk,
        "own": user.township_id,
    }
    client = Client()
    client.force_login(user)
    response = client.get(path + query.format(**ids))
    assert response.status_code == 404
    assert "红旗村" not in response.content.decode()


def test_a_township_official_opens_one_of_their_villages_by_its_groups(
    year_in_progress: dict[str, Any],
) -> None:
    user = year_in_progress["township_user"]
    response = page(user, f"?village={year_in_progress['hongpo'].pk}")
    table = read_table(response.content.decode())
    assert list(table.rows) == ["一组", "二组", "合计"]
    assert as_numbers(table.rows["合计"]) == HONGPO
    assert as_numbers(table.rows["二组"])["符合条件"] == 1  # H4, no plan yet
    assert table.rows["一组"]["下拨金额（元）"] == "—"  # money is allocated to the village, not its groups


def test_village_official_sees_only_their_village(year_in_progress: dict[str, Any]) -> None:
    user = year_in_progress["village_user"]
    response = page(user)
    table = read_table(response.content.decode())
    assert list(table.rows) == ["一组", "二组", "合计"]
    assert as_numbers(table.rows["合计"]) == HONGPO
    assert "吉迪村" not in response.content.decode()
    # Naming their own township only narrows to what they already see: their village alone.
    own_township = read_table(page(user, f"?township={user.township_id}").content.decode())
    assert list(own_township.rows) == ["红坡村", "合计"]
    assert as_numbers(own_township.rows["红坡村"]) == HONGPO
    assert page(user, f"?village={year_in_progress['jidi'].pk}").status_code == 404


def test_cadre_sees_the_summary_of_their_own_households(year_in_progress: dict[str, Any]) -> None:
    liming = year_in_progress["cadres"]["李明"]
    table = read_table(page(liming).content.decode())
    assert list(table.rows) == ["建塘镇 红坡村", "合计"]  # 李明 holds H1, H2 and X1 (not eligible)
    row = as_numbers(table.rows["建塘镇 红坡村"])
    assert (row["户数"], row["符合条件"], row["已填计划"], row["收回户数"]) == (3, 2, 2, 1)
    assert row["已兑现金额（元）"] == Decimal("2800.00")
    assert row["下拨金额（元）"] == Decimal("6000.00")  # his account for 红坡村: 2 households × 3,000


def test_the_excel_has_the_same_numbers_as_the_page(year_in_progress: dict[str, Any]) -> None:
    user = year_in_progress["township_user"]
    client = Client()
    client.force_login(user)
    response = client.get("/dashboard/xlsx/?year=2017")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == ["村委会", *(c.label for c in COLUMNS)]
    by_name = {row[0]: dict(zip(rows[0][1:], row[1:], strict=True)) for row in rows[1:]}
    page_rows = read_table(page(user).content.decode()).rows
    assert list(by_name) == list(page_rows)
    assert rows[-1][0] == "合计"
    for name, cells in page_rows.items():
        for heading, expected in as_numbers(cells).items():
            value = by_name[name][heading]
            assert isinstance(value, int | float), (name, heading, value)  # numeric cells, not text
            assert Decimal(str(value)).quantize(Decimal("0.01")) == Decimal(expected).quantize(
                Decimal("0.01")
            ), (name, heading)
    # Scoped exactly like the page: another township is not in the file.
    assert "红旗村" not in by_name


def test_every_number_links_to_a_list_the_user_may_open(year_in_progress: dict[str, Any]) -> None:
    for user in (year_in_progress["city_user"], year_in_progress["township_user"]):
        client = Client()
        client.force_login(user)
        table = read_table(client.get("/dashboard/").content.decode())
        urls = {url for row in table.links.values() for url in row.values() if url.startswith("/admin/")}
        assert len(urls) > 10
        for url in urls:
            assert client.get(url).status_code == 200, url
    # The household count of a village opens exactly those households.
    client = Client()
    client.force_login(year_in_progress["township_user"])
    table = read_table(client.get("/dashboard/").content.decode())
    listing = client.get(table.links["红坡村"]["户数"])
    assert listing.context["cl"].result_count == HONGPO["户数"]
    allocation = client.get(table.links["红坡村"]["下拨金额（元）"])
    assert [e.amount for e in allocation.context["cl"].result_list] == [HONGPO["下拨金额（元）"]]


def test_before_15_april_an_unsigned_letter_is_not_late_yet(year_in_progress: dict[str, Any]) -> None:
    user = year_in_progress["township_user"]
    before = {r.name: r for r in dashboard_for(user, year=2017, today=datetime.date(2017, 4, 15)).rows}
    after = {r.name: r for r in dashboard_for(user, year=2017, today=AFTER_DEADLINE).rows}
    assert (before["红坡村"].commitment_on_time, before["红坡村"].commitment_late) == (1, 1)  # H2 signed late
    # + H3, whose plan changed after signing: its letter no longer binds and must be signed again
    assert (after["红坡村"].commitment_on_time, after["红坡村"].commitment_late) == (1, 2)
    assert (before["吉迪村"].commitment_late, after["吉迪村"].commitment_late) == (0, 0)


def test_a_year_without_policy_says_so_instead_of_failing(year_in_progress: dict[str, Any]) -> None:
    response = page(year_in_progress["city_user"], "?year=2019")
    assert response.status_code == 200
    html = response.content.decode()
    assert "2019 年度没有扶持政策" in html
    assert as_numbers(read_table(html).rows["合计"])["已填计划"] == 0


def test_the_landing_page_needs_a_login_and_a_role(year_in_progress: dict[str, Any]) -> None:
    anonymous = Client()
    assert anonymous.get("/").headers["Location"] == "/dashboard/"
    response = anonymous.get("/dashboard/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/admin/login/")
    assert page(make_user("", is_staff=True)).status_code == 403


def test_the_page_is_self_contained(year_in_progress: dict[str, Any]) -> None:
    html = page(year_in_progress["city_user"]).content.decode()
    assert "<svg" in html and "<script" not in html
    assert "http://" not in html and "https://" not in html  # no CDN, no remote font
    assert "Noto Sans CJK SC" in html


def grow(data: dict[str, Any], import_rows: Any) -> None:
    """Forty more households in five villages of three townships, with plans and a paid tranche."""
    places = [
        ("建塘镇", "红坡村"),
        ("建塘镇", "吉迪村"),
        ("虎跳峡镇", "红旗村"),
        ("金江镇", None),
        ("建塘镇", "尼史村"),
    ]
    jinjiang = Village.objects.filter(township__name="金江镇").order_by("code").first()
    assert jinjiang is not None
    rows = []
    for index in range(40):
        township, village = places[index % len(places)]
        rows.append(
            roster_row(
                户编号=f"G{index:03d}",
                乡镇=township,
                村委会=village or jinjiang.name,
                村民小组=f"{index % 4 + 1}组",
                挂包干部="赵强",
                挂包干部电话="13800000009",
            )
        )
    assert import_rows(rows).ok
    zhao = User.objects.get(phone="13800000009")
    for household in Household.objects.filter(code__startswith="G"):
        plan = plan_services.plan_save(
            household=household, year=2017, species="鸡", quantity=Decimal(50), actor=zhao
        )
        sign(plan, datetime.date(2017, 4, 1), zhao)
    services.allocate(year=2017, actor=data["city_user"])
    batch = services.batch_prepare(village=data["jidi"], year=2017, tranche=1, actor=zhao)
    chain_in(data["jidi"], batch, data, zhao)
    services.payouts_record(batch=batch, actor=zhao, paid_on=DAY)


def test_the_dashboard_costs_the_same_queries_whatever_the_number_of_households(
    year_in_progress: dict[str, Any], import_rows: Any
) -> None:
    users = [year_in_progress[k] for k in ("city_user", "township_user", "village_user")]

    def costs() -> list[int]:
        summaries.refresh(year=2017)  # the worker's part, pinned on its own below
        counts = []
        for user in users:
            client = Client()
            client.force_login(user)
            for path in ("/dashboard/", "/dashboard/xlsx/"):
                with CaptureQueriesContext(connection) as queries:
                    assert client.get(path).status_code == 200
                counts.append(len(queries))
        return counts

    small = costs()
    before = Household.objects.count()
    grow(year_in_progress, import_rows)
    assert Household.objects.count() == before + 40
    assert costs() == small
    # The grant table's queries, the to-do panel's fixed few, and a fixed handful for each other
    # programme's section and to-do sources (organisations, village funds).
    assert max(small) <= 34


def test_refreshing_the_summaries_costs_the_same_queries_whatever_the_number_of_households(
    year_in_progress: dict[str, Any], import_rows: Any
) -> None:
    """The worker's refresh of a batch of townships: set-based, like the page's reads."""
    townships = list(
        Township.objects.filter(name__in=["建塘镇", "虎跳峡镇", "金江镇"]).values_list("pk", flat=True)
    )

    def cost() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert summaries.refresh(year=2017, township_ids=townships) == 3
        return len(queries)

    summaries.refresh(year=2017)  # the first ever also creates the year's state rows
    small = cost()
    grow(year_in_progress, import_rows)
    assert cost() == small <= 25  # 20, the missing-rows read, the claim (SKIP LOCKED, a savepoint)


def test_the_tranche_counts_open_the_payouts_of_that_tranche(year_in_progress: dict[str, Any]) -> None:
    client = Client()
    client.force_login(year_in_progress["village_user"])
    table = read_table(client.get("/dashboard/").content.decode())
    for heading, tranche in (("第一期已兑现", 1), ("第二期已兑现", 2)):
        listing = client.get(table.links["合计"][heading])
        payouts = list(listing.context["cl"].queryset)
        assert len(payouts) == HONGPO[heading] and {p.tranche for p in payouts} == {tranche}
