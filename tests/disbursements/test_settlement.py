"""After the cycle: benefit analysis → 以奖代补 through the chain; inactive → recovery to 乡财政; equity."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from disbursements import ledger, notices
from disbursements.approval import advance
from disbursements.models import Account, Payout
from households.models import Household, Role, Township
from subsidies.models import BenefitAnalysis, RecoveryOrder
from subsidies.money import services, settlement

from ..factories import jpeg_upload, make_organisation, make_user, pdf_upload

pytestmark = pytest.mark.django_db
DAY = datetime.date(2017, 6, 1)


def chain(batch: Any, data: dict[str, Any], maker: Any) -> None:
    advance([batch], action="submit", actor=maker)
    advance([batch], action="verify", actor=data["village_user"])
    advance([batch], action="township_review", actor=data["township_user"])
    advance([batch], action="city_review", actor=data["city_user"])
    advance([batch], action="approve", actor=data["approver"])


@pytest.fixture
def paid_two_tranches(city_year: dict[str, Any]) -> dict[str, Any]:
    """红坡村: H1 (猪 3 → 1,500) and H2 (羊 6 → 2,000) have tranches 1 and 2 paid by 李明."""
    services.allocate(year=2017, actor=None)
    liming = city_year["cadres"]["李明"]
    for tranche in (1, 2):
        batch = services.batch_prepare(village=city_year["hongpo"], year=2017, tranche=tranche, actor=liming)
        chain(batch, city_year, liming)
        services.payouts_record(batch=batch, actor=liming, paid_on=DAY)
    return city_year


def analyse(data: dict[str, Any], code: str, **kwargs: Any) -> BenefitAnalysis:
    defaults: dict[str, Any] = dict(
        actual_planting_area=Decimal(0),
        actual_species="",
        actual_quantity=Decimal(0),
        sales_income=Decimal("5000"),
        costs=Decimal("1200"),
        assessment="active",
    )
    defaults.update(kwargs)
    return settlement.analysis_record(plan=data["plans"][code], actor=data["cadres"]["李明"], **defaults)


def test_active_household_gets_the_rest_as_reward_through_the_chain(
    paid_two_tranches: dict[str, Any],
) -> None:
    data = paid_two_tranches
    analysis = analyse(data, "H1", actual_species="猪", actual_quantity=Decimal(4))
    # G = 1,500; verified V = min(4 × 500, 2,000) = 2,000; paid 1,200 → reward min(G, V) − paid = 300
    assert (analysis.verified_entitlement, analysis.paid_before, analysis.reward) == (
        Decimal("2000.00"),
        Decimal("1200.00"),
        Decimal("300.00"),
    )
    household = Household.objects.get(code="H1")
    assert analysis.income_per_member == ((Decimal("3800.00")) / household.size).quantize(Decimal("0.01"))
    batch = settlement.reward_batch_prepare(village=data["hongpo"], year=2017, actor=data["cadres"]["李明"])
    assert batch.kind == "grant_reward" and batch.total == Decimal("300.00")
    advance([batch], action="submit", actor=data["cadres"]["李明"])
    advance([batch], action="verify", actor=data["village_user"], note="村委会同意以奖代补")
    # The villager meeting publishes it (公示) before the township may pass it.
    with pytest.raises(ValidationError, match="尚未印发公示"):
        advance([batch], action="township_review", actor=data["township_user"])
    notice = notices.notice_issue(
        kind="reward",
        year=2017,
        village=data["hongpo"],
        actor=data["village_user"],
        batch=batch,
        start=datetime.date(2017, 9, 1),
    )
    assert notice.rows[0][1] == "扎西" and notice.period_days == 10
    with pytest.raises(ValidationError, match="尚未登记张贴"):
        advance([batch], action="township_review", actor=data["township_user"])
    notices.notice_post(notice=notice, actor=data["village_user"], photo=jpeg_upload("board.jpg"))
    objection = notices.objection_record(
        notice=notice,
        actor=data["village_user"],
        row=1,
        raised_by="村民 次里",
        content="H1 养猪数量是否属实？",
        received_on=datetime.date(2017, 9, 3),
    )
    with pytest.raises(ValidationError, match="1 条异议尚未处理"):
        advance([batch], action="township_review", actor=data["township_user"])
    notices.objection_resolve(
        objection=objection,
        actor=data["village_user"],
        resolution="入户核实存栏 4 头，属实",
        resolved_on=datetime.date(2017, 9, 5),
    )
    advance([batch], action="township_review", actor=data["township_user"])
    advance([batch], action="city_review", actor=data["city_user"])
    advance([batch], action="approve", actor=data["approver"])
    services.payouts_record(batch=batch, actor=data["cadres"]["李明"], paid_on=DAY)
    assert settlement.paid_so_far(household.pk, 2017) == Decimal("1500.00")  # exactly the grant
    assert services.reconcile(year=2017)[1] == []


def test_verified_below_paid_is_shown_to_the_township_never_recovered_silently(
    paid_two_tranches: dict[str, Any],
) -> None:
    data = paid_two_tranches
    analysis = analyse(data, "H2", actual_species="羊", actual_quantity=Decimal(2))  # V = 800 < paid 1,600
    assert (analysis.reward, analysis.shortfall, analysis.decision) == (
        Decimal("0.00"),
        Decimal("800.00"),
        "pending",
    )
    assert not RecoveryOrder.objects.exists()
    with pytest.raises(ValidationError, match="乡镇决定"):
        settlement.shortfall_decide(analysis=analysis, recover=True, actor=data["village_user"])
    settlement.shortfall_decide(analysis=analysis, recover=True, actor=data["township_user"])
    order = RecoveryOrder.objects.get()
    assert order.amount == Decimal("800.00") and order.status == "raised"


def test_inactive_household_is_recovered_into_township_finance(paid_two_tranches: dict[str, Any]) -> None:
    data = paid_two_tranches
    analysis = analyse(data, "H1", assessment="inactive")
    assert analysis.reward == 0
    with pytest.raises(ValidationError, match="没有待列入"):
        settlement.reward_batch_prepare(village=data["hongpo"], year=2017, actor=data["cadres"]["李明"])
    household = Household.objects.get(code="H1")
    with pytest.raises(ValidationError, match="村委会"):
        settlement.recovery_raise(
            household=household, year=2017, actor=data["township_user"], reason="不发展产业"
        )
    order = settlement.recovery_raise(
        household=household, year=2017, actor=data["village_user"], reason="不积极发展产业"
    )
    assert order.amount == Decimal("1200.00")
    with pytest.raises(ValidationError, match="先经乡镇审批"):
        settlement.recovery_repay(
            order=order, amount=Decimal(100), received_on=DAY, actor=data["village_user"]
        )
    settlement.recovery_approve(order=order, actor=data["township_user"])
    settlement.recovery_repay(
        order=order, amount=Decimal("500.00"), received_on=DAY, actor=data["village_user"]
    )
    order.refresh_from_db()
    assert order.status == "approved"  # still open: 700 to go
    settlement.recovery_repay(
        order=order, amount=Decimal("700.00"), received_on=DAY, actor=data["village_user"]
    )
    order.refresh_from_db()
    assert order.status == "repaid"
    finance = Account.objects.get(kind="township_finance", township__name="建塘镇")
    assert ledger.balances([finance], 2017)[finance.pk] == Decimal("1200.00")
    city, problems = services.reconcile(year=2017)
    assert problems == []
    assert next(t for t in city.children if t.name == "建塘镇").recovered == Decimal("1200.00")


def test_equity_with_an_organisation_of_another_township_is_refused_by_the_service(
    city_year: dict[str, Any],
) -> None:
    """A forged POST naming an organisation 虎跳峡镇 supervises, with no household of 建塘镇 linked to it:
    the cadre's dropdown never offered it, and the service refuses it; nothing moves."""
    services.allocate(year=2017, actor=None)
    elsewhere = make_organisation("虎跳峡镇种养殖专业合作社", township=Township.objects.get(name="虎跳峡镇"))
    client = Client()
    client.force_login(city_year["cadres"]["李明"])
    form = client.get("/admin/subsidies/equityinvestment/add/").content.decode()
    assert "虎跳峡镇种养殖专业合作社" not in form
    with pytest.raises(ValidationError, match="不是本乡镇监管或与本地贫困户已有联系的组织"):
        settlement.equity_invest(
            household=Household.objects.get(code="H2"),
            year=2017,
            partner=elsewhere,
            agreement="入股协议 2017-009",
            consent_scan=pdf_upload("consent.pdf"),
            invested_on=DAY,
            actor=city_year["cadres"]["李明"],
        )
    assert not Account.objects.filter(kind="partner").exists()


