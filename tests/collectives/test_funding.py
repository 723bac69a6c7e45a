"""City HQ funds all 20 poor villages at once: from what has arrived, all or none, once."""

from __future__ import annotations

import datetime
import io
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from collectives import accounts, services
from collectives.models import VillageFund
from disbursements import ledger
from disbursements.reconcile import reconcile
from households.models import Role, Village

from ..factories import make_user

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def poor_villages() -> list[Village]:
    villages = list(Village.objects.order_by("pk")[:20])
    assert len(villages) == 20
    Village.objects.filter(pk__in=[v.pk for v in villages]).update(is_poor_village=True)
    return villages


def receive(amount: str, city: Any, reference: str = "香财农〔2017〕12号") -> None:
    services.budget_receive(
        year=2017,
        amount=D(amount),
        received_on=datetime.date(2017, 3, 1),
        reference=reference,
        actor=city,
    )


def test_all_poor_villages_are_funded_at_once_from_what_has_arrived(poor_villages: list[Village]) -> None:
    city = make_user(Role.CITY, "city_f")
    receive("19999999.99", city)
    with pytest.raises(
        ValidationError, match=r"余额 19,999,999.99 元，不足以向 20 个贫困村各下拨 1,000,000.00 元"
    ):
        services.funds_allocate_all(year=2017, actor=city)
    assert not VillageFund.objects.exists()
    assert services.city_balance(2017) == D("19999999.99")
    receive("0.01", city, reference="香财农〔2017〕13号")  # a second document: a second arrival
    with CaptureQueriesContext(connection) as queries:
        funds = services.funds_allocate_all(year=2017, actor=city)
    assert len(funds) == 20 and {f.amount for f in funds} == {D("1000000.00")}
    assert services.city_balance(2017) == 0
    # Again: nothing left to fund, nothing moves.
    assert services.funds_allocate_all(year=2017, actor=city) == []
    assert VillageFund.objects.count() == 20
    for village in poor_villages[:3]:
        purse = accounts.village_account(village, accounts.UNALLOCATED)
        assert ledger.balances([purse], 2017)[purse.pk] == D("1000000.00")
    assert reconcile(year=2017, fund=accounts.FUND)[0].problems == []
    assert len(queries) < 25, len(queries)


def test_funding_is_set_based() -> None:
    """The same number of queries for 5 villages as for 20."""
    city = make_user(Role.CITY, "city_q")
    villages = list(Village.objects.order_by("pk")[:20])
    counts = []
    for year, flagged in ((2017, villages[:5]), (2018, villages)):
        Village.objects.filter(pk__in=[v.pk for v in flagged]).update(is_poor_village=True)
        services.budget_receive(
            year=year,
            amount=D("20000000"),
            received_on=datetime.date(year, 3, 1),
            reference=f"香财农〔{year}〕12号",
            actor=city,
        )
        with CaptureQueriesContext(connection) as queries:
            funds = services.funds_allocate_all(year=year, actor=city)
        assert len(funds) == len(flagged)
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


def test_only_city_hq_funds_the_villages(poor_villages: list[Village]) -> None:
    city = make_user(Role.CITY, "city_g")
    receive("20000000", city)
    township = make_user(Role.TOWNSHIP, "jiantang_g")
    with pytest.raises(ValidationError, match="市指挥部"):
        services.funds_allocate_all(year=2017, actor=township)
    assert not VillageFund.objects.exists()


def test_the_command_funds_and_says_so_once(poor_villages: list[Village]) -> None:
    make_user(Role.CITY, "city_h")
    out = io.StringIO()
    with pytest.raises(CommandError, match="不足以向 20 个贫困村"):
        call_command("fund_villages", "--user", "city_h", stdout=out)
    call_command(
        "fund_villages", "--user", "city_h", "--budget", "20000000", "--received-on", "2017-03-01",
        "--reference", "香财农〔2017〕12号", stdout=out,
    )  # fmt: skip
    assert "已向 20 个贫困村下拨 2017 年扶持资金，合计 20,000,000.00 元" in out.getvalue()
    again = io.StringIO()
    call_command("fund_villages", "--user", "city_h", stdout=again)
    assert "均已下拨，没有改动" in again.getvalue()
    assert VillageFund.objects.count() == 20


def test_city_hq_funds_the_villages_from_the_admin(poor_villages: list[Village]) -> None:
    from django.test import Client

    url = "/admin/collectives/villagefund/allocate/?year=2017"
    city = Client()
    city.force_login(make_user(Role.CITY, "city_a"))
    page = city.get(url).content.decode()
    assert "以下 20 个贫困村尚未下拨" in page and "共需 20,000,000.00 元" in page
    refused = city.post(url, {"_allocate": "1"}, follow=True).content.decode()
    assert "不足以向 20 个贫困村" in refused and not VillageFund.objects.exists()
    arrived = {
        "_budget": "1",
        "amount": "20000000",
        "received_on": "2017-03-01",
        "reference": "香财农〔2017〕12号",
    }
    city.post(url, arrived)
    twice = city.post(url, arrived, follow=True).content.decode()  # a double click, or the page resent
    assert "“香财农〔2017〕12号”的 2017 年专项资金到位已登记过，未重复登记" in twice
    assert services.city_balance(2017) == D("20000000.00")
    done = city.post(url, {"_allocate": "1"}, follow=True).content.decode()
    assert "已向 20 个贫困村下拨 2017 年扶持资金，合计 20,000,000.00 元" in done
    assert "全部贫困村的扶持资金均已下拨" in done and VillageFund.objects.count() == 20
    township = Client()
    township.force_login(make_user(Role.TOWNSHIP, "jiantang_a"))
    assert township.get(url).status_code == 403
    assert township.post(url, {"_allocate": "1"}).status_code == 403
