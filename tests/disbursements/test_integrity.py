"""Issue 8: every breach found by trying the money path as an attacker would, refused or impossible.

Each test names the reproduction it closes. The city (conftest `city_year`): 红坡村 H1 (猪 3 → 1,500)
and H2 (羊 6 → 2,000) held by 李明, H3 (鸡 55 → 1,100) by 王芳; 吉迪村 J1, J2 by 王芳; 红旗村 T1.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from disbursements import ledger
from disbursements.approval import advance
from disbursements.models import Account, Batch, BatchLine, Entry, Payout
from households import services as household_services
from households.models import Household, Organisation, Role, User
from subsidies import services as plan_services
from subsidies.models import EquityInvestment, GrantLine, HouseholdPlan, PlanStatus, RecoveryOrder
from subsidies.money import guard as grant
from subsidies.money import services, settlement

from ..factories import jpeg_upload, make_organisation, make_user, pdf_upload, sign
from .test_settlement import DAY, analyse, chain

pytestmark = pytest.mark.django_db


def paid_tranche(
    data: dict[str, Any], tranche: int, actor: User | None = None, village: str = "hongpo"
) -> Batch:
    actor = actor or data["cadres"]["李明"]
    batch = services.batch_prepare(village=data[village], year=2017, tranche=tranche, actor=actor)
    chain(batch, data, actor)
    services.payouts_record(batch=batch, actor=actor, paid_on=DAY)
    return batch


def received(code: str) -> Decimal:
    household = Household.objects.get(code=code)
    return grant.household_money([household.pk], 2017)[household.pk].received


def clean() -> list[str]:
    return services.reconcile(year=2017)[1]


# --- 1. paid past the grant ------------------------------------------------------------------------


def test_the_benefit_analysis_waits_for_tranche_2(city_year: dict[str, Any]) -> None:
    """Was: the analysis opened after tranche 1, its reward (1,800 − 1,080) was paid and tranche 2 too."""
    services.allocate(year=2017, actor=None)
    paid_tranche(city_year, 1)
    with pytest.raises(ValidationError, match="第二期（产中）资金尚未兑现"):
        analyse(city_year, "H1", actual_species="猪", actual_quantity=Decimal(3))
    paid_tranche(city_year, 2)
    analysis = analyse(city_year, "H1", actual_species="猪", actual_quantity=Decimal(4))
    assert analysis.reward == Decimal("300.00")  # 1,500 − 1,200
    with pytest.raises(ValidationError, match="没有可列入第2期"):
        services.batch_prepare(
            village=city_year["hongpo"], year=2017, tranche=2, actor=city_year["cadres"]["李明"]
        )
    assert clean() == []


def test_a_payment_above_the_grant_is_refused_inside_the_paying_transaction(
    city_year: dict[str, Any],
) -> None:
    """Whatever a batch line says, the household's receipts never pass its grant."""
    services.allocate(year=2017, actor=None)
    liming = city_year["cadres"]["李明"]
    batch = services.batch_prepare(village=city_year["hongpo"], year=2017, tranche=1, actor=liming)
    BatchLine.objects.filter(batch=batch, grant__household__code="H1").update(
        amount=Decimal("1600.00")
    )  # tampered
    chain(batch, city_year, liming)
    with pytest.raises(
        ValidationError, match=r"H1 扎西：本次 1,600.00 元后累计 1,600.00 元，超过补助 1,500.00 元"
    ):
        services.payouts_record(batch=batch, actor=liming, paid_on=DAY)
    assert not Payout.objects.exists() and not Entry.objects.filter(kind="payout").exists()


def test_the_reward_is_recomputed_from_what_was_paid_when_it_is_paid(city_year: dict[str, Any]) -> None:
    services.allocate(year=2017, actor=None)
    liming = city_year["cadres"]["李明"]
    paid_tranche(city_year, 1)
    paid_tranche(city_year, 2)
    analyse(city_year, "H1", actual_species="猪", actual_quantity=Decimal(4))  # reward 300
    reward = settlement.reward_batch_prepare(village=city_year["hongpo"], year=2017, actor=liming)
    BatchLine.objects.filter(batch=reward).update(amount=Decimal("500.00"))  # stale or tampered
    advance([reward], action="submit", actor=liming)
    advance([reward], action="verify", actor=city_year["village_user"])
    from disbursements import notices

    notice = notices.notice_issue(
        kind="reward",
        year=2017,
        village=city_year["hongpo"],
        actor=city_year["village_user"],
        start=datetime.date(2017, 9, 1),
        days=10,
        batch=reward,
    )
    notices.notice_post(notice=notice, actor=city_year["village_user"], photo=jpeg_upload("p.jpg"))
    notices.notice_close(notice=notice, actor=city_year["village_user"], today=datetime.date(2017, 9, 11))
    advance([reward], action="township_review", actor=city_year["township_user"])
    advance([reward], action="city_review", actor=city_year["city_user"])
    advance([reward], action="approve", actor=city_year["approver"])
    with pytest.raises(ValidationError, match=r"以奖代补按已拨付 1,200\.00 元重新核算，应为 300\.00 元"):
        services.payouts_record(batch=reward, actor=liming, paid_on=DAY)
    assert received("H1") == Decimal("1200.00")


