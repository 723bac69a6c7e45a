"""The lending rules of the village revolving funds (联保小额贷款), pure: no Django.

Written policy (rules.md §8, our reading where the plan is silent):
- Rounding: every amount to the fen, ROUND_HALF_UP (`to_fen`). An equal-instalment schedule gives
  each instalment principal ÷ n rounded half up, and the LAST instalment takes the remainder, so the
  schedule adds up to the principal to the fen.
- Day count: 30/360 — a month is 1/12 of a year whatever its days. The use fee (占用费) of an
  instalment = principal outstanding at the start of its period × annual rate × months ÷ 12, to the fen.
- Repayment order: the oldest instalment first; within it the use fee before the principal. What is
  paid beyond everything due (early repayment) goes to the principal of the next instalments in due
  order; their use fee stays as scheduled (the policy's choice: simple and visible to the group).
- Overdue: an instalment is due on its date; the loan is overdue when, `grace_days` after a due date,
  what is due and unpaid exceeds `arrears_tolerance`. Days past due count from the oldest instalment
  with anything unpaid. Ageing buckets: 1–30, 31–90, 90+.
- Schedules: 按月等额 (monthly), 按季等额 (quarterly; the term a multiple of 3), or 到期一次还本
  (lump sum at term: e.g. at the season's end after the harvest, which suits 种植 with one sale a year).
"""

from __future__ import annotations

import calendar
import datetime
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal

from disbursements.money import ZERO, to_fen

MONTHLY = "monthly"
QUARTERLY = "quarterly"
BULLET = "bullet"
FREQUENCIES = {MONTHLY: "按月等额还本", QUARTERLY: "按季等额还本", BULLET: "到期一次还本"}

MSG_CAP = "每户借款不能超过 {cap} 元（申请 {amount} 元）。"
MSG_TERM = "借款期限不能超过 {max} 个月（申请 {term} 个月）。"
MSG_TERM_MIN = "借款期限至少 1 个月。"
MSG_QUARTERLY = "按季还款的期限须为 3 的倍数（申请 {term} 个月）。"
MSG_AMOUNT = "借款金额必须大于零。"
MSG_GROUP_SIZE = "联保小组至少须有 {min} 户贫困户（现有 {size} 户）。"


@dataclass(frozen=True)
class LendingPolicy:
    """The city's lending policy for a programme year, as data (stored in `LendingPolicy` rows)."""

    loan_cap: Decimal = Decimal("20000.00")
    max_term_months: int = 36
    min_group_size: int = 5
    annual_fee_rate: Decimal = Decimal("0")  # 占用费率 (a fraction per year), default 0
    grace_days: int = 5
    arrears_tolerance: Decimal = Decimal("0.00")
    # 占用费 split into the fund's reserves, percent (must add to 100).
    reserve_split: dict[str, Decimal] = field(
        default_factory=lambda: {
            "accumulation": Decimal("40"),  # 公积金
            "welfare": Decimal("10"),  # 公益金
            "risk": Decimal("30"),  # 风险准备金
            "running": Decimal("20"),  # 管理费用
        }
    )


@dataclass(frozen=True)
class Instalment:
    number: int
    due_on: datetime.date
    principal: Decimal
    fee: Decimal

    @property
    def total(self) -> Decimal:
        return self.principal + self.fee


def add_months(day: datetime.date, months: int) -> datetime.date:
    """The same day `months` later, or the month's last day when shorter (31 Jan + 1 → 28/29 Feb)."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return datetime.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def loan_problems(amount: Decimal, term_months: int, frequency: str, policy: LendingPolicy) -> list[str]:
    """Why a loan of this amount and term may not be made (empty: it may)."""
    problems = []
    amount = to_fen(amount)
    if amount <= 0:
        problems.append(MSG_AMOUNT)
    if amount > policy.loan_cap:
        problems.append(MSG_CAP.format(cap=f"{policy.loan_cap:,.2f}", amount=f"{amount:,.2f}"))
    if term_months < 1:
        problems.append(MSG_TERM_MIN)
    if term_months > policy.max_term_months:
        problems.append(MSG_TERM.format(max=policy.max_term_months, term=term_months))
    if frequency == QUARTERLY and term_months % 3:
        problems.append(MSG_QUARTERLY.format(term=term_months))
    return problems


def group_problems(size: int, policy: LendingPolicy) -> list[str]:
    return (
        [MSG_GROUP_SIZE.format(min=policy.min_group_size, size=size)] if size < policy.min_group_size else []
    )


def schedule(
    principal: Decimal,
    term_months: int,
    frequency: str,
    start: datetime.date,
    annual_fee_rate: Decimal = ZERO,
) -> list[Instalment]:
    """The repayment schedule of a loan disbursed on `start`; principals add up to `principal`."""
    principal = to_fen(principal)
    if frequency == BULLET:
        periods = [term_months]
    else:
        step = 3 if frequency == QUARTERLY else 1
        periods = [step] * (term_months // step)
    count = len(periods)
    share = to_fen(principal / count)
    if share * (count - 1) > principal:  # half-up overshoots on a few fen (0.02 over 4): round down
        share = (principal / count).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
    instalments = []
    outstanding = principal
    month = 0
    for number, months in enumerate(periods, 1):
        month += months
        part = share if number < count else principal - share * (count - 1)
        fee = to_fen(outstanding * Decimal(annual_fee_rate) * months / 12)
        instalments.append(Instalment(number, add_months(start, month), part, fee))
        outstanding -= part
    return instalments


@dataclass(frozen=True)
class Due:
    """What an instalment still asks for."""

    key: int
    fee: Decimal
    principal: Decimal


@dataclass(frozen=True)
class Applied:
    key: int
    fee: Decimal
    principal: Decimal


def apply_repayment(amount: Decimal, dues: list[Due]) -> tuple[list[Applied], Decimal]:
    """Apply a repayment to instalments in due order (fee before principal in each); returns what
    each instalment receives and what is left over (more than the whole loan)."""
    left = to_fen(amount)
    applied = []
    for due in dues:
        fee = min(left, due.fee)
        left -= fee
        principal = min(left, due.principal)
        left -= principal
        if fee or principal:
            applied.append(Applied(due.key, fee, principal))
    return applied, left


def split_fee(fee: Decimal, split: dict[str, Decimal]) -> dict[str, Decimal]:
    """占用费 into the reserves by percentages; the last reserve takes the remainder (sums to the fen)."""
    fee = to_fen(fee)
    parts: dict[str, Decimal] = {}
    names = list(split)
    for name in names[:-1]:
        parts[name] = to_fen(fee * split[name] / 100)
    parts[names[-1]] = fee - sum(parts.values(), ZERO)
    return parts


def bucket(days_past_due: int) -> str:
    if days_past_due <= 0:
        return ""
    if days_past_due <= 30:
        return "1–30天"
    if days_past_due <= 90:
        return "31–90天"
    return "90天以上"


BUCKETS = ("1–30天", "31–90天", "90天以上")
