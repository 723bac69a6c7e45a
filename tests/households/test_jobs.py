"""Background jobs (households.jobs) as their users meet them, run in the request (ImmediateBackend, the
test settings); tests/households/test_jobs_worker.py runs them on the real worker.

Who may start a job, what its page and its polled state say, what a crash leaves in the log, retrying
a job whose worker was lost (and the old attempt writing nothing), scoping of jobs and their files, the
large admin import in the background (preview, then confirm), and the 补助测算表 of a township.
"""

from __future__ import annotations

import datetime
import io
import logging
from typing import Any

import openpyxl
import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.test import Client
from django.utils import timezone
from pypdf import PdfReader

from disbursements import notices
from households.files import file_url
from households.import_job import MSG_NOT_CONFIRMABLE, MSG_NOT_YOURS
from households.imports import UPLOAD_FOLDER, upload_storage
from households.jobs import MSG_CRASHED, MSG_READ_ONLY, job_problem, job_retry, job_start, run_job
from households.models import Household, ImportBatch, Job, Role, Township
from subsidies.entitlements import entitlements_job_start
from tests.jobs_toy.kind import MSG_FIRST_ATTEMPT, register

from ..factories import make_user, roster_row, xlsx_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _toy_kind() -> None:
    register()


class _CommitAtOnce:
    """`households.jobs`' view of `transaction` in these tests: a job is enqueued (and, with the
    ImmediateBackend, run) when `on_commit` is called — each test runs in one transaction that never
    commits, as if every service call committed at its end (django_capture_on_commit_callbacks would
    hold them until the end of a block instead)."""

    atomic = staticmethod(transaction.atomic)

    @staticmethod
    def on_commit(func: Any, using: Any = None, robust: bool = False) -> None:
        func()


@pytest.fixture(autouse=True)
def _commit_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("households.jobs.transaction", _CommitAtOnce)


def toy(actor: Any, **params: Any) -> Job:
    job = job_start(kind="toy_steps", actor=actor, title="测试计数", params=params, township=actor.township)
    job.refresh_from_db()
    return job


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_read_only_roles_start_no_job_and_each_kind_names_who_may(city_year: dict[str, Any]) -> None:
    jiantang = Township.objects.get(name="建塘镇")
    for role in (Role.AUDITOR, Role.APPROVER):
        user = make_user(role)
        for kind in ("toy_steps", "notice_print", "entitlements_export", "import"):
            with pytest.raises(ValidationError, match=MSG_READ_ONLY):
                job_start(kind=kind, actor=user, title="x")
    with pytest.raises(ValidationError, match="不能发起“导出补助测算表”"):
        entitlements_job_start(year=2017, actor=make_user(Role.VILLAGE))
    with pytest.raises(ValidationError, match="不能发起批量打印任务"):
        notices.print_job_start(kind="grant", year=2017, township=jiantang, actor=make_user(Role.CADRE))
    assert not Job.objects.exists()


def test_a_job_records_its_outcome_and_its_page_and_state_show_it(township_user: Any) -> None:
    job = toy(township_user, steps=4)
    assert job.status == "done" and (job.done, job.total) == (4, 4) and job.result == {"counted": 4}
    assert job.task_id and job.started_at and job.finished_at and job.error == ""
    client = client_for(township_user)
    state = client.get(f"/admin/households/job/{job.pk}/status/").json()
    assert state == {
        "id": job.pk,
        "status": "done",
        "status_label": "已完成",
        "done": 4,
        "total": 4,
        "unit": "步",
        "step": "",
        "percent": 100,
        "finished": True,
        "error": "",
        "waiting": "",
        "retry": False,
        "file_url": None,
    }
    page = client.get(f"/admin/households/job/{job.pk}/change/").content.decode()
    assert "已完成" in page and "4/4 步" in page and "job.js" not in page  # finished: no polling
    listing = client.get("/admin/households/job/").content.decode()
    assert "测试计数" in listing and "4/4" in listing


def test_a_refusal_is_shown_as_written_and_a_crash_without_its_data(
    township_user: Any, caplog: pytest.LogCaptureFixture
) -> None:
    refused = toy(township_user, fail_first=True)
    assert refused.status == "failed" and refused.error == MSG_FIRST_ATTEMPT
    with caplog.at_level(logging.INFO):
        crashed = toy(township_user, crash="533421199001011234")
    assert crashed.status == "failed" and crashed.error == MSG_CRASHED.format(pk=crashed.pk)
    logged = caplog.text
    assert "RuntimeError" in logged and "kind.py" in logged  # what and where
    assert "533421199001011234" not in logged  # never the message, which may hold personal data
    page = client_for(township_user).get(f"/admin/households/job/{crashed.pk}/change/").content.decode()
    assert "后台任务出错" in page and 'id="job-retry"' in page and "重试" in page