def test_an_inactive_household_gets_nothing_more(city_year: dict[str, Any]) -> None:
    """Was: a household assessed inactive could still get tranche 2."""
    services.allocate(year=2017, actor=None)
    paid_tranche(city_year, 1)
    t2 = paid_tranche(city_year, 2)
    analyse(city_year, "H2", assessment="inactive")
    # Tranche 2 corrected (reversed) after the assessment: it may not go out again.
    payout = Payout.objects.get(line__batch=t2, line__grant__household__code="H2")
    services.payout_reverse(payout=payout, actor=city_year["township_user"], reason="登记有误")
    with pytest.raises(ValidationError, match="没有可列入第2期"):
        services.batch_prepare(
            village=city_year["hongpo"], year=2017, tranche=2, actor=city_year["cadres"]["李明"]
        )
    money = grant.household_money([payout.line.grant.household_id], 2017)[payout.line.grant.household_id]
    assert money.reward_due() == 0
    with pytest.raises(ValidationError, match="评价为不积极"):
        grant.check_payments(
            [grant.Payment(payout.line.grant.household_id, Decimal("1.00"), grant.CASH, 2)], 2017
        )
    assert clean() == []


# --- 2. two routes for one grant --------------------------------------------------------------------


def invest(data: dict[str, Any], code: str = "H1") -> EquityInvestment:
    household = Household.objects.get(code=code)
    partner = Organisation.objects.filter(name="高原合作社").first() or make_organisation("高原合作社")
    return settlement.equity_invest(
        household=household,
        year=2017,
        partner=partner,
        agreement="2017-入股-001",
        consent_scan=pdf_upload("consent.pdf"),
        invested_on=DAY,
        actor=household.cadre,  # type: ignore[arg-type]
    )


def test_equity_and_cash_exclude_each_other(city_year: dict[str, Any]) -> None:
    services.allocate(year=2017, actor=None)
    investment = invest(city_year, "H1")
    assert received("H1") == Decimal("1500.00")
    batch = services.batch_prepare(
        village=city_year["hongpo"], year=2017, tranche=1, actor=city_year["cadres"]["李明"]
    )
    assert list(batch.lines.values_list("grant__household__code", flat=True)) == ["H2"]  # H1 took equity
    with pytest.raises(ValidationError, match="已有到户资金兑现或已列入拨付批次"):
        invest(city_year, "H2")
    # A line for the equity household slipped in (the race the lock prevents) is refused at payment.
    account = Account.objects.get(grant_household__household=investment.household)
    GrantLine.objects.create(
        line=BatchLine.objects.create(batch=batch, account=account, amount=Decimal("900.00")),
        household=investment.household,
        plan=city_year["plans"]["H1"],
        year=2017,
        tranche=1,
    )
    chain(batch, city_year, city_year["cadres"]["李明"])
    with pytest.raises(ValidationError, match="H1 扎西：该户已选择入股分红"):
        services.payouts_record(batch=batch, actor=city_year["cadres"]["李明"], paid_on=DAY)
    assert received("H1") == Decimal("1500.00") and received("H2") == 0


def test_equity_reversal_gives_the_grant_back_to_cash(city_year: dict[str, Any]) -> None:
    services.allocate(year=2017, actor=None)
    investment = invest(city_year, "H1")
    settlement.equity_reverse(investment=investment, actor=city_year["township_user"], reason="录错户")
    assert received("H1") == 0
    partner = Account.objects.get(kind="partner")
    assert ledger.balances([partner], 2017)[partner.pk] == 0
    batch = services.batch_prepare(
        village=city_year["hongpo"], year=2017, tranche=1, actor=city_year["cadres"]["李明"]
    )
    assert set(batch.lines.values_list("grant__household__code", flat=True)) == {"H1", "H2"}
    assert clean() == []


# --- 3. a cadre pays other cadres' households ---------------------------------------------------------


