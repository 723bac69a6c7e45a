"""The cadre's list (我的挂包户, 本村贫困户 …): who needs the cadre first, why the others are not supported,
search by name or 户编号, 50 a page, the same few queries whatever the number of households."""

from __future__ import annotations

import re
from decimal import Decimal
from html import unescape
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from households.models import Household, Role, User
from subsidies import services

from ..disbursements.test_settlement import analyse, paid_two_tranches  # noqa: F401 (a fixture)
from ..factories import make_user, roster_row, sign

pytestmark = pytest.mark.django_db

LIMING = {"挂包干部": "李明", "挂包干部电话": "13800000001"}


def rows(html: str) -> list[str]:
    """The list's lines as a person reads them, in order."""
    listing = re.search(r'<ul class="households" id="household-list">(.*?)</ul>', html, re.S)
    assert listing is not None
    items = re.findall(r"<li[^>]*>(.*?)</li>", listing.group(1), re.S)
    return [" ".join(unescape(re.sub(r"<[^>]+>", " ", item)).split()) for item in items]


def title(html: str) -> str:
    found = re.search(r'<h1 class="list-title" id="list-title">(.*?)</h1>', html, re.S)
    assert found is not None
    return re.sub(r"<[^>]+>", "", found.group(1))


@pytest.fixture
def liming(import_rows: Any) -> User:
    """李明's households: Tibetan names of 4–6 characters, one of each state."""
    report = import_rows(
        [
            roster_row(户编号="A1", 户主姓名="农布次仁", 脱贫年度=2017, **LIMING),
            roster_row(户编号="A2", 户主姓名="阿旺次仁多吉", 脱贫年度=2017, **LIMING),
            roster_row(户编号="A3", 户主姓名="扎西卓玛", 脱贫年度=2017, **LIMING),
            roster_row(户编号="A4", 户主姓名="格桑拉姆", 脱贫年度=2017, **LIMING),
            roster_row(户编号="A5", 户主姓名="央宗", 脱贫年度=2018, **LIMING),
            roster_row(户编号="A6", 户主姓名="次仁", 脱贫年度=2016, 巩固提升="否", **LIMING),
            roster_row(户编号="B1", 户主姓名="王芳家", 挂包干部="王芳", 挂包干部电话="13800000002"),
        ]
    )
    assert report.ok, report.errors
    cadre = User.objects.get(phone="13800000001")
    plan = {}
    for code in ("A2", "A3", "A4"):
        household = Household.objects.get(code=code)
        plan[code] = services.plan_save(
            household=household, year=2017, species="猪", quantity=Decimal(3), actor=cadre
        )
    sign(plan["A3"])
    sign(plan["A4"])
    services.plan_save(  # changed after signing: to be signed again
        household=plan["A4"].household, year=2017, species="猪", quantity=Decimal(4), actor=cadre
    )
    return cadre


def test_households_needing_the_cadre_come_first_and_the_others_say_why(liming: User) -> None:
    client = Client()
    client.force_login(liming)
    html = client.get("/cadre/").content.decode()
    assert title(html) == "我的挂包户（6 户）"
    assert "待办 3 户" in html
    lines = rows(html)
    assert [line.split()[0] for line in lines] == [
        "农布次仁",
        "格桑拉姆",
        "阿旺次仁多吉",
        "扎西卓玛",
        "央宗",
        "次仁",
    ]
    assert "待填计划" in lines[0]
    assert "承诺书待重新签订" in lines[1]
    assert "承诺书未签（已逾期）" in lines[2]  # 15 April 2017 is long past
    assert "承诺书已签" in lines[3] and "1,500.00 元" in lines[3]
    # Not "未填计划": the reason, in the rules module's words.
    assert "不扶持 脱贫年度为 2018，本方案只扶持 2017 年度脱贫户" in lines[4]
    assert "不扶持 2016年度脱贫户须经工作队/乡镇列为“巩固提升”后才能享受扶持" in lines[5]
    assert "未填计划" not in html and "王芳家" not in html


