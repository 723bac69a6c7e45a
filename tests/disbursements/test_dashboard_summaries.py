"""进度看板 from the summary tables (issue 14): the figures a user reads are the registry's and the
ledger's figures — the same as computed live for that area and as `reconcile` — after a payment, a
reversal and a plan change followed by the refresh; until the refresh, the page shows the previous
figures with their time and says an update is on its way; many changes in a township queue one
refresh; the real worker refreshes them."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction
from django.test import Client

from disbursements import summaries
from disbursements.dashboard import Area, _table, dashboard_for, row_labels
from disbursements.models import DashboardState, Payout
from disbursements.payouts import payout_reverse
from households.models import Household, Role, Township, User
from subsidies import services as plan_services
from subsidies.money import services
from subsidies.money.dashboard import COLUMNS, SECTION, compute_live

from ..factories import make_user
from .test_dashboard import AFTER_DEADLINE, chain_in, read_table, year_in_progress
from .test_settlement import DAY

LIVE = dataclasses.replace(SECTION, compute=compute_live)


def both(
    user: User, **area: int
) -> tuple[list[tuple[str, dict[str, Any]]], list[tuple[str, dict[str, Any]]]]:
    """The grant table's rows and 合计 as the page shows them (summaries) and as computed live."""
    board = dashboard_for(user, year=2017, today=AFTER_DEADLINE, **area)
    table = next(t for t in board.tables if t.section.code == SECTION.code)
    live = _table(
        LIVE,
        Area(board.level, board.township, board.village, user, 2017, AFTER_DEADLINE, board.narrowed),
        row_labels(board.level, user, board.township, board.village),
    )

    def shown(rows: list[Any]) -> list[tuple[str, dict[str, Any]]]:
        return [(r.name, {c.attr: r.values.get(c.attr) for c in COLUMNS}) for r in rows]

    return shown([*table.rows, table.total]), shown([*live.rows, live.total])


def assert_agrees(data: dict[str, Any]) -> None:
    """Every level a user can open, live against summaries; the city's money against reconcile."""
    jiantang = Township.objects.get(name="建塘镇")
    views: list[tuple[User, dict[str, int]]] = [
        (data["city_user"], {}),
        (data["city_user"], {"township_id": jiantang.pk}),
        (data["city_user"], {"village_id": data["jidi"].pk}),
        (data["township_user"], {}),
        (data["township_user"], {"village_id": data["hongpo"].pk}),
        (data["village_user"], {}),
        (data["cadres"]["李明"], {}),
        (data["cadres"]["王芳"], {}),
    ]
    for user, area in views:
        summary, live = both(user, **area)
        assert summary == live, (user.role, area)
    board = dashboard_for(data["city_user"], year=2017, today=AFTER_DEADLINE)
    city, problems = services.reconcile(year=2017)
    assert problems == []
    by_name = {row.name: row for row in board.rows}
    for level in city.children:
        row = by_name[level.name]
        assert (row.allocated, row.paid, row.recovered) == (level.allocated, level.paid, level.recovered)
    assert (board.total.paid, board.total.recovered) == (city.paid, city.recovered)


def test_the_figures_agree_with_the_live_computation_and_reconcile_through_a_year(
    year_in_progress: dict[str, Any],
) -> None:
    data = year_in_progress
    assert_agrees(data)
    wangfang = data["cadres"]["王芳"]

    # A payment: 吉迪村's second tranche.
    batch = services.batch_prepare(village=data["jidi"], year=2017, tranche=2, actor=wangfang)
    chain_in(data["jidi"], batch, data, wangfang)
    services.payouts_record(batch=batch, actor=wangfang, paid_on=DAY)
    assert DashboardState.objects.filter(stale=True, township__name="建塘镇").exists()
    assert_agrees(data)

    # A reversal of one of those payouts.
    payout = Payout.objects.filter(line__batch=batch).order_by("pk").first()
    assert payout is not None
    payout_reverse(payout=payout, actor=data["city_user"], reason="账号错误")
    assert_agrees(data)

    # A plan change: 红旗村's T1 changes species (虎跳峡镇 only).
    t1 = Household.objects.get(code="T1")
    assert t1.cadre is not None
    plan_services.plan_save(household=t1, year=2017, species="鸡", quantity=Decimal(40), actor=t1.cadre)
    assert set(DashboardState.objects.filter(stale=True).values_list("township__name", flat=True)) == {
        "虎跳峡镇"
    }
    assert_agrees(data)


def test_until_the_refresh_the_page_shows_the_previous_figures_with_their_time(
    year_in_progress: dict[str, Any], settings: Any
) -> None:
    data = year_in_progress
    client = Client()
    client.force_login(data["township_user"])
    first = client.get("/dashboard/").content.decode()
    assert "数据截至" in first and "后台正在更新" not in first
    before = read_table(first).rows["吉迪村"]["第二期已兑现"]

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
    wangfang = data["cadres"]["王芳"]
    batch = services.batch_prepare(village=data["jidi"], year=2017, tranche=2, actor=wangfang)
    chain_in(data["jidi"], batch, data, wangfang)
    services.payouts_record(batch=batch, actor=wangfang, paid_on=DAY)

    waiting = client.get("/dashboard/").content.decode()
    assert "后台正在更新" in waiting
    assert read_table(waiting).rows["吉迪村"]["第二期已兑现"] == before == "0"
    summaries.refresh_stale()  # what the worker does
    fresh = client.get("/dashboard/").content.decode()
    assert "后台正在更新" not in fresh
    assert read_table(fresh).rows["吉迪村"]["第二期已兑现"] == "2"


