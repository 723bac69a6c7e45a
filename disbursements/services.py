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

from . import approval, grant, ledger
from .approval import Step
from .models import Account, Batch, BatchLine, Entry, EquityInvestment, Payout, RecoveryRepayment

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


# Entries that move allocated money between the accounts of the chain (not to households).
ALLOCATION_KINDS = (
    Entry.Kind.FUNDING,
    Entry.Kind.ALLOCATION,
    Entry.Kind.ALLOCATION_RETURN,
    Entry.Kind.REASSIGNMENT,
)


def _net_allocated(year: int) -> dict[int, Decimal]:
    """Per account: what it received from above (or a reassignment) minus what it gave back, net of
    reversals. What an account passes down to its children is not subtracted: that is theirs."""
    net: dict[int, Decimal] = defaultdict(lambda: ZERO)
    entries = Entry.objects.filter(year=year).filter(
        Q(kind__in=ALLOCATION_KINDS) | Q(kind=Entry.Kind.REVERSAL, reverses__kind__in=ALLOCATION_KINDS)
    )
    for effect in ledger.effects(entries):
        if effect.kind in (Entry.Kind.FUNDING, Entry.Kind.ALLOCATION):
            net[effect.target_id] += effect.amount
        elif effect.kind == Entry.Kind.ALLOCATION_RETURN:
            net[effect.source_id] -= effect.amount
        else:  # reassignment: from one holder to the next
            net[effect.target_id] += effect.amount
            net[effect.source_id] -= effect.amount
    return net


@dataclass
class Targets:
    """What each account of the chain should have been allocated (net), per the roster and the ledger.

    At the bottom, the account that pays a household (its cadre's, or its village's) needs 3,000 minus
    what the household has already received (from anyone), plus what that account itself has paid out
    (to households it may no longer hold). Each level above needs what its children need plus what it
    paid itself. With nothing paid and nobody moved this is exactly 3,000 × eligible households per
    level; after a reassignment the old holder keeps what it paid and gives back the rest, so a
    return never exceeds a balance.
    """

    households: int = 0
    per_household: Decimal = ZERO
    city: Decimal = ZERO
    township: dict[int, Decimal] = field(default_factory=lambda: defaultdict(lambda: ZERO))
    village: dict[int, Decimal] = field(default_factory=lambda: defaultdict(lambda: ZERO))
    cadre: dict[tuple[int, int], Decimal] = field(default_factory=lambda: defaultdict(lambda: ZERO))


def allocation_targets(year: int) -> Targets:
    households, per_household = eligible_households(year)
    per_household = to_fen(per_household)
    rows = list(households.values_list("pk", "village__township_id", "village_id", "cadre_id"))
    received, paid_by = grant.receipt_flows(year)
    targets = Targets(households=len(rows), per_household=per_household)
    village_township = dict(Village.objects.values_list("pk", "township_id"))
    for _pk, _township_id, village_id, cadre_id in rows:
        remaining = max(ZERO, per_household - received.get(_pk, ZERO))
        if cadre_id:
            targets.cadre[(cadre_id, village_id)] += remaining
        else:
            targets.village[village_id] += remaining
    # What each paying account has paid stays allocated to it, whoever holds the households now.
    paying = Account.objects.filter(
        pk__in=list(paid_by), kind__in=[Account.Kind.VILLAGE, Account.Kind.CADRE, Account.Kind.TOWNSHIP]
    )
    for account_id, cadre_id, village_id, township_id, kind in paying.values_list(
        "pk", "cadre_id", "village_id", "township_id", "kind"
    ):
        if kind == Account.Kind.CADRE:
            targets.cadre[(cadre_id, village_id)] += paid_by[account_id]
        elif kind == Account.Kind.VILLAGE:
            targets.village[village_id] += paid_by[account_id]
        else:
            targets.township[township_id] += paid_by[account_id]
    for (_cadre_id, village_id), amount in targets.cadre.items():
        targets.village[village_id] += amount
    for village_id, amount in targets.village.items():
        targets.township[village_township[village_id]] += amount
    targets.city = sum(targets.township.values(), ZERO)
    return targets


