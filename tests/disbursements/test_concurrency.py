"""Races under real concurrency (PostgreSQL row locks): exactly one side of each race wins, and the
books reconcile afterwards."""

from __future__ import annotations

import datetime
import threading
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections

from disbursements.approval import advance
from disbursements.models import Entry, Payout
from households.models import Household
from subsidies.models import EquityInvestment, GrantLine
from subsidies.money import guard as grant
from subsidies.money import services, settlement

from ..factories import make_organisation, pdf_upload

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def approved_batch(city_year: dict[str, Any]) -> Any:
    services.allocate(year=2017, actor=None)
    liming = city_year["cadres"]["李明"]
    batch = services.batch_prepare(village=city_year["hongpo"], year=2017, tranche=1, actor=liming)
    advance([batch], action="submit", actor=liming)
    advance([batch], action="verify", actor=city_year["village_user"])
    advance([batch], action="township_review", actor=city_year["township_user"])
    advance([batch], action="city_review", actor=city_year["city_user"])
    advance([batch], action="approve", actor=city_year["approver"])
    return batch, liming, city_year["village_user"]


def test_concurrent_payouts_of_one_batch_pay_exactly_once(approved_batch: Any) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks and real concurrency need PostgreSQL (DATABASE_URL=postgres://…)")
    batch, cadre, village_user = approved_batch
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def pay(actor: Any) -> None:
        try:
            barrier.wait()
            services.payouts_record(batch=batch, actor=actor, paid_on=datetime.date(2017, 5, 1))
            outcomes.append("paid")
        except ValidationError as exc:
            outcomes.append(exc.messages[0])
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=pay, args=(actor,)) for actor in (cadre, cadre, village_user, village_user)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert outcomes.count("paid") == 1, outcomes
    assert Payout.objects.count() == 2  # the batch's two households, once each
    assert Entry.objects.filter(kind="payout").count() == 2
    assert services.reconcile(year=2017)[1] == []


