"""How values are written for people on every page: amounts, audit changes, lists of lines.

Never a Python repr (`['…']`, `{'…': …}`, `None`, `True`) and never a bare `6000.00`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from .masking import mask_id_number

EMPTY = "（空）"
# Audit entries name the field by its label; these hold whole personal numbers, shown masked.
MASKED_LABELS = {"身份证号": mask_id_number}


def amount(value: Decimal | int | None, *, unit: bool = True) -> str:
    """1500 → '1,500.00 元' (or '1,500.00' where the column already says 元); None → ''."""
    if value is None:
        return ""
    text = f"{Decimal(value):,.2f}"
    return f"{text} 元" if unit else text


def value_text(value: Any) -> str:
    """One stored value as a person reads it."""
    if value is None or value == "":
        return EMPTY
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, list | tuple):
        return "、".join(value_text(v) for v in value) or EMPTY
    if isinstance(value, Mapping):
        return "；".join(f"{k}：{value_text(v)}" for k, v in value.items()) or EMPTY
    return str(value)


def changes_text(changes: Mapping[str, Any] | None) -> str:
    """An audit row's {label: [old, new]} as '户主姓名：扎西 → 扎西次仁；家庭人口：3 → 4'.

    ID numbers are masked; a new record ({label: ["", value]}) reads '户主姓名：扎西；…'."""
    if not changes:
        return "—"
    pairs = [c for c in changes.values() if isinstance(c, list | tuple) and len(c) == 2]
    created = len(pairs) == len(changes) and all(old in (None, "") for old, _ in pairs)
    parts = []
    for label, change in changes.items():
        mask = MASKED_LABELS.get(label)
        if isinstance(change, list | tuple) and len(change) == 2:
            old, new = (mask(v) if mask and isinstance(v, str) and v else v for v in change)
            # A new record has no "before": '户主姓名：扎西', not '户主姓名：（空）→ 扎西'.
            parts.append(
                f"{label}：{value_text(new)}"
                if created
                else f"{label}：{value_text(old)} → {value_text(new)}"
            )
        else:
            shown = mask(change) if mask and isinstance(change, str) and change else change
            parts.append(f"{label}：{value_text(shown)}")
    return "；".join(parts)


def lines_text(lines: Iterable[Any] | None) -> list[str]:
    """Stored explanation lines, as strings (a stored string is one line)."""
    if not lines:
        return []
    if isinstance(lines, str):
        return [lines]
    return [value_text(line) for line in lines]
