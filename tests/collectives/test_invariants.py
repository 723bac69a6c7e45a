"""Random loans, repayments, defaults and write-offs (seeded, replayable): after every step every
sub-account is ≥ 0, and principal out = repaid + outstanding + written off, per village and per loan;
reconcile stays clean."""

from __future__ import annotations

import datetime
import random
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from collectives import accounts, services
from collectives.models import Loan
from disbursements import ledger
from disbursements.models import Account
from disbursements.reconcile import reconcile

from .conftest import disburse

pytestmark = pytest.mark.django_db


def check(village: Any, today: datetime.date) -> None:
    subs = list(
        Account.objects.filter(fund=accounts.FUND).exclude(kind__in=[accounts.SOURCE, accounts.INFLOW])
    )
    balances = ledger.balances(subs, 2017)
    assert all(balances[a.pk] >= 0 for a in subs), {str(a): balances[a.pk] for a in subs}
    book = services.portfolio([village.pk], today=today)[village.pk]
    assert book["out"] == book["repaid"] + book["outstanding"] + book["written_off"]
    borrowers = [a for a in subs if a.kind == accounts.BORROWER]
    assert sum((balances[a.pk] for a in borrowers), Decimal(0)) == book["outstanding"]
    assert reconcile(year=2017, fund=accounts.FUND)[0].problems == []


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_life_keeps_the_books(lending_village: dict[str, Any], seed: int) -> None:
    ctx = lending_village
    rng = random.Random(seed)
    codes = [f"C{n}" for n in range(1, 6)]
    today = datetime.date(2017, 5, 1)
    for _step in range(60):
        today += datetime.timedelta(days=rng.randint(1, 20))
        action = rng.choice(["lend"] * 4 + ["repay"] * 4 + ["guarantee", "write_off", "recover"])
        open_loans = list(Loan.objects.filter(status=Loan.Status.DISBURSED))
        try:
            if action == "lend":
                loan = services.loan_propose(
                    group=ctx["group"],
                    household=ctx["households"][rng.choice(codes)],
                    principal=Decimal(rng.randint(1, 2100000)) / 100,  # a few above the cap
                    term_months=rng.randint(1, 38),
                    frequency=rng.choice(["monthly", "quarterly", "bullet"]),
                    purpose="养殖",
                    actor=ctx["village_user"],
                    year=2017,
                    today=today,
                )
                disburse(ctx, [loan], today)
            elif action in ("repay", "guarantee") and open_loans:
                loan = rng.choice(open_loans)
                payer = ctx["households"][rng.choice(codes)] if action == "guarantee" else None
                services.repayment_record(
                    loan=loan,
                    amount=_amount(rng, loan, today),
                    paid_on=today,
                    actor=ctx["village_user"],
                    payer=payer,
                )
            elif action == "write_off" and open_loans:
                services.loan_write_off(
                    loan=rng.choice(open_loans), reason="无力偿还", actor=ctx["township_user"]
                )
            elif action == "recover":
                from collectives.models import WriteOff

                write_offs = list(WriteOff.objects.all())
                if write_offs:
                    services.write_off_recover(
                        write_off=rng.choice(write_offs),
                        amount=Decimal(rng.randint(1, 500000)) / 100,
                        received_on=today,
                        actor=ctx["village_user"],
                    )
        except ValidationError:
            pass  # refused with a reason (cap, term, block, overpayment, recovery above the write-off)
        check(ctx["village"], today)
    assert Loan.objects.exclude(status=Loan.Status.PROPOSED).count() >= 3  # the walk did lend
    assert Loan.objects.filter(repayments__isnull=False).exists()  # and was repaid


def _amount(rng: random.Random, loan: Loan, today: datetime.date) -> Decimal:
    """What is due today, everything owed, a part, or a little too much (refused)."""
    rows = list(
        loan.instalments.filter(superseded_by__isnull=True).values_list(
            "due_on", "principal", "fee", "paid_principal", "paid_fee"
        )
    )
    owed = sum((p + f - pp - pf for _, p, f, pp, pf in rows), Decimal(0))
    due = sum((p + f - pp - pf for d, p, f, pp, pf in rows if d <= today), Decimal(0))
    choice = rng.choice(["due", "due", "all", "part", "over"])
    amount = {"due": due, "all": owed, "part": owed * Decimal(rng.random()), "over": owed + 1}[choice]
    return max(Decimal("0.01"), amount.quantize(Decimal("0.01")))
