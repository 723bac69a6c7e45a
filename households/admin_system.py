"""The superuser's pages that come with Django and django-axes, in Chinese and without dead ends.

Rights come from roles (`households.roles`), not groups; the group page stays for the superuser,
its permission picker in Chinese. django-axes' admin (登录安全) is registered by axes itself; its labels
are translated in the project catalog, its records named in `households.logins`. Its "clean up
expired attempts" action is left out: attempts do not expire here (AXES_USE_ATTEMPT_EXPIRATION is
off) and the action fails outside a login request (axes reads `request.axes_attempt_time`).
"""

from __future__ import annotations

from typing import Any

from axes.admin import AccessAttemptAdmin as AxesAccessAttemptAdmin
from axes.models import AccessAttempt
from django.contrib import admin
from django.contrib.admin.options import ActionLocation
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.models import Group
from django.http import HttpRequest
from django_tasks_db.models import DBTaskResult

from .admin_base import PermissionLabelsMixin

admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(PermissionLabelsMixin, DjangoGroupAdmin):
    pass


if admin.site.is_registered(AccessAttempt):
    admin.site.unregister(AccessAttempt)

    @admin.register(AccessAttempt)
    class AccessAttemptAdmin(AxesAccessAttemptAdmin):
        # The login form's raw fields (masked anyway) tell the superuser nothing: left out.
        fieldsets = tuple(
            (name, options)
            for name, options in AxesAccessAttemptAdmin.fieldsets
            if "post_data" not in options["fields"]
        )

        @admin.display(description="状态")
        def status(self, obj: AccessAttempt) -> str:
            return str(super().status(obj))

        def get_actions(self, request: HttpRequest, action_location: Any = ActionLocation.CHANGE_LIST) -> Any:
            actions = super().get_actions(request, action_location)
            actions.pop("cleanup_expired_attempts", None)
            return actions


# The worker's queue (django-tasks-db) has an English admin of its own that needs the database backend;
# people follow their work on 后台任务 (households.Job), which names the same tasks in Chinese.
if admin.site.is_registered(DBTaskResult):
    admin.site.unregister(DBTaskResult)