@transaction.atomic
def allocate(*, year: int, actor: User | None, dry_run: bool = False) -> AllocationResult:
    """City → townships → villages → cadres, 3,000 × eligible households at each level.

    Idempotent: compares with what the ledger already shows and posts only the difference (a
    negative difference is returned up, as 调减上缴). One allocation runs at a time (the funding
    account's row lock): a second click waits, then finds nothing left to post. A dry run computes
    the same moves, posts none.
    """
    funding = ledger.funding_account()
    list(Account.objects.select_for_update().filter(pk=funding.pk).order_by().values_list("pk"))
    targets = allocation_targets(year)
    per_household = targets.per_household
    result = AllocationResult(year=year, households=targets.households, target_total=targets.city)

    city = ledger.city_account()
    townships, villages = ledger.township_accounts(), ledger.village_accounts()
    cadres = ledger.cadre_accounts(targets.cadre.keys()) if targets.cadre else {}
    # Cadre accounts that hold money but no longer any eligible household must give it back too.
    for account in Account.objects.filter(kind=Account.Kind.CADRE).exclude(
        pk__in=[a.pk for a in cadres.values()]
    ):
        cadres[(account.cadre_id, account.village_id)] = account  # type: ignore[index]
    village_township = dict(Village.objects.values_list("pk", "township_id"))
    net = _net_allocated(year)

    down: list[ledger.Move] = []
    up: list[ledger.Move] = []

    def settle(parent: Account, child: Account, target: Decimal, kind: str = Entry.Kind.ALLOCATION) -> None:
        difference = target - net[child.pk]
        memo = f"{year}年度到户产业扶持资金（每户 {per_household:,.2f} 元，核定 {target:,.2f} 元）"
        if difference > 0:
            down.append(ledger.Move(parent, child, difference, kind, memo))
        elif difference < 0:
            back = Entry.Kind.ALLOCATION_RETURN
            up.append(ledger.Move(child, parent, -difference, back, "户数调减，资金上缴：" + memo))

    settle(funding, city, targets.city, Entry.Kind.FUNDING)
    for township_id, account in townships.items():
        settle(city, account, targets.township.get(township_id, ZERO))
    for village_id, account in villages.items():
        settle(townships[village_township[village_id]], account, targets.village.get(village_id, ZERO))
    for key, account in cadres.items():
        settle(villages[key[1]], account, targets.cadre.get(key, ZERO))

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
    """City, townships and villages: allocated = passed on + paid to households + held, to the fen;
    then every household, every account and every business record.

    A village's purse includes its cadres' accounts (cadres hand the cash to households), so a
    village's `paid` is what its cadres paid and its `held` what the village and its cadres hold.
    Townships and the city pay no household directly: their `paid` shows what was paid below
    them, and their own identity is allocated = passed on + held.
    Each level's allocation is compared with what `allocate` would give it today (`expected`).
    Below the levels: no household received more than its grant or by both routes, no recovery
    order exceeds what was paid, no account is below zero, and every entry of a business kind is
    matched by exactly one live record of the same amount (a tampered or duplicated entry is named).
    Returns the tree and the list of differences in Chinese (empty when everything balances).
    """
    accounts = list(Account.objects.select_related("township", "village"))
    balance = ledger.balances(accounts, year)
    by_kind: dict[str, list[Account]] = defaultdict(list)
    for account in accounts:
        by_kind[account.kind].append(account)
    incoming: dict[tuple[int, str], Decimal] = defaultdict(lambda: ZERO)
    outgoing: dict[tuple[int, str], Decimal] = defaultdict(lambda: ZERO)
    for effect in ledger.effects(Entry.objects.filter(year=year)):
        outgoing[(effect.source_id, effect.kind)] += effect.amount
        incoming[(effect.target_id, effect.kind)] += effect.amount

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

    try:
        targets = allocation_targets(year)
    except ValidationError:
        targets = Targets()

    city_account = next(iter(by_kind[Account.Kind.CITY]), None)
    city = Level("香格里拉市")
    city.expected = targets.city
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
        township.expected = targets.township.get(account.township_id, ZERO)  # type: ignore[arg-type]
        township_villages = villages_by_township[account.township_id]  # type: ignore[index]
        for village_account in sorted(township_villages, key=lambda a: a.village.code):  # type: ignore[union-attr]
            purse = [village_account, *cadres_by_village[village_account.village_id]]  # type: ignore[index]
            village = Level(village_account.village.name)  # type: ignore[union-attr]
            village.allocated = alloc_in(village_account.pk)
            village.paid = village.paid_here = sum((paid_out(a.pk) for a in purse), ZERO)
            village.held = sum((balance[a.pk] for a in purse), ZERO)
            village.recovered = recovered_by_village[village_account.village_id]  # type: ignore[index]
            village.expected = targets.village.get(village_account.village_id, ZERO)  # type: ignore[arg-type]
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
    for account in accounts:
        if account.kind not in ledger.MAY_GO_NEGATIVE and balance[account.pk] < 0:
            problems.append(f"{account}：余额为负 {balance[account.pk]} 元")
    problems.extend(grant.breaches(year))
    problems.extend(record_breaches(year))
    return city, problems


