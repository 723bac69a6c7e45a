"""The 进度看板's summaries on the real worker (`manage.py db_worker` in another process): a change
committed by a service queues one refresh; the page says an update is on its way and shows the
previous figures; once the worker has run, the page shows the new figures, the same as computed
live and as `reconcile`."""

from __future__ import annotations

import importlib
import time
from typing import Any

import pytest
from django.apps import apps
from django.test import Client
from django_tasks_db.models import DBTaskResult

from disbursements import summaries
from disbursements.models import DashboardState
from households.models import Township
from subsidies.money import services

from ..worker import db_worker, use_the_queue
from .test_dashboard import as_numbers, read_table
from .test_dashboard_summaries import both

pytestmark = pytest.mark.django_db(transaction=True)

__all__ = ["db_worker", "use_the_queue"]  # fixtures


@pytest.fixture(autouse=True)
def _committed_reference_data(transactional_db: None) -> None:
    """The geography and the 2017 policy of the data migrations, which a transactional test's flush removes."""
    if not Township.objects.exists():
        importlib.import_module("households.migrations.0002_geography_2017").load(apps, None)
    from subsidies.models import Policy

    if not Policy.objects.filter(year=2017).exists():
        importlib.import_module("subsidies.migrations.0002_policy_2017").seed(apps, None)


def test_the_worker_refreshes_the_figures_after_an_allocation(
    _committed_reference_data: None, city_year: dict[str, Any], use_the_queue: None, db_worker: Any
) -> None:
    data = city_year
    summaries.refresh(year=2017)
    DBTaskResult.objects.all().delete()
    client = Client()
    client.force_login(data["township_user"])
    before = read_table(client.get("/dashboard/").content.decode())
    assert before.rows["合计"]["下拨金额（元）"] == "0.00"

    services.allocate(year=2017, actor=data["city_user"])  # commits: one refresh queued
    assert DBTaskResult.objects.count() == 1
    waiting = client.get("/dashboard/").content.decode()
    assert "后台正在更新" in waiting
    assert read_table(waiting).rows["合计"]["下拨金额（元）"] == "0.00"

    db_worker()
    deadline = time.monotonic() + 60
    while (
        DashboardState.objects.filter(stale=True).exists()
        or DBTaskResult.objects.exclude(status="SUCCESSFUL").exists()
    ):
        assert time.monotonic() < deadline, "the worker did not refresh the figures"
        time.sleep(0.2)
    fresh = client.get("/dashboard/").content.decode()
    assert "后台正在更新" not in fresh and "数据截至" in fresh
    city, problems = services.reconcile(year=2017)
    assert problems == []
    jiantang = next(level for level in city.children if level.name == "建塘镇")
    assert jiantang.allocated > 0
    assert as_numbers(read_table(fresh).rows["合计"])["下拨金额（元）"] == jiantang.allocated
    for user in (data["city_user"], data["township_user"], data["cadres"]["李明"]):
        summary, live = both(user)
        assert summary == live
