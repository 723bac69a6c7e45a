"""Double payment under real concurrency (PostgreSQL row locks): exactly one payout wins."""

from __future__ import annotations

import datetime
import threading
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections

from disbursements import services
from disbursements.approval import advance
from disbursements.models import Entry, Payout

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


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
