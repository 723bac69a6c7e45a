"""The organisation incentive (rules.md §7), as the plan computes it. Pure: no Django, no ORM.

A household qualifies for an organisation when its per-capita income from that organisation's
industry (income ÷ 家庭人口) reaches the threshold **and** the township confirmed the assessment.
With N qualified households: N ≥ minimum → base + step × (N − minimum), else nothing. Every number
is policy data of the programme year (`Terms`); the result carries its explanation in Chinese.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from disbursements.money import ZERO, to_fen, yuan


@dataclass(frozen=True)
class Terms:
    """One version of a year's incentive policy."""

    year: int
    version: int
    threshold: Decimal  # per-capita industry income a household must reach (3,300)
    base: Decimal  # paid for the minimum number of households (5,000)
    step: Decimal  # paid for each further household (500)
    minimum: int  # households needed for any incentive (10)


DEFAULT_TERMS = Terms(2017, 1, Decimal("3300.00"), Decimal("5000.00"), Decimal("500.00"), 10)


@dataclass(frozen=True)
class Assessed:
    """One household's result for the year: its per-capita income and whether it qualifies."""

    per_capita: Decimal
    reaches_threshold: bool
    qualified: bool  # reaches the threshold and the township confirmed it
    line: str


def per_capita(income: Decimal, size: int) -> Decimal:
    if size < 1:
        raise ValueError("家庭人口须至少为 1 人。")
    return to_fen(to_fen(income) / size)


def assess(terms: Terms, *, income: Decimal, size: int, confirmed: bool) -> Assessed:
    """The household's per-capita industry income against the threshold, and its qualification."""
    amount = per_capita(income, size)
    reaches = amount >= terms.threshold
    if not reaches:
        verdict = f"未达到 {yuan(terms.threshold)} 元，不合格"
    elif confirmed:
        verdict = "达到标准，乡镇已确认考核合格"
    else:
        verdict = "达到标准，待乡镇确认"
    line = f"产业收入 {yuan(to_fen(income))} 元 ÷ 家庭人口 {size} 人 = 人均 {yuan(amount)} 元，{verdict}"
    return Assessed(amount, reaches, reaches and confirmed, line)


@dataclass(frozen=True)
class Incentive:
    households: int
    amount: Decimal
    policy_version: int
    lines: tuple[str, ...]


def incentive(terms: Terms, qualified: int) -> Incentive:
    """The incentive for `qualified` confirmed households, explained line by line."""
    if qualified < 0:
        raise ValueError("合格户数不能为负数。")
    head = f"{terms.year}年度奖补政策（第 {terms.version} 版）：考核合格 {qualified} 户"
    if qualified < terms.minimum:
        return Incentive(
            qualified,
            ZERO,
            terms.version,
            (head, f"不足 {terms.minimum} 户，不予奖补：0.00 元"),
        )
    extra = qualified - terms.minimum
    amount = to_fen(terms.base + terms.step * extra)
    lines = [head, f"带动 {terms.minimum} 户合格：{yuan(terms.base)} 元"]
    if extra:
        lines.append(f"超出 {extra} 户 × {yuan(terms.step)} 元/户 = {yuan(to_fen(terms.step * extra))} 元")
    lines.append(f"奖补合计 {yuan(amount)} 元")
    return Incentive(qualified, amount, terms.version, tuple(lines))
