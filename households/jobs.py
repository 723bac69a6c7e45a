"""Background work: jobs, the kinds the apps register, and the one task that runs them.

A job is work too long for a request — a township's batch print, a whole township's export, a large
import. The app that owns the work registers its kind in `AppConfig.ready()`:

    from households.jobs import JOB_KINDS, JobKind
    JOB_KINDS.register(JobKind("notice_print", "批量打印公示", run=print_township, roles=..., unit="个村"))

and starts one with `job_start(kind=…, actor=…, title=…, params=…, township=…)`, which records a `Job`
and, once the transaction commits, enqueues the one task, `run_job`, through `django.tasks`. The
database backend (django-tasks-db) keeps the task in the database until a worker (`manage.py
db_worker`, beside the web server) takes it, so a job enqueued while no worker runs waits and runs when
one starts (tests: `ImmediateBackend`, the job runs inside the request).

The kind's `run(job, run)` does the work with the job's actor's scope and reports through `run`:
`run.progress(done, total=…, step=…)`, `run.save_file(name, bytes)`, `run.result`. A refusal it means
the user to read is a `ValidationError` (the job fails with that message, in Chinese); anything else
is a crash: logged without its message or data (exception class and code locations only), and the job
fails with a message that says to retry.

While a job runs in a worker, a thread beside it writes the counters and a heartbeat every
`JOBS["HEARTBEAT_SECONDS"]` through its own connection (so progress shows even while the work holds a
transaction open, on PostgreSQL; SQLite has one writer, so an import's progress appears when its
transaction ends). A running job silent for `JOBS["STALE_SECONDS"]` lost its worker (killed, machine
restarted): the page says so and offers 重试, as it does for a failed job. Each retry is a new attempt;
a task carries its attempt, and a task whose job has moved on (an old worker coming back) writes nothing.

Read-only roles (auditor, approver) start no job: a job writes (a record, a file), and each kind names
the roles that may start it. A job is seen by those whose scope covers its area (`Job.scope_paths`);
only its actor retries it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile, File
from django.db import DatabaseError, connections, transaction
from django.db.models import F
from django.tasks import TaskContext, task, task_backends
from django.tasks.backends.immediate import ImmediateBackend
from django.tasks.base import TaskResultStatus
from django.tasks.exceptions import TaskResultDoesNotExist
from django.utils import timezone

from .files import file_url
from .models import Job, Township, User, Village
from .registry import Registry
from .uploads import clean_upload, field_policy

logger = logging.getLogger(__name__)

READ_ONLY_ROLES = frozenset({"auditor", "approver"})

MSG_READ_ONLY = "您的角色只能查看，不能发起后台任务。"
MSG_ROLE = "您的角色不能发起“{label}”。"
MSG_NOT_YOURS = "只有发起人可以重试这个任务。"
MSG_NOT_RETRYABLE = "该任务正在进行或已经完成，不需要重试。"
MSG_CHANGED = "任务状态已经变化，请刷新页面。"
MSG_CRASHED = "后台任务出错（任务编号 {pk}），未能完成。请点击“重试”；如仍失败，请联系系统管理员。"
MSG_WORKER_LOST = "后台进程自 {at} 起没有响应（可能已重启或被终止），任务未能完成。请点击“重试”。"
MSG_TASK_ENDED = "后台进程结束了这个任务，但没有完成它。请点击“重试”。"
MSG_NOT_ENQUEUED = "任务没有进入后台队列。请点击“重试”。"
MSG_QUEUED_STEP = "等待后台进程开始处理……"
MSG_WAITING = "已排队 {seconds} 秒：后台进程可能没有运行。它启动后会自动执行这个任务，无需重新发起。"

Runner = Callable[[Job, "JobRun"], None]


@dataclass(frozen=True)
class JobKind:
    """One kind of background work: what it is called, who may start it and the function that does it."""

    code: str
    label: str
    run: Runner = field(compare=False)
    roles: frozenset[str] = frozenset()  # who may start it (a superuser always may)
    unit: str = ""  # what done/total count: 个村, 行, 户
    # Renders `job.result` on the job's page (e.g. an import's preview), with `job` and `report`.
    result_template: str = ""
    present: Callable[[Job], dict[str, Any]] | None = field(default=None, compare=False)


JOB_KINDS: Registry[JobKind] = Registry("job kind")


def job_settings() -> dict[str, float]:
    configured = getattr(settings, "JOBS", {})
    return {
        "HEARTBEAT_SECONDS": float(configured.get("HEARTBEAT_SECONDS", 2.0)),
        "STALE_SECONDS": float(configured.get("STALE_SECONDS", 120.0)),
        "QUEUE_WARNING_SECONDS": float(configured.get("QUEUE_WARNING_SECONDS", 30.0)),
    }


def may_start(user: Any, kind: JobKind) -> bool:
    if not (user.is_active and user.is_authenticated):
        return False
    if user.is_superuser:
        return True
    role = getattr(user, "role", "")
    return role not in READ_ONLY_ROLES and role in kind.roles


def check_may_start(user: Any, kind: JobKind) -> None:
    if not may_start(user, kind):
        role = getattr(user, "role", "")
        raise ValidationError(MSG_READ_ONLY if role in READ_ONLY_ROLES else MSG_ROLE.format(label=kind.label))


# --- starting and retrying -----------------------------------------------------------------------


@transaction.atomic
def job_start(
    *,
    kind: str,
    actor: User,
    title: str,
    params: dict[str, Any] | None = None,
    township: Township | None = None,
    village: Village | None = None,
) -> Job:
    """Record a job and enqueue it when the transaction commits. Refuses roles the kind does not allow."""
    check_may_start(actor, JOB_KINDS[kind])
    if village is None and getattr(actor, "role", "") == "village" and actor.village_id:
        village = actor.village  # a village official's job covers their village: so they see it
    if village is not None and township is None:
        township = village.township
    job = Job.objects.create(
        kind=kind,
        title=title[:200],
        actor=actor,
        township=township,
        village=village,
        params=params or {},
    )
    _enqueue(job)
    return job


def _enqueue(job: Job) -> None:
    pk, attempt = job.pk, job.attempt

    def send() -> None:
        result = run_job.enqueue(pk, attempt)
        Job.objects.filter(pk=pk, attempt=attempt).update(task_id=str(result.id)[:64])

    transaction.on_commit(send)


def may_retry(job: Job, user: Any) -> bool:
    kind = JOB_KINDS.get(job.kind)
    return (
        kind is not None
        and (job.actor_id == user.pk or user.is_superuser)
        and may_start(user, kind)
        and (job.status == Job.Status.FAILED or bool(job_problem(job)))
    )


@transaction.atomic
def job_retry(*, job: Job, actor: User) -> Job:
    """Run a failed job (or one whose worker was lost) again, as a new attempt."""
    locked = Job.objects.select_for_update(no_key=True).get(pk=job.pk)
    if locked.actor_id != actor.pk and not actor.is_superuser:
        raise ValidationError(MSG_NOT_YOURS)
    check_may_start(actor, JOB_KINDS[locked.kind])
    if locked.status != Job.Status.FAILED and not job_problem(locked):
        raise ValidationError(MSG_NOT_RETRYABLE)
    moved = Job.objects.filter(pk=locked.pk, attempt=locked.attempt, status=locked.status).update(
        status=Job.Status.QUEUED,
        attempt=F("attempt") + 1,
        task_id="",
        done=0,
        total=0,
        step="",
        error="",
        result={},
        file="",
        started_at=None,
        heartbeat_at=None,
        finished_at=None,
    )
    if moved != 1:
        raise ValidationError(MSG_CHANGED)
    old_file, old_task = locked.file, locked.task_id
    if old_file.name:
        name, storage = old_file.name, old_file.storage
        transaction.on_commit(lambda: storage.delete(name))
    _abandon_task(old_task)
    locked.refresh_from_db()
    _enqueue(locked)
    return locked


def _abandon_task(task_id: str) -> None:
    """The queue's record of a task whose worker died stays "running" forever: mark it failed."""
    if not task_id or not apps.is_installed("django_tasks_db"):
        return
    from django_tasks_db.models import DBTaskResult

    # A task id of another backend (ImmediateBackend's) is no UUID: nothing to mark.
    with contextlib.suppress(ValidationError, ValueError):
        DBTaskResult.objects.filter(id=task_id, status=TaskResultStatus.RUNNING).update(
            status=TaskResultStatus.FAILED,
            finished_at=timezone.now(),
            exception_class_path="households.jobs.WorkerLost",
            traceback="The worker running this task stopped answering; the job was retried.",
        )


