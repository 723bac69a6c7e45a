"""The money invariants of issue 8 under random sequences of everything users do.

A hypothesis state machine drives plan edits, signings, amendments, batch preparation, every
approval step, send-backs, payouts, analyses, rewards (with their notices), equity, recoveries,
repayments, reversals and cadre reassignments through the services, as the roles that may do them
(and sometimes as roles that may not). Refusals are part of the game. After every step:

- no household has received more than its grant of record, nor by both routes (cash and equity);
- recovery orders together stay within what the household received;
- no account is below zero (except the funding source the city's money comes from);
- one live batch line per household and tranche;
- `reconcile` finds nothing: levels, households, records and ledger agree.

One rule dispatches to an operation drawn from a weighted list: a uniform choice among twenty
rules rarely walks far enough to pay a reward and then reverse it. The number of examples is
bounded and derandomized for CI (the same walks every run); HYPOTHESIS_MONEY_EXAMPLES=500 makes
a long random run.
"""

from __future__ import annotations

import datetime
import os
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from disbursements import ledger, notices
from disbursements.approval import BATCH_KINDS, advance, send_back
from disbursements.models import Account, Batch, Payout
from households import services as household_services
from households.models import Household, Organisation, Role, User, Village
from subsidies import services as plan_services
from subsidies.models import (
    EquityInvestment,
    GrantLine,
    HouseholdPlan,
    RecoveryOrder,
    RecoveryRepayment,
)
from subsidies.money import guard as grant
from subsidies.money import services, settlement

from ..factories import city_year_rows, jpeg_upload, make_organisation, make_user, pdf_upload, sign

pytestmark = pytest.mark.django_db

YEAR = 2017
DAY = datetime.date(2017, 6, 1)
SPECIES = [("猪", 1), ("猪", 3), ("羊", 6), ("鸡", 55), ("中蜂", 4), ("牦牛", 1)]

# How often each operation is drawn: the path to money (prepare → chain → pay) is drawn most.
OPERATIONS = (
    ["cycle"] * 6
    + ["prepare"] * 3
    + ["push_through"] * 3
    + ["pay"] * 3
    + ["step"] * 2
    + ["send_back"]
    + ["edit_plan"]
    + ["sign_letter"] * 2
    + ["amend_plan"]
    + ["analyse"] * 5
    + ["prepare_reward"] * 2
    + ["invest"]
    + ["raise_recovery"] * 2
    + ["approve_recovery"]
    + ["repay"] * 2
    + ["reverse_payout"] * 2
    + ["reverse_repayment"]
    + ["reverse_equity"]
    + ["reassign"]
)
DONE: Counter[str] = Counter()


def next_step(batch: Batch) -> Any:
    return BATCH_KINDS[batch.kind].next_step(batch.status)  # what the walks managed to do (printed with -s)


