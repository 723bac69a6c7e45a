"""Browser journeys: a real Chromium (Playwright, sync API) against pytest-django's live server.

    .venv/bin/python -m pytest -m e2e            # only the journeys
    CHROMIUM_PATH=/path/to/chrome ...            # another browser binary (default /usr/bin/chromium)
    E2E_OPTIONAL=1 ...                           # skip (instead of fail) when there is no browser

The live server runs in a thread of this process; the test builds its data with the ORM and the
services, and the browser sees it at once. So every journey is transactional (the server must see
committed rows) and the database is flushed after each one.

Playwright's sync API runs an asyncio loop in the test's thread, and three things follow:

* Django refuses ORM calls from a thread with a running loop unless DJANGO_ALLOW_ASYNC_UNSAFE is
  set (it is safe here: the loop only drives the browser). The variable is set only while the
  browser runs: set for the whole session it would leak into later tests' subprocesses, and
  `manage.py check --deploy` (tests/test_deploy.py) rightly warns about it.
* For the same reason the browser is package-scoped: started for the first journey, stopped after
  the last, so no loop is left running under the tests that pytest-django orders after them.
* Django keeps connections in an asgiref `Local`, which is per-context, not per-thread, while a
  loop runs. Once the browser is up, the test's ORM calls go through a *new* connection object, not
  the one the test database was set up on, and that object lacks `_test_serialized_contents`:
  `serialized_rollback=True` silently restores nothing. Hence `_geography` below reloads the
  townships and villages of the data migration whenever a flush has removed them.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Playwright, ViewportSize, expect, sync_playwright
from pytest_django.live_server_helper import LiveServer

E2E_DIR = Path(__file__).resolve().parent
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}
TIMEOUT_MS = 10_000  # a local server answers in milliseconds; fail in seconds, not after 30 s

PASSWORD = "pw-for-tests-only"  # what tests.factories.make_user sets


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/e2e/ is an e2e test (select with `-m e2e`, leave out with `-m "not e2e"`)."""
    for item in items:
        if E2E_DIR in item.path.parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    if os.path.isfile(path) and os.access(path, os.X_OK):
        return path
    message = (
        f"Chromium not found at {path!r}: install Debian's chromium (scripts/test does) or set "
        "CHROMIUM_PATH. The browser journeys in tests/e2e/ need it."
    )
    if os.environ.get("E2E_OPTIONAL") == "1":
        pytest.skip(message + " Skipped because E2E_OPTIONAL=1.")
    pytest.fail(message + " (Set E2E_OPTIONAL=1 to skip them instead.)", pytrace=False)


@contextmanager
def async_unsafe_allowed() -> Iterator[None]:
    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        yield
    finally:
        if before is None:
            del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


@pytest.fixture(scope="package")
def playwright(chromium_path: str) -> Iterator[Playwright]:
    with async_unsafe_allowed(), sync_playwright() as p:
        yield p


@pytest.fixture(scope="package")
def browser(playwright: Playwright, chromium_path: str) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context (no cookies, no session) per test."""
    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(autouse=True)
def _geography(transactional_db: None) -> None:
    """The townships and villages of the data migration, which the previous test's flush removed."""
    from django.apps import apps

    from households.models import Township

    if not Township.objects.exists():
        migration = importlib.import_module("households.migrations.0002_geography_2017")
        migration.load(apps, None)
    from subsidies.models import Policy

    if not Policy.objects.filter(year=2017).exists():  # the 2017 policy of its data migration, likewise
        importlib.import_module("subsidies.migrations.0002_policy_2017").seed(apps, None)


@pytest.fixture(autouse=True)
def _import_storage(settings: Any, tmp_path: Path) -> None:
    """Uploaded rosters (whole ID numbers) wait in the test's tmp dir, not in the project's media/."""
    settings.STORAGES = {
        **settings.STORAGES,
        "import_export": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "imports"},
        },
    }


def login(page: Page, live_server: LiveServer, username: str, password: str = PASSWORD) -> None:
    """Log in through the admin's login form, as a user does; fails if the form comes back."""
    page.goto(f"{live_server.url}/admin/login/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(password)
    page.locator("#login-form [type=submit]").click()
    refused = f"{username} is still on the login page: wrong password, or locked out by django-axes?"
    expect(page.locator("#login-form"), refused).to_have_count(0)
    expect(page.locator("#user-tools")).to_be_visible()
