"""Browser journeys: a real Chromium (Playwright, sync API) against pytest-django's live server.

    .venv/bin/python -m pytest -m e2e            # only the journeys
    CHROMIUM_PATH=/path/to/chrome ...            # another browser binary
    E2E_OPTIONAL=1 ...                           # skip (instead of fail) when there is no browser

The live server runs in a thread of this process and shares the in-memory SQLite connection, so
the test builds its data with the ORM and the services and the browser sees it at once. Each test is
transactional (the live server must see committed rows); the DB is flushed afterwards, and
`serialized_rollback` (on the test module's `django_db` mark) brings the geography of the data
migration back before the next test. `_geography` below re-loads it should a test be marked
without it.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright
from pytest_django.live_server_helper import LiveServer

# Playwright's sync API runs an asyncio loop in this thread; Django refuses ORM calls from a thread
# with a running loop unless told that it is safe (it is: the loop only drives the browser).
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

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
VIEWPORT = {"width": 1280, "height": 800}
TIMEOUT_MS = 10_000  # a local server answers in milliseconds; fail fast rather than hang for 30 s

PASSWORD = "pw-for-tests-only"  # what tests.factories.make_user sets


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/e2e/ is an e2e test (`-m e2e` / `-m "not e2e"`)."""
    for item in items:
        if E2E_DIR in item.path.parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    if os.path.isfile(path) and os.access(path, os.X_OK):
        return path
    message = (
        f"Chromium not found at {path!r} (set CHROMIUM_PATH, or install Debian's chromium: "
        "apt-get install chromium). The e2e journeys need a real browser."
    )
    if os.environ.get("E2E_OPTIONAL") == "1":
        pytest.skip(message + " Skipped because E2E_OPTIONAL=1.")
    pytest.fail(message + " Set E2E_OPTIONAL=1 to skip them instead.", pytrace=False)


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright, chromium_path: str) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context (no cookies, no session) per test."""
    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN")  # type: ignore[arg-type]
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(autouse=True)
def _geography(transactional_db: Any) -> None:
    """Townships and villages come from a data migration, which a transactional flush removes."""
    from django.apps import apps

    from households.models import Township

    if not Township.objects.exists():
        migration = importlib.import_module("households.migrations.0002_geography_2017")
        migration.load(apps, None)


@pytest.fixture(autouse=True)
def _import_storage(settings: Any, tmp_path: Path) -> None:
    """Uploaded rosters (ID numbers!) wait in the test's tmp dir, not in the project's media/."""
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
    expect(page.locator("#login-form")).to_have_count(0)  # still there = wrong password or locked out
    expect(page.locator("#user-tools")).to_be_visible()
