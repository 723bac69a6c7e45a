"""The dashboard's summary tables, part of the 进度看板 frame (issue 14).

A section that is slow over the whole registry registers a `refresh` with its `Section`: given a year
and some townships, it computes its figures per small area — 村民小组, village, township, and one
cadre's households in one village — set-based (a fixed number of queries per batch of townships).
The frame stores them (`DashboardFigure`) and the pages add them up per row of their level, through
the one scoping mechanism: a request never scans the registry.

Freshness, per (year, township) (`DashboardState`):
- whatever changes a section's figures marks its townships stale in the changing transaction —
  `figures_changed` (an `UPDATE` of the townships' rows, held until the change commits): the
  ledger's `post` (every yuan: allocation,
  payouts, reversals, repayments), registry changes (`households.events.registry_changed`: imports,
  edits), and the models a section `watch`es (plans, letters, settlement, recovery orders);
- the first change after a refresh (stale false → true) enqueues one `refresh_figures` task when the
  transaction commits; later changes find the township already stale and enqueue nothing, so 200
  cadres saving plans in one township cause one refresh, not 200;
- the worker (`manage.py db_worker`) clears `stale`, reads, and writes the township's figures in one
  transaction with the time it started reading (数据截至 on the page). A change committed while it
  reads marks the township stale again, and another refresh follows.

So the figures lag a change by the worker's poll interval plus one refresh of the townships changed
(a township at 2 M households: well under a second). `manage.py refresh_dashboard` rebuilds every
township (a deployment's first fill, or after restoring a backup). When tasks run inside the request
(the tests' ImmediateBackend, a setup without a worker), the page refreshes stale townships itself
before it reads.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import models, transaction
from django.db.models.signals import post_delete, post_save
from django.tasks import task, task_backends
from django.tasks.backends.immediate import ImmediateBackend
from django.utils import timezone

from households import events
from households.models import Township, User, Village
from households.scoping import scoped

from .models import DashboardFigure, DashboardState

logger = logging.getLogger(__name__)

# What one figure is the figures of.
GROUP, VILLAGE, TOWNSHIP, CADRE = "group", "village", "township", "cadre"

CHUNK = 10  # townships read and written per transaction by a refresh
WRITE_BATCH = 2000


@dataclass(frozen=True)
class Figure:
    """One row a section's `refresh` returns: where it counts and its values (counts as int, money as
    Decimal; stored as strings)."""

    grain: str
    township_id: int
    values: dict[str, Any]
    village_id: int | None = None
    group_id: int | None = None
    cadre_id: int | None = None


Refresh = Callable[[int, Sequence[int]], list[Figure]]


def _sections() -> list[Any]:
    from .dashboard import DASHBOARD_SECTIONS

    return [s for s in DASHBOARD_SECTIONS if s.refresh is not None]


# --- marking stale ----------------------------------------------------------------------------------


def figures_changed(*, year: int | None = None, townships: Any = None) -> None:
    """Mark the figures of `townships` (ids, or a queryset of ids; all when None) for `year` (every year
    when None) stale, in the caller's transaction; enqueue one refresh once it commits if any township
    was fresh. One query."""
    states = DashboardState.objects.filter(township__isnull=False)
    if year is not None:
        states = states.filter(year=year)
    if townships is not None:
        if isinstance(townships, Iterable) and not isinstance(townships, models.QuerySet):
            townships = sorted({t for t in townships if t is not None})
            if not townships:
                return
        states = states.filter(township__in=townships)
    now = timezone.now()
    fresh = states.filter(stale=False).update(stale=True, changed_at=now)
    # Every township touched is now written by this transaction, so its row stays locked until the
    # change commits: the worker claims only rows no writer holds (SKIP LOCKED) and so never marks
    # fresh figures read before this change committed (a change to an already-stale township was lost
    # that way). The first change after a refresh enqueues it; later ones find it queued.
    states.filter(stale=True).exclude(changed_at=now).update(changed_at=now)
    if fresh:
        transaction.on_commit(enqueue_refresh)


def enqueue_refresh() -> None:
    refresh_figures.enqueue()


def _villages_changed(village_ids: Sequence[int]) -> None:
    figures_changed(townships=Village.objects.filter(pk__in=list(village_ids)).values("township_id"))


def _watcher(model: type[models.Model], township: str, year: str | None) -> Callable[..., None]:
    """A receiver marking stale the township of a saved or deleted `model` row. `township` is the
    lookup from the model to its township id (e.g. "household__village__township"); its first step is
    read from the instance, so a deleted row still finds its township."""
    first, _, rest = township.partition("__")

    def changed(sender: Any, instance: models.Model, **kwargs: Any) -> None:
        if kwargs.get("raw"):
            return  # fixtures
        start = getattr(instance, f"{first}_id")
        if start is None:
            return
        if rest:
            related = model._meta.get_field(first).related_model
            assert related is not None and not isinstance(related, str)
            townships: Any = related._default_manager.filter(pk=start).values(rest)
        else:
            townships = [start]
        figures_changed(year=getattr(instance, year) if year else None, townships=townships)

    return changed


_watched: list[Callable[..., None]] = []


def watch(model: type[models.Model], *, township: str, year: str | None = "year") -> None:
    """Mark the figures stale whenever a `model` row is saved or deleted (a section's `AppConfig.ready()`:
    the records its figures count that are written one at a time; bulk writes call
    `figures_changed` themselves)."""
    receiver = _watcher(model, township, year)
    _watched.append(receiver)  # signals hold receivers weakly
    post_save.connect(receiver, sender=model, weak=False, dispatch_uid=f"figures:{model._meta.label}")
    post_delete.connect(receiver, sender=model, weak=False, dispatch_uid=f"figures-del:{model._meta.label}")


events.on_registry_change(_villages_changed)


# --- refreshing --------------------------------------------------------------------------------------


@task()
def refresh_figures() -> int:
    """The worker's task: refresh every stale township of every year. Returns the townships refreshed."""
    return refresh_stale()


