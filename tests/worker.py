"""The real background worker in tests: `manage.py db_worker` in a subprocess, on the test database.

    from tests.worker import db_worker, use_the_queue  # noqa: F401 (fixtures)

`use_the_queue` switches the test process from the ImmediateBackend of the test settings to the
database backend, so that a request enqueues into the database instead of running the job at once;
`db_worker()` then starts a worker process (`tests/worker_settings.py`: the same database — the
SQLite test database is a file for this reason — and the test's MEDIA_ROOT) and returns it; every
worker started is stopped after the test. Such tests are transactional: the worker sees committed rows.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from households.models import Job

ROOT = Path(__file__).resolve().parent.parent
# The worker's --interval: how often an idle worker looks at the queue (production and scripts/run: 1 s).
POLL_INTERVAL = float(os.environ.get("TEST_WORKER_INTERVAL", "0.2"))
WORKER_COMMAND = [
    sys.executable,
    "manage.py",
    "db_worker",
    "--no-startup-delay",
    "--no-reload",
    "--verbosity",
    "2",
]
DB_BACKEND = {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}


@pytest.fixture
def use_the_queue(settings: Any) -> None:
    settings.TASKS = {"default": DB_BACKEND}
    from tests.jobs_toy.kind import register

    register()


@pytest.fixture
def db_worker(
    settings: Any, transactional_db: None, tmp_path: Path
) -> Iterator[Callable[[], subprocess.Popen]]:
    workers: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.worker_settings",
            "WORKER_DATABASE_NAME": str(connection.settings_dict["NAME"]),
            "WORKER_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        }
        env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        log = (tmp_path / f"worker-{len(workers)}.log").open("wb")
        worker = subprocess.Popen(
            [*WORKER_COMMAND, "--interval", str(POLL_INTERVAL)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        if worker.poll() is None:
            worker.terminate()
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()


def wait_for(job: Job, until: Callable[[Job], bool], timeout: float = 30.0, every: float = 0.05) -> list[Job]:
    """Re-read `job` until `until(job)`; returns every state seen (to check the progress it went through)."""
    seen: list[Job] = []  # each distinct (status, done, total, step)
    deadline = time.monotonic() + timeout
    while True:
        fresh = Job.objects.get(pk=job.pk)
        if not seen or (fresh.status, fresh.done, fresh.total, fresh.step) != (
            seen[-1].status,
            seen[-1].done,
            seen[-1].total,
            seen[-1].step,
        ):
            seen.append(fresh)
        if until(fresh):
            return seen
        if time.monotonic() > deadline:
            raise AssertionError(
                f"job {job.pk} still {fresh.status} {fresh.done}/{fresh.total} after {timeout} s"
            )
        time.sleep(every)