class Money(RuleBasedStateMachine):
    """One small city per example, rolled back afterwards (a savepoint inside the test's transaction)."""

    world: dict[str, Any] = {}

    def __init__(self) -> None:
        super().__init__()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        services.allocate(year=YEAR, actor=None)

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    @rule(op=st.sampled_from(OPERATIONS), a=st.integers(0, 30), b=st.integers(0, 30))
    def act(self, op: str, a: int, b: int) -> None:
        getattr(self, op)(a, b)

    # --- helpers -------------------------------------------------------------------------------

    @property
    def w(self) -> dict[str, Any]:
        return self.world

    def attempt(self, name: str, call: Any) -> bool:
        """A user action: either it happens whole, or it is refused and changes nothing."""
        try:
            with transaction.atomic():
                call()
        except ValidationError:
            return False
        DONE[name] += 1
        return True

    def household(self, index: int) -> Household:
        households = self.w["households"]
        return Household.objects.select_related("village").get(pk=households[index % len(households)])

    def pick(self, queryset: Any, index: int) -> Any:
        rows = list(queryset.order_by("pk"))
        return rows[index % len(rows)] if rows else None

    def holder(self, household: Household) -> User:
        return household.cadre or self.w["clerk"][household.village_id]

    def official(self, action: str, batch: Batch) -> User:
        if action == "submit":
            return batch.created_by
        if action == "verify":
            return self.w["verifier"][batch.village_id]
        officials = {"township_review": "township", "city_review": "city", "approve": "approver"}
        chosen = self.w[officials[action]]
        return chosen[0] if isinstance(chosen, list) else chosen

    # --- plans and letters ---------------------------------------------------------------------

    def edit_plan(self, h: int, s: int) -> None:
        """The cadre changes a draft plan: a letter signed before no longer binds it."""
        household = self.household(h)
        species, quantity = SPECIES[s % len(SPECIES)]
        self.attempt(
            "edit_plan",
            lambda: plan_services.plan_save(
                household=household,
                year=YEAR,
                species=species,
                quantity=Decimal(quantity),
                actor=self.holder(household),
            ),
        )

    def sign_letter(self, h: int, _: int) -> None:
        household = self.household(h)
        plan = plan_services.live_plan(household, YEAR)
        if plan is not None and household.cadre is not None:
            self.attempt("sign_letter", lambda: sign(plan))

    def amend_plan(self, h: int, s: int) -> None:
        household = self.household(h)
        plan = grant.plans_of_record([household.pk], YEAR).get(household.pk)
        if plan is None or household.cadre is None:
            return
        species, quantity = SPECIES[s % len(SPECIES)]
        cadre = household.cadre

        def amend() -> None:
            plan_services.plan_amend(plan=plan, actor=cadre)
            amendment = plan_services.plan_save(
                household=household, year=YEAR, species=species, quantity=Decimal(quantity), actor=cadre
            )
            sign(amendment)
            settlement.amendment_approve(amendment=amendment, actor=self.w["township"][0])

        self.attempt("amend_plan", amend)

    # --- batches through the chain -------------------------------------------------------------

    def prepare(self, v: int, how: int) -> None:
        village = self.w["villages"][v % 2]
        tranche = 1 + how % 2
        actor = self.w["cadres"][v % 2] if how % 3 == 2 else self.w["clerk"][village.pk]
        self.attempt(
            f"prepare t{tranche}",
            lambda: services.batch_prepare(village=village, year=YEAR, tranche=tranche, actor=actor),
        )

    def prepare_reward(self, v: int, how: int) -> None:
        village = self.w["villages"][v % 2]
        actor = self.w["cadres"][0] if how % 3 == 2 else self.w["clerk"][village.pk]
        self.attempt(
            "prepare reward", lambda: settlement.reward_batch_prepare(village=village, year=YEAR, actor=actor)
        )

    def step(self, b: int, wrong: int) -> None:
        batch = self.pick(Batch.objects.exclude(status__in=["approved", "paid"]), b)
        if batch is None:
            return
        step = next_step(batch)
        actor = self.w["cadres"][0] if wrong % 4 == 3 else self.official(step.action, batch)
        self.attempt("step", lambda: advance([batch], action=step.action, actor=actor))

    def push_through(self, b: int, _: int) -> None:
        """The rest of the chain at once for one batch, with its 公示 for a reward."""
        batch = self.pick(Batch.objects.exclude(status__in=["approved", "paid"]), b)
        while batch is not None and batch.status not in ("approved", "paid"):
            if batch.kind == "grant_reward" and batch.status == "verified" and not batch.notices.exists():
                self.publish_reward_notice(batch)
            if not self.advance_one(batch):
                return
            batch.refresh_from_db()

    def advance_one(self, batch: Batch) -> bool:
        action = next_step(batch).action
        return self.attempt(
            action, lambda: advance([batch], action=action, actor=self.official(action, batch))
        )

    def cycle(self, v: int, how: int) -> None:
        """A tranche (or the reward) from preparation to payment, as one busy week in a village."""
        before = set(Batch.objects.values_list("pk", flat=True))
        if how % 3 == 2:
            self.prepare_reward(v, how)
        else:
            self.prepare(v, how)
        for batch in Batch.objects.exclude(pk__in=before):
            self.push_through(
                list(Batch.objects.exclude(status__in=["approved", "paid"]).order_by("pk")).index(batch), 0
            )
            batch.refresh_from_db()
            if batch.status == "approved":
                self.pay(list(Batch.objects.filter(status="approved").order_by("pk")).index(batch), how)

    def publish_reward_notice(self, batch: Batch) -> None:
        official = self.w["verifier"][batch.village_id]

        def publish() -> None:
            notice = notices.notice_issue(
                kind="reward",
                year=YEAR,
                village=batch.village,
                actor=official,
                start=DAY,
                days=7,
                batch=batch,
            )
            notices.notice_post(notice=notice, actor=official, photo=jpeg_upload("p.jpg"))
            notices.notice_close(notice=notice, actor=official, today=DAY + datetime.timedelta(days=8))

        self.attempt("notice", publish)

    def send_back(self, b: int, _: int) -> None:
        batch = self.pick(Batch.objects.exclude(status__in=["draft", "paid"]), b)
        if batch is None:
            return
        waiting = next_step(batch)
        # An approved batch waits for its payment, but only the approvers may send it back.
        actor = self.w["approver"] if batch.status == "approved" else self.official(waiting.action, batch)
        if batch.status == "prepared":
            actor = self.w["verifier"][batch.village_id]
        self.attempt("send_back", lambda: send_back([batch], actor=actor, reason="随机退回"))

    def pay(self, b: int, who: int) -> None:
        batch = self.pick(Batch.objects.filter(status="approved"), b)
        if batch is None:
            return
        actor = [
            self.w["clerk"][batch.village_id],
            self.w["clerk"][batch.village_id],
            self.w["cadres"][0],
            self.w["cadres"][1],
            self.w["township"][0],
        ][who % 5]
        self.attempt(
            f"pay {batch.kind}", lambda: services.payouts_record(batch=batch, actor=actor, paid_on=DAY)
        )

    # --- settlement, equity, recovery ------------------------------------------------------------

    def analyse(self, h: int, q: int) -> None:
        household = self.household(h)
        plan = grant.plans_of_record([household.pk], YEAR).get(household.pk)
        if plan is None or household.cadre is None:
            return
        self.attempt(
            "analyse",
            lambda: settlement.analysis_record(
                plan=plan,
                actor=household.cadre,  # type: ignore[arg-type]
                actual_planting_area=Decimal(0),
                actual_species=plan.species,
                actual_quantity=Decimal(q % 9),
                sales_income=Decimal("3000"),
                costs=Decimal("800"),
                assessment="inactive" if q % 4 == 0 else "active",
            ),
        )

    def invest(self, h: int, _: int) -> None:
        household = self.household(h)
        self.attempt(
            "invest",
            lambda: settlement.equity_invest(
                household=household,
                year=YEAR,
                partner=Organisation.objects.get(pk=self.w["partner"].pk),
                agreement="入股协议",
                consent_scan=pdf_upload("consent.pdf"),
                invested_on=DAY,
                actor=self.holder(household),
            ),
        )

    def raise_recovery(self, h: int, a: int) -> None:
        household = self.household(h)
        official = self.w["clerk"][household.village_id]
        amount = [None, Decimal("100.00"), Decimal("2500.00")][a % 3]
        self.attempt(
            "raise_recovery",
            lambda: settlement.recovery_raise(
                household=household, year=YEAR, actor=official, reason="随机", amount=amount
            ),
        )

    def approve_recovery(self, o: int, _: int) -> None:
        order = self.pick(RecoveryOrder.objects.filter(status="raised"), o)
        if order is not None:
            self.attempt(
                "approve_recovery",
                lambda: settlement.recovery_approve(order=order, actor=self.w["township"][1]),
            )

    def repay(self, o: int, a: int) -> None:
        order = self.pick(RecoveryOrder.objects.filter(status="approved"), o)
        amount = [Decimal("50.00"), Decimal("700.00"), Decimal("3000.00")][a % 3]
        if order is not None:
            self.attempt(
                "repay",
                lambda: settlement.recovery_repay(
                    order=order, amount=amount, received_on=DAY, actor=self.w["township"][0]
                ),
            )

    # --- corrections ---------------------------------------------------------------------------

    def reverse_payout(self, p: int, _: int) -> None:
        payout = self.pick(Payout.objects.filter(reversed_at__isnull=True), p)
        if payout is not None:
            self.attempt(
                "reverse_payout",
                lambda: services.payout_reverse(
                    payout=payout, actor=self.w["township"][0], reason="随机冲正"
                ),
            )

    def reverse_repayment(self, p: int, _: int) -> None:
        repayment = self.pick(RecoveryRepayment.objects.filter(reversed_at__isnull=True), p)
        if repayment is not None:
            self.attempt(
                "reverse_repayment",
                lambda: settlement.repayment_reverse(
                    repayment=repayment, actor=self.w["city"], reason="随机冲正"
                ),
            )

    def reverse_equity(self, p: int, _: int) -> None:
        investment = self.pick(EquityInvestment.objects.filter(reversed_at__isnull=True), p)
        if investment is not None:
            self.attempt(
                "reverse_equity",
                lambda: settlement.equity_reverse(
                    investment=investment, actor=self.w["township"][0], reason="随机冲正"
                ),
            )

    def reassign(self, h: int, c: int) -> None:
        household = self.household(h)
        household.cadre = self.w["cadres"][c % 2]
        self.attempt(
            "reassign",
            lambda: household_services.household_update(household=household, actor=self.w["township"][0]),
        )
        if c % 3 == 0:  # a second allocation finds nothing to correct
            self.attempt("allocate", lambda: services.allocate(year=YEAR, actor=self.w["city"]))

    # --- what must always hold -----------------------------------------------------------------

    @invariant()
    def households_within_their_grants(self) -> None:
        for money in grant.household_money(self.w["households"], YEAR).values():
            assert money.received <= money.grant, money.label
            assert not (money.cash and money.equity), money.label
            assert money.ordered <= money.received, money.label

    @invariant()
    def no_account_below_zero(self) -> None:
        accounts = [a for a in Account.objects.all() if not ledger.may_go_negative(a)]
        balances = ledger.balances(accounts, YEAR)
        assert all(balances[a.pk] >= 0 for a in accounts), [(str(a), balances[a.pk]) for a in accounts]

    @invariant()
    def one_live_line_per_household_tranche(self) -> None:
        live = list(
            GrantLine.objects.filter(cancelled_at__isnull=True).values_list("household_id", "tranche")
        )
        assert len(live) == len(set(live))

    @invariant()
    def reconcile_is_clean(self) -> None:
        problems = services.reconcile(year=YEAR)[1]
        assert problems == [], problems


