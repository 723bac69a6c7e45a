"""Settings of a `manage.py db_worker` that the tests start (tests/worker.py): the test settings, on the
test database the test process uses (its name passed in the environment), with the database task
backend, the test's MEDIA_ROOT, a fast heartbeat, and the tests' own job kind (`tests.jobs_toy`)."""

import os

from config.settings.test import *  # noqa: F403
from config.settings.test import DATABASES, INSTALLED_APPS

DATABASES["default"]["NAME"] = os.environ["WORKER_DATABASE_NAME"]
DATABASES["default"].pop("TEST", None)
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
MEDIA_ROOT = os.environ["WORKER_MEDIA_ROOT"]
JOBS = {"HEARTBEAT_SECONDS": 0.2, "STALE_SECONDS": 120.0, "QUEUE_WARNING_SECONDS": 30.0}
INSTALLED_APPS = [*INSTALLED_APPS, "tests.jobs_toy.apps.JobsToyConfig"]