# Entries that a business record stands behind: kind → (model, the record's field naming the entry).
RECORDED_KINDS: dict[str, tuple[Any, str]] = {
    Entry.Kind.PAYOUT: (Payout, "entry"),
    Entry.Kind.EQUITY: (EquityInvestment, "entry"),
    Entry.Kind.EQUITY_TRANSFER: (EquityInvestment, "transfer_entry"),
    Entry.Kind.EQUITY_RETURN: (EquityInvestment, "returned_entry"),
    Entry.Kind.RECOVERY: (RecoveryRepayment, "entry"),
}
# Those records' amounts.
RECORD_AMOUNT = {Payout: "amount", EquityInvestment: "principal", RecoveryRepayment: "amount"}


def record_breaches(year: int) -> list[str]:
    """Every entry of a recorded kind has its record, with the same amount; a reversed entry's record
    is marked reversed and a live one's is not; a record's entry is of its kind."""
    problems: list[str] = []
    entries = {
        pk: (kind, to_fen(amount), reversed_id is not None)
        for pk, kind, amount, reversed_id in Entry.objects.filter(
            year=year, kind__in=list(RECORDED_KINDS)
        ).values_list("pk", "kind", "amount", "reversed_by")
    }
    claimed: dict[int, str] = {}
    for kind, (model, field_name) in RECORDED_KINDS.items():
        amount_field = RECORD_AMOUNT[model]
        rows = model.objects.filter(**{f"{field_name}__year": year}).values_list(
            "pk", field_name, amount_field, "reversed_at"
        )
        label = str(model._meta.verbose_name)
        for pk, entry_id, amount, reversed_at in rows:
            entry = entries.get(entry_id)
            if entry is None or entry[0] != kind:
                problems.append(f"{label} #{pk}：所记分录 #{entry_id} 不存在或类别不符")
                continue
            claimed[entry_id] = label
            if entry[1] != to_fen(amount):
                problems.append(
                    f"{label} #{pk}：金额 {to_fen(amount)} 元与分录 #{entry_id} 的 {entry[1]} 元不符"
                )
            # An investment whose principal was returned is still live; only its own entries matter.
            if entry[2] != (reversed_at is not None):
                state = "已冲正" if entry[2] else "未冲正"
                problems.append(f"{label} #{pk}：分录 #{entry_id} {state}，记录却不是")
    for entry_id, (kind, amount, _reversed) in sorted(entries.items()):
        if entry_id not in claimed:
            problems.append(
                f"分录 #{entry_id}（{Entry.Kind(kind).label} {amount} 元）没有对应的业务记录（重复或篡改？）"
            )
    return problems


# --- batches ------------------------------------------------------------------------------------


