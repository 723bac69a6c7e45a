"""django-tasks-db (the worker's queue in the database) named in Chinese.

INSTALLED_APPS names this config instead of "django_tasks_db". People follow their work on 后台任务
(`households.Job`); the queue's own records appear only in the superuser's permission pickers, where
their names must read in Chinese like every other.
"""

from __future__ import annotations

from django_tasks_db.apps import TasksAppConfig


class TaskQueueConfig(TasksAppConfig):
    verbose_name = "后台任务队列"

    def ready(self) -> None:
        super().ready()
        from django_tasks_db.models import DBTaskResult

        DBTaskResult._meta.verbose_name = "队列记录"
        DBTaskResult._meta.verbose_name_plural = "队列记录"
