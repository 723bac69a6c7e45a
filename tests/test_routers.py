"""Reports read from a replica when one is configured (config/routers.py, issue 14)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.db import router
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory, override_settings
from django.utils.functional import SimpleLazyObject

from config import routers
from config.routers import ReplicaReadsMiddleware, in_replica_block, replica_reads
from households.models import Household

ROOT = Path(__file__).resolve().parent.parent
ROUTED = override_settings(DATABASE_ROUTERS=["config.routers.ReplicaRouter"])


@pytest.fixture
def a_replica(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(routers, "replica_configured", lambda: True)


@ROUTED
def test_reads_go_to_the_replica_only_inside_the_block_and_writes_never(a_replica: None) -> None:
    assert Household.objects.all().db == "default"
    with replica_reads():
        assert Household.objects.all().db == "replica"
        assert router.db_for_write(Household) == "default"
    assert Household.objects.all().db == "default"
    assert router.allow_migrate("replica", "households") is False
    assert router.allow_migrate("default", "households") is True


@ROUTED
def test_without_a_replica_nothing_is_routed() -> None:
    with replica_reads():
        assert Household.objects.all().db == "default"


def _through_middleware(request: HttpRequest) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    def view(request: HttpRequest) -> HttpResponse:
        seen["replica"] = in_replica_block()
        seen["db"] = Household.objects.all().db
        return HttpResponse("ok")

    def user() -> object:
        seen["user_read_on_replica"] = in_replica_block()
        return type("U", (), {"is_authenticated": True, "pk": 1})()

    request.user = SimpleLazyObject(user)  # type: ignore[assignment]
    ReplicaReadsMiddleware(view)(request)
    return seen


@ROUTED
def test_the_dashboard_reads_from_the_replica_and_the_user_from_the_primary(a_replica: None) -> None:
    seen = _through_middleware(RequestFactory().get("/dashboard/"))
    assert seen == {"user_read_on_replica": False, "replica": True, "db": "replica"}
    assert _through_middleware(RequestFactory().get("/dashboard/xlsx/"))["db"] == "replica"


@ROUTED
def test_pages_that_write_or_lists_stay_on_the_primary(a_replica: None) -> None:
    assert _through_middleware(RequestFactory().post("/dashboard/"))["db"] == "default"
    assert _through_middleware(RequestFactory().get("/admin/households/household/"))["db"] == "default"
    assert _through_middleware(RequestFactory().get("/cadre/"))["db"] == "default"


def _settings_with(env: dict[str, str], expression: str) -> str:
    environment = {k: v for k, v in os.environ.items() if k != "DATABASE_REPLICA_URL"} | env
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import django; django.setup(); from django.conf import settings as s; print(repr(({expression})))",
        ],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_settings_add_the_replica_only_when_given() -> None:
    base = {"DJANGO_SETTINGS_MODULE": "config.settings.local", "DATABASE_URL": "postgres://u@db1:5432/fupin"}
    expression = "sorted(s.DATABASES), s.DATABASE_ROUTERS, s.MIDDLEWARE[-1]"
    assert _settings_with(base, expression) == "(['default'], [], 'axes.middleware.AxesMiddleware')"
    with_replica = base | {"DATABASE_REPLICA_URL": "postgres://u@db2:5432/fupin"}
    assert _settings_with(with_replica, expression) == (
        "(['default', 'replica'], ['config.routers.ReplicaRouter'], 'config.routers.ReplicaReadsMiddleware')"
    )
    assert _settings_with(with_replica, "s.DATABASES['replica']['HOST']") == "'db2'"


def test_the_loopback_switch_needs_loopback_hosts() -> None:
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": "x" * 60,
        "DATABASE_URL": "postgres://u@db1:5432/fupin",
        "LOOPBACK_HTTP_TEST": "1",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
    }
    expression = "s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT"
    assert _settings_with(env, expression) == "(False, False, False)"
    assert _settings_with(env | {"LOOPBACK_HTTP_TEST": "0"}, expression) == "(True, True, True)"
    environment = (
        {k: v for k, v in os.environ.items()} | env | {"ALLOWED_HOSTS": "fupin.example.cn,127.0.0.1"}
    )
    refused = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode != 0
    assert "LOOPBACK_HTTP_TEST" in refused.stderr


def test_every_replica_view_name_is_a_page() -> None:
    """A renamed URL would silently send its report back to the primary."""
    from django.urls import resolve, reverse

    for name in routers.REPLICA_READ_VIEWS:
        assert resolve(reverse(name)).view_name == name
