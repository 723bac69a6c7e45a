"""A payee's bank account (一卡通): validation of the number, masking, and the one service that
registers a new account (superseding the current one, so the history stays).

Which banks check their card numbers with Luhn, and their lengths, is data (`BANKS`): a county whose
bank is not listed gets the generic rule (digits only, 12–30 long), and a new bank is one more line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from households.models import User
from households.scoping import scoped

from .models import Account, BankAccount

REGISTRAR_ROLES = frozenset({"cadre", "village", "township"})
MSG_ROLE = "银行账户由挂包干部、村委会或乡镇登记。"
MSG_DIGITS = "账号只能是数字（可含空格），请核对。"
MSG_LENGTH = "{bank}的账号应为 {lengths} 位，现为 {n} 位。"
MSG_LUHN = "账号 {masked} 的校验位不对（可能抄错了一位），请核对卡片。"
MSG_MISSING = "请填写开户行、账号和户名。"
MSG_SAME = "与现用账户相同，无需变更。"


@dataclass(frozen=True)
class BankRule:
    name: str
    lengths: tuple[int, ...]
    luhn: bool


# The banks that issue 一卡通 in Diqing (our reading of their card formats; editable data).
BANKS: tuple[BankRule, ...] = (
    BankRule("云南省农村信用社（香格里拉市联社）", (19,), True),
    BankRule("中国农业银行", (19,), True),
    BankRule("中国邮政储蓄银行", (19,), True),
    BankRule("中国建设银行", (16, 19), True),
)
GENERIC = BankRule("其他银行", tuple(range(12, 31)), False)


def bank_rule(bank: str) -> BankRule:
    return next((rule for rule in BANKS if rule.name == bank), GENERIC)


def luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def mask_account_number(number: str) -> str:
    """6217 9930 0012 3456 789 → 621799*********6789: first 6 and last 4, like ID numbers."""
    if len(number) <= 10:
        return "*" * len(number)
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


def clean_account_number(bank: str, number: str) -> str:
    """The account number as digits, or a ValidationError saying what is wrong (masked)."""
    digits = re.sub(r"\s+", "", number or "")
    if not digits.isdigit() or not digits.isascii():
        raise ValidationError(MSG_DIGITS)
    rule = bank_rule(bank)
    if len(digits) not in rule.lengths:
        lengths = "、".join(str(n) for n in rule.lengths) if rule is not GENERIC else "12–30"
        raise ValidationError(MSG_LENGTH.format(bank=rule.name, lengths=lengths, n=len(digits)))
    if rule.luhn and not luhn_ok(digits):
        raise ValidationError(MSG_LUHN.format(masked=mask_account_number(digits)))
    return digits


def current_bank_accounts(accounts: list[int]) -> dict[int, BankAccount]:
    """The current bank account of each ledger account (one query)."""
    rows = BankAccount.objects.filter(account_id__in=accounts, superseded_at__isnull=True)
    return {row.account_id: row for row in rows}


@transaction.atomic
def bank_account_set(
    *, account: Account, bank: str, number: str, holder_name: str, actor: User, note: str = ""
) -> BankAccount:
    """Register the payee's bank account; the current one (if any) is superseded, never edited."""
    if actor.role not in REGISTRAR_ROLES:
        raise ValidationError(MSG_ROLE)
    bank, holder_name = bank.strip(), holder_name.strip()
    if not bank or not holder_name or not number.strip():
        raise ValidationError(MSG_MISSING)
    digits = clean_account_number(bank, number)
    locked = (  # the account's ordering joins its township and village: lock the account row only
        scoped(Account.objects.select_for_update(no_key=True, of=("self",)), actor)
        .filter(pk=account.pk)
        .order_by("pk")
        .first()
    )
    if locked is None:
        raise ValidationError("该收款对象不在您的管辖范围内。")
    current = BankAccount.objects.filter(account=locked, superseded_at__isnull=True).first()
    if current is not None:
        if (current.bank, current.number, current.holder_name) == (bank, digits, holder_name):
            raise ValidationError(MSG_SAME)
        BankAccount.objects.filter(pk=current.pk, superseded_at__isnull=True).update(
            superseded_at=timezone.now()
        )
    created = BankAccount(
        account=locked,
        bank=bank,
        number=digits,
        holder_name=holder_name[:64],
        created_by=actor,
        note=note[:100],
    )
    created.full_clean()
    created.save()
    return created