def race(*calls: Any) -> list[str]:
    """Run the calls at the same moment, each in its own connection; what each one said."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[str] = []

    def run(call: Any) -> None:
        try:
            barrier.wait()
            call()
            outcomes.append("ok")
        except ValidationError as exc:
            outcomes.append(exc.messages[0])
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return outcomes


def needs_postgres() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks and real concurrency need PostgreSQL (DATABASE_URL=postgres://…)")


def test_equity_and_a_cash_batch_for_one_household_cannot_both_pass(city_year: dict[str, Any]) -> None:
    """Was: equity_invest and batch_prepare at the same moment both succeeded for H1."""
    needs_postgres()
    services.allocate(year=2017, actor=None)
    liming = city_year["cadres"]["李明"]
    h1 = Household.objects.get(code="H1")
    partner = make_organisation("高原合作社")

    def invest() -> None:
        settlement.equity_invest(
            household=h1,
            year=2017,
            partner=partner,
            agreement="入股-1",
            consent_scan=pdf_upload("c.pdf"),
            invested_on=datetime.date(2017, 5, 1),
            actor=liming,
        )

    def prepare() -> None:
        services.batch_prepare(village=city_year["hongpo"], year=2017, tranche=1, actor=liming)

    outcomes = race(invest, prepare)
    assert "ok" in outcomes, outcomes
    has_equity = EquityInvestment.objects.filter(household=h1, reversed_at__isnull=True).exists()
    has_line = GrantLine.objects.filter(household=h1, cancelled_at__isnull=True).exists()
    assert has_equity != has_line, outcomes  # one route, whichever came first
    money = grant.household_money([h1.pk], 2017)[h1.pk]
    assert money.received <= money.grant
    assert services.reconcile(year=2017)[1] == []


def test_a_double_click_on_allocate_posts_once(city_year: dict[str, Any]) -> None:
    """Was: 8 concurrent runs posted 24 entries, 63,000.00 over-allocated."""
    needs_postgres()
    outcomes = race(*[lambda: services.allocate(year=2017, actor=None) for _ in range(6)])
    assert outcomes == ["ok"] * 6
    assert Entry.objects.filter(kind="funding").count() == 1
    assert services.reconcile(year=2017)[1] == []


def test_two_reward_batches_for_one_village_take_each_household_once(city_year: dict[str, Any]) -> None:
    needs_postgres()
    from .test_settlement import analyse, chain

    services.allocate(year=2017, actor=None)
    liming = city_year["cadres"]["李明"]
    for tranche in (1, 2):
        batch = services.batch_prepare(village=city_year["hongpo"], year=2017, tranche=tranche, actor=liming)
        chain(batch, city_year, liming)
        services.payouts_record(batch=batch, actor=liming, paid_on=datetime.date(2017, 5, 1))
    analyse(city_year, "H1", actual_species="猪", actual_quantity=Decimal(4))
    outcomes = race(
        lambda: settlement.reward_batch_prepare(village=city_year["hongpo"], year=2017, actor=liming),
        lambda: settlement.reward_batch_prepare(village=city_year["hongpo"], year=2017, actor=liming),
    )
    assert outcomes.count("ok") == 1, outcomes
    assert GrantLine.objects.filter(tranche=3, cancelled_at__isnull=True).count() == 1


def test_payouts_by_the_cadre_and_the_village_of_one_batch_pay_each_household_once(
    approved_batch: Any,
) -> None:
    needs_postgres()
    batch, cadre, village_user = approved_batch
    h1 = Household.objects.get(code="H1")
    outcomes = race(
        lambda: services.payouts_record(
            batch=batch, actor=cadre, paid_on=datetime.date(2017, 5, 1), households=[h1.pk]
        ),
        lambda: services.payouts_record(batch=batch, actor=village_user, paid_on=datetime.date(2017, 5, 1)),
    )
    assert "ok" in outcomes, outcomes
    assert Payout.objects.filter(line__grant__household=h1).count() == 1
    assert Payout.objects.count() == 2
    assert services.reconcile(year=2017)[1] == []


def test_an_objection_recorded_while_a_payment_runs_holds_that_household(approved_batch: Any) -> None:
    """The objection's transaction holds the payee's account; the payment waits for it, then sees
    the objection (without the lock it read the objections before they were committed, and paid)."""
    needs_postgres()
    import time

    from django.db import transaction

    from disbursements import notices

    from ..factories import jpeg_upload

    batch, cadre, village_user = approved_batch
    notice = notices.notice_issue(kind="grant", year=2017, village=batch.village, actor=village_user)
    notices.notice_post(notice=notice, actor=village_user, photo=jpeg_upload())
    h2 = Household.objects.get(code="H2")
    row = next(
        n for n, r in enumerate(notice.rows, 1) if r[1] == h2.head_name and r[2][-4:] == h2.id_number[-4:]
    )
    recorded = threading.Event()
    results: list[Any] = []

    def object_slowly() -> None:
        try:
            with transaction.atomic():
                notices.objection_record(
                    notice=notice,
                    actor=village_user,
                    row=row,
                    raised_by="村民",
                    content="数量不实",
                    received_on=datetime.date(2017, 4, 18),
                )
                recorded.set()
                time.sleep(1.0)  # the payment starts meanwhile and must wait for this commit
        finally:
            connections.close_all()

    def pay() -> None:
        try:
            recorded.wait(10)
            results.append(
                services.payouts_record(batch=batch, actor=cadre, paid_on=datetime.date(2017, 5, 1))
            )
        finally:
            connections.close_all()

    threads = [threading.Thread(target=object_slowly), threading.Thread(target=pay)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    (result,) = results
    assert result.paid == 1 and len(result.held) == 1 and f"H2 {h2.head_name}" in result.held[0]
    assert not Payout.objects.filter(line__grant__household=h2).exists()
    assert services.reconcile(year=2017)[1] == []