def test_equity_household_pays_the_partner_and_keeps_the_principal_visible(city_year: dict[str, Any]) -> None:
    services.allocate(year=2017, actor=None)
    data = city_year
    partner = make_organisation("香格里拉市高原牦牛养殖专业合作社")
    household = Household.objects.get(code="H2")
    investment = settlement.equity_invest(
        household=household,
        year=2017,
        partner=partner,
        agreement="入股协议 2017-001",
        consent_scan=pdf_upload("consent.pdf"),
        invested_on=DAY,
        actor=data["cadres"]["李明"],
    )
    assert investment.principal == Decimal("2000.00") and investment.preserved
    partner_account = Account.objects.get(kind="partner", key=f"org:{partner.pk}")
    assert ledger.balances([partner_account], 2017)[partner_account.pk] == Decimal("2000.00")
    settlement.dividend_record(
        investment=investment, year=2017, amount=Decimal("160.00"), paid_on=DAY, actor=data["cadres"]["李明"]
    )
    with pytest.raises(ValidationError, match="已登记"):
        settlement.dividend_record(
            investment=investment, year=2017, amount=Decimal("1"), paid_on=DAY, actor=data["cadres"]["李明"]
        )
    # The equity household is not in the cash tranche batches.
    batch = services.batch_prepare(village=data["hongpo"], year=2017, tranche=1, actor=data["cadres"]["李明"])
    assert set(batch.lines.values_list("grant__household__code", flat=True)) == {"H1"}
    assert services.reconcile(year=2017)[1] == []
    # The principal comes back to the household, once, and the books still balance.
    with pytest.raises(ValidationError, match="村委会或乡镇"):
        settlement.equity_return(investment=investment, actor=data["cadres"]["李明"])
    returned = settlement.equity_return(investment=investment, actor=data["village_user"])
    assert not returned.preserved
    assert ledger.balances([partner_account], 2017)[partner_account.pk] == Decimal("0.00")
    with pytest.raises(ValidationError, match="已退还"):
        settlement.equity_return(investment=investment, actor=data["village_user"])
    assert services.reconcile(year=2017)[1] == []
    with pytest.raises(ValidationError, match="不能再改为入股"):
        settlement.equity_invest(
            household=Household.objects.get(code="H1"),
            year=2017,
            partner=partner,
            agreement="x",
            consent_scan=pdf_upload("c.pdf"),
            invested_on=DAY,
            actor=data["cadres"]["李明"],
        )