def build_world(import_rows: Any) -> dict[str, Any]:
    """红坡村 (H1, H2 李明; H3 王芳) and 吉迪村 (J1, J2 王芳) of 建塘镇, with plans, all signed."""
    assert import_rows(city_year_rows()).ok
    liming = User.objects.get(role=Role.CADRE, name="李明")
    wangfang = User.objects.get(role=Role.CADRE, name="王芳")
    hongpo, jidi = Village.objects.get(name="红坡村"), Village.objects.get(name="吉迪村")
    households = list(
        Household.objects.filter(code__in=["H1", "H2", "H3", "J1", "J2"])
        .order_by("code")
        .values_list("pk", flat=True)
    )
    for pk, (species, quantity) in zip(
        households, [SPECIES[1], SPECIES[2], SPECIES[3], SPECIES[4], SPECIES[1]], strict=True
    ):
        household = Household.objects.get(pk=pk)
        plan = plan_services.plan_save(
            household=household,
            year=YEAR,
            species=species,
            quantity=Decimal(quantity),
            actor=household.cadre,  # type: ignore[arg-type]
        )
        sign(plan)
    return {
        "households": households,
        "villages": [hongpo, jidi],
        "cadres": [liming, wangfang],
        "clerk": {v.pk: make_user(Role.VILLAGE, f"clerk{v.pk}", village=v) for v in (hongpo, jidi)},
        "verifier": {v.pk: make_user(Role.VILLAGE, f"team{v.pk}", village=v) for v in (hongpo, jidi)},
        "township": [make_user(Role.TOWNSHIP, "jiantang_a"), make_user(Role.TOWNSHIP, "jiantang_b")],
        "city": make_user(Role.CITY, "city_hq"),
        "approver": make_user(Role.APPROVER, "leader"),
        "partner": make_organisation("高原特色农产品专业合作社"),
    }


