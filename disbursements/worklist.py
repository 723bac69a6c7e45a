"""The shared machinery's work on the to-do panel and the menu: batches waiting for my step, notices
to post or close, objections to resolve; 资金对账 and the batch list in the menu."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Sum
from django.urls import reverse
from django.utils import timezone

from households.models import User
from households.scoping import scoped
from households.worklist import MENU, TODO_SOURCES, MenuEntry, TodoItem, TodoSource

from .approval import steps_waiting_for
from .models import Batch, BatchLine, Notice, Objection
from .money import ZERO, to_fen

WORKERS = frozenset({"cadre", "village", "township", "city", "approver"})
EVERYONE = WORKERS | {"auditor"}
NOTICE_WORKERS = frozenset({"village", "township"})


def batches_waiting(user: User, year: int) -> list[TodoItem]:
    """待我办理：the batches whose next step is mine, with the open amount in my scope."""
    waiting = scoped(Batch.objects.filter(year=year).filter(steps_waiting_for(user.role)), user)
    ids = list(waiting.values_list("pk", flat=True).distinct())
    if not ids:
        return []
    amount = scoped(
        BatchLine.objects.filter(batch_id__in=ids, cancelled_at__isnull=True, payout__isnull=True), user
    ).aggregate(total=Sum("amount"))["total"]
    url = reverse("admin:disbursements_batch_changelist") + f"?queue=mine&year={year}"
    return [TodoItem("待我办理的拨付批次", len(ids), url, "批", to_fen(amount) if amount else ZERO)]


def notices_waiting(user: User, year: int) -> list[TodoItem]:
    today = timezone.localdate()
    notices = scoped(Notice.objects.filter(year=year), user)
    url = reverse("admin:disbursements_notice_changelist")
    to_post = notices.filter(status=Notice.Status.ISSUED).count()
    to_close = (
        notices.filter(status=Notice.Status.POSTED, period_end__lt=today)
        .exclude(Exists(Objection.objects.filter(notice=OuterRef("pk"), resolved_on__isnull=True)))
        .count()
    )
    return [
        TodoItem("已印发、待登记张贴的公示", to_post, f"{url}?status__exact=issued", "份"),
        TodoItem("公示期满、可以结束的公示", to_close, f"{url}?status__exact=posted", "份"),
    ]


def objections_open(user: User, year: int) -> list[TodoItem]:
    count = scoped(Objection.objects.filter(notice__year=year, resolved_on__isnull=True), user).count()
    url = reverse("admin:disbursements_notice_changelist") + "?status__exact=posted"
    return [TodoItem("待处理的公示异议", count, url, "条", urgent=True)]


def register() -> None:
    # The roles that take a step or pay (the batch kinds register after this app is ready).
    TODO_SOURCES.register(TodoSource("batches", "拨付批次", WORKERS, batches_waiting))
    TODO_SOURCES.register(TodoSource("notices", "公示", NOTICE_WORKERS, notices_waiting))
    TODO_SOURCES.register(TodoSource("objections", "公示异议", NOTICE_WORKERS, objections_open))
    MENU.register(MenuEntry("dashboard", "进度看板", "dashboard:index", EVERYONE))
    MENU.register(MenuEntry("batches", "拨付批次", "admin:disbursements_batch_changelist", EVERYONE))
    MENU.register(
        MenuEntry(
            "reconcile",
            "资金对账",
            "admin:disbursements_reconcile",
            frozenset({"city", "auditor", "approver"}),
        )
    )