def test_analysis_needs_a_payout_and_the_cadre(city_year: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="尚未兑现"):
        analyse(city_year, "H1")
    other = make_user(Role.VILLAGE)
    with pytest.raises(ValidationError, match="挂包干部填写"):
        settlement.analysis_record(
            plan=city_year["plans"]["H1"],
            actor=other,
            actual_planting_area=Decimal(0),
            actual_species="",
            actual_quantity=Decimal(0),
            sales_income=Decimal(0),
            costs=Decimal(0),
            assessment="active",
        )
    assert not Payout.objects.exists()


def test_recovery_through_the_admin_actions(paid_two_tranches: dict[str, Any]) -> None:
    from django.test import Client

    data = paid_two_tranches
    analysis = analyse(data, "H1", assessment="inactive")
    client = Client()
    client.force_login(data["village_user"])
    client.post(
        "/admin/subsidies/benefitanalysis/",
        {"action": "raise_recovery", "_selected_action": [analysis.pk]},
    )
    order = RecoveryOrder.objects.get()
    assert order.amount == Decimal("1200.00") and order.status == "raised"
    client.force_login(data["township_user"])
    client.post(
        "/admin/subsidies/recoveryorder/", {"action": "approve_orders", "_selected_action": [order.pk]}
    )
    client.force_login(data["village_user"])
    client.post(
        "/admin/subsidies/recoveryorder/", {"action": "repay_in_full", "_selected_action": [order.pk]}
    )
    order.refresh_from_db()
    assert order.status == "repaid"
    assert services.reconcile(year=2017)[1] == []


def test_receipts_and_equity_through_the_admin(paid_two_tranches: dict[str, Any]) -> None:
    from django.test import Client

    from subsidies.models import EquityInvestment

    data = paid_two_tranches
    liming = data["cadres"]["李明"]
    client = Client()
    client.force_login(liming)
    payout = Payout.objects.filter(line__grant__household__code="H1", line__grant__tranche=1).get()
    response = client.post(
        f"/admin/disbursements/payout/{payout.pk}/change/",
        {"receipt": jpeg_upload("回执.jpg")},
    )
    assert response.status_code == 302
    payout.refresh_from_db()
    assert payout.receipt.name and payout.amount == Decimal("900.00")  # the money record is unchanged
    # 王芳's J1 in 吉迪村 has no payout yet: its grant can go to a cooperative as equity.
    wang = data["cadres"]["王芳"]
    client.force_login(wang)
    partner = make_organisation("吉迪村种养殖专业合作社")
    response = client.post(
        "/admin/subsidies/equityinvestment/add/",
        {
            "household": Household.objects.get(code="J1").pk,
            "year": 2017,
            "partner": partner.pk,
            "agreement": "入股协议 J1",
            "invested_on": "2017-05-08",
            "consent_scan": pdf_upload("同意书.pdf"),
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    investment = EquityInvestment.objects.get()
    assert investment.principal == Decimal("800.00") and investment.recorded_by == wang
    partner_account = Account.objects.get(kind="partner", key=f"org:{partner.pk}")
    assert ledger.balances([partner_account], 2017)[partner_account.pk] == Decimal("800.00")
    # H1 (李明's) was paid: the form refuses it before anything moves.
    client.force_login(liming)
    response = client.post(
        "/admin/subsidies/equityinvestment/add/",
        {
            "household": Household.objects.get(code="H1").pk,
            "year": 2017,
            "partner": partner.pk,
            "agreement": "x",
            "invested_on": "2017-05-08",
            "consent_scan": pdf_upload("c.pdf"),
        },
    )
    assert "不能再改为入股" in response.content.decode()
