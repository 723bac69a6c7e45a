"""进度看板: the landing page after login and its Excel download.

Thin: `dashboard.dashboard_for` computes the table for the user's area (through `scoped`); this
module reads the URL, draws the chart's geometry and renders. The chart is inline SVG drawn on the
server: no JavaScript, nothing fetched from elsewhere.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import content_disposition_header
from django.utils.safestring import SafeString
from django.views.decorators.http import require_POST

from households.display import amount
from households.models import User
from households.scoping import sees_everything
from households.xlsx import file_name, issuer_for

from . import summaries
from .dashboard import (
    DEFAULT_YEAR,
    MSG_NO_ROLE,
    MSG_NOT_FILTERED,
    Dashboard,
    Level,
    Link,
    NoArea,
    OutOfScope,
    Row,
    Table,
    dashboard_for,
    links_for,
    write_xlsx,
    years,
)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _int(request: HttpRequest, name: str) -> int | None:
    value = request.GET.get(name, "").strip()
    if not value:
        return None
    if not value.isdigit():
        raise Http404("参数有误。")
    return int(value)


def _board(request: HttpRequest) -> Dashboard:
    year = request.GET.get("year", "").strip()
    try:
        return dashboard_for(
            request.user,  # type: ignore[arg-type]
            year=int(year) if year.isdigit() and len(year) == 4 else DEFAULT_YEAR,
            township_id=_int(request, "township"),
            village_id=_int(request, "village"),
        )
    except NoArea as exc:
        raise PermissionDenied(str(exc)) from None
    except OutOfScope as exc:
        raise Http404(str(exc)) from None


def _here(board: Dashboard, area: dict[str, int], name: str = "dashboard:index") -> str:
    return f"{reverse(name)}?{urlencode({'year': board.year, **area})}"


def _area(board: Dashboard) -> dict[str, int]:
    if not board.narrowed:
        return {}
    if board.village is not None:
        return {"village": board.village.pk}
    return {"township": board.township.pk} if board.township is not None else {}


def _trail(board: Dashboard, user: User) -> list[tuple[str, str | None]]:
    """全市 › 建塘镇 › 红坡村: each level above the one shown is a link back up."""
    steps: list[tuple[str, dict[str, int]]] = []
    if sees_everything(user):
        steps.append(("全市", {}))
    if board.township is not None and (sees_everything(user) or user.role == "township"):
        steps.append((board.township.name, {"township": board.township.pk} if sees_everything(user) else {}))
    if board.village is not None:
        steps.append((board.village.name, {"village": board.village.pk} if board.narrowed else {}))
    return [
        (label, None if i == len(steps) - 1 else _here(board, area)) for i, (label, area) in enumerate(steps)
    ]


@dataclass(frozen=True)
class Cell:
    attr: str
    value: Any
    money: bool
    warn: bool
    link: Link | None

    def html(self) -> SafeString:
        """The table cell, built here rather than by an `{% include %}` per cell: a city table of
        150 townships has some 6,000 cells, and the include was most of the page's time (issue 14)."""
        css = "num late" if self.warn else "num"
        if self.value is None:
            return format_html('<td class="{}">—</td>', css)
        shown = amount(self.value, unit=False) if self.money else self.value
        if self.link is None:
            return format_html('<td class="{}">{}</td>', css, shown)
        if self.link.exact:
            return format_html('<td class="{}"><a href="{}">{}</a></td>', css, self.link.url, shown)
        return format_html(
            '<td class="{}"><a href="{}" class="area" title="{}">{}</a></td>',
            css,
            self.link.url,
            MSG_NOT_FILTERED,
            shown,
        )


def _cells(board: Dashboard, table: Table, row: Row) -> list[Cell]:
    links = links_for(board, table, row)
    return [
        Cell(
            c.attr,
            row.values.get(c.attr),
            c.money,
            c.warn and bool(row.values.get(c.attr)),
            links.get(c.attr),
        )
        for c in table.columns
    ]


@login_required
def index(request: HttpRequest) -> HttpResponse:
    board = _board(request)
    user: User = request.user  # type: ignore[assignment]
    drill = {Level.TOWNSHIP: "township", Level.VILLAGE: "village"}.get(board.level)
    sections = []
    for table in board.tables:
        rows = [
            (row, _here(board, {drill: row.key}) if drill and row.key else None, _cells(board, table, row))
            for row in table.rows
        ]
        extra = table.section.context(board, table) if table.section.context is not None else {}
        sections.append(
            {"table": table, "rows": rows, "total_cells": _cells(board, table, table.total), **extra}
        )
    return render(
        request,
        "dashboard/index.html",
        {
            "board": board,
            "sections": sections,
            "years": years(),
            "area": _area(board),
            "trail": _trail(board, user),
            "xlsx_url": _here(board, _area(board), "dashboard:xlsx"),
            "not_filtered": MSG_NOT_FILTERED,
            "is_cadre": user.role == "cadre",
            "may_reconcile": sees_everything(user),
        },
    )


@login_required
def download(request: HttpRequest) -> HttpResponse:
    """The same table as the page, for the same user and area, as .xlsx."""
    board = _board(request)
    buffer = io.BytesIO()
    write_xlsx(board, buffer, issuer=issuer_for(request.user))
    response = HttpResponse(buffer.getvalue(), content_type=XLSX)
    # RFC 6266 (filename*=utf-8''…), e.g. 2017年度产业扶持进度-建塘镇.xlsx
    name = file_name(f"{board.year}年度产业扶持进度", board.area_name)
    response["Content-Disposition"] = content_disposition_header(True, name)
    return response


MSG_REFRESH_QUEUED = "已请后台更新统计数据，稍后刷新本页即可看到。"


@login_required
@require_POST
def refresh(request: HttpRequest) -> HttpResponse:
    """更新数据: mark the figures of the user's townships stale; the worker refreshes them (a
    township already waiting is not queued twice). Changes themselves queue a refresh; this is the
    way to ask for one when the page looks behind."""
    user: User = request.user  # type: ignore[assignment]
    if not user.is_active or not (sees_everything(user) or user.role):
        raise PermissionDenied(MSG_NO_ROLE)
    year = request.POST.get("year", "").strip()
    year_value = int(year) if year.isdigit() and len(year) == 4 else DEFAULT_YEAR
    summaries.refresh_requested(user, year_value)
    messages.info(request, MSG_REFRESH_QUEUED)
    area = {k: request.POST[k] for k in ("township", "village") if request.POST.get(k, "").isdigit()}
    return redirect(f"{reverse('dashboard:index')}?{urlencode({'year': year_value, **area})}")
