"""The organisation incentive as rules.md §7 states it, on the pure rules module."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from enterprises import rules

TERMS = rules.DEFAULT_TERMS


@pytest.mark.parametrize(
    ("qualified", "amount"),
    [(0, "0.00"), (9, "0.00"), (10, "5000.00"), (11, "5500.00"), (12, "6000.00"), (30, "15000.00")],
)
def test_incentive_by_number_of_qualified_households(qualified: int, amount: str) -> None:
    assert rules.incentive(TERMS, qualified).amount == Decimal(amount)


def test_the_incentive_is_explained_line_by_line_in_chinese() -> None:
    assert rules.incentive(TERMS, 12).lines == (
        "2017年度奖补政策（第 1 版）：考核合格 12 户",
        "带动 10 户合格：5,000.00 元",
        "超出 2 户 × 500.00 元/户 = 1,000.00 元",
        "奖补合计 6,000.00 元",
    )
    assert rules.incentive(TERMS, 9).lines[-1] == "不足 10 户，不予奖补：0.00 元"


def test_per_capita_income_at_the_threshold() -> None:
    just_below = rules.assess(TERMS, income=Decimal("13199.96"), size=4, confirmed=True)
    assert just_below.per_capita == Decimal("3299.99")
    assert not just_below.reaches_threshold and not just_below.qualified
    at = rules.assess(TERMS, income=Decimal("13200.00"), size=4, confirmed=True)
    assert at.per_capita == Decimal("3300.00") and at.qualified
    assert at.line == "产业收入 13,200.00 元 ÷ 家庭人口 4 人 = 人均 3,300.00 元，达到标准，乡镇已确认考核合格"


def test_an_unconfirmed_assessment_does_not_qualify() -> None:
    result = rules.assess(TERMS, income=Decimal("20000"), size=2, confirmed=False)
    assert result.reaches_threshold and not result.qualified


def test_policy_numbers_are_data() -> None:
    other = rules.Terms(2018, 2, Decimal("4000"), Decimal("8000"), Decimal("600"), 8)
    assert rules.incentive(other, 9).amount == Decimal("8600.00")
    assert rules.incentive(other, 7).amount == Decimal("0.00")


@given(st.integers(min_value=0, max_value=5000), st.integers(min_value=0, max_value=50))
def test_more_qualified_households_never_pay_less(n: int, more: int) -> None:
    assert rules.incentive(TERMS, n + more).amount >= rules.incentive(TERMS, n).amount


@given(
    st.decimals(min_value=0, max_value=1000, places=2),
    st.decimals(min_value=0, max_value=1000, places=2),
    st.integers(min_value=0, max_value=40),
    st.integers(min_value=1, max_value=30),
    st.integers(min_value=0, max_value=40),
)
def test_more_households_never_pay_less_under_any_policy(
    base: Decimal, step: Decimal, minimum: int, n: int, more: int
) -> None:
    terms = rules.Terms(2017, 1, Decimal("3300"), base, step, max(1, minimum))
    assert rules.incentive(terms, n + more).amount >= rules.incentive(terms, n).amount