def refresh_stale() -> int:
    pending: dict[int, list[int]] = {}
    for year, township_id in DashboardState.objects.filter(stale=True, township__isnull=False).values_list(
        "year", "township_id"
    ):
        pending.setdefault(year, []).append(township_id)
    return sum(refresh(year=year, township_ids=ids) for year, ids in sorted(pending.items()))


def _encode(values: dict[str, Any]) -> dict[str, Any]:
    return {k: str(v) if isinstance(v, Decimal) else v for k, v in values.items()}


def refresh(*, year: int, township_ids: Sequence[int] | None = None) -> int:
    """Rebuild the figures of `year` for `township_ids` (every township when None), CHUNK townships at
    a time, each chunk in a fixed number of queries. Returns the number of townships written."""
    if township_ids is None:
        township_ids = list(Township.objects.order_by("pk").values_list("pk", flat=True))
    ids = sorted(set(township_ids))
    DashboardState.objects.get_or_create(year=year, township=None, defaults={"stale": False})
    sections = _sections()
    written = 0
    skipped = False
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        # A township's first refresh creates its row. Only the missing ones: an insert meeting a row
        # that a writer holds would wait for that writer.
        have = set(
            DashboardState.objects.filter(year=year, township_id__in=chunk).values_list(
                "township_id", flat=True
            )
        )
        if missing := [t for t in chunk if t not in have]:
            DashboardState.objects.bulk_create(
                [DashboardState(year=year, township_id=t, stale=True) for t in missing], ignore_conflicts=True
            )
        started = timezone.now()
        # Claimed before reading, and only the townships no uncommitted change holds (a writer keeps
        # its townships' rows locked until it commits): a change committed from here on marks the
        # township stale again; one still running leaves it stale for a later run.
        with transaction.atomic():
            claimed = list(
                DashboardState.objects.select_for_update(skip_locked=True)
                .filter(year=year, township_id__in=chunk)
                .values_list("township_id", flat=True)
            )
            DashboardState.objects.filter(year=year, township_id__in=claimed).update(stale=False)
        skipped = skipped or len(claimed) < len(chunk)
        chunk = sorted(claimed)
        if not chunk:
            continue
        try:
            built = {section.code: section.refresh(year, chunk) for section in sections}
            written += _write(year, chunk, started, built)
        except Exception:
            DashboardState.objects.filter(year=year, township_id__in=chunk).update(stale=True)
            raise
    if skipped and task_backends["default"].supports_defer:  # back once those writers have committed
        refresh_figures.using(run_after=timezone.now() + datetime.timedelta(seconds=5)).enqueue()
    return written


