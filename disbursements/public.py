"""The public page of an issued 公示 (no login): what the QR code on the printed sheet opens.

It shows the notice exactly as issued — the rows frozen at issue, already masked as on the sheet,
nothing more: no household ids, no payee references, no ID numbers, no objector's name or phone —
with its period, status, issuing body and how many objections came in and how many were resolved.
During the period anyone may file an objection online; it enters the notice's objection list.

Safe to expose: the code is 60 random bits (no enumeration), every address is held to a number of
reads per minute and of misses per hour, objections are throttled per phone and per address. The
page's data is cached (Django's cache) and forgotten whenever the notice or its objections change.

Throttling is a few lines on Django's cache (`hit`) rather than django-ratelimit: 4.1.0 (2023) adds
a dependency for what is here a counter with a window, and the per-phone key is ours anyway.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from households.clientip import client_ip

from .models import Notice
from .notices import (
    HOTLINE,
    NOTICE_KINDS,
    normalise_code,
    objection_submit_online,
    public_cache_key,
    short_code,
)

CACHE_SECONDS = 300
MISSES_PER_HOUR = 20
MSG_TOO_MANY = "访问过于频繁，请稍后再试。"
MSG_TOO_MANY_OBJECTIONS = (
    "提交过于频繁：同一手机号每天、同一网络每小时提交的异议有数量限制，请稍后再试或拨打 12317。"
)


def hit(key: str, limit: int, window: int) -> bool:
    """Count one event under `key` in a window of `window` seconds; False once over `limit`."""
    cache_key = f"throttle:{key}"
    cache.add(cache_key, 0, timeout=window)
    try:
        count = cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.set(cache_key, 1, timeout=window)
        count = 1
    return count <= limit


def _limits() -> dict[str, int]:
    return dict(settings.PUBLIC_NOTICE_LIMITS)


def _too_many(request: HttpRequest, message: str = MSG_TOO_MANY) -> HttpResponse:
    response = render(request, "public/message.html", {"message": message}, status=429)
    response["Retry-After"] = "60"
    return response


def _public_headers(response: HttpResponse) -> HttpResponse:
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = (
        "same-origin"  # "no-referrer" makes browsers post Origin: null (CSRF refuses it)
    )
    response["Cache-Control"] = "private, no-store"
    return response


def public_data(notice: Notice) -> dict[str, Any]:
    """Everything the page shows, all of it printed on the sheet already (plus objection counts)."""
    kind = NOTICE_KINDS.get(notice.kind)
    counts = notice.objections.aggregate(
        received=Count("pk"), resolved=Count("pk", filter=Q(resolved_on__isnull=False))
    )
    columns = list(kind.columns) if kind else []
    name_column = kind.name_column if kind else 1
    return {
        "pk": notice.pk,
        "title": notice.title,
        "issuer": notice.issuer,
        "year": notice.year,
        "contact": notice.contact,
        "period_start": notice.period_start,
        "period_end": notice.period_end,
        "period_days": notice.period_days,
        "closed": notice.status == Notice.Status.CLOSED,
        "columns": columns,
        "amount_from": kind.amount_from if kind else len(columns),
        "rows": [list(row) for row in notice.rows],
        "total": f"{notice.total:,.2f}",
        "unit": kind.unit if kind else "户",
        "received": counts["received"],
        "resolved": counts["resolved"],
        "choices": [(n, f"{n}. {row[name_column]}") for n, row in enumerate(notice.rows, start=1)],
        "short_code": short_code(notice.public_code or ""),
    }


class ObjectionForm(forms.Form):
    row = forms.TypedChoiceField(label="涉及的户（名单序号）", coerce=int)
    name = forms.CharField(label="您的姓名", max_length=32)
    phone = forms.CharField(label="手机号码（仅供村委会回复，不公开）", max_length=20)
    content = forms.CharField(label="异议内容", max_length=1000, widget=forms.Textarea(attrs={"rows": 5}))

    def __init__(self, *args: Any, choices: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["row"].choices = [("", "请选择"), *choices]  # type: ignore[attr-defined]


@require_http_methods(["GET", "POST"])
def notice_page(request: HttpRequest, code: str) -> HttpResponse:
    limits = _limits()
    ip = client_ip(request) or "unknown"
    if not hit(f"view:{ip}", limits["VIEWS_PER_MINUTE"], 60):
        return _too_many(request)
    code = normalise_code(code)
    data = cache.get(public_cache_key(code)) if code else None
    if data is None:
        notice = Notice.objects.filter(public_code=code).first() if len(code) == 12 else None
        if notice is None:
            # Guessing costs: a handful of misses per hour per address, then nothing at all.
            if not hit(f"miss:{ip}", MISSES_PER_HOUR, 3600):
                return _too_many(request)
            raise Http404("没有这个公示。")
        data = public_data(notice)
        cache.set(public_cache_key(code), data, CACHE_SECONDS)
    today = timezone.localdate()
    status = public_status(data, today)
    open_for_objections = status == "公示中"
    form = ObjectionForm(request.POST or None, choices=data["choices"])
    errors: list[str] = []
    if request.method == "POST":
        if not open_for_objections:
            errors.append("本公示不在公示期内，不能在网上提出异议；如有问题请拨打 12317。")
        elif form.is_valid():
            phone = "".join(ch for ch in form.cleaned_data["phone"] if ch.isdigit())
            if not hit(f"objection-ip:{ip}", limits["OBJECTIONS_PER_IP_HOUR"], 3600) or not hit(
                f"objection-phone:{phone}", limits["OBJECTIONS_PER_PHONE_DAY"], 86400
            ):
                return _too_many(request, MSG_TOO_MANY_OBJECTIONS)
            notice = Notice.objects.get(pk=data["pk"])
            try:
                objection_submit_online(
                    notice=notice,
                    row=form.cleaned_data["row"],
                    name=form.cleaned_data["name"],
                    phone=form.cleaned_data["phone"],
                    content=form.cleaned_data["content"],
                )
            except ValidationError as exc:
                errors.extend(exc.messages)
            else:
                return redirect(request.path + "?sent=1")
    response = render(
        request,
        "public/notice.html",
        {
            "n": data,
            "status": status,
            "open_for_objections": open_for_objections,
            "form": form,
            "errors": errors,
            "sent": request.GET.get("sent") == "1",
            "hotline": HOTLINE,
        },
    )
    return _public_headers(response)


def public_status(data: dict[str, Any], today: Any) -> str:
    """公示中 / 已结束 (/ 尚未开始), as the public page says it."""
    if data["closed"] or today > data["period_end"]:
        return "已结束"
    if today < data["period_start"]:
        return "尚未开始"
    return "公示中"


def notice_lookup(request: HttpRequest) -> HttpResponse:
    """/gs/?code=ABCD-2345-EFGH: the short code printed on the sheet, typed in."""
    code = normalise_code(request.GET.get("code", ""))
    if code:
        return redirect("public_notice", code=code)
    return _public_headers(render(request, "public/lookup.html", {}))