def test_a_cadre_records_and_sees_only_the_households_they_hold(city_year: dict[str, Any]) -> None:
    services.allocate(year=2017, actor=None)
    official = make_user(Role.VILLAGE, "hongpo_clerk")  # the 村委会 prepares; the work team verifies
    batch = services.batch_prepare(village=city_year["hongpo"], year=2017, tranche=1, actor=official)
    assert set(batch.lines.values_list("grant__household__code", flat=True)) == {"H1", "H2", "H3"}
    chain(batch, city_year, official)
    liming, wangfang = city_year["cadres"]["李明"], city_year["cadres"]["王芳"]
    result = services.payouts_record(batch=batch, actor=liming, paid_on=DAY)
    assert result.paid == 2 and not result.batch_paid
    assert set(Payout.objects.values_list("line__grant__household__code", flat=True)) == {"H1", "H2"}
    # His batch page lists his two households, not 王芳's.
    client = Client()
    client.force_login(liming)
    page = client.get(f"/admin/disbursements/batch/{batch.pk}/change/").content.decode()
    assert "<td>H1</td>" in page and "<td>H3</td>" not in page  # (a bare "H3" may be in a CSRF token)
    result = services.payouts_record(batch=batch, actor=wangfang, paid_on=DAY)
    assert result.paid == 1 and result.batch_paid
    batch.refresh_from_db()
    assert batch.status == "paid" and batch.transitions.filter(action="pay").count() == 1
    assert clean() == []


# --- 4. reversals keep records and ledger together ----------------------------------------------------


def test_a_reversed_payout_frees_the_tranche_and_the_books_agree(city_year: dict[str, Any]) -> None:
    """Was: the ledger read 0 while "paid so far" said 900 and the household could never be batched."""
    services.allocate(year=2017, actor=None)
    batch = paid_tranche(city_year, 1)
    payout = Payout.objects.get(line__batch=batch, line__grant__household__code="H1")
    with pytest.raises(ValidationError, match="请在该记录上办理冲正"):
        services.entry_reverse(entry=payout.entry, actor=city_year["city_user"], reason="试图绕过")
    with pytest.raises(ValidationError, match="冲正由乡镇或市指挥部办理"):
        services.payout_reverse(payout=payout, actor=city_year["cadres"]["李明"], reason="x")
    services.payout_reverse(payout=payout, actor=city_year["township_user"], reason="错发给同名户")
    assert received("H1") == 0 and settlement.paid_so_far(payout.line.grant.household_id, 2017) == 0
    with pytest.raises(ValidationError, match="已冲正"):
        services.payout_reverse(payout=payout, actor=city_year["township_user"], reason="再点一次")
    again = services.batch_prepare(
        village=city_year["hongpo"], year=2017, tranche=1, actor=city_year["cadres"]["李明"]
    )
    assert list(again.lines.values_list("grant__household__code", flat=True)) == ["H1"]
    chain(again, city_year, city_year["cadres"]["李明"])
    services.payouts_record(batch=again, actor=city_year["cadres"]["李明"], paid_on=DAY)
    assert received("H1") == Decimal("900.00")
    assert clean() == []


def test_later_tranches_are_reversed_first(city_year: dict[str, Any]) -> None:
    services.allocate(year=2017, actor=None)
    first = paid_tranche(city_year, 1)
    paid_tranche(city_year, 2)
    payout = Payout.objects.get(line__batch=first, line__grant__household__code="H1")
    with pytest.raises(ValidationError, match="第二期（产中）已兑现，须先冲正后一期"):
        services.payout_reverse(payout=payout, actor=city_year["township_user"], reason="x")


# --- 5. recovery orders never exceed what was paid ---------------------------------------------------


def test_recovery_orders_together_never_exceed_what_was_paid(city_year: dict[str, Any]) -> None:
    """Was: 1,200 + 1,600 ordered against 1,600 paid."""
    services.allocate(year=2017, actor=None)
    paid_tranche(city_year, 1)
    paid_tranche(city_year, 2)
    h2 = Household.objects.get(code="H2")  # 1,600 paid
    analysis = analyse(city_year, "H2", actual_species="羊", actual_quantity=Decimal(1))  # V = 400
    assert analysis.shortfall == Decimal("1200.00")
    settlement.recovery_raise(
        household=h2, year=2017, actor=city_year["village_user"], reason="部分未养", amount=Decimal("1000")
    )
    with pytest.raises(ValidationError, match=r"即 600\.00 元"):
        settlement.shortfall_decide(analysis=analysis, recover=True, actor=city_year["township_user"])
    settlement.recovery_raise(household=h2, year=2017, actor=city_year["village_user"], reason="其余部分")
    with pytest.raises(ValidationError, match="没有可收回的金额"):
        settlement.recovery_raise(household=h2, year=2017, actor=city_year["village_user"], reason="再提一次")
    assert sum(o.amount for o in RecoveryOrder.objects.filter(household=h2)) == Decimal("1600.00")
    assert clean() == []