# --- what a page shows ---------------------------------------------------------------------------


def _task_status(job: Job) -> str | None:
    """The queue's status of the job's task, where the backend keeps one."""
    if not job.task_id:
        return None
    backend = task_backends["default"]
    if not backend.supports_get_result:
        return None
    try:
        return str(backend.get_result(job.task_id).status)
    except (TaskResultDoesNotExist, ValidationError, ValueError):
        return None


def job_problem(job: Job, now: Any = None) -> str:
    """Why an unfinished job will not finish by itself ("" when nothing is wrong)."""
    if job.status not in (Job.Status.QUEUED, Job.Status.RUNNING):
        return ""
    limits = job_settings()
    now = now or timezone.now()
    if job.status == Job.Status.RUNNING:
        beat = job.heartbeat_at or job.started_at
        if beat is not None and (now - beat).total_seconds() > limits["STALE_SECONDS"]:
            return MSG_WORKER_LOST.format(at=f"{timezone.localtime(beat):%H:%M:%S}")
    task_status = _task_status(job)
    if task_status in (TaskResultStatus.FAILED, TaskResultStatus.SUCCESSFUL):
        # The task ended but the job did not (a worker stopped mid-task, or it crashed before the job).
        return MSG_TASK_ENDED
    waited = (now - job.created_at).total_seconds()
    if job.status == Job.Status.QUEUED and not job.task_id and waited > limits["STALE_SECONDS"]:
        return MSG_NOT_ENQUEUED
    return ""


