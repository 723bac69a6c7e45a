"""A large admin import, in the background: upload → check (a dry run) → preview → confirm → import.

The admin's upload (`admin_base.ServiceImportMixin`) of a file of at least
`IMPORT_LIMITS["BACKGROUND_FROM_BYTES"]` is stored where django-import-export keeps uploads between
preview and confirm (`imports.upload_storage()`, files 0600) and handed to a job of kind "import":
the worker runs the import service as a dry run and keeps its report in the job; the job's page shows
the preview (the same report as the in-request preview) and, when the file can be imported, 确认导入,
which starts a second job that imports the same file — checked to be the same bytes by its SHA-256.
Both run the registered `Importer` (`imports.IMPORT_KINDS`) with the user who uploaded, so they accept
and refuse exactly what the command and the small-file admin import do. The upload is removed once
it cannot be confirmed any more (refused, nothing to change, imported), and by `purge_imports` after
`UPLOAD_MAX_AGE_HOURS` if the preview is abandoned.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from .imports import (
    IMPORT_KINDS,
    UPLOAD_FOLDER,
    Change,
    ImportFileError,
    ImportReport,
    RowError,
    is_upload_name,
    read_xlsx,
    sha256_of,
    upload_storage,
)
from .jobs import JOB_KINDS, JobKind, JobRun, job_start
from .models import Job, User

KIND = "import"
IMPORT_ROLES = frozenset({"township", "city"})  # who imports (households.import_household, plans)

MSG_UPLOAD_GONE = "找不到这次上传的文件：它可能已经导入、已过期被清理。请重新上传文件。"
MSG_NOT_CONFIRMABLE = "这次预览不能确认导入（有错误、没有改动，或已经确认过）。"
MSG_NOT_YOURS = "只有上传文件的人可以确认导入。"


def report_json(report: ImportReport) -> dict[str, Any]:
    data = dataclasses.asdict(report)
    data["errors"] = data["errors"][:1000]
    return data


def report_from_json(data: dict[str, Any]) -> ImportReport:
    """The report as the import service returned it, for the preview template."""
    if not data:
        return ImportReport()
    fields = {f.name for f in dataclasses.fields(ImportReport)}
    values = {k: v for k, v in data.items() if k in fields}
    values["errors"] = [RowError(**e) for e in values.get("errors", [])]
    for key in ("new_rows", "changed_rows"):
        values[key] = [
            Change(c["row"], c["key"], c["label"], {k: tuple(v) for k, v in c["fields"].items()})
            for c in values.get(key, [])
        ]
    return ImportReport(**values)


def _area(actor: User) -> dict[str, Any]:
    if actor.role == "village" and actor.village_id:
        return {"village": actor.village}
    if actor.role == "township" and actor.township_id:
        return {"township": actor.township}
    return {}


def import_job_start(*, importer: str, upload: str, file_name: str, actor: User) -> Job:
    """Check an uploaded file in the background (a dry run); its page then offers the confirm."""
    label = IMPORT_KINDS[importer].label
    return job_start(
        kind=KIND,
        actor=actor,
        title=f"导入{label}（检查）：{file_name}",
        params={"importer": importer, "upload": upload, "file_name": file_name, "dry_run": True},
        **_area(actor),
    )


def confirmable(job: Job) -> bool:
    report = job.result or {}
    return (
        job.kind == KIND
        and job.status == Job.Status.DONE
        and bool(job.params.get("dry_run"))
        and not job.params.get("confirmed_by_job")
        and not report.get("errors")
        and (report.get("rows_new", 0) or report.get("rows_updated", 0)) > 0
    )


@transaction.atomic
def import_job_confirm(*, preview: Job, actor: User) -> Job:
    """确认导入: the previewed file imported for real, by a second job."""
    locked = Job.objects.select_for_update(no_key=True).get(pk=preview.pk)
    if locked.actor_id != actor.pk:
        raise ValidationError(MSG_NOT_YOURS)
    if not confirmable(locked):
        raise ValidationError(MSG_NOT_CONFIRMABLE)
    params = locked.params
    job = job_start(
        kind=KIND,
        actor=actor,
        title=f"导入{IMPORT_KINDS[params['importer']].label}：{params['file_name']}",
        params={
            **{k: params[k] for k in ("importer", "upload", "file_name")},
            "dry_run": False,
            "sha256": locked.result.get("file_sha256", ""),
            "preview_job": locked.pk,
        },
        township=locked.township,
        village=locked.village,
    )
    Job.objects.filter(pk=locked.pk).update(params={**params, "confirmed_by_job": job.pk})
    return job


def run_import(job: Job, run: JobRun) -> None:
    params = job.params
    importer = IMPORT_KINDS[params["importer"]]
    name = params.get("upload")
    if not is_upload_name(name):
        raise ValidationError(MSG_UPLOAD_GONE)
    storage = upload_storage()
    path = f"{UPLOAD_FOLDER}/{name}"
    dry_run = bool(params.get("dry_run"))
    verb = "检查" if dry_run else "导入"
    try:
        stream = storage.open(path, "rb")
    except FileNotFoundError:
        raise ValidationError(MSG_UPLOAD_GONE) from None
    keep = False
    try:
        with stream:
            run.progress(0, step="读取文件")
            digest = sha256_of(stream)
            if params.get("sha256") and digest != params["sha256"]:
                raise ValidationError(MSG_UPLOAD_GONE)
            try:
                header, rows = read_xlsx(stream)
            except ImportFileError as exc:
                raise ValidationError(exc.messages[0]) from None
            run.progress(0, step=f"{verb}各行")
            report = importer(
                header=header,
                rows=rows,
                actor=job.actor,
                file_name=params.get("file_name", ""),
                file_sha256=digest,
                dry_run=dry_run,
                on_progress=lambda rows_read: run.progress(rows_read),
            )
        run.progress(report.rows_total, total=report.rows_total)
        run.result = {**report_json(report), "file_sha256": digest}
        keep = dry_run and report.ok and not report.nothing_changed  # waiting for 确认导入
    finally:
        if not keep:
            storage.delete(path)


def present(job: Job) -> dict[str, Any]:
    """What the job's page shows under the progress: the report, and whether it may be confirmed."""
    return {"report": report_from_json(job.result) if job.result else None, "confirmable": confirmable(job)}


def register() -> None:
    JOB_KINDS.register(
        JobKind(
            code=KIND,
            label="Excel 导入",
            run=run_import,
            roles=IMPORT_ROLES,
            unit="行",
            result_template="admin/households/job/import_result.html",
            present=present,
        )
    )