# --- 6. a cadre change after a payout ----------------------------------------------------------------


def test_a_reassignment_after_a_payout_moves_the_rest_and_blocks_nobody(city_year: dict[str, Any]) -> None:
    """Was: allocate failed for the whole city with 余额不足; the household account kept its old cadre."""
    services.allocate(year=2017, actor=None)
    paid_tranche(city_year, 1)  # H1 900, H2 1,200 paid by 李明
    liming, wangfang = city_year["cadres"]["李明"], city_year["cadres"]["王芳"]
    h1 = Household.objects.get(code="H1")
    h1.cadre = wangfang
    household_services.household_update(household=h1, actor=city_year["township_user"])
    moved = Entry.objects.get(kind="reassignment")
    assert moved.amount == Decimal("2100.00")  # 3,000 − 900 follows H1 to 王芳
    assert services.allocate(year=2017, actor=None).moves == []  # nothing left to correct
    assert clean() == []
    # The household's account is seen by its cadre of today.
    assert not Account.objects.filter(kind="household", grant_household__household=h1, holder=liming).exists()
    batch = services.batch_prepare(village=city_year["hongpo"], year=2017, tranche=2, actor=wangfang)
    assert list(batch.lines.values_list("grant__household__code", flat=True)) == ["H1"]
    chain(batch, city_year, wangfang)
    services.payouts_record(batch=batch, actor=wangfang, paid_on=DAY)
    assert received("H1") == Decimal("1200.00")
    assert clean() == []


def test_a_roster_move_between_villages_is_rebalanced_by_allocate(city_year: dict[str, Any]) -> None:
    services.allocate(year=2017, actor=None)
    paid_tranche(city_year, 1)
    Household.objects.filter(code="H1").update(
        village=city_year["jidi"],
        cadre=city_year["cadres"]["王芳"],
        group_id=Household.objects.get(code="J1").group_id,
    )
    assert clean() != []  # the roster changed: allocations must follow
    services.allocate(year=2017, actor=None)
    assert clean() == []


# --- 7. signed means bound -----------------------------------------------------------------------------


def test_a_plan_changed_after_signing_must_be_signed_again(city_year: dict[str, Any]) -> None:
    services.allocate(year=2017, actor=None)
    liming = city_year["cadres"]["李明"]
    h1 = Household.objects.get(code="H1")
    plan = plan_services.plan_save(household=h1, year=2017, species="猪", quantity=Decimal(4), actor=liming)
    assert plan.commitment_state == "resign"
    batch = services.batch_prepare(village=city_year["hongpo"], year=2017, tranche=1, actor=liming)
    assert list(batch.lines.values_list("grant__household__code", flat=True)) == ["H2"]
    page = Client()
    page.force_login(liming)
    assert "待重新签订" in page.get(f"/cadre/households/{h1.pk}/?year=2017").content.decode()
    letter = sign(plan)
    plan = HouseholdPlan.objects.get(pk=plan.pk)
    assert letter.signed_amount == Decimal("2000.00") and plan.commitment_state == "signed"
    again = services.batch_prepare(village=city_year["hongpo"], year=2017, tranche=1, actor=liming)
    assert again.lines.get().amount == Decimal("1200.00")  # 60% of the signed 2,000


def test_an_amendment_is_approved_by_the_township_and_supersedes_the_original(
    city_year: dict[str, Any],
) -> None:
    services.allocate(year=2017, actor=None)
    liming = city_year["cadres"]["李明"]
    paid_tranche(city_year, 1)  # H1: 900 of 1,500
    original = HouseholdPlan.objects.get(household__code="H1", year=2017, amends__isnull=True)
    amendment = plan_services.plan_amend(plan=original, actor=liming)
    h1 = original.household
    with pytest.raises(ValidationError, match="只有待审批"):
        settlement.amendment_approve(amendment=original, actor=city_year["township_user"])
    amendment = plan_services.plan_save(
        household=h1, year=2017, species="猪", quantity=Decimal(1), actor=liming
    )
    assert amendment.amends_id == original.pk and amendment.grant_total == Decimal("500.00")
    sign(amendment)
    with pytest.raises(ValidationError, match=r"低于已拨付 900\.00 元"):
        settlement.amendment_approve(amendment=amendment, actor=city_year["township_user"])
    amendment = plan_services.plan_save(
        household=h1, year=2017, species="猪", quantity=Decimal(4), actor=liming
    )
    with pytest.raises(ValidationError, match="重新签订承诺书"):
        settlement.amendment_approve(amendment=amendment, actor=city_year["township_user"])
    sign(amendment)
    settlement.amendment_approve(amendment=amendment, actor=city_year["township_user"])
    original.refresh_from_db()
    amendment.refresh_from_db()
    assert original.status == PlanStatus.SUPERSEDED and amendment.status == PlanStatus.APPROVED
    batch = services.batch_prepare(village=city_year["hongpo"], year=2017, tranche=2, actor=liming)
    assert batch.lines.get(grant__household=h1).amount == Decimal("400.00")  # the amendment's tranche 2
    assert grant.household_money([h1.pk], 2017)[h1.pk].grant == Decimal("2000.00")
    assert clean() == []


