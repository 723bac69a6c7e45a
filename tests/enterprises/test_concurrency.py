"""Two townships' officials claim the same household for two organisations at the same moment: one
claim wins, the other is refused naming the first (PostgreSQL row locks)."""

from __future__ import annotations

import os
import threading
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections

from enterprises import services
from enterprises.models import Agreement, Organisation

from .conftest import sign_up

pytestmark = [
    pytest.mark.postgres,
    # Skipped before any fixture runs on SQLite (a transactional set-up there is wasted, and its
    # serialized rollback collides with the content types other tests left).
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL", "").startswith("postgres"),
        reason="row locks and real concurrency need PostgreSQL (DATABASE_URL=postgres://…)",
    ),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_two_concurrent_claims_on_one_household(
    fifteen: list[Any], officials: dict[str, Any], cooperative: Organisation
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks and real concurrency need PostgreSQL (DATABASE_URL=postgres://…)")
    other = services.organisation_register(
        actor=officials["city"],
        name="建塘镇中蜂养殖大户",
        kind="grower",
        operating_model="grower",
        leader_name="次里",
        leader_id_number=fifteen[1].id_number,
        township=cooperative.township,
        industry="中蜂",
    )
    household = fifteen[0]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def claim(organisation: Organisation, actor: Any) -> None:
        try:
            barrier.wait()
            sign_up(organisation, [household], actor)
            outcomes.append("claimed")
        except ValidationError as exc:
            outcomes.append(exc.messages[0])
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=claim, args=(cooperative, officials["township"])),
        threading.Thread(target=claim, args=(other, officials["city"])),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes)[0] == "claimed" and outcomes.count("claimed") == 1
    refused = next(o for o in outcomes if o != "claimed")
    winner = Agreement.objects.get(household=household, counts=True).organisation.name
    assert f"已计入“{winner}”的奖补" in refused