def test_a_job_whose_worker_was_lost_is_said_so_and_its_old_attempt_writes_nothing(
    township_user: Any, settings: Any
) -> None:
    job = toy(township_user, steps=2)
    # As a worker killed mid-job leaves it: running, the heartbeat stopped three minutes ago.
    beat = timezone.now() - datetime.timedelta(minutes=3)
    Job.objects.filter(pk=job.pk).update(status="running", done=1, heartbeat_at=beat)
    job.refresh_from_db()
    assert "没有响应" in job_problem(job)
    settings.JOBS = {**settings.JOBS, "STALE_SECONDS": 600}
    assert job_problem(job) == ""  # within the allowed silence: still running
    settings.JOBS = {**settings.JOBS, "STALE_SECONDS": 120}
    client = client_for(township_user)
    assert client.get(f"/admin/households/job/{job.pk}/status/").json()["retry"] is True
    other = make_user(Role.TOWNSHIP)
    with pytest.raises(ValidationError, match="只有发起人可以重试"):
        job_retry(job=job, actor=other)
    client.post(f"/admin/households/job/{job.pk}/retry/")
    job.refresh_from_db()
    assert job.attempt == 2 and job.status == "done" and job.done == 2
    with pytest.raises(ValidationError, match="不需要重试"):
        job_retry(job=job, actor=township_user)
    # The lost worker's task, should it come back, finds its attempt gone and writes nothing.
    finished_at = job.finished_at
    assert run_job.enqueue(job.pk, 1).return_value == "skipped"
    job.refresh_from_db()
    assert job.attempt == 2 and job.finished_at == finished_at


def test_jobs_and_their_files_are_seen_only_within_their_area(city_year: dict[str, Any]) -> None:
    township_user = city_year["township_user"]
    jiantang = Township.objects.get(name="建塘镇")
    job = notices.print_job_start(kind="grant", year=2017, township=jiantang, actor=township_user)
    job.refresh_from_db()
    url = file_url(job, "file")
    assert job.status == "done" and url is not None
    assert client_for(township_user).get(url)["Content-Type"] == "application/pdf"
    auditor = client_for(make_user(Role.AUDITOR))  # the city's auditor reads it, cannot retry it
    assert auditor.get(url).status_code == 200
    assert auditor.get(f"/admin/households/job/{job.pk}/status/").json()["retry"] is False
    elsewhere = client_for(make_user(Role.TOWNSHIP, township=Township.objects.get(name="虎跳峡镇")))
    village = client_for(city_year["village_user"])  # a township's print is more than one village
    for client in (elsewhere, village):
        assert client.get(f"/admin/households/job/{job.pk}/change/").status_code == 404
        assert client.get(f"/admin/households/job/{job.pk}/status/").status_code == 404
        assert client.get(url).status_code == 404
        assert job.title not in client.get("/admin/households/job/").content.decode()


def test_a_village_officials_batch_print_is_theirs_and_holds_their_village_only(
    city_year: dict[str, Any],
) -> None:
    village_user = city_year["village_user"]  # 红坡村
    jiantang = Township.objects.get(name="建塘镇")
    job = notices.print_job_start(kind="grant", year=2017, township=jiantang, actor=village_user)
    job.refresh_from_db()
    assert job.village == city_year["hongpo"] and job.status == "done" and job.total == 1
    client = client_for(village_user)
    assert client.get(f"/admin/households/job/{job.pk}/change/").status_code == 200
    pdf = b"".join(client.get(file_url(job, "file")).streaming_content)  # type: ignore[arg-type, attr-defined]
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "红坡村" in text and "吉迪村" not in text


# --- a large admin import, in the background ---------------------------------------------------------


def _upload(client: Client, data: bytes, name: str = "roster.xlsx") -> Any:
    upload = io.BytesIO(data)
    upload.name = name
    return client.post(
        "/admin/households/household/import/", {"import_file": upload, "format": "0", "resource": "0"}
    )


def _uploads() -> list[str]:
    try:
        return upload_storage().listdir(UPLOAD_FOLDER)[1]
    except FileNotFoundError:
        return []


