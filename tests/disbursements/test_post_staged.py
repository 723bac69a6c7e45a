"""The ledger's set-based posting (`ledger.post_staged`, issue 14): what `allocate` posts through.

It keeps `post`'s rules — no source left below zero, no move across funds, amounts above zero — and
refuses the whole set, writing nothing, naming the account.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from collectives.accounts import FUND as VF_FUND
from collectives.accounts import UNALLOCATED as VF_UNALLOCATED
from disbursements import ledger
from disbursements.models import Account, Entry
from subsidies.money import services
from subsidies.money.accounts import city_account, funding_account, township_accounts

pytestmark = pytest.mark.django_db


def staged_sql(rows: list[tuple[int, int, int, str]]) -> tuple[str, list[Any]]:
    """A SELECT of the given (source, target, fen, kind) rows, in `ledger.STAGED_COLUMNS`."""
    parts = " UNION ALL ".join(
        "SELECT %s AS seq, %s AS source_id, %s AS target_id, %s AS fen, %s AS kind, %s AS memo" for _ in rows
    )
    params: list[Any] = []
    for seq, (source, target, fen, kind) in enumerate(rows):
        params += [seq, source, target, fen, kind, f"测试 {seq}"]
    return parts, params


def post(rows: list[tuple[int, int, int, str]]) -> int:
    with transaction.atomic(), ledger.staged_moves(*staged_sql(rows)) as staged:
        return ledger.post_staged(staged, year=2017, actor=None)


def test_staged_moves_are_posted_in_order_with_exact_amounts(city_year: dict[str, Any]) -> None:
    funding, city = funding_account(), city_account()
    township = next(iter(township_accounts().values()))
    written = post([(funding.pk, city.pk, 100_001, "funding"), (city.pk, township.pk, 33_333, "allocation")])
    assert written == 2
    entries = list(
        Entry.objects.order_by("pk").values_list("source_id", "target_id", "amount", "kind", "memo")
    )
    assert entries == [
        (funding.pk, city.pk, Decimal("1000.01"), "funding", "测试 0"),
        (city.pk, township.pk, Decimal("333.33"), "allocation", "测试 1"),
    ]
    assert ledger.balances([city], 2017)[city.pk] == Decimal("666.68")


def test_a_source_left_below_zero_refuses_the_whole_set_and_names_it(city_year: dict[str, Any]) -> None:
    funding, city = funding_account(), city_account()
    township = next(iter(township_accounts().values()))
    post([(funding.pk, city.pk, 10_000, "funding")])
    with pytest.raises(ValidationError) as refused:
        post([(funding.pk, city.pk, 5_000, "funding"), (city.pk, township.pk, 15_001, "allocation")])
    assert refused.value.messages == [
        "市指挥部：香格里拉市产业扶贫指挥部 余额不足：需要 150.01 元，可用 100.00 元。"
    ]
    assert Entry.objects.count() == 1  # nothing of the refused set
    # What the same set brings in counts: 100 + 50 covers 150.
    assert post([(funding.pk, city.pk, 5_000, "funding"), (city.pk, township.pk, 15_000, "allocation")]) == 2


def test_a_move_across_funds_or_of_nothing_is_refused(city_year: dict[str, Any]) -> None:
    funding, city = funding_account(), city_account()
    other = Account.objects.create(fund=VF_FUND, kind=VF_UNALLOCATED, key="vf:test", name="某村集体经济")
    with pytest.raises(ValidationError, match="专款专用"):
        post([(funding.pk, other.pk, 100, "funding")])
    with pytest.raises(ValidationError, match="金额必须大于零"):
        post([(funding.pk, city.pk, 0, "funding")])
    with pytest.raises(ValidationError, match="以分为单位"):
        post([(funding.pk, city.pk, 150.5, "funding")])  # type: ignore[list-item]
    assert not Entry.objects.exists()


def test_posting_takes_the_same_statements_for_many_moves_as_for_few(city_year: dict[str, Any]) -> None:
    funding, city = funding_account(), city_account()
    townships = list(township_accounts().values())

    def statements(n: int) -> int:
        rows = [(funding.pk, city.pk, 100 * n, "funding")]
        rows += [(city.pk, t.pk, 100, "allocation") for t in (townships * n)[:n]]
        with CaptureQueriesContext(connection) as queries:
            post(rows)
        return len(queries.captured_queries)

    assert statements(2) == statements(12)


def test_allocate_posts_what_reconcile_expects_after_a_payment_and_a_roster_change(
    city_year: dict[str, Any],
) -> None:
    """The allocation's targets are computed in SQL, reconcile's in Python: they must agree."""
    from households.models import Household

    services.allocate(year=2017, actor=None)
    Household.objects.filter(code="H2").update(exit_year=2015)
    Household.objects.filter(code="J1").update(cadre=None)
    result = services.allocate(year=2017, actor=None)
    assert result.move_count > 0 and result.posted == result.move_count
    assert services.reconcile(year=2017)[1] == []
    assert services.allocate(year=2017, actor=None).move_count == 0
