"""A household's money following its cadre between a village's own account and a cadre's purse
(`guard.follow_reassignment`, 调账) moves money within the village: `allocate` neither sends the
village more nor takes any of it back, and agrees with `reconcile`."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from disbursements import ledger
from households.models import Household
from subsidies.money import accounts, guard, services

pytestmark = pytest.mark.django_db


def balance(account: Any) -> Decimal:
    return ledger.balances([account], 2017)[account.pk]


def test_a_village_held_household_given_a_cadre_leaves_allocate_nothing_to_do(
    city_year: dict[str, Any],
) -> None:
    h3 = Household.objects.get(code="H3")
    cadre = h3.cadre_id
    Household.objects.filter(pk=h3.pk).update(cadre=None)
    services.allocate(year=2017, actor=None)
    Household.objects.filter(pk=h3.pk).update(cadre=cadre)
    assert guard.follow_reassignment([(h3.pk, None, cadre)], None) == 1
    # Was: 乡镇 → 村 3,000.00 again, refused: "乡镇：建塘镇 余额不足：需要 3000.00 元，可用 0.00 元。"
    result = services.allocate(year=2017, actor=None)
    assert result.move_count == 0
    h3.refresh_from_db()
    assert balance(accounts.holder_account(h3)) == Decimal("3000.00")
    assert services.reconcile(year=2017)[1] == []


def test_a_household_whose_cadre_leaves_keeps_its_money_in_the_village(city_year: dict[str, Any]) -> None:
    h3 = Household.objects.get(code="H3")
    services.allocate(year=2017, actor=None)
    assert guard.follow_reassignment([(h3.pk, h3.cadre_id, None)], None) == 1
    Household.objects.filter(pk=h3.pk).update(cadre=None)
    # Was: 村 → 乡镇 3,000.00 上缴, the village left with nothing to pay H3 and reconcile's
    # "应拨 9000.00 元，实拨 6000.00 元" that no further allocate fixed.
    result = services.allocate(year=2017, actor=None)
    assert result.move_count == 0
    assert balance(accounts.village_accounts()[h3.village_id]) == Decimal("3000.00")
    assert services.reconcile(year=2017)[1] == []
