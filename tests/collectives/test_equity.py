"""入股分红 and 合作社经营: each against its own sub-account, never below zero, dividends to households
recorded per household, the principal back at the end; the books reconcile."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from collectives import accounts, equity
from collectives.models import Counterparty, DividendShare
from disbursements import ledger
from disbursements.reconcile import reconcile

from ..factories import pdf_upload

pytestmark = pytest.mark.django_db
D = Decimal


def balance(village: Any, kind: str) -> Decimal:
    account = accounts.village_account(village, kind)
    return ledger.balances([account], 2017)[account.pk]


def test_equity_dividends_and_cooperative(lending_village: dict[str, Any]) -> None:
    ctx = lending_village
    village, fund, user = ctx["village"], ctx["fund"], ctx["village_user"]
    partner = Counterparty.objects.create(name="香格里拉藏香猪专业合作社", kind="cooperative")
    with pytest.raises(ValidationError, match="余额不足"):
        equity.stake_invest(
            fund=fund, counterparty=partner, principal=D("200000.01"), agreement_scan=pdf_upload(),
            invested_on=datetime.date(2017, 5, 1), actor=user,
        )  # fmt: skip
    stake = equity.stake_invest(
        fund=fund, counterparty=partner, principal=D("150000"), agreement_scan=pdf_upload(),
        invested_on=datetime.date(2017, 5, 1), actor=user,
    )  # fmt: skip
    assert balance(village, accounts.EQUITY) == D("50000.00")
    households = ctx["households"]
    with pytest.raises(ValidationError, match="超过本次分红"):
        equity.dividend_record(
            stake=stake, year=2017, amount=D("9000"), received_on=datetime.date(2017, 12, 20),
            shares={households["C1"]: D("5000"), households["C2"]: D("4000.01")}, actor=user,
        )  # fmt: skip
    equity.dividend_record(
        stake=stake, year=2017, amount=D("9000"), received_on=datetime.date(2017, 12, 20),
        shares={households["C1"]: D("3000"), households["C2"]: D("3000")}, actor=user,
    )  # fmt: skip
    assert sorted(DividendShare.objects.values_list("household__code", "amount")) == [
        ("C1", D("3000.00")),
        ("C2", D("3000.00")),
    ]
    assert balance(village, accounts.LENDING) == D("600000.00")  # no dividend touches the lending money
    equity.cooperative_record(
        fund=fund, kind="spending", amount=D("180000"), occurred_on=datetime.date(2017, 6, 1),
        purpose="购置青稞加工设备", voucher_scan=pdf_upload(), actor=user,
    )  # fmt: skip
    with pytest.raises(ValidationError, match="余额不足"):
        equity.cooperative_record(
            fund=fund, kind="spending", amount=D("20000.01"), occurred_on=datetime.date(2017, 6, 2),
            purpose="饲料", voucher_scan=pdf_upload(), actor=user,
        )  # fmt: skip
    equity.cooperative_record(
        fund=fund, kind="income", amount=D("26000"), occurred_on=datetime.date(2017, 11, 2),
        purpose="青稞加工收入", voucher_scan=pdf_upload(), actor=user,
    )  # fmt: skip
    assert balance(village, accounts.COOPERATIVE) == D("46000.00")
    equity.stake_return(stake=stake, returned_on=datetime.date(2017, 12, 31), actor=user)
    assert balance(village, accounts.EQUITY) == D("200000.00")
    assert reconcile(year=2017, fund=accounts.FUND)[0].problems == []