def test_money_invariants_hold_under_random_operations(import_rows: Any) -> None:
    Money.world = build_world(import_rows)
    DONE.clear()
    run_state_machine_as_test(
        Money,
        settings=settings(
            max_examples=int(os.environ.get("HYPOTHESIS_MONEY_EXAMPLES", "20")),
            # The same walks on every CI run (a long random run: set HYPOTHESIS_MONEY_EXAMPLES).
            derandomize="HYPOTHESIS_MONEY_EXAMPLES" not in os.environ,
            stateful_step_count=40,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            database=None,
        ),
    )
    print(sorted(DONE.items()))
    # The walks did reach money: payouts of both tranches, and corrections of them.
    assert DONE["pay grant_t1"] and DONE["pay grant_t2"] and DONE["reverse_payout"], DONE


def test_one_walk_reaches_rewards_recoveries_equity_and_reversals(import_rows: Any) -> None:
    """A fixed walk through the same operations: every kind of money state can be reached."""
    Money.world = build_world(import_rows)
    machine = Money()
    try:
        for tranche in (1, 2):
            machine.prepare(0, tranche - 1)  # the 红坡村 clerk prepares tranche 1, then 2
            machine.push_through(0, 0)
            machine.pay(0, 0)
        assert Payout.objects.filter(reversed_at__isnull=True).count() == 6  # H1 H2 H3 × 2 tranches
        machine.analyse(0, 5)  # H1 active, 5 pigs verified: reward 1,500 − 1,200 = 300
        machine.analyse(1, 4)  # H2 inactive
        machine.prepare_reward(0, 0)
        machine.push_through(0, 0)
        machine.pay(0, 0)
        assert Payout.objects.filter(line__grant__tranche=3).count() == 1
        machine.raise_recovery(1, 0)  # H2: everything paid
        machine.approve_recovery(0, 0)
        machine.repay(0, 1)
        machine.reverse_repayment(0, 0)
        machine.invest(3, 0)  # J1 (王芳) takes equity
        machine.reassign(2, 0)  # H3 → 李明, then allocate
        machine.reverse_equity(0, 0)
        machine.reverse_payout(0, 0)
        assert EquityInvestment.objects.filter(reversed_at__isnull=False).count() == 1
        assert RecoveryRepayment.objects.filter(reversed_at__isnull=False).count() == 1
        assert HouseholdPlan.objects.filter(year=YEAR).count() == 5
        machine.households_within_their_grants()
        machine.no_account_below_zero()
        machine.reconcile_is_clean()
    finally:
        machine.teardown()
