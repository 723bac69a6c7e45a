"""身份证号 checks (GB 11643): python-stdnum computes the check digit and parses the birth date."""

from __future__ import annotations

import datetime
import re
from typing import Any

from django.core.exceptions import ValidationError
from stdnum.cn import ric
from stdnum.exceptions import ValidationError as StdnumError

MSG_AS_NUMBER = "身份证号被 Excel 存成了数字，后几位已丢失；请把该列设为“文本”后重新录入"
MSG_EMPTY = "不能为空"
MSG_OLD_15 = "15 位旧身份证号不再受理，请换成 18 位新号码"
MSG_SHAPE = "应为 18 位（17 位数字加 1 位数字或 X）"
MSG_BIRTH = "出生日期无效"
MSG_CHECKSUM = "校验位错误（GB 11643），请核对号码"

_SCIENTIFIC = re.compile(r"^\d(\.\d+)?E\+?\d+$")


def normalise_id_number(value: Any) -> str:
    """The 18-character number, upper-case X; raises ValueError with the reason in Chinese.

    The birthplace code is not checked: codes created after 2014 (e.g. 533401) are missing from
    stdnum's table, and rules.md §10 asks only for the check digit and a valid birth date.
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError(MSG_AS_NUMBER)
    raw = ("" if value is None else str(value)).strip().upper().replace(" ", "")
    if not raw:
        raise ValueError(MSG_EMPTY)
    if len(raw) == 15 and raw.isdigit():
        raise ValueError(MSG_OLD_15)
    if _SCIENTIFIC.match(raw):
        raise ValueError(MSG_AS_NUMBER)
    if len(raw) != 18 or not raw[:17].isdigit() or not (raw[17].isdigit() or raw[17] == "X"):
        raise ValueError(MSG_SHAPE)
    try:
        if raw.isascii():  # stdnum's own parse, without its per-character Unicode clean-up (imports)
            datetime.date(int(raw[6:10]), int(raw[10:12]), int(raw[12:14]))
        else:
            ric.get_birth_date(raw)
    except (StdnumError, ValueError):
        raise ValueError(MSG_BIRTH) from None
    if ric.calc_check_digit(raw) != raw[17]:
        raise ValueError(MSG_CHECKSUM)
    return raw


def validate_id_number(value: str) -> None:
    """Model-field validator (admin forms)."""
    try:
        normalised = normalise_id_number(value)
    except ValueError as exc:
        raise ValidationError(str(exc), code="invalid_id_number") from None
    if normalised != value:
        raise ValidationError("身份证号末位 X 请用大写", code="invalid_id_number")
