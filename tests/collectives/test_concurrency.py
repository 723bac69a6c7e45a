"""Concurrent loans on PostgreSQL: the lending sub-account never goes below zero."""

from __future__ import annotations

import datetime
import threading
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections

from collectives import accounts, loan_batches, services
from collectives.models import JointGroup, Loan
from disbursements import approval, ledger
from disbursements.models import Batch
from households.models import Household

from ..factories import pdf_upload

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_concurrent_loans_never_take_the_lending_account_below_zero(lending_village: dict[str, Any]) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks and real concurrency need PostgreSQL (DATABASE_URL=postgres://…)")
    ctx = lending_village
    village = ctx["village"]
    lending = accounts.village_account(village, accounts.LENDING)
    # Leave 25,000 in the lending account: two loans of 15,000 cannot both be paid.
    proposals = []
    for code in ("C1", "C2", "C3", "C4"):
        proposals.append(
            services.loan_propose(
                group=JointGroup.objects.get(pk=ctx["group"].pk),
                household=Household.objects.get(code=code),
                principal=Decimal("15000"),
                term_months=12,
                frequency="monthly",
                purpose="养殖",
                actor=ctx["village_user"],
                year=2017,
                today=datetime.date(2017, 5, 1),
            )
        )
    # (moved back to the unallocated purse directly, as a test shortcut for a smaller lending split)
    drain = ledger.Move(
        lending,
        accounts.village_account(village, accounts.UNALLOCATED),
        Decimal("575000"),
        accounts.E_RELEASE_LENDING,
    )
    ledger.post([drain], year=2017, actor=None)
    # Each loan in its own batch, submitted by the village and approved by the township.
    batches = []
    for loan in proposals:
        services.loan_contract_attach(loan=loan, scan=pdf_upload(), actor=ctx["village_user"])
        batch = loan_batches.loan_batch_create(village=village, loans=[loan], actor=ctx["village_user"])
        approval.advance([batch], action=loan_batches.SUBMIT, actor=ctx["village_user"])
        approval.advance([batch], action=loan_batches.APPROVE, actor=ctx["township_user"])
        batches.append(batch)
    barrier = threading.Barrier(len(batches))
    outcomes: list[str] = []

    def pay(batch: Batch) -> None:
        try:
            barrier.wait()
            loan_batches.loan_batch_pay(
                batch=batch, actor=ctx["township_user"], paid_on=datetime.date(2017, 5, 2)
            )
            outcomes.append("paid")
        except ValidationError as exc:
            outcomes.append(exc.messages[0])
        finally:
            connections.close_all()

    threads = [threading.Thread(target=pay, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert outcomes.count("paid") == 1, outcomes
    assert all("余额不足" in o for o in outcomes if o != "paid"), outcomes
    assert ledger.balances([lending], 2017)[lending.pk] == Decimal("10000.00")
    assert Loan.objects.filter(status=Loan.Status.DISBURSED).count() == 1


def test_the_same_repayment_form_sent_twice_at_once_is_recorded_once(lending_village: dict[str, Any]) -> None:
    """Two requests carrying one form's token at the same moment (a double click reaching two server
    workers): the second waits on the token's unique index, then is told; one repayment, one entry."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks and real concurrency need PostgreSQL (DATABASE_URL=postgres://…)")
    from django.test import Client

    from collectives.models import Repayment

    from .conftest import lend

    ctx = lending_village
    loan = lend(ctx, "C1", "6000", term=6)
    url = f"/admin/collectives/loan/{loan.pk}/repay/"
    form = {
        "amount": "1000",
        "paid_on": "2017-06-01",
        "payer": loan.household_id,
        "_once": "0123456789abcdef0123456789abcdef",
    }
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def post() -> None:
        try:
            client = Client()
            client.force_login(ctx["village_user"])
            barrier.wait()
            statuses.append(client.post(url, form).status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(statuses) == [200, 302], statuses  # one done (redirect), one told (the form again)
    assert Repayment.objects.filter(loan=loan).count() == 1
    assert services.outstanding(loan) == Decimal("5000.00")
