"""Reports read from a replica when there is one (issue 14, "past one machine").

With `DATABASE_REPLICA_URL` set (a streaming-replication standby of the primary), the settings add a
`replica` database alias and this router. Reads go to the replica only inside `replica_reads()`:
the views named in `REPLICA_READ_VIEWS` (GET only, through `ReplicaReadsMiddleware`) and any command
that wraps its reading in the block. Everything else — every write, and every read of a page or
command that writes (the guard's reads under a lock, `allocate`, `reconcile` before paying) — stays
on `default`. Without `DATABASE_REPLICA_URL` neither the alias nor the router exists and nothing
changes.

A standby lags the primary by a moment: only pages whose figures may be a few seconds old belong in
`REPLICA_READ_VIEWS`. The signed-in user is read from the primary before the switch, so a session
created a moment ago is never missed on the replica.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template.response import SimpleTemplateResponse
from django.urls import Resolver404, resolve

REPLICA = "replica"

# Read-only report pages (resolver view names) that may be served from the replica.
REPLICA_READ_VIEWS = frozenset({"dashboard:index", "dashboard:xlsx", "admin:subsidies_entitlements"})

_reading_replica: ContextVar[bool] = ContextVar("reading_replica", default=False)


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


@contextmanager
def replica_reads() -> Iterator[None]:
    """Inside this block the ORM reads from the replica, if one is configured (writes never)."""
    token = _reading_replica.set(True)
    try:
        yield
    finally:
        _reading_replica.reset(token)


class ReplicaRouter:
    def db_for_read(self, model: type[Any], **hints: Any) -> str | None:
        if _reading_replica.get() and replica_configured():
            return REPLICA
        return None

    def db_for_write(self, model: type[Any], **hints: Any) -> str | None:
        return "default"

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        # The replica is the same data: an object read there may refer to one read on the primary.
        return True

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        # A standby is read-only and receives the schema from the primary.
        return db != REPLICA


class ReplicaReadsMiddleware:
    """Runs the GET of a view in `REPLICA_READ_VIEWS` inside `replica_reads()` (last in MIDDLEWARE).

    The signed-in user is read before the switch (from the primary), and a template response is
    rendered inside the block so that its lazy querysets read where the view did.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not replica_configured() or request.method not in ("GET", "HEAD"):
            return self.get_response(request)
        try:
            view_name = resolve(request.path_info).view_name
        except Resolver404:
            return self.get_response(request)
        if view_name not in REPLICA_READ_VIEWS:
            return self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None:
            user.is_authenticated  # noqa: B018 — loads the session and the user from the primary
        with replica_reads():
            response = self.get_response(request)
            if isinstance(response, SimpleTemplateResponse) and not response.is_rendered:
                response.render()
        return response


def in_replica_block() -> bool:
    """True inside `replica_reads()`."""
    return _reading_replica.get()
