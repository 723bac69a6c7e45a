"""The to-do panel and the work menu, on the admin home, the admin header and the dashboard."""

from __future__ import annotations

from typing import Any

from django import template

from ..worklist import menu_for, todo_for

register = template.Library()
DEFAULT_YEAR = 2017


def _year(context: Any, year: Any) -> int:
    if year:
        return int(year)
    request = context.get("request")
    value = request.GET.get("year", "") if request is not None else ""
    return int(value) if value.isdigit() and len(value) == 4 else DEFAULT_YEAR


@register.inclusion_tag("households/todo_panel.html", takes_context=True)
def todo_panel(context: Any, year: Any = None) -> dict[str, Any]:
    request = context["request"]
    chosen = _year(context, year)
    return {"items": todo_for(request.user, chosen), "year": chosen}


@register.inclusion_tag("households/work_menu.html", takes_context=True)
def work_menu(context: Any) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"links": []}
    return {"links": menu_for(user), "year": _year(context, None), "years": range(2017, 2021)}
