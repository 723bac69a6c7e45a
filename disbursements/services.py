"""Money services: allocation down the levels, reconciliation, payout batches and payouts.

All money moves through `ledger.post`; all batch steps through `approval.advance`.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from households.models import Household, User, Village
from households.scoping import scoped
from subsidies.models import HouseholdPlan, PlanStatus, Policy
from subsidies.rules import to_fen

from . import ledger
from .approval import Step
from .models import Account, Batch, BatchLine, Entry, EquityInvestment, Payout

ZERO = Decimal("0.00")

MSG_TRANCHE3 = "第三期（产后）资金通过产后结算（以奖代补）拨付，不能直接建批次。"
MSG_NO_LINES = "{village} 没有可列入第{tranche}期的户（须有产业计划，且未列入过该期{extra}）。"
MSG_NOT_APPROVED = "批次尚未审批通过，不能兑现。"
MSG_ALL_PAID = "本批次已全部兑现，没有重复支付。"
MSG_PAY_ROLE = "兑现须由挂包干部或村委会登记。"
MSG_PREPARE_ROLE = "批次由挂包干部或村委会准备。"


# --- eligibility for allocation ------------------------------------------------------------------


def eligible_households(year: int) -> Any:
    policy = Policy.objects.filter(year=year).first()
    if policy is None:
        raise ValidationError(f"{year} 年度没有扶持政策。")
    condition = Q(exit_year=policy.eligible_exit_year)
    if policy.consolidation_exit_year:
        condition |= Q(exit_year=policy.consolidation_exit_year, consolidation=True)
    return Household.objects.filter(condition), policy.household_cap


# --- allocation -----------------------------------------------------------------------------------


@dataclass
class AllocationResult:
    year: int
    households: int = 0
    target_total: Decimal = ZERO
    moves: list[ledger.Move] = field(default_factory=list)
    posted: int = 0

    @property
    def amount_moved(self) -> Decimal:
        return sum((m.amount for m in self.moves), ZERO)


def _net_allocated(year: int) -> dict[int, Decimal]:
    """Per account: allocations received minus allocations returned (funding counts for the city)."""
    net: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for kind, field_name, sign in (
        (Entry.Kind.FUNDING, "target_id", 1),
        (Entry.Kind.ALLOCATION, "target_id", 1),
        (Entry.Kind.ALLOCATION_RETURN, "source_id", -1),
    ):
        for account_id, amount in ledger.totals_by(kind, year, field_name).items():
            net[account_id] += sign * amount
    return net


@transaction.atomic
def allocate(*, year: int, actor: User | None, dry_run: bool = False) -> AllocationResult:
    """City → townships → villages → cadres, 3,000 × eligible households at each level.

    Idempotent: compares with what the ledger already shows and posts only the difference (a
    negative difference is returned up, as 调减上缴). A dry run computes the same moves, posts none.
    """
    households, per_household = eligible_households(year)
    rows = list(households.values_list("village__township_id", "village_id", "cadre_id"))
    result = AllocationResult(year=year, households=len(rows))
    per_township: dict[int, int] = defaultdict(int)
    per_village: dict[int, int] = defaultdict(int)
    per_cadre: dict[tuple[int, int], int] = defaultdict(int)
    for township_id, village_id, cadre_id in rows:
        per_township[township_id] += 1
        per_village[village_id] += 1
        if cadre_id:
            per_cadre[(cadre_id, village_id)] += 1
    result.target_total = to_fen(per_household * len(rows))

    funding, city = ledger.funding_account(), ledger.city_account()
    townships, villages = ledger.township_accounts(), ledger.village_accounts()
    cadres = ledger.cadre_accounts(per_cadre.keys()) if per_cadre else {}
    # Cadre accounts that hold money but no longer any eligible household must give it back too.
    for account in Account.objects.filter(kind=Account.Kind.CADRE).exclude(
        pk__in=[a.pk for a in cadres.values()]
    ):
        cadres[(account.cadre_id, account.village_id)] = account  # type: ignore[index]
    village_township = dict(Village.objects.values_list("pk", "township_id"))
    net = _net_allocated(year)

    down: list[ledger.Move] = []
    up: list[ledger.Move] = []

    def settle(parent: Account, child: Account, count: int, kind: str = Entry.Kind.ALLOCATION) -> None:
        difference = to_fen(per_household * count) - net[child.pk]
        memo = f"{year}年度到户产业扶持资金（{count} 户 × {per_household:,.2f} 元）"
        if difference > 0:
            down.append(ledger.Move(parent, child, difference, kind, memo))
        elif difference < 0:
            back = Entry.Kind.ALLOCATION_RETURN
            up.append(ledger.Move(child, parent, -difference, back, "户数调减，资金上缴：" + memo))

    settle(funding, city, len(rows), Entry.Kind.FUNDING)
    for township_id, account in townships.items():
        settle(city, account, per_township.get(township_id, 0))
    for village_id, account in villages.items():
        settle(townships[village_township[village_id]], account, per_village.get(village_id, 0))
    for (cadre_id, village_id), account in cadres.items():
        settle(villages[village_id], account, per_cadre.get((cadre_id, village_id), 0))

    # Returns go bottom-up first (cadre → village → township → city → funding), then new money down.
    level: dict[str, int] = {"cadre": 0, "village": 1, "township": 2, "city": 3}
    up.sort(key=lambda m: level.get(m.source.kind, 9))
    result.moves = up + down
    if result.moves and not dry_run:
        if up:
            ledger.post(up, year=year, actor=actor)
        result.posted = len(ledger.post(down, year=year, actor=actor)) + len(up)
    if dry_run:
        transaction.set_rollback(True)  # accounts created on the way are not kept either
    return result


# --- reconciliation -----------------------------------------------------------------------------


@dataclass
class Level:
    name: str
    allocated: Decimal = ZERO
    passed_on: Decimal = ZERO
    paid: Decimal = ZERO
    recovered: Decimal = ZERO
    held: Decimal = ZERO
    paid_here: Decimal = ZERO  # paid from this level's own purse (villages: their cadres)
    expected: Decimal = ZERO  # 应拨: 3,000 × the eligible households on today's roster
    children: list[Level] = field(default_factory=list)

    @property
    def difference(self) -> Decimal:
        return self.allocated - self.passed_on - self.paid_here - self.held


def reconcile(*, year: int) -> tuple[Level, list[str]]:
    """City, townships and villages: allocated = passed on + paid to households + held, to the fen.

    A village's purse includes its cadres' accounts (cadres hand the cash to households), so a
    village's `paid` is what its cadres paid and its `held` what the village and its cadres hold.
    Townships and the city pay no household directly: their `paid` shows what was paid below
    them, and their own identity is allocated = passed on + held.
    Returns the tree and the list of differences in Chinese (empty when everything balances).
    """
    accounts = list(Account.objects.select_related("township", "village"))
    balance = ledger.balances(accounts, year)
    by_kind: dict[str, list[Account]] = defaultdict(list)
    for account in accounts:
        by_kind[account.kind].append(account)
    incoming: dict[tuple[int, str], Decimal] = defaultdict(lambda: ZERO)
    outgoing: dict[tuple[int, str], Decimal] = defaultdict(lambda: ZERO)
    for source_id, target_id, amount, kind, reverses_kind in Entry.objects.filter(year=year).values_list(
        "source_id", "target_id", "amount", "kind", "reverses__kind"
    ):
        effective = reverses_kind if kind == Entry.Kind.REVERSAL else kind
        sign = -1 if kind == Entry.Kind.REVERSAL else 1
        if (
            kind == Entry.Kind.REVERSAL
        ):  # a reversal undoes the original: count it against the original's sides
            source_id, target_id = target_id, source_id
        amount = to_fen(amount) * sign
        outgoing[(source_id, effective)] += amount
        incoming[(target_id, effective)] += amount

    def alloc_in(pk: int) -> Decimal:
        return (
            incoming[(pk, Entry.Kind.FUNDING)]
            + incoming[(pk, Entry.Kind.ALLOCATION)]
            - outgoing[(pk, Entry.Kind.ALLOCATION_RETURN)]
        )

    def alloc_out(pk: int) -> Decimal:
        return outgoing[(pk, Entry.Kind.ALLOCATION)] - incoming[(pk, Entry.Kind.ALLOCATION_RETURN)]

    def paid_out(pk: int) -> Decimal:
        return outgoing[(pk, Entry.Kind.PAYOUT)] + outgoing[(pk, Entry.Kind.EQUITY)]

    cadres_by_village: dict[int, list[Account]] = defaultdict(list)
    for account in by_kind[Account.Kind.CADRE]:
        cadres_by_village[account.village_id].append(account)  # type: ignore[index]
    recovered_by_township: dict[int, Decimal] = defaultdict(lambda: ZERO)
    recovered_by_village: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for account in by_kind[Account.Kind.HOUSEHOLD]:
        amount = outgoing[(account.pk, Entry.Kind.RECOVERY)]
        recovered_by_township[account.township_id] += amount  # type: ignore[index]
        recovered_by_village[account.village_id] += amount  # type: ignore[index]

    expected_township: dict[int, Decimal] = defaultdict(lambda: ZERO)
    expected_village: dict[int, Decimal] = defaultdict(lambda: ZERO)
    try:
        eligible, per_household = eligible_households(year)
    except ValidationError:
        eligible, per_household = Household.objects.none(), ZERO
    for township_id, village_id in eligible.values_list("village__township_id", "village_id"):
        expected_township[township_id] += per_household
        expected_village[village_id] += per_household

    city_account = next(iter(by_kind[Account.Kind.CITY]), None)
    city = Level("香格里拉市")
    city.expected = sum(expected_township.values(), ZERO)
    if city_account is not None:
        city.allocated, city.passed_on = alloc_in(city_account.pk), alloc_out(city_account.pk)
        city.held = balance[city_account.pk]
    villages_by_township: dict[int, list[Account]] = defaultdict(list)
    for account in by_kind[Account.Kind.VILLAGE]:
        villages_by_township[account.township_id].append(account)  # type: ignore[index]
    for account in sorted(by_kind[Account.Kind.TOWNSHIP], key=lambda a: a.township.code):  # type: ignore[union-attr]
        township = Level(account.township.name)  # type: ignore[union-attr]
        township.allocated, township.passed_on = alloc_in(account.pk), alloc_out(account.pk)
        township.held = balance[account.pk]
        township.recovered = recovered_by_township[account.township_id]  # type: ignore[index]
        township.expected = expected_township[account.township_id]  # type: ignore[index]
        township_villages = villages_by_township[account.township_id]  # type: ignore[index]
        for village_account in sorted(township_villages, key=lambda a: a.village.code):  # type: ignore[union-attr]
            purse = [village_account, *cadres_by_village[village_account.village_id]]  # type: ignore[index]
            village = Level(village_account.village.name)  # type: ignore[union-attr]
            village.allocated = alloc_in(village_account.pk)
            village.paid = village.paid_here = sum((paid_out(a.pk) for a in purse), ZERO)
            village.held = sum((balance[a.pk] for a in purse), ZERO)
            village.recovered = recovered_by_village[village_account.village_id]  # type: ignore[index]
            village.expected = expected_village[village_account.village_id]  # type: ignore[index]
            township.paid += village.paid
            township.children.append(village)
        city.paid += township.paid
        city.recovered += township.recovered
        city.children.append(township)

    problems: list[str] = []
    for level in [city, *city.children, *(v for t in city.children for v in t.children)]:
        if level.allocated != level.expected:
            problems.append(
                f"{level.name}：应拨 {level.expected} 元（按现有花名册），实拨 {level.allocated} 元，"
                f"差 {level.expected - level.allocated} 元（请核实，或重新运行 allocate）"
            )
        if level.held < 0:
            problems.append(f"{level.name}：结存为负 {level.held} 元")
        if level.difference != 0:
            problems.append(
                f"{level.name}：下拨 {level.allocated} ≠ 转拨 {level.passed_on} + 兑现 {level.paid_here}"
                f" + 结存 {level.held}，差 {level.difference} 元"
            )
    township_total = sum((t.allocated for t in city.children), ZERO)
    if township_total != city.passed_on:
        problems.append(
            f"市转拨 {city.passed_on} 元，各乡镇收到 {township_total} 元，"
            f"差 {city.passed_on - township_total} 元"
        )
    for township in city.children:
        received = sum((v.allocated for v in township.children), ZERO)
        if received != township.passed_on:
            problems.append(
                f"{township.name}转拨 {township.passed_on} 元，各村收到 {received} 元，"
                f"差 {township.passed_on - received} 元"
            )
    return city, problems


# --- batches ------------------------------------------------------------------------------------


@transaction.atomic
def batch_prepare(*, village: Village, year: int, tranche: int, actor: User) -> Batch:
    """A batch of the village's households (those the actor may see) for one tranche.

    Tranche 1 takes households with a plan of record and freezes those plans (they enter the
    approval chain); tranche 2 only households whose tranche 1 is paid; tranche 3 goes through
    settlement. A household already in a batch for that tranche is not taken again.
    """
    if actor.role not in ("cadre", "village"):
        raise ValidationError(MSG_PREPARE_ROLE)
    if tranche == 3:
        raise ValidationError(MSG_TRANCHE3)
    if tranche not in (1, 2):
        raise ValidationError("期次应为 1 或 2。")
    if not scoped(Village.objects.filter(pk=village.pk), actor).exists():
        raise ValidationError("该村不在您的管辖范围内。")
    households = scoped(Household.objects.filter(village=village), actor)
    plans = (
        HouseholdPlan.objects.filter(household__in=households, year=year, amends__isnull=True)
        .exclude(status=PlanStatus.SUPERSEDED)
        .exclude(household_id__in=BatchLine.objects.filter(year=year, tranche=tranche).values("household_id"))
        .exclude(household_id__in=EquityInvestment.objects.filter(year=year).values("household_id"))
    )
    extra = ""
    if tranche == 2:
        plans = plans.filter(
            household_id__in=Payout.objects.filter(year=year, tranche=1).values("household_id")
        )
        extra = "，且第一期已兑现"
    plans_list = list(plans.only("pk", "household_id", "tranche1", "tranche2", "status"))
    if not plans_list:
        raise ValidationError(MSG_NO_LINES.format(village=village.name, tranche=tranche, extra=extra))
    amount_field = f"tranche{tranche}"
    lines = [
        BatchLine(
            household_id=p.household_id, plan=p, year=year, tranche=tranche, amount=getattr(p, amount_field)
        )
        for p in plans_list
        if getattr(p, amount_field) > 0
    ]
    if not lines:
        raise ValidationError(MSG_NO_LINES.format(village=village.name, tranche=tranche, extra=extra))
    batch = Batch.objects.create(
        year=year,
        tranche=tranche,
        village=village,
        created_by=actor,
        total=sum((line.amount for line in lines), ZERO),
        line_count=len(lines),
    )
    for line in lines:
        line.batch = batch
    try:
        with transaction.atomic():
            BatchLine.objects.bulk_create(lines)
    except IntegrityError:
        raise ValidationError("有户已被另一批次列入，请刷新后重试。") from None
    if tranche == 1:  # the plans enter the approval chain: from here on they change only by amendment
        HouseholdPlan.objects.filter(pk__in=[p.pk for p in plans_list], status=PlanStatus.DRAFT).update(
            status=PlanStatus.SUBMITTED, updated_at=timezone.now()
        )
    return batch


# The step after the village's (the township's review) waits for the notice of batches that need one.
NOTICE_GATED_STEP = "township_review"


def before_step(batches: list[Batch], *, step: Step) -> None:
    """Conditions beyond order and roles: a 以奖代补 batch passes the township only after its 公示."""
    if step.action == NOTICE_GATED_STEP:
        from .notices import batches_blocked_by_notices

        problems = batches_blocked_by_notices(batches)
        if problems:
            raise ValidationError("；".join(problems))


def after_step(batches: list[Batch], *, step: Step, actor: User) -> None:
    """What a completed step means beyond the batch: approval of tranche 1 approves the plans."""
    if step.action == "approve":
        first = [b.pk for b in batches if b.tranche == 1]
        if first:
            plan_ids = BatchLine.objects.filter(batch_id__in=first).values("plan_id")
            HouseholdPlan.objects.filter(pk__in=plan_ids, status=PlanStatus.SUBMITTED).update(
                status=PlanStatus.APPROVED, updated_at=timezone.now()
            )


# --- payouts ------------------------------------------------------------------------------------


@dataclass
class PayoutResult:
    paid: int
    amount: Decimal
    batch_paid: bool


@transaction.atomic
def payouts_record(
    *,
    batch: Batch,
    actor: User,
    paid_on: datetime.date,
    method: str = Payout.Method.CASH,
    households: Iterable[int] | None = None,
) -> PayoutResult:
    """Record the handing over of the batch's money (all lines, or those of `households`).

    One transaction; the batch row is locked, so a double click or a retried request waits and
    then finds the lines paid; the unique (household, year, tranche) constraint backs this up.
    """
    if actor.role not in ("cadre", "village"):
        raise ValidationError(MSG_PAY_ROLE)
    locked = (
        scoped(Batch.objects.select_for_update(no_key=True, of=("self",)), actor).filter(pk=batch.pk).first()
    )
    if locked is None:
        raise ValidationError("该批次不在您的管辖范围内。")
    if locked.status not in (Batch.Status.APPROVED,):
        raise ValidationError(MSG_ALL_PAID if locked.status == Batch.Status.PAID else MSG_NOT_APPROVED)
    lines = BatchLine.objects.filter(batch=locked, payout__isnull=True).select_related("household__village")
    if households is not None:
        lines = lines.filter(household_id__in=list(households))
    lines_list = list(lines)
    if not lines_list:
        raise ValidationError(MSG_ALL_PAID)
    if locked.tranche == 2:
        missing = {line.household_id for line in lines_list} - set(
            Payout.objects.filter(
                year=locked.year, tranche=1, household_id__in=[x.household_id for x in lines_list]
            ).values_list("household_id", flat=True)
        )
        if missing:
            raise ValidationError("有户第一期尚未兑现，不能兑现第二期。")

    household_accounts = ledger.household_accounts([line.household for line in lines_list])
    cadre_pairs = {
        (line.household.cadre_id, line.household.village_id) for line in lines_list if line.household.cadre_id
    }
    cadre_accounts = ledger.cadre_accounts(cadre_pairs) if cadre_pairs else {}
    village_accounts = ledger.village_accounts()
    moves = []
    for line in lines_list:
        household = line.household
        source = (
            cadre_accounts[(household.cadre_id, household.village_id)]
            if household.cadre_id
            else village_accounts[household.village_id]
        )
        memo = f"{line.year}年第{line.tranche}期到户资金（{'现金' if method == 'cash' else '银行转账'}）"
        moves.append(
            ledger.Move(source, household_accounts[household.pk], line.amount, Entry.Kind.PAYOUT, memo)
        )
    entries = ledger.post(moves, year=locked.year, actor=actor)
    try:
        with transaction.atomic():
            Payout.objects.bulk_create(
                [
                    Payout(
                        line=line,
                        household_id=line.household_id,
                        year=line.year,
                        tranche=line.tranche,
                        amount=line.amount,
                        entry=entry,
                        method=method,
                        paid_on=paid_on,
                        paid_by=actor,
                    )
                    for line, entry in zip(lines_list, entries, strict=True)
                ]
            )
    except IntegrityError:
        raise ValidationError(MSG_ALL_PAID) from None
    remaining = BatchLine.objects.filter(batch=locked, payout__isnull=True).exists()
    if not remaining:
        from .models import Transition

        Batch.objects.filter(pk=locked.pk, status=Batch.Status.APPROVED).update(
            status=Batch.Status.PAID, status_changed_at=timezone.now()
        )
        Transition.objects.create(
            batch=locked,
            action="pay",
            from_status=Batch.Status.APPROVED,
            to_status=Batch.Status.PAID,
            actor=actor,
            note=f"兑现 {len(lines_list)} 户",
        )
    return PayoutResult(
        paid=len(lines_list), amount=sum((x.amount for x in lines_list), ZERO), batch_paid=not remaining
    )