@transaction.atomic
def batch_prepare(*, village: Village, year: int, tranche: int, actor: User) -> Batch:
    """A batch of the village's households (those the actor may see) for one tranche.

    Tranche 1 takes households with a plan of record and freezes those plans (they enter the
    approval chain); tranche 2 only households whose tranche 1 is paid; tranche 3 goes through
    settlement. Only households whose 承诺书 binds their plan, that took no equity, that were not
    assessed inactive and that have room left under their grant; a household already in a live
    batch line for that tranche is not taken again. The households are locked while they are read.
    """
    if actor.role not in ("cadre", "village"):
        raise ValidationError(MSG_PREPARE_ROLE)
    if tranche == 3:
        raise ValidationError(MSG_TRANCHE3)
    if tranche not in (1, 2):
        raise ValidationError("期次应为 1 或 2。")
    if not scoped(Village.objects.filter(pk=village.pk), actor).exists():
        raise ValidationError("该村不在您的管辖范围内。")
    household_ids = list(
        scoped(Household.objects.filter(village=village), actor).values_list("pk", flat=True)
    )
    grant.lock_households(household_ids)
    # Read again under the locks: a concurrent equity investment or batch is now visible.
    household_ids = list(
        scoped(Household.objects.filter(village=village), actor).values_list("pk", flat=True)
    )
    state = grant.household_money(household_ids, year)
    amount_field = f"tranche{tranche}"
    lines: list[BatchLine] = []
    unsigned = 0
    for money in state.values():
        plan = money.plan
        if plan is None or tranche in money.lined_tranches:
            continue
        if money.has_equity_record or money.equity or money.inactive:
            continue
        if tranche == 2 and 1 not in money.paid_tranches:
            continue
        if not plan.commitment_signed:
            unsigned += 1
            continue
        amount = to_fen(getattr(plan, amount_field))
        if amount <= 0 or amount > money.room:
            continue
        lines.append(
            BatchLine(household_id=plan.household_id, plan=plan, year=year, tranche=tranche, amount=amount)
        )
    if not lines:
        extra = "，且第一期已兑现" if tranche == 2 else ""
        message = MSG_NO_LINES.format(village=village.name, tranche=tranche, extra=extra)
        if unsigned:
            message += f"另有 {unsigned} 户的到户承诺书未签订或待重新签订。"
        raise ValidationError(message)
    lines.sort(key=lambda line: line.household_id)
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
        HouseholdPlan.objects.filter(pk__in=[line.plan_id for line in lines], status=PlanStatus.DRAFT).update(
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
    """Record the handing over of the batch's money: every line in the recorder's scope (a cadre
    records the households they hold, a village official those of the village), or those of
    `households`.

    One transaction: the batch row is locked (a double click or a retried request waits and then
    finds the lines paid), then the households; each payment passes `grant.check_payments` (grant
    cap, route, stage, signed plan) and comes out of the account of whoever holds the household now.
    The batch is paid when its last live line is.
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

    def open_lines() -> Any:
        lines = scoped(
            BatchLine.objects.filter(batch=locked, payout__isnull=True, cancelled_at__isnull=True), actor
        )
        if households is not None:
            lines = lines.filter(household_id__in=list(households))
        return lines

    grant.lock_households(open_lines().values_list("household_id", flat=True))
    lines_list = list(open_lines().select_related("household__village").order_by("household_id"))
    if not lines_list:
        raise ValidationError(MSG_ALL_PAID)
    grant.check_payments(
        [grant.Payment(line.household_id, line.amount, grant.CASH, line.tranche) for line in lines_list],
        locked.year,
    )

    household_accounts = ledger.household_accounts([line.household for line in lines_list])
    cadre_pairs = {
        (line.household.cadre_id, line.household.village_id) for line in lines_list if line.household.cadre_id
    }
    cadre_accounts = ledger.cadre_accounts(cadre_pairs) if cadre_pairs else {}
    village_accounts = ledger.village_accounts()
    how = Payout.Method(method).label
    moves = []
    for line in lines_list:
        household = line.household
        source = (
            cadre_accounts[(household.cadre_id, household.village_id)]
            if household.cadre_id
            else village_accounts[household.village_id]
        )
        memo = f"{line.year}年{TRANCHE_NAMES[line.tranche]}到户资金（{how}）"
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
    remaining = BatchLine.objects.filter(
        batch=locked, payout__isnull=True, cancelled_at__isnull=True
    ).exists()
    if not remaining:
        approval.move_status(
            [locked],
            from_status=Batch.Status.APPROVED,
            to_status=Batch.Status.PAID,
            action="pay",
            actor=actor,
            note=f"兑现完毕（本次 {len(lines_list)} 户）",
        )
    return PayoutResult(
        paid=len(lines_list), amount=sum((x.amount for x in lines_list), ZERO), batch_paid=not remaining
    )


TRANCHE_NAMES = {1: "第一期（产前）", 2: "第二期（产中）", 3: "以奖代补"}

MSG_REVERSE_ROLE = "冲正由乡镇或市指挥部办理。"
MSG_REVERSE_REASON = "冲正必须写明原因。"
MSG_RECORDED_KIND = "该分录属于{record}，请在该记录上办理冲正（业务冲正会同时更正记录与账目）。"


def _check_reverser(actor: User, reason: str) -> str:
    if actor.role not in ("township", "city"):
        raise ValidationError(MSG_REVERSE_ROLE)
    if not reason.strip():
        raise ValidationError(MSG_REVERSE_REASON)
    return reason.strip()


@transaction.atomic
def entry_reverse(*, entry: Entry, actor: User, reason: str) -> Entry:
    """冲正 of an allocation-side entry (下拨, 调减上缴, 调账). Entries behind a payout, a repayment or an
    investment are reversed with their record, by that record's own reversal."""
    if actor.role != "city":
        raise ValidationError("分录冲正由市指挥部办理。")
    if entry.kind in RECORDED_KINDS:
        record = RECORDED_KINDS[entry.kind][0]._meta.verbose_name
        raise ValidationError(MSG_RECORDED_KIND.format(record=record))
    return ledger.reverse(entry, actor=actor, reason=reason)


@transaction.atomic
def payout_reverse(*, payout: Payout, actor: User, reason: str) -> Payout:
    """冲正 of a payout (e.g. recorded for the wrong household): its entry is reversed, the payout and
    its batch line stop counting, and the tranche may be batched again. Later stages first: a
    tranche cannot be reversed while a later one of the household is paid, nor below what recovery
    orders already claim back."""
    reason = _check_reverser(actor, reason)
    locked = (
        scoped(Payout.objects.select_for_update(no_key=True, of=("self",)), actor)
        .filter(pk=payout.pk)
        .select_related("entry", "household")
        .first()
    )
    if locked is None:
        raise ValidationError("该兑现记录不在您的管辖范围内。")
    if locked.is_reversed:
        raise ValidationError("该兑现记录已冲正。")
    grant.lock_households([locked.household_id])
    money = grant.household_money([locked.household_id], locked.year)[locked.household_id]
    later = sorted(t for t in money.paid_tranches if t > locked.tranche)
    if later:
        raise ValidationError(f"该户{TRANCHE_NAMES[later[0]]}已兑现，须先冲正后一期。")
    if money.received - to_fen(locked.amount) < money.ordered:
        raise ValidationError(
            f"该户已有收回通知 {money.ordered:,.2f} 元，冲正后已拨付将少于应收回金额；请先处理收回通知。"
        )
    ledger.reverse(locked.entry, actor=actor, reason=reason)
    now = timezone.now()
    if (
        Payout.objects.filter(pk=locked.pk, reversed_at__isnull=True).update(
            reversed_at=now, reversed_by=actor, reversal_reason=reason
        )
        != 1
    ):
        raise ValidationError("该兑现记录已冲正。")
    BatchLine.objects.filter(pk=locked.line_id).update(cancelled_at=now)
    locked.refresh_from_db()
    return locked
