"""The lending rules, without a database: schedules to the fen, refusals with their reason, order."""

from __future__ import annotations

import datetime
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from collectives import rules

POLICY = rules.LendingPolicy()
START = datetime.date(2017, 1, 31)


def test_limits_refused_with_the_reason() -> None:
    assert rules.loan_problems(Decimal("20001"), 12, rules.MONTHLY, POLICY) == [
        "每户借款不能超过 20,000.00 元（申请 20,001.00 元）。"
    ]
    assert rules.loan_problems(Decimal("20000"), 37, rules.MONTHLY, POLICY) == [
        "借款期限不能超过 36 个月（申请 37 个月）。"
    ]
    assert rules.loan_problems(Decimal("20000"), 36, rules.MONTHLY, POLICY) == []
    assert rules.group_problems(4, POLICY) == ["联保小组至少须有 5 户贫困户（现有 4 户）。"]
    assert rules.group_problems(5, POLICY) == []
    assert rules.loan_problems(Decimal("9000"), 10, rules.QUARTERLY, POLICY) == [
        "按季还款的期限须为 3 的倍数（申请 10 个月）。"
    ]


def test_monthly_schedule_last_instalment_takes_the_remainder() -> None:
    plan = rules.schedule(Decimal("10000"), 3, rules.MONTHLY, START)
    assert [i.principal for i in plan] == [Decimal("3333.33"), Decimal("3333.33"), Decimal("3333.34")]
    # 31 January + 1 month is the last day of February.
    assert [i.due_on for i in plan] == [
        datetime.date(2017, 2, 28),
        datetime.date(2017, 3, 31),
        datetime.date(2017, 4, 30),
    ]


def test_bullet_at_the_season_end_and_quarterly() -> None:
    (only,) = rules.schedule(Decimal("8000"), 10, rules.BULLET, datetime.date(2017, 1, 15))
    assert (only.principal, only.due_on) == (Decimal("8000.00"), datetime.date(2017, 11, 15))
    quarters = rules.schedule(Decimal("12000"), 12, rules.QUARTERLY, datetime.date(2017, 1, 15))
    assert [i.due_on.month for i in quarters] == [4, 7, 10, 1]


def test_use_fee_is_30_360_on_outstanding_principal() -> None:
    plan = rules.schedule(Decimal("12000"), 12, rules.MONTHLY, START, Decimal("0.06"))
    assert plan[0].fee == Decimal("60.00")  # 12,000 × 6% ÷ 12
    assert plan[-1].fee == Decimal("5.00")  # 1,000 × 6% ÷ 12


def test_repayment_order_fee_before_principal_oldest_first() -> None:
    dues = [rules.Due(1, Decimal("5"), Decimal("100")), rules.Due(2, Decimal("5"), Decimal("100"))]
    applied, left = rules.apply_repayment(Decimal("108"), dues)
    assert applied == [
        rules.Applied(1, Decimal("5"), Decimal("100")),
        rules.Applied(2, Decimal("3"), Decimal("0")),
    ]
    assert left == 0


def test_fee_split_adds_up_and_buckets() -> None:
    parts = rules.split_fee(Decimal("0.07"), POLICY.reserve_split)
    assert sum(parts.values()) == Decimal("0.07")
    assert [rules.bucket(d) for d in (0, 1, 30, 31, 90, 91)] == [
        "",
        "1–30天",
        "1–30天",
        "31–90天",
        "31–90天",
        "90天以上",
    ]


@given(
    principal=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("20000"), places=2),
    term=st.integers(min_value=1, max_value=36),
    frequency=st.sampled_from([rules.MONTHLY, rules.BULLET, rules.QUARTERLY]),
)
def test_schedules_add_up_to_the_principal_to_the_fen(principal: Decimal, term: int, frequency: str) -> None:
    if frequency == rules.QUARTERLY:
        term = max(3, term - term % 3)
    plan = rules.schedule(principal, term, frequency, START)
    assert sum(i.principal for i in plan) == principal
    assert all(i.principal >= 0 for i in plan)
    assert plan[-1].due_on == rules.add_months(START, term)