def test_a_large_admin_import_is_checked_then_imported_in_the_background(
    city_user: Any, settings: Any
) -> None:
    settings.IMPORT_LIMITS = {"BACKGROUND_FROM_BYTES": 1}  # every upload is "large"
    client = client_for(city_user)
    response = _upload(client, xlsx_bytes([roster_row(户编号="B1"), roster_row(户编号="B2")]))
    preview = Job.objects.get()
    assert (
        response.status_code == 302 and response["Location"] == f"/admin/households/job/{preview.pk}/change/"
    )
    assert preview.kind == "import" and preview.params["dry_run"] is True
    assert not Household.objects.exists() and len(_uploads()) == 1  # checked, nothing written, file kept
    page = client.get(response["Location"]).content.decode()
    assert "预览（尚未写入）：共 2 行，将新增 2 户" in page and "新增：<strong>2</strong>" in page
    assert 'id="import-confirm"' in page and "确认导入" in page

    other = make_user(Role.CITY)
    refused = client_for(other).post(f"/admin/households/job/{preview.pk}/confirm/", follow=True)
    assert MSG_NOT_YOURS in refused.content.decode() and not Household.objects.exists()

    confirmed = client.post(f"/admin/households/job/{preview.pk}/confirm/")
    job = Job.objects.exclude(pk=preview.pk).get()
    assert confirmed["Location"] == f"/admin/households/job/{job.pk}/change/"
    assert job.status == "done" and job.params["dry_run"] is False
    assert set(Household.objects.values_list("code", flat=True)) == {"B1", "B2"}
    assert "已新增 2 户" in client.get(confirmed["Location"]).content.decode()
    assert _uploads() == []  # imported: the upload (whole ID numbers) is gone
    assert list(ImportBatch.objects.order_by("pk").values_list("status", flat=True)) == [
        "previewed",
        "imported",
    ]
    again = client.post(f"/admin/households/job/{preview.pk}/confirm/", follow=True)
    assert MSG_NOT_CONFIRMABLE in again.content.decode() and Job.objects.count() == 2


def test_a_large_import_with_errors_offers_no_confirm_and_keeps_no_file(
    city_user: Any, settings: Any
) -> None:
    settings.IMPORT_LIMITS = {"BACKGROUND_FROM_BYTES": 1}
    client = client_for(city_user)
    response = _upload(client, xlsx_bytes([roster_row(), roster_row(家庭人口=2, 劳动力=3)]))
    page = client.get(response["Location"]).content.decode()
    assert "第 3 行 劳动力 3：不能多于家庭人口（2）" in page and "确认导入" not in page
    assert _uploads() == []
    unreadable = _upload(client, b"not a workbook at all", name="roster.xlsx")
    job = Job.objects.get(pk=unreadable["Location"].split("/")[-3])
    assert job.status == "failed" and "不是 Excel 工作簿" in job.error


def test_small_uploads_stay_in_the_request(city_user: Any) -> None:
    response = _upload(client_for(city_user), xlsx_bytes([roster_row(户编号="S1")]))
    assert response.status_code == 200 and "确认导入" in response.content.decode()
    assert not Job.objects.exists()


# --- the 补助测算表 of a township, in the background ----------------------------------------------


def test_a_township_gets_its_entitlements_table_from_a_job(city_year: dict[str, Any]) -> None:
    client = client_for(city_year["township_user"])
    form = client.get("/admin/subsidies/householdplan/entitlements/?year=2017").content.decode()
    assert "生成补助测算表" in form and 'name="township"' not in form  # their own township
    response = client.post("/admin/subsidies/householdplan/entitlements/?year=2017", {"year": 2017})
    job = Job.objects.get()
    assert response["Location"] == f"/admin/households/job/{job.pk}/change/"
    assert job.status == "done" and job.title == "2017年补助测算表（建塘镇）" and job.total == 5
    download = client.get(file_url(job, "file"))  # type: ignore[arg-type]
    assert (
        download["Content-Disposition"].startswith("attachment") and "xlsx" in download["Content-Disposition"]
    )
    data = b"".join(download.streaming_content)  # type: ignore[attr-defined]
    rows = list(openpyxl.load_workbook(io.BytesIO(data)).active.iter_rows(values_only=True))  # type: ignore[union-attr]
    assert sorted(r[0] for r in rows[1:-1]) == ["H1", "H2", "H3", "J1", "J2"]  # not 虎跳峡镇's T1
    assert rows[-1][0] == "合计"


def test_the_city_picks_a_township_and_read_only_roles_download_at_once(city_year: dict[str, Any]) -> None:
    city = client_for(city_year["city_user"])
    hutiaoxia = Township.objects.get(name="虎跳峡镇")
    city.post("/admin/subsidies/householdplan/entitlements/", {"year": 2017, "township": hutiaoxia.pk})
    job = Job.objects.get()
    assert job.title == "2017年补助测算表（虎跳峡镇）" and job.township == hutiaoxia and job.total == 1
    auditor = client_for(make_user(Role.AUDITOR))
    direct = auditor.get("/admin/subsidies/householdplan/entitlements/?year=2017")
    assert direct.status_code == 200 and direct.content.startswith(b"PK")
    assert Job.objects.count() == 1
