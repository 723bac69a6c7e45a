"""A job kind that exists only in the tests: it counts `steps` steps of `pause` seconds each, so a test
can watch its progress, kill its worker in the middle, or make its first attempt fail.

The test process registers it with `register()`; a worker started by the tests
(`tests/worker_settings.py`) installs this package as an app, whose `ready()` registers it.
"""

from __future__ import annotations

import time

from django.core.exceptions import ValidationError

from households.jobs import JOB_KINDS, JobKind, JobRun
from households.models import Job

KIND = "toy_steps"
MSG_FIRST_ATTEMPT = "第一次执行故意失败（测试）"


def count_steps(job: Job, run: JobRun) -> None:
    steps, pause = int(job.params.get("steps", 3)), float(job.params.get("pause", 0))
    if job.params.get("fail_first") and job.attempt == 1:
        raise ValidationError(MSG_FIRST_ATTEMPT)
    if job.params.get("crash"):
        raise RuntimeError(f"身份证号 {job.params['crash']} 不应出现在日志里")
    run.progress(0, total=steps, step="计数")
    for done in range(1, steps + 1):
        time.sleep(pause)
        run.progress(done)
    run.result = {"counted": steps}


TOY_KIND = JobKind(
    code=KIND, label="测试计数", run=count_steps, roles=frozenset({"township", "city"}), unit="步"
)


def register() -> None:
    JOB_KINDS.register(TOY_KIND)