def test_the_page_reads_no_registry_table(year_in_progress: dict[str, Any]) -> None:
    """A request reads the summaries: no query on households, plans, letters or ledger entries."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    summaries.refresh(year=2017)
    for user in ("city_user", "township_user", "village_user"):
        with CaptureQueriesContext(connection) as queries:
            dashboard_for(year_in_progress[user], year=2017)
        sql = " ".join(q["sql"] for q in queries.captured_queries)
        for table in ("households_household", "subsidies_householdplan", "disbursements_entry"):
            assert f'FROM "{table}"' not in sql, (user, table)


def test_a_cadre_and_a_township_read_only_their_own_figures(year_in_progress: dict[str, Any]) -> None:
    data = year_in_progress
    summaries.refresh(year=2017)
    liming = data["cadres"]["李明"]
    mine = summaries.figures(SECTION.code, 2017, summaries.CADRE, liming)
    assert mine.exists() and set(mine.values_list("cadre_id", flat=True)) == {liming.pk}
    town = summaries.figures(SECTION.code, 2017, summaries.VILLAGE, data["township_user"])
    assert set(town.values_list("township__name", flat=True)) == {"建塘镇"}
    assert not summaries.figures(
        SECTION.code, 2017, summaries.TOWNSHIP, make_user(Role.CADRE, "nobody")
    ).exists()


def test_many_changes_in_a_township_queue_one_refresh(
    year_in_progress: dict[str, Any], settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    summaries.refresh(year=2017)
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
    h4 = Household.objects.get(code="H4")
    cadre = h4.cadre
    assert cadre is not None

    def save(quantity: int) -> None:
        with transaction.atomic():
            plan_services.plan_save(
                household=h4, year=2017, species="猪", quantity=Decimal(quantity), actor=cadre
            )

    # The test's transaction never commits: collect what would be queued on commit.
    with django_capture_on_commit_callbacks() as callbacks:
        for quantity in (1, 2, 3, 2, 1):
            save(quantity)
    queued = [c for c in callbacks if c is summaries.enqueue_refresh]
    assert len(queued) == 1
    assert DashboardState.objects.get(township__name="建塘镇", year=2017).stale


def test_the_refresh_button_queues_the_users_townships(year_in_progress: dict[str, Any]) -> None:
    data = year_in_progress
    summaries.refresh(year=2017)
    client = Client()
    client.force_login(data["township_user"])
    response = client.post("/dashboard/refresh/", {"year": "2017"}, follow=True)
    assert "已请后台更新统计数据" in response.content.decode()
    # Refreshed at once here (tasks run in the request in tests); another township untouched.
    stale = DashboardState.objects.filter(year=2017, stale=True)
    assert not stale.exists()
    assert client.get("/dashboard/refresh/").status_code == 405


pytestmark = pytest.mark.django_db
__all__ = ["year_in_progress"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_change_still_running_when_the_worker_reads_is_not_lost(
    year_in_progress: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A township already waiting for its refresh, a household edit in flight when the worker claims
    it: the worker leaves that township to a later run (it cannot read the uncommitted change), so the
    figures never end up marked fresh without it."""
    import threading

    from django.db import connection

    from households.services import household_update

    if connection.vendor != "postgresql":
        pytest.skip("row locks and real concurrency need PostgreSQL (DATABASE_URL=postgres://…)")
    data = year_in_progress
    assert_agrees(data)
    town = Township.objects.get(name="建塘镇")
    monkeypatch.setattr(summaries, "enqueue_refresh", lambda: None)  # the worker has not polled yet
    summaries.figures_changed(year=2017, townships=[town.pk])  # an earlier change: the township waits
    marked, go = threading.Event(), threading.Event()

    def edit() -> None:
        try:
            with transaction.atomic():
                household = Household.objects.get(code="H4")
                household.exit_year = 2015  # no longer eligible
                household_update(household=household, actor=data["city_user"])
                marked.set()
                go.wait(30)
        finally:
            connection.close()

    thread = threading.Thread(target=edit)
    thread.start()
    assert marked.wait(30)
    summaries.refresh(year=2017, township_ids=[town.pk])  # the worker, while the edit is uncommitted
    go.set()
    thread.join(30)
    assert DashboardState.objects.get(year=2017, township=town).stale  # still owed a refresh
    summaries.refresh_stale()
    for user in (data["city_user"], data["township_user"], data["village_user"]):
        summary, live = both(user)
        assert summary == live, user.role  # H4 no longer counted as eligible, in both


def test_a_policy_change_is_owed_to_the_figures(year_in_progress: dict[str, Any]) -> None:
    """City HQ moves the letters' deadline: the stored figures are refreshed like any other change."""
    import datetime

    from subsidies.models import Policy

    data = year_in_progress
    assert_agrees(data)
    policy = Policy.objects.get(year=2017)
    policy.commitment_deadline = datetime.date(2017, 4, 25)
    policy.save()
    plan_services.policy_record_revision(policy=policy, actor=data["city_user"], reason="推迟签订期限")
    assert_agrees(data)