def job_waiting(job: Job, now: Any = None) -> str:
    """A hint when a job has waited long in the queue (no worker running?)."""
    if job.status != Job.Status.QUEUED:
        return ""
    seconds = int(((now or timezone.now()) - job.created_at).total_seconds())
    return MSG_WAITING.format(seconds=seconds) if seconds > job_settings()["QUEUE_WARNING_SECONDS"] else ""


def job_state(job: Job, user: Any) -> dict[str, Any]:
    """What the job's page polls (JSON)."""
    problem = job_problem(job)
    kind = JOB_KINDS.get(job.kind)
    finished = job.status in (Job.Status.DONE, Job.Status.FAILED)
    return {
        "id": job.pk,
        "status": job.status,
        "status_label": str(job.get_status_display()),
        "done": job.done,
        "total": job.total,
        "unit": kind.unit if kind else "",
        "step": job.step or (MSG_QUEUED_STEP if job.status == Job.Status.QUEUED else ""),
        "percent": round(100 * job.done / job.total) if job.total else (100 if finished else 0),
        "finished": finished,
        "error": job.error or problem,
        "waiting": job_waiting(job),
        "retry": may_retry(job, user),
        "file_url": file_url(job, "file") if job.status == Job.Status.DONE else None,
    }


# --- running ---------------------------------------------------------------------------------------


