"""Admin pieces every programme's admin uses with the shared machinery."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse


def year_of(request: HttpRequest, default: int = 2017) -> int:
    try:
        return int(request.GET.get("year") or request.POST.get("year") or default)
    except ValueError:
        return default


def reverse_action(name: str, label: str, intro: str, service: Any, keyword: str) -> Any:
    """An admin action that asks for the reason, then reverses each selected record through `service`
    (which checks role, scope and state itself and reverses record and ledger together)."""

    def run(model_admin: Any, request: HttpRequest, queryset: QuerySet[Any]) -> HttpResponse | None:
        if request.POST.get("confirm") != "yes":
            return TemplateResponse(
                request,
                "admin/disbursements/reverse.html",
                {
                    **model_admin.admin_site.each_context(request),
                    "objects": queryset,
                    "intro": intro,
                    "action_name": name,
                    "opts": model_admin.model._meta,
                    "title": label,
                },
            )
        reason = request.POST.get("reason", "")
        done = model_admin.each(
            request, queryset, lambda obj: service(**{keyword: obj}, actor=request.user, reason=reason)
        )
        if done:
            model_admin.message_user(request, f"已冲正 {done} 条。")
        return None

    run.__name__ = name
    return admin.action(description=label)(run)