@transaction.atomic
def _write(year: int, chunk: list[int], started: datetime.datetime, built: dict[str, list[Figure]]) -> int:
    # The year's lock row: refreshes of one year write one after the other (business writes never
    # take it). A township refreshed meanwhile from a later read keeps its newer figures.
    list(
        DashboardState.objects.select_for_update().filter(year=year, township__isnull=True).values_list("pk")
    )
    newer = set(
        DashboardState.objects.filter(year=year, township_id__in=chunk, refreshed_at__gt=started).values_list(
            "township_id", flat=True
        )
    )
    towns = [t for t in chunk if t not in newer]
    if not towns:
        return 0
    DashboardFigure.objects.filter(year=year, township_id__in=towns, section__in=list(built)).delete()
    DashboardFigure.objects.bulk_create(
        (
            DashboardFigure(
                section=code,
                year=year,
                grain=f.grain,
                township_id=f.township_id,
                village_id=f.village_id,
                group_id=f.group_id,
                cadre_id=f.cadre_id,
                values=_encode(f.values),
            )
            for code, figures in built.items()
            for f in figures
            if f.township_id in towns
        ),
        batch_size=WRITE_BATCH,
    )
    DashboardState.objects.filter(year=year, township_id__in=towns).update(refreshed_at=started)
    return len(towns)


# --- reading -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Freshness:
    as_of: datetime.datetime | None  # the oldest township's figures shown (None: never computed)
    updating: bool  # a change is waiting for the worker


def _runs_inline() -> bool:
    return isinstance(task_backends["default"], ImmediateBackend)


def freshness(year: int, townships: Any) -> Freshness:
    """How fresh the figures of `townships` (ids, or a queryset of ids) are for `year`. A township never
    computed is marked stale and a refresh enqueued; where tasks run inside the request, stale
    townships are refreshed here, before the page reads them. Two small queries when fresh."""
    if not _sections():
        return Freshness(timezone.now(), False)
    wanted = list(Township.objects.filter(pk__in=townships).values_list("pk", flat=True))
    states = {
        t: (stale, at)
        for t, stale, at in DashboardState.objects.filter(year=year, township__in=wanted).values_list(
            "township_id", "stale", "refreshed_at"
        )
    }
    absent = [t for t in wanted if t not in states]
    if absent:
        DashboardState.objects.bulk_create(
            [DashboardState(year=year, township_id=t, stale=True) for t in absent], ignore_conflicts=True
        )
    stale = bool(absent) or any(s for s, _ in states.values())
    if stale and _runs_inline():
        refresh_stale()
        refreshed = DashboardState.objects.filter(year=year, township__in=wanted).values_list(
            "refreshed_at", flat=True
        )
        return Freshness(min((t for t in refreshed if t is not None), default=None), False)
    if absent:
        transaction.on_commit(enqueue_refresh)
    known = [at for _, at in states.values() if at is not None]
    as_of = None if absent or len(known) < len(states) else min(known, default=None)
    return Freshness(as_of, stale)


def refresh_requested(user: User, year: int) -> None:
    """The page's 刷新: mark the user's townships stale (the worker refreshes them). Debounced like
    any change: townships already waiting enqueue nothing."""
    with transaction.atomic():
        figures_changed(year=year, townships=scoped(Township.objects.all(), user).values("pk"))


def figures(section: str, year: int, grain: str, user: User) -> models.QuerySet[DashboardFigure]:
    """A section's figures of one grain that `user` may see."""
    return scoped(DashboardFigure.objects.filter(section=section, year=year, grain=grain), user)


def add_up(
    rows: Iterable[tuple[int | None, dict[str, Any]]], money: frozenset[str]
) -> dict[int | None, dict[str, Any]]:
    """Sum figures' values per row key: money as Decimal (stored as strings), counts as int; other
    values (an account id) are kept as they are."""
    result: dict[int | None, dict[str, Any]] = {}
    for key, values in rows:
        into = result.setdefault(key, {})
        for attr, value in values.items():
            if attr in money:
                into[attr] = into.get(attr, Decimal("0.00")) + Decimal(value)
            elif isinstance(value, int) and not attr.endswith("_account"):
                into[attr] = into.get(attr, 0) + value
            else:
                into[attr] = value
    return result
