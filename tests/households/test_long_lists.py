"""Lists that stay fast at a province's size (issue 14), as officials use them: a 身份证号 or a
户编号 finds its household exactly, a name still finds by any part, the city chooses a township
before its villages, and the counts above the list stay right on small lists."""

from __future__ import annotations

import pytest
from django.test import Client

from households.models import Household, Township, User
from households.pagination import ESTIMATE_FROM, EstimatedCountPaginator, planner_rows

from ..factories import id_number, roster_row

pytestmark = pytest.mark.django_db

HH = "/admin/households/household/"


@pytest.fixture
def registry(import_rows):  # type: ignore[no-untyped-def]
    report = import_rows(
        [
            roster_row(户编号="XG0001", 户主姓名="次仁扎西", 身份证号=id_number(seq=901)),
            roster_row(户编号="XG0002", 户主姓名="卓玛", 身份证号=id_number(seq=902)),
            roster_row(户编号="YK0003", 户主姓名="李华", 身份证号=id_number(seq=903), 村委会="红坡村"),
        ]
    )
    assert report.ok, report.errors
    return Household.objects.all()


def _codes(client: Client, url: str) -> set[str]:
    response = client.get(url)
    assert response.status_code == 200
    return {h.code for h in response.context["cl"].result_list}


def test_a_code_shaped_search_finds_the_household_exactly(registry, city_user: User) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(city_user)
    wanted = registry.get(code="XG0002")
    assert _codes(client, f"{HH}?q={wanted.id_number}") == {"XG0002"}
    assert _codes(client, f"{HH}?q={wanted.id_number.lower()}") == {"XG0002"}  # a typed x
    assert _codes(client, f"{HH}?q=XG0001") == {"XG0001"}
    assert _codes(client, f"{HH}?q=xg000") == {"XG0001", "XG0002"}  # the beginning of a 户编号
    # A code-shaped query is not a substring search: the middle of a number finds nothing.
    assert _codes(client, f"{HH}?q={wanted.id_number[3:15]}") == set()


def test_a_name_is_still_found_by_any_part(registry, city_user: User) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(city_user)
    assert _codes(client, f"{HH}?q=扎西") == {"XG0001"}
    assert _codes(client, f"{HH}?q=卓玛") == {"XG0002"}


def test_plans_are_searched_by_household_code_the_same_way(registry, city_user: User) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(city_user)
    response = client.get("/admin/subsidies/householdplan/?q=XG0001")
    assert response.status_code == 200


def test_the_city_chooses_a_township_before_its_villages(registry, city_user: User) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(city_user)
    town = Township.objects.get(name="建塘镇")
    first = client.get(HH)
    assert "红坡村" not in {
        str(c["display"]) for f in first.context["cl"].filter_specs for c in f.choices(first.context["cl"])
    }
    chosen = client.get(f"{HH}?township={town.pk}")
    labels = {
        str(c["display"]) for f in chosen.context["cl"].filter_specs for c in f.choices(chosen.context["cl"])
    }
    assert "红坡村" in labels


def test_the_count_is_exact_below_the_estimate_threshold(registry) -> None:  # type: ignore[no-untyped-def]
    paginator = EstimatedCountPaginator(Household.objects.order_by("code"), 50)
    assert paginator.count == 3
    estimate = planner_rows(Household.objects.all())
    assert estimate is None or estimate < ESTIMATE_FROM  # SQLite: None; PostgreSQL: the planner's guess


@pytest.fixture
def a_long_list(monkeypatch: pytest.MonkeyPatch) -> int:
    """The planner expects 2,000,000 rows (what PostgreSQL says of the province's registry)."""
    monkeypatch.setattr("households.pagination.planner_rows", lambda queryset: 2_000_000)
    return 2_000_000


def test_an_estimated_count_says_about_and_offers_no_facet_counts(  # type: ignore[no-untyped-def]
    registry, city_user: User, a_long_list: int
) -> None:
    client = Client()
    client.force_login(city_user)
    page = client.get(HH).content.decode()
    assert "约 2,000,000 条" in page
    assert "只列出前 100 页" in page
    # "显示计数" would run one COUNT(*) over the whole list per filter choice; forging its
    # parameter does not run them either.
    assert "显示计数" not in page
    forged = client.get(HH + "?_facets=True")
    assert forged.status_code == 200
    assert "显示计数" not in forged.content.decode() and "隐藏计数" not in forged.content.decode()
    assert not forged.context["cl"].add_facets
    # No "select all 2,000,000" for an action across the whole province.
    assert "选中所有" not in page
    searched = client.get(HH + "?q=扎西").content.decode()
    assert "约 2,000,000 条结果" in searched


def test_a_deep_page_of_an_estimated_list_asks_to_narrow_it(  # type: ignore[no-untyped-def]
    registry, city_user: User, a_long_list: int
) -> None:
    client = Client()
    client.force_login(city_user)
    response = client.get(HH + "?p=500")
    assert response.status_code == 200  # not Django's "?e=1" error page
    assert response.context["cl"].page_num == 100
    notes = [str(m) for m in response.context["messages"]]
    assert any("只能翻到前 100 页" in note and "缩小范围" in note for note in notes), notes
    # The pages offered stop at the 100th, which is the one shown.
    paginator = response.content.decode().split('class="paginator"')[1]
    assert 'aria-current="page">100<' in paginator
    assert 'href="?p=99"' in paginator
    assert "p=101" not in paginator
    assert client.get(HH).content.decode().split('class="paginator"')[1].count('href="?p=100"') == 1


def test_a_short_list_keeps_its_exact_count_and_facet_counts(registry, city_user: User) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(city_user)
    page = client.get(HH).content.decode()
    assert "约" not in page.split('class="paginator"')[1]
    assert "3 贫困户" in page
    assert "显示计数" in page
    assert client.get(HH + "?_facets=True").context["cl"].add_facets