def test_search_by_name_or_household_code(liming: User) -> None:
    client = Client()
    client.force_login(liming)
    by_name = client.get("/cadre/", {"q": "次仁"}).content.decode()
    assert [line.split()[0] for line in rows(by_name)] == ["农布次仁", "阿旺次仁多吉", "次仁"]
    assert "“次仁”：找到 3 户" in by_name
    assert title(by_name) == "我的挂包户（6 户）"  # the title still counts all of them
    by_code = client.get("/cadre/", {"q": "a4"}).content.decode()
    assert [line.split()[0] for line in rows(by_code)] == ["格桑拉姆"]
    nothing = client.get("/cadre/", {"q": "王芳家"}).content.decode()  # another cadre's: not found
    assert rows(nothing) == ["没有找到“王芳家”。"]


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        (Role.VILLAGE, "本村贫困户"),
        (Role.TOWNSHIP, "本乡镇贫困户"),
        (Role.CITY, "全市贫困户"),
        (Role.AUDITOR, "全市贫困户"),
    ],
)
def test_the_title_says_whose_households_these_are(liming: User, role: str, expected: str) -> None:
    client = Client()
    client.force_login(make_user(role))
    html = client.get("/cadre/").content.decode()
    assert title(html) == f"{expected}（7 户）"  # 红坡村, 建塘镇 and the city hold all seven


def _list_queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_fifty_a_page_and_the_same_queries_whatever_the_number(
    import_rows: Any, django_assert_max_num_queries: Any
) -> None:
    report = import_rows([roster_row(户编号=f"S{n:03d}", 户主姓名="达瓦", **LIMING) for n in range(1, 6)])
    assert report.ok
    cadre = User.objects.get(phone="13800000001")
    client = Client()
    client.force_login(cadre)
    few = _list_queries(client, "/cadre/")
    report = import_rows([roster_row(户编号=f"S{n:03d}", 户主姓名="达瓦", **LIMING) for n in range(6, 121)])
    assert report.ok
    for code in ("S010", "S060", "S110"):
        household = Household.objects.get(code=code)
        sign(
            services.plan_save(household=household, year=2017, species="羊", quantity=Decimal(5), actor=cadre)
        )
    with django_assert_max_num_queries(few):
        page_one = client.get("/cadre/").content.decode()
    with django_assert_max_num_queries(few):
        page_three = client.get("/cadre/", {"page": 3}).content.decode()
    assert len(rows(page_one)) == 50 and len(rows(page_three)) == 20
    assert title(page_one) == "我的挂包户（120 户）" and "第 1 / 3 页" in page_one
    # The three with a signed plan need nothing: they come last, on the third page.
    assert [line.split()[1] for line in rows(page_three)[-3:]] == ["S010", "S060", "S110"]


def test_a_household_waiting_for_its_analysis_comes_before_those_needing_nothing(
    paid_two_tranches: dict[str, Any],  # noqa: F811
) -> None:
    data = paid_two_tranches
    client = Client()
    client.force_login(data["cadres"]["李明"])
    lines = rows(client.get("/cadre/").content.decode())
    assert [line.split()[1] for line in lines] == ["H1", "H2", "X1"]
    assert "待填分析表" in lines[0] and "待填分析表" in lines[1]
    assert "不扶持 脱贫年度为 2015" in lines[2]
    analyse(data, "H1", actual_species="猪", actual_quantity=Decimal(3))
    lines = rows(client.get("/cadre/").content.decode())
    assert [line.split()[1] for line in lines] == ["H2", "H1", "X1"]
    assert "待填分析表" not in lines[1]


def test_the_reward_reads_as_a_sentence_on_the_household_page(
    paid_two_tranches: dict[str, Any],  # noqa: F811
) -> None:
    data = paid_two_tranches
    analysis = analyse(data, "H1", actual_species="猪", actual_quantity=Decimal(4))
    sentence = "补助总额 1,500.00 元，已兑现第一期 900.00 元、第二期 300.00 元；经评估产业运行良好，以奖代补 300.00 元。"
    assert analysis.explanation[0] == sentence
    client = Client()
    client.force_login(data["cadres"]["李明"])
    page = client.get(f"/cadre/households/{data['plans']['H1'].household_id}/?year=2017").content.decode()
    assert sentence in page
    assert "max(" not in page and "min(" not in page


def test_a_ratio_typo_says_what_to_correct_not_that_the_household_is_refused(liming: User) -> None:
    client = Client()
    client.force_login(liming)
    household = Household.objects.get(code="A1")
    html = client.post(
        f"/cadre/households/{household.pk}/quote/?year=2017",
        {
            "species": "猪",
            "quantity": "3",
            "custom_ratio": "on",
            "tranche1_percent": "60",
            "tranche2_percent": "20",
            "tranche3_percent": "10",
        },
    ).content.decode()
    assert "产前、产中、产后比例之和须为 100%，现为 90%" in html
    assert "不能扶持" not in html
