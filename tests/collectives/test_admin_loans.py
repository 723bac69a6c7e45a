"""The township's loan forms in the admin: write-off with a reason, rescheduling, recoveries capped at
what was written off; the village's batch action; refusals shown, nothing changed."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from collectives.models import Loan, WriteOff
from disbursements.models import Batch

from .conftest import lend

pytestmark = pytest.mark.django_db
LOANS = "/admin/collectives/loan/"
WRITE_OFFS = "/admin/collectives/writeoff/"


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_township_writes_off_a_loan_only_with_a_reason(lending_village: dict[str, Any]) -> None:
    ctx = lending_village
    loan = lend(ctx, "C1", "6000", term=6)
    township = client_for(ctx["township_user"])
    form = township.post(LOANS, {"action": "write_off_loans", "_selected_action": [loan.pk]})
    assert "核销原因（必填）" in form.content.decode() and "扎西" in form.content.decode()
    again = township.post(
        LOANS, {"action": "write_off_loans", "_selected_action": [loan.pk], "confirm": "yes", "reason": " "}
    )
    assert "这个字段是必填项" in again.content.decode() or "必填" in again.content.decode()
    assert Loan.objects.get(pk=loan.pk).status == Loan.Status.DISBURSED
    # The village is not offered the action, and its forged POST changes nothing.
    client_for(ctx["village_user"]).post(
        LOANS,
        {"action": "write_off_loans", "_selected_action": [loan.pk], "confirm": "yes", "reason": "伪造"},
    )
    assert Loan.objects.get(pk=loan.pk).status == Loan.Status.DISBURSED
    done = township.post(
        LOANS,
        {"action": "write_off_loans", "_selected_action": [loan.pk], "confirm": "yes", "reason": "户主病故"},
        follow=True,
    )
    assert "已核销 1 笔贷款" in done.content.decode()
    write_off = WriteOff.objects.get(loan=loan)
    assert (write_off.amount, write_off.reason) == (Decimal("6000.00"), "户主病故")

    # Recoveries: above the write-off refused with the figures, a part accepted.
    url_data = {"action": "recover", "_selected_action": [write_off.pk], "confirm": "yes"}
    over = township.post(
        WRITE_OFFS, {**url_data, "amount": "6000.01", "received_on": "2017-09-01"}, follow=True
    )
    assert "超过核销后尚未收回的 6,000.00 元" in over.content.decode()
    assert not write_off.recoveries.exists()
    page = township.post(WRITE_OFFS, {"action": "recover", "_selected_action": [write_off.pk]})
    token = page.context["once_token"]  # the form as the browser gets it, sent twice (a double click)
    sent = {**url_data, "amount": "2500", "received_on": "2017-09-01", "_once": token}
    part = township.post(WRITE_OFFS, sent, follow=True)
    assert "已登记收回 1 笔" in part.content.decode()
    twice = township.post(WRITE_OFFS, sent, follow=True)
    assert "这张表单已经提交过一次，未重复办理" in twice.content.decode()
    assert write_off.recoveries.get().amount == Decimal("2500.00")


def test_the_township_reschedules_keeping_the_original_schedule(lending_village: dict[str, Any]) -> None:
    ctx = lending_village
    loan = lend(ctx, "C2", "12000", term=12)
    original = list(loan.instalments.order_by("number").values_list("due_on", "principal"))
    township = client_for(ctx["township_user"])
    data = {
        "action": "reschedule_loan",
        "_selected_action": [loan.pk],
        "confirm": "yes",
        "term_months": "37",
        "frequency": "bullet",
        "effective_on": "2017-08-01",
        "reason": "冰雹灾害，改为秋收后一次还本",
    }
    refused = township.post(LOANS, data, follow=True)
    assert "36" in refused.content.decode()  # the policy's longest term, named
    assert loan.reschedules.count() == 0
    done = township.post(LOANS, {**data, "term_months": "12"}, follow=True)
    assert "已调整 1 笔贷款的还款计划" in done.content.decode()
    event = loan.reschedules.get()
    assert event.approved_by == ctx["township_user"] and event.reason.startswith("冰雹")
    kept = list(
        loan.instalments.filter(superseded_by=event).order_by("number").values_list("due_on", "principal")
    )
    assert kept == original  # nothing was paid yet: every original instalment kept, superseded
    live = loan.instalments.filter(superseded_by__isnull=True)
    assert live.count() == 1 and live.get().due_on == datetime.date(2018, 8, 1)


def test_the_village_batches_its_loans_from_the_loan_list(lending_village: dict[str, Any]) -> None:
    from collectives import services

    from ..factories import pdf_upload

    ctx = lending_village
    loan = services.loan_propose(
        group=ctx["group"],
        household=ctx["households"]["C4"],
        principal=Decimal("4000"),
        term_months=6,
        frequency="monthly",
        purpose="养殖尼西鸡",
        actor=ctx["village_user"],
        year=2017,
        today=datetime.date(2017, 5, 1),
    )
    services.loan_contract_attach(loan=loan, scan=pdf_upload(), actor=ctx["village_user"])
    response = client_for(ctx["village_user"]).post(
        LOANS, {"action": "batch_loans", "_selected_action": [loan.pk]}
    )
    batch = Batch.objects.get(kind="collective_loan")
    assert response.status_code == 302 and response["Location"].endswith(f"/batch/{batch.pk}/change/")
    page = client_for(ctx["village_user"]).get(response["Location"]).content.decode()
    assert "提交乡镇审批（联保贷款）" in page and "拉姆" in page and "4,000.00" in page