class JobRun:
    """What a kind's `run` reports through: progress, a result, a file. Kept in memory; written by the
    heartbeat (in a worker) and when the job ends."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.done = 0
        self.total = 0
        self.step = ""
        self.result: dict[str, Any] = {}
        self._lock = threading.Lock()

    def progress(self, done: int | None = None, *, total: int | None = None, step: str | None = None) -> None:
        with self._lock:
            if total is not None:
                self.total = max(0, total)
            if done is not None:
                self.done = max(0, done)
            if step is not None:
                self.step = step[:100]

    def save_file(self, name: str, content: bytes | IO[bytes]) -> None:
        """Store the job's file (a PDF or a workbook, checked as any upload is), named as downloaded."""
        upload: File[bytes] = (
            ContentFile(content, name=name) if isinstance(content, bytes) else File(content, name)
        )
        checked = clean_upload(upload, *field_policy(Job, "file"))
        if self.job.file:
            self.job.file.delete(save=False)
        self.job.file.save(name, checked, save=False)

    def _counters(self) -> dict[str, Any]:
        with self._lock:
            return {"done": self.done, "total": max(self.total, self.done), "step": self.step}

    def _mine(self) -> Any:
        return Job.objects.filter(pk=self.job.pk, attempt=self.job.attempt, status=Job.Status.RUNNING)

    def beat(self) -> None:
        self._mine().update(heartbeat_at=timezone.now(), **self._counters())

    def finish(self, status: str, error: str = "") -> bool:
        counters = self._counters()
        if status == Job.Status.DONE and counters["total"]:
            counters["done"] = counters["total"]
        now = timezone.now()
        written = self._mine().update(
            status=status,
            error=error,
            result=self.result,
            file=self.job.file.name or "",
            finished_at=now,
            heartbeat_at=now,
            **{**counters, "step": ""},
        )
        if not written and self.job.file:  # the job was retried meanwhile: this attempt's file is not its
            self.job.file.delete(save=False)
        return bool(written)


class _Heartbeat(threading.Thread):
    """Writes the job's counters and heartbeat every few seconds through this thread's own connection."""

    def __init__(self, run: JobRun, every: float) -> None:
        super().__init__(name=f"job-{run.job.pk}-heartbeat", daemon=True)
        self.job_run = run
        self.every = every
        self._halt = threading.Event()

    def run(self) -> None:
        try:
            while not self._halt.wait(self.every):
                try:
                    self.job_run.beat()
                except DatabaseError:  # SQLite: another transaction holds the write lock; next time
                    logger.info("job %s: heartbeat not written (database busy)", self.job_run.job.pk)
        finally:
            connections.close_all()  # this thread's connections only

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=30)


def _in_request(context: TaskContext) -> bool:
    """True when the task runs inside the request that enqueued it (ImmediateBackend: the tests)."""
    return isinstance(task_backends[context.task_result.backend], ImmediateBackend)


@task(takes_context=True)
def run_job(context: TaskContext, job_id: int, attempt: int) -> str:
    """The one task: claim the job's attempt, run its kind, record the outcome. Never raises: the job
    is the record of what happened (the queue's own record says only that the task ran)."""
    now = timezone.now()
    claimed = Job.objects.filter(pk=job_id, attempt=attempt, status=Job.Status.QUEUED).update(
        status=Job.Status.RUNNING, started_at=now, heartbeat_at=now, done=0, total=0, step=""
    )
    if not claimed:
        logger.info("job %s attempt %s: nothing to do (already run, or retried)", job_id, attempt)
        return "skipped"
    job = Job.objects.select_related("actor", "township", "village").get(pk=job_id)
    run = JobRun(job)
    heartbeat = None if _in_request(context) else _Heartbeat(run, job_settings()["HEARTBEAT_SECONDS"])
    status, error = Job.Status.DONE, ""
    try:
        if heartbeat is not None:
            heartbeat.start()
        JOB_KINDS[job.kind].run(job, run)
    except ValidationError as exc:
        status, error = Job.Status.FAILED, "；".join(exc.messages)
    except Exception as exc:
        # No message, no values: they may hold names or ID numbers. The class and where it happened.
        logger.error(
            "job %s (%s) attempt %s crashed: %s\n%s",
            job_id,
            job.kind,
            attempt,
            type(exc).__name__,
            "".join(traceback.format_tb(exc.__traceback__)),
        )
        status, error = Job.Status.FAILED, MSG_CRASHED.format(pk=job_id)
    finally:
        if heartbeat is not None:
            heartbeat.stop()
    run.finish(status, error)
    return str(status)
