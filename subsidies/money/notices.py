"""The household grant's notices (公示): the grant list of a village, the 以奖代补 rewards, and the
recoveries. Each builder reads one query per area, scoped to the user, and masks ID numbers."""

from __future__ import annotations

from decimal import Decimal

from disbursements.models import Account
from disbursements.money import ZERO, yuan
from disbursements.notices import Area, NoticeKind, NoticeRow
from households.masking import mask_id_number
from households.models import Household, User
from households.scoping import scoped

from .. import rules
from ..models import GrantLine, HouseholdPlan, PlanStatus, Policy, RecoveryOrder, Species
from .accounts import household_accounts

GRANT = "grant"
REWARD = "reward"
RECOVERY = "recovery"
BY_GROUP = ("household__group__name", "household__code")


def _default_days(year: int) -> int:
    policy = Policy.objects.filter(year=year).first()
    return policy.notice_days if policy else 10


def household_payee(reference: str) -> Account:
    """A row's payee (the household's pk, as the builders below write it) → its grant account."""
    household = Household.objects.get(pk=int(reference))
    return household_accounts([household])[household.pk]


def _in_area(field: str, area: Area) -> dict[str, object]:
    if area.group is not None:
        return {f"{field}group": area.group}
    if area.village is not None:
        return {f"{field}village": area.village}
    return {f"{field}village__township": area.township}


def _project(plan: HouseholdPlan, units: dict[str, str]) -> str:
    parts = []
    if plan.planting_area:
        parts.append(f"{plan.crops} {rules.number(plan.planting_area)}亩")
    if plan.species:
        parts.append(f"{plan.species} {rules.number(plan.breeding_quantity)}{units.get(plan.species, '')}")
    return "；".join(parts)


def grant_rows(year: int, area: Area, user: User | None) -> tuple[list[NoticeRow], Decimal]:
    """Every plan of record of the area, whatever its stage: what each household is to receive."""
    plans = (
        HouseholdPlan.objects.filter(year=year, **_in_area("household__", area))
        .exclude(status=PlanStatus.SUPERSEDED)
        .exclude(status=PlanStatus.DRAFT, amends__isnull=False)
    )
    if user is not None:
        plans = scoped(plans, user)
    units = dict(Species.objects.filter(policy__year=year).values_list("name", "category__unit"))
    rows: list[NoticeRow] = []
    total = ZERO
    for number, plan in enumerate(plans.select_related("household__group").order_by(*BY_GROUP), start=1):
        household = plan.household
        cells = [
            str(number),
            household.head_name,
            mask_id_number(household.id_number),
            household.group.name,
            _project(plan, units),
            yuan(plan.grant_total),
            yuan(plan.tranche1),
            yuan(plan.tranche2),
            yuan(plan.tranche3),
        ]
        rows.append(NoticeRow(cells, str(household.pk)))
        total += plan.grant_total
    return rows, total


def reward_rows(year: int, area: Area, user: User | None) -> tuple[list[NoticeRow], Decimal]:
    """The 以奖代补 lines of the area's live reward batches, with the analysis they come from."""
    lines = GrantLine.objects.filter(
        year=year, tranche=3, cancelled_at__isnull=True, **_in_area("household__", area)
    )
    if user is not None:
        lines = scoped(lines, user)
    rows: list[NoticeRow] = []
    total = ZERO
    for number, line in enumerate(
        lines.select_related("household__group", "plan__analysis", "line").order_by(*BY_GROUP), start=1
    ):
        analysis = line.plan.analysis
        amount = line.line.amount
        cells = [
            str(number),
            line.household.head_name,
            mask_id_number(line.household.id_number),
            line.household.group.name,
            yuan(analysis.verified_entitlement),
            yuan(analysis.paid_before),
            yuan(amount),
        ]
        rows.append(NoticeRow(cells, str(line.household_id)))
        total += amount
    return rows, total


def recovery_rows(year: int, area: Area, user: User | None) -> tuple[list[NoticeRow], Decimal]:
    orders = RecoveryOrder.objects.filter(year=year, **_in_area("household__", area))
    if user is not None:
        orders = scoped(orders, user)
    rows: list[NoticeRow] = []
    total = ZERO
    for number, order in enumerate(orders.select_related("household__group").order_by(*BY_GROUP), start=1):
        cells = [
            str(number),
            order.household.head_name,
            mask_id_number(order.household.id_number),
            order.household.group.name,
            yuan(order.amount),
            order.reason,
        ]
        rows.append(NoticeRow(cells, str(order.household_id)))
        total += order.amount
    return rows, total


LEVELS = ("village", "group", "township")
NOTICE_KIND_DEFS = (
    NoticeKind(
        GRANT,
        "到户产业扶持资金",
        "{year}年度{area}精准扶贫特色产业到户扶持资金公示",
        ("序号", "户主姓名", "身份证号", "村民小组", "扶持项目", "补助金额", "产前", "产中", "产后"),
        grant_rows,
        amount_from=5,
        total_column=5,
        levels=LEVELS,
        default_days=_default_days,
        wrap_column=4,
        payee=household_payee,
        preamble="根据《香格里拉市精准扶贫特色产业扶持方案》，经挂包干部申报、入户核实和村委会审核，"
        "现将以下名单予以公示，接受群众监督。",
    ),
    NoticeKind(
        REWARD,
        "以奖代补",
        "{year}年度{area}产业扶持以奖代补资金公示",
        ("序号", "户主姓名", "身份证号", "村民小组", "核实应享", "已拨付", "以奖代补金额"),
        reward_rows,
        amount_from=4,
        total_column=6,
        levels=LEVELS,
        default_days=_default_days,
        payee=household_payee,
        preamble="根据《香格里拉市精准扶贫特色产业扶持方案》，经挂包干部申报、入户核实和村委会审核，"
        "现将以下名单予以公示，接受群众监督。",
    ),
    NoticeKind(
        RECOVERY,
        "资金收回",
        "{year}年度{area}产业扶持资金收回公示",
        ("序号", "户主姓名", "身份证号", "村民小组", "收回金额", "原因"),
        recovery_rows,
        amount_from=4,
        total_column=4,
        levels=LEVELS,
        default_days=_default_days,
        money_columns=(4,),
        wrap_column=5,
        payee=household_payee,
        preamble="根据《香格里拉市精准扶贫特色产业扶持方案》，经挂包干部申报、入户核实和村委会审核，"
        "现将以下名单予以公示，接受群众监督。",
    ),
)
