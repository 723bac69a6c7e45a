"""A township official's batch print of 公示, run by the real background worker.

The official (1366×768) asks for every village of 建塘镇 at once: the page says the job is queued while
no worker runs, follows it (polling, no reload by hand) while the worker — started only then, as after
a server restart — prints it, and offers the PDF, which downloads and holds the villages' notices.

The live server runs in this process; the worker (`manage.py db_worker`, tests/worker.py) in another,
on the same test database (a file on SQLite; the test database on PostgreSQL) — hence transactional.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect
from pypdf import PdfReader
from pytest_django.live_server_helper import LiveServer

from households.models import Job, Township

from ..worker import db_worker, use_the_queue
from .conftest import TIMEOUT_MS, login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

__all__ = ["db_worker", "use_the_queue"]  # fixtures

SHOTS = Path("/tmp/shots/tasks")
OFFICIAL_VIEWPORT = {"width": 1366, "height": 768}


def test_a_township_prints_its_notices_in_the_background_and_downloads_the_pdf(
    browser: Browser,
    live_server: LiveServer,
    city_year: dict[str, Any],
    use_the_queue: None,
    db_worker: Any,
    tmp_path: Path,
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport=OFFICIAL_VIEWPORT, locale="zh-CN", accept_downloads=True)  # type: ignore[arg-type]
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    login(page, live_server, city_year["township_user"].username)

    page.goto(f"{live_server.url}/admin/disbursements/notice/print/")
    page.locator("#id_township").select_option(label="建塘镇")
    page.locator("input[type=submit]").click()

    # No worker yet: queued, and the page says it is waiting.
    expect(page.locator("h1")).to_contain_text("建塘镇 2017 年")
    expect(page.locator("#job-status")).to_have_text("排队中")
    expect(page.locator("#job-progress")).to_be_visible()
    page.screenshot(path=SHOTS / "print-1-queued.png")
    job = Job.objects.get()
    assert job.status == "queued" and job.township == Township.objects.get(name="建塘镇")

    db_worker()  # the worker starts (after a restart, say): the page follows the job by itself
    expect(page.locator("#job-status")).to_have_text("进行中", timeout=30_000)
    page.screenshot(path=SHOTS / "print-2-running.png")
    download_link = page.locator("#job-download")
    expect(download_link).to_be_visible(timeout=60_000)
    expect(page.locator("#job-status")).to_have_text("已完成")
    expect(page.locator("#job-count")).to_have_text("（10/10 个村）")
    page.screenshot(path=SHOTS / "print-3-done.png")

    with page.expect_download() as download_info:
        download_link.click()
    download = download_info.value
    assert download.suggested_filename.endswith(".pdf") and "建塘镇" in download.suggested_filename
    saved = tmp_path / "notices.pdf"
    download.save_as(saved)
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(saved.read_bytes())).pages)
    flat = "".join(text.split())
    assert "红坡村" in flat and "吉迪村" in flat
    context.close()
