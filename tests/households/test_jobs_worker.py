"""Background jobs on the real worker: `manage.py db_worker` in another process, on the test database.

What a user of the workplace notices: a batch print started from the admin waits while no worker runs
and is printed once one starts (jobs survive a restart of the server); its page shows the counters
advancing; a worker killed mid-job (kill -9) leaves a job the page calls interrupted, which 重试 runs
again to the end; a job that failed shows its reason and 重试 runs it again.
"""

from __future__ import annotations

import importlib
import os
import signal
import time
from typing import Any

import pytest
from django.apps import apps
from django.test import Client
from django_tasks_db.models import DBTaskResult

from households.jobs import MSG_WORKER_LOST
from households.models import Job, Role, Township
from tests.jobs_toy.kind import MSG_FIRST_ATTEMPT

from ..factories import make_user
from ..worker import POLL_INTERVAL, db_worker, use_the_queue, wait_for

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


def toy_job(client: Client, **params: Any) -> Job:
    from households.jobs import job_start

    user = client.user  # type: ignore[attr-defined]
    return job_start(kind="toy_steps", actor=user, title="测试计数", params=params, township=user.township)


def logged_in(role: str = Role.TOWNSHIP) -> Client:
    client = Client()
    user = make_user(role)
    client.force_login(user)
    client.user = user  # type: ignore[attr-defined]
    return client


def test_a_print_enqueued_by_a_request_waits_for_a_worker_and_is_printed_when_one_starts(
    city_year: dict[str, Any], use_the_queue: None, db_worker: Any
) -> None:
    client = Client()
    client.force_login(city_year["township_user"])
    jiantang = Township.objects.get(name="建塘镇")
    response = client.post(
        "/admin/disbursements/notice/print/", {"kind": "grant", "year": 2017, "township": jiantang.pk}
    )
    job = Job.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/admin/households/job/{job.pk}/change/"
    assert DBTaskResult.objects.get(id=job.task_id).status == "READY"  # in the database's queue

    # No worker yet (the server restarted without one, say): the job waits, the page says so.
    time.sleep(3 * POLL_INTERVAL)
    job.refresh_from_db()
    assert job.status == "queued"
    page = client.get(response["Location"]).content.decode()
    assert "排队中" in page and 'id="job-progress"' in page and "households/job.js" in page

    started = time.monotonic()
    db_worker()
    seen = wait_for(job, lambda j: j.status == "done", timeout=60)
    elapsed = time.monotonic() - started
    running = [s for s in seen if s.status == "running"]
    assert running, "the page never saw the job running"
    # The counters advance while it runs, village by village (then the villages' PDFs are joined).
    counted = [s for s in running if s.total]  # the first look may come before the villages are counted
    assert counted and all(s.total == 10 for s in counted)
    assert all(s.step.startswith(("逐村整理和排版公示", "合并 PDF")) for s in counted)
    assert [s.done for s in counted] == sorted(s.done for s in counted)
    assert min(s.done for s in running) < 10
    done = seen[-1]
    assert done.done == done.total == 10 and str(done.file.name).endswith(".pdf") and done.error == ""
    # The queue records the task as finished just after the job's own record (the task returns then).
    deadline = time.monotonic() + 10
    while DBTaskResult.objects.get(id=done.task_id).status != "SUCCESSFUL":
        assert time.monotonic() < deadline, "the queue never recorded the task as done"
        time.sleep(0.05)
    state = client.get(f"/admin/households/job/{job.pk}/status/").json()
    assert state["status_label"] == "已完成" and state["percent"] == 100
    pdf = client.get(state["file_url"])
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert b"".join(pdf.streaming_content).startswith(b"%PDF-")  # type: ignore[attr-defined]
    print(f"\nworker started → print of 10 villages done in {elapsed:.1f} s")

    # With the worker idle, a new job starts within one poll interval (plus the claim).
    latencies = []
    for _ in range(5):
        ran = wait_for(toy_job(logged_in(), steps=1), lambda j: j.status == "done", timeout=30)[-1]
        latencies.append((ran.started_at - ran.created_at).total_seconds())  # type: ignore[operator]
    print(
        f"enqueue → start with an idle worker (--interval {POLL_INTERVAL}): "
        + ", ".join(f"{s:.2f}" for s in sorted(latencies))
        + " s"
    )
    assert max(latencies) < POLL_INTERVAL + 1.5


def test_a_worker_killed_mid_job_leaves_it_interrupted_and_retry_finishes_it(
    use_the_queue: None, db_worker: Any, settings: Any
) -> None:
    settings.JOBS = {**settings.JOBS, "STALE_SECONDS": 1.5}
    client = logged_in()
    worker = db_worker()
    job = toy_job(client, steps=40, pause=0.1)
    wait_for(job, lambda j: j.status == "running" and j.done >= 5, timeout=30)
    os.kill(worker.pid, signal.SIGKILL)  # kill -9: no handler runs, the job is left "running"
    worker.wait()
    killed_at = time.monotonic()
    job.refresh_from_db()
    assert job.status == "running" and 5 <= job.done < 40
    assert DBTaskResult.objects.get(id=job.task_id).status == "RUNNING"  # the queue thinks so too

    # Silent for longer than STALE_SECONDS: the page says the worker is gone and offers 重试.
    while not client.get(f"/admin/households/job/{job.pk}/status/").json()["error"]:
        assert time.monotonic() - killed_at < 10
        time.sleep(0.1)
    print(f"\nkill -9 → job shown as interrupted after {time.monotonic() - killed_at:.1f} s (STALE 1.5 s)")
    state = client.get(f"/admin/households/job/{job.pk}/status/").json()
    assert state["status"] == "running" and state["retry"] is True
    assert state["error"].startswith(MSG_WORKER_LOST.split("{at}")[0])
    page = client.get(f"/admin/households/job/{job.pk}/change/").content.decode()
    assert "没有响应" in page and 'id="job-retry"' in page

    old_task = job.task_id
    assert client.post(f"/admin/households/job/{job.pk}/retry/").status_code == 302
    job.refresh_from_db()
    assert job.status == "queued" and job.attempt == 2 and job.done == 0
    assert DBTaskResult.objects.get(id=old_task).status == "FAILED"  # no task left "running" forever

    db_worker()  # the server came back
    done = wait_for(job, lambda j: j.status == "done", timeout=30)[-1]
    assert done.done == done.total == 40 and done.result == {"counted": 40} and done.attempt == 2


def test_a_failed_job_shows_its_reason_and_retry_runs_it_again(use_the_queue: None, db_worker: Any) -> None:
    client = logged_in()
    db_worker()
    job = toy_job(client, steps=3, fail_first=True)
    failed = wait_for(job, lambda j: j.status in ("done", "failed"), timeout=30)[-1]
    assert failed.status == "failed" and failed.error == MSG_FIRST_ATTEMPT
    page = client.get(f"/admin/households/job/{job.pk}/change/").content.decode()
    assert "失败" in page and MSG_FIRST_ATTEMPT in page and 'id="job-retry"' in page
    other = logged_in()  # someone else of the same township sees the job, but may not retry it
    refused = other.post(f"/admin/households/job/{job.pk}/retry/", follow=True).content.decode()
    assert "只有发起人可以重试" in refused
    client.post(f"/admin/households/job/{job.pk}/retry/")
    done = wait_for(job, lambda j: j.status == "done", timeout=30)[-1]
    assert done.attempt == 2 and done.error == "" and done.done == 3
