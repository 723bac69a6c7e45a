"""Issue 9's proof: a programme that exists only in the tests (`tests/toy_programme`) registers a
fund and its account kinds, a batch kind with its own steps, a notice kind and a dashboard section
in its `AppConfig.ready()`, and runs a batch from preparation to payment and reconcile through the
shared machinery — which knows nothing of it (no line of `disbursements/` names it)."""

from __future__ import annotations

import datetime
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.test.utils import modify_settings
from pypdf import PdfReader

from disbursements import ledger, notices
from disbursements.approval import BATCH_KINDS, advance
from disbursements.dashboard import dashboard_for
from disbursements.models import Batch, Entry, Payout
from disbursements.payouts import payouts_record
from disbursements.reconcile import reconcile_fund
from households.models import Role, Township

from .factories import jpeg_upload, make_user

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def toy() -> Any:
    """The toy programme installed like any app: its AppConfig.ready() registers it."""
    with modify_settings(INSTALLED_APPS={"append": "tests.toy_programme"}):
        from .toy_programme import programme

        assert programme.KIND in BATCH_KINDS
        yield programme
    programme.unregister()


def test_the_shared_machinery_does_not_know_the_toy_programme() -> None:
    for path in (ROOT / "disbursements").rglob("*.py"):
        assert "toy" not in path.read_text(encoding="utf-8"), path


def test_a_new_programme_runs_a_batch_from_preparation_to_payment_and_reconcile(toy: Any) -> None:
    jiantang = Township.objects.get(name="建塘镇")
    township, other_township = make_user(Role.TOWNSHIP, "jt_a"), make_user(Role.TOWNSHIP, "jt_b")
    city, approver = make_user(Role.CITY, "city"), make_user(Role.APPROVER, "leader")
    purse = toy.township_account(jiantang)
    ledger.post(
        [ledger.Move(toy.source_account(), purse, Decimal("20000.00"), "toy_funding", "2017年奖补资金")],
        year=2017,
        actor=city,
    )
    cooperative = toy.organisation_account("香格里拉市高原特色农产品专业合作社", jiantang)
    association = toy.organisation_account("建塘镇中蜂养殖协会", jiantang)
    batch = toy.prepare(
        township=jiantang,
        year=2017,
        actor=township,
        payees={cooperative: Decimal("6000.00"), association: Decimal("5000.00")},
    )
    assert batch.status_label == "准备中" and str(batch) == f"2017年 建塘镇 带贫组织奖补 #{batch.pk}"

    # Its own steps, roles and maker-checker, through the one mechanism.
    with pytest.raises(ValidationError, match="须由乡镇办理"):
        advance([batch], action="toy_confirm", actor=city)
    advance([batch], action="toy_confirm", actor=township, note="考核合格")
    # Its notice gate: city HQ may not review before the 公示 has run.
    with pytest.raises(ValidationError, match="带贫组织奖补须经公示"):
        advance([batch], action="toy_review", actor=city)
    notice = notices.notice_issue(
        kind=toy.NOTICE,
        year=2017,
        township=jiantang,
        actor=township,
        start=datetime.date(2017, 9, 1),
        batch=batch,
    )
    text = PdfReader(io.BytesIO(notice.pdf.read())).pages[0].extract_text()
    assert "共 2 家" in text and "11,000.00" in text and "建塘镇人民政府" in text
    notices.notice_post(notice=notice, actor=township, photo=jpeg_upload("p.jpg"))
    # An objection names the row it is about; the toy's rows name their payee's account.
    objection = notices.objection_record(
        notice=notice,
        actor=township,
        row=2,
        raised_by="村民 次里",
        content="协会带动的农户名单不实",
        received_on=datetime.date(2017, 9, 3),
    )
    assert (objection.payee_name, objection.payee) == ("建塘镇中蜂养殖协会", association)
    with pytest.raises(ValidationError, match="1 条异议尚未处理"):
        notices.notice_close(notice=notice, actor=township, today=datetime.date(2017, 9, 20))
    notices.objection_resolve(
        objection=objection, actor=township, resolution="核实属实", resolved_on=datetime.date(2017, 9, 5)
    )
    notices.notice_close(notice=notice, actor=township, today=datetime.date(2017, 9, 20))
    advance([batch], action="toy_review", actor=city)
    advance([batch], action="toy_approve", actor=approver)

    # Paying is the last step, by the roles the kind names, from the account its hooks name.
    result = payouts_record(batch=batch, actor=other_township, paid_on=datetime.date(2017, 10, 1))
    assert result.paid == 2 and result.batch_paid
    batch.refresh_from_db()
    assert batch.status == "paid"
    assert [t.get_action_display() for t in batch.transitions.all()] == [
        "乡镇考核确认",
        "市指挥部复核",
        "产业办审批",
        "兑现",
    ]
    assert ledger.balances([purse], 2017)[purse.pk] == Decimal("9000.00")

    report = reconcile_fund(year=2017, fund=toy.FUND)
    assert report.problems == []
    assert report.label == "测试奖补资金"
    jiantang_row = next(t for t in report.city.children if t.name == "建塘镇")
    assert (jiantang_row.allocated, jiantang_row.paid, jiantang_row.held) == (
        Decimal("20000.00"),
        Decimal("11000.00"),
        Decimal("9000.00"),
    )
    # A tampered payment is caught by the same generic checks.
    payout = Payout.objects.filter(line__batch=batch).first()
    assert payout is not None
    Entry.objects.create(
        year=2017, fund=toy.FUND, kind="toy_payment", source=purse, target=cooperative, amount=Decimal("1.00")
    )
    assert any("没有对应的业务记录" in p for p in reconcile_fund(year=2017, fund=toy.FUND).problems)

    # Its dashboard section, for city HQ, next to the household grant's.
    board = dashboard_for(city, year=2017)
    table = next(t for t in board.tables if t.section.code == "toy")
    row = next(r for r in table.rows if r.name == "建塘镇")
    assert (row.organisations, row.paid) == (2, Decimal("11000.00"))
    client = Client()
    client.force_login(city)
    page = client.get("/dashboard/").content.decode()
    assert "带贫组织奖补（测试）" in page and "11,000.00" in page


def test_money_never_crosses_from_one_fund_into_another(toy: Any) -> None:
    from subsidies.money.accounts import city_account

    jiantang = Township.objects.get(name="建塘镇")
    with pytest.raises(ValidationError, match="专款专用"):
        ledger.post(
            [ledger.Move(toy.township_account(jiantang), city_account(), Decimal("1.00"), "toy_funding")],
            year=2017,
            actor=None,
        )
    assert not Batch.objects.exists()