# --- 8. reconcile checks households and records --------------------------------------------------------


def test_reconcile_names_a_duplicated_payout_entry_and_an_overpaid_household(
    city_year: dict[str, Any],
) -> None:
    services.allocate(year=2017, actor=None)
    paid_tranche(city_year, 1)
    paid_tranche(city_year, 2)
    assert clean() == []
    payout = Payout.objects.filter(line__grant__household__code="H1", line__grant__tranche=2).get()
    entry = payout.entry
    # A duplicated entry that stays under the grant: only the record check sees it.
    duplicate = Entry.objects.create(
        year=2017,
        fund=entry.fund,
        kind="payout",
        source=entry.source,
        target=entry.target,
        amount=entry.amount,
        memo=entry.memo,
    )
    problems = clean()
    assert any(f"分录 #{duplicate.pk}" in p and "没有对应的业务记录" in p for p in problems), problems
    Entry.objects.create(
        year=2017,
        fund=entry.fund,
        kind="payout",
        source=entry.source,
        target=entry.target,
        amount=Decimal("300.00"),
    )
    assert any("H1 扎西：累计收到 1,800.00 元，超过补助 1,500.00 元" in p for p in clean())


def test_reconcile_names_a_payout_whose_amount_was_tampered(city_year: dict[str, Any]) -> None:
    services.allocate(year=2017, actor=None)
    paid_tranche(city_year, 1)
    payout = Payout.objects.get(line__grant__household__code="H1")
    Payout.objects.filter(pk=payout.pk).update(amount=Decimal("1.00"))
    assert any(f"兑现记录 #{payout.pk}：金额 1.00 元与分录" in p for p in clean())


def test_a_payout_is_not_reversed_below_what_recovery_orders_claim(city_year: dict[str, Any]) -> None:
    services.allocate(year=2017, actor=None)
    batch = paid_tranche(city_year, 1)
    h2 = Household.objects.get(code="H2")  # 1,200 paid
    settlement.recovery_raise(household=h2, year=2017, actor=city_year["village_user"], reason="未养羊")
    payout = Payout.objects.get(line__batch=batch, line__grant__household=h2)
    with pytest.raises(ValidationError, match="已有收回通知"):
        services.payout_reverse(payout=payout, actor=city_year["township_user"], reason="录错")
    assert received("H2") == Decimal("1200.00") and clean() == []


def test_the_township_reverses_a_payout_from_the_admin_with_a_reason(city_year: dict[str, Any]) -> None:
    services.allocate(year=2017, actor=None)
    paid_tranche(city_year, 1)
    payout = Payout.objects.get(line__grant__household__code="H1")
    client = Client()
    client.force_login(city_year["township_user"])
    url = "/admin/disbursements/payout/"
    form = client.post(url, {"action": "reverse_payouts", "_selected_action": [payout.pk]})
    assert "冲正原因（必填）" in form.content.decode() and "H1" in form.content.decode()
    done = client.post(
        url,
        {"action": "reverse_payouts", "_selected_action": [payout.pk], "confirm": "yes", "reason": "错登记"},
        follow=True,
    )
    assert "已冲正 1 条" in done.content.decode()
    payout.refresh_from_db()
    assert payout.reversal_reason == "错登记" and received("H1") == 0
    # The cadre is offered no such action, and a forged POST changes nothing.
    cadre = Client()
    cadre.force_login(city_year["cadres"]["李明"])
    other = Payout.objects.get(line__grant__household__code="H2")
    cadre.post(
        url, {"action": "reverse_payouts", "_selected_action": [other.pk], "confirm": "yes", "reason": "x"}
    )
    other.refresh_from_db()
    assert not other.is_reversed and clean() == []
