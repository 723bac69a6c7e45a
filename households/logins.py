"""django-axes (five failed logins lock a username for 30 minutes) in Chinese.

Its field labels are translated in the project catalog (locale/zh_Hans); its app name is set here
(INSTALLED_APPS names this config instead of "axes"), and so are the names of its records, which
axes writes as English sentences ("Access Log for cadre @ …") and the admin shows as page titles.
"""

from __future__ import annotations

from typing import Any

from axes.apps import AppConfig as AxesAppConfig


def _when(value: Any) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value is not None else ""


def _who(record: Any) -> str:
    return str(record.username or "（未填用户名）")


def _attempt(record: Any) -> str:
    return f"{_who(record)} 登录失败 {record.failures_since_start} 次（{_when(record.attempt_time)}）"


def _failure(record: Any) -> str:
    locked = "，已锁定" if record.locked_out else ""
    return f"{_who(record)} 登录失败{locked}（{_when(record.attempt_time)}）"


def _log(record: Any) -> str:
    return f"{_who(record)} 登录（{_when(record.attempt_time)}）"


class LoginsConfig(AxesAppConfig):
    verbose_name = "登录安全"

    def ready(self) -> None:
        super().ready()
        from axes.models import AccessAttempt, AccessFailureLog, AccessLog

        AccessAttempt.__str__ = _attempt  # type: ignore[method-assign,assignment]
        AccessFailureLog.__str__ = _failure  # type: ignore[method-assign,assignment]
        AccessLog.__str__ = _log  # type: ignore[method-assign,assignment]
