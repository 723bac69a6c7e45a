"""The household grant's section of the 进度看板: how far each area is with the grant of a year.

The page reads the section's summary figures (`disbursements.summaries`), which `refresh` computes per
township for the worker: one GROUP BY query per family of columns (households, plans, payouts,
analyses, recoveries) per batch of townships, grouped by (village, 村民小组, cadre) and added up here
to the 村民小组, the village, the township and each cadre's households per village; and one read of
the ledger entries touching those townships. `compute_live` is the same figures computed from the
registry for one area, per request: the reference the summaries are tested against. Counts come from the
database; money is summed here from the ledger entries, in Decimal (SQLite sums are REAL).

Money follows `reconcile`: 下拨 is what the row's own accounts received net of returns, 兑现 is what
reached households (payouts, and grants invested as equity on a household's behalf), 收回 is what
households paid back to 乡财政; a reversal counts against the entry it reverses. For city HQ the two
agree to the fen (tests/disbursements/test_dashboard.py).
"""

from __future__ import annotations

import datetime
import functools
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Count, F, Q
from django.urls import get_script_prefix, reverse

from disbursements import ledger, summaries
from disbursements.dashboard import Area, Column, Computed, Dashboard, Level, Link, Row, Section, Table
from disbursements.models import Account, Entry
from disbursements.money import ZERO
from disbursements.summaries import Figure
from households.models import Household, Township, Village
from households.scoping import scope_q, scoped

from ..models import BenefitAnalysis, GrantLine, HouseholdPlan, PlanStatus, Policy, RecoveryOrder
from ..selectors import plans_for
from .accounts import (
    CADRE,
    E_ALLOCATION,
    E_EQUITY,
    E_PAYOUT,
    E_RECOVERY,
    FUND,
    HOUSEHOLD,
    TOWNSHIP,
    TOWNSHIP_FINANCE,
    VILLAGE,
)
from .allocation import eligible_condition

MSG_NO_POLICY = "{year} 年度没有扶持政策：无法判断扶持资格和承诺书期限。"

# From Household to the row it counts in.
ROW_OF_HOUSEHOLD = {
    Level.TOWNSHIP: "village__township",
    Level.VILLAGE: "village",
    Level.GROUP: "group",
    Level.CADRE: "village",
}
# Whose incoming allocation is 下拨金额, and the Account field that names the row. 村民小组 receive
# no allocation: their table shows the village's in the 合计 row.
ALLOCATION = {
    Level.TOWNSHIP: (TOWNSHIP, "township_id"),
    Level.VILLAGE: (VILLAGE, "village_id"),
    Level.GROUP: (VILLAGE, "village_id"),
    Level.CADRE: (CADRE, "village_id"),
}

COLUMNS = (
    Column("households", "户数"),
    Column("eligible", "符合条件"),
    Column("planned", "已填计划"),
    Column("commitment_on_time", "承诺书按期签订"),
    Column("commitment_late", "承诺书逾期", warn=True),
    Column("tranche1", "第一期已兑现"),
    Column("tranche2", "第二期已兑现"),
    Column("tranche3", "第三期/以奖代补已兑现"),
    Column("settled", "已结算"),
    Column("recovery_households", "收回户数"),
    Column("allocated", "下拨金额（元）", money=True),
    Column("paid", "已兑现金额（元）", money=True),
    Column("recovered", "已收回金额（元）", money=True),
)


def _narrow[M: models.Model](
    queryset: models.QuerySet[M], to_household: str, township: Township | None, village: Village | None
) -> models.QuerySet[M]:
    """Keep the rows of the area shown; `to_household` is the lookup prefix from the model to Household."""
    if village is not None:
        return queryset.filter(**{f"{to_household}village": village})
    if township is not None:
        return queryset.filter(**{f"{to_household}village__township": township})
    return queryset


def _grouped(queryset: models.QuerySet[Any], row: str, **aggregates: Any) -> dict[int, dict[str, int]]:
    return {r.pop("row"): r for r in queryset.order_by().values(row=F(row)).annotate(**aggregates)}


def _counts(area: Area, deadline: datetime.date | None) -> dict[int, dict[str, int]]:
    """Per row: the household counts of every column, each a count of distinct households."""
    user, year, township, village = area.user, area.year, area.township, area.village
    row = ROW_OF_HOUSEHOLD[area.level]
    result: dict[int, dict[str, int]] = defaultdict(dict)

    try:
        # The one eligibility rule, inline: `COUNT … FILTER (WHERE id IN (subquery))` is re-scanned per
        # household by PostgreSQL once the subquery outgrows work_mem (issue 14: minutes at 2 M).
        eligible = eligible_condition(year)[0]
    except ValidationError:
        eligible = Q(pk__in=[])
    households = _narrow(scoped(Household.objects.all(), user), "", township, village)
    for key, values in _grouped(
        households, row, households=Count("pk"), eligible=Count("pk", filter=eligible)
    ).items():
        result[key].update(values)

    # Distinct households: a submitted amendment stands next to its original until approved.
    plans = _narrow(plans_for(user, year), "household__", township, village)
    never = Q(pk__in=[])
    # A letter counts only while it binds the plan (a plan changed after signing is 待重新签订).
    binding = Q(commitment__plan_revision=F("revision"), commitment__signed_amount=F("grant_total"))
    on_time = Q(commitment__signed_on__lte=deadline) & binding if deadline else never
    signed_late = Q(commitment__signed_on__gt=deadline) & binding if deadline else never
    past_deadline = deadline is not None and area.today > deadline
    for key, values in _grouped(
        plans,
        f"household__{row}",
        planned=Count("household", distinct=True),
        commitment_on_time=Count("household", distinct=True, filter=on_time),
        signed_late=Count("household", distinct=True, filter=signed_late),
    ).items():
        late = values.pop("signed_late")
        # After the deadline every plan without a letter signed in time is late (rules.md §4).
        values["commitment_late"] = (
            values["planned"] - values["commitment_on_time"] if past_deadline else late
        )
        result[key].update(values)

    # A tranche counts as paid when its line's payout is live (a reversal cancels the line).
    paid = _narrow(
        scoped(
            GrantLine.objects.filter(year=year, cancelled_at__isnull=True, line__payout__isnull=False), user
        ),
        "household__",
        township,
        village,
    )
    tranches = {f"tranche{n}": Count("household", distinct=True, filter=Q(tranche=n)) for n in (1, 2, 3)}
    for key, values in _grouped(paid, f"household__{row}", **tranches).items():
        result[key].update(values)

    analyses = _narrow(
        scoped(BenefitAnalysis.objects.filter(plan__year=year), user), "plan__household__", township, village
    )
    for key, values in _grouped(
        analyses, f"plan__household__{row}", settled=Count("plan__household", distinct=True)
    ).items():
        result[key].update(values)

    orders = _narrow(scoped(RecoveryOrder.objects.filter(year=year), user), "household__", township, village)
    for key, values in _grouped(
        orders, f"household__{row}", recovery_households=Count("household", distinct=True)
    ).items():
        result[key].update(values)
    return result


def _sums() -> defaultdict[int | None, Decimal]:
    return defaultdict(lambda: ZERO)


@dataclass
class _Money:
    allocated: defaultdict[int | None, Decimal] = field(default_factory=_sums)
    paid: defaultdict[int | None, Decimal] = field(default_factory=_sums)
    recovered: defaultdict[int | None, Decimal] = field(default_factory=_sums)
    allocation_account: dict[int, int] = field(default_factory=dict)
    recovery_account: dict[int, int] = field(default_factory=dict)


def _money(area: Area) -> _Money:
    """Per row, from the ledger entries touching the accounts the user may see in the area."""
    level, user, year, township, village = area.level, area.user, area.year, area.township, area.village
    row = ROW_OF_HOUSEHOLD[level]
    allocation_kind, place = ALLOCATION[level]
    accounts = scoped(Account.objects.filter(fund=FUND), user)
    if village is not None:
        accounts = accounts.filter(village=village)
    elif township is not None:
        accounts = accounts.filter(township=township)

    result = _Money()
    kind_of: dict[int, str] = {}
    row_of: dict[int, int | None] = {}  # an account's row: by its place, a household's by the household
    for pk, kind, place_id, household_row in accounts.values_list(
        "pk", "kind", place, f"grant_household__household__{row}"
    ):
        kind_of[pk] = kind
        row_of[pk] = household_row if kind == HOUSEHOLD else place_id
        if place_id is not None and kind == allocation_kind:
            result.allocation_account[place_id] = pk
        if place_id is not None and kind == TOWNSHIP_FINANCE:
            result.recovery_account[place_id] = pk

    entries = Entry.objects.filter(year=year, fund=FUND)
    if scope_q(Account, user) is not None or village is not None or township is not None:
        # Whole city: every entry of the fund touches a fund account; the OR of two `IN (subquery)`
        # over 300 k accounts is planned as a re-scan per entry at 2 M households (issue 14).
        visible_accounts = accounts.values("pk")
        entries = entries.filter(Q(source__in=visible_accounts) | Q(target__in=visible_accounts))
    for effect in ledger.effects(entries):
        source, target, amount = effect.source_id, effect.target_id, effect.amount
        if effect.kind == E_ALLOCATION and kind_of.get(target) == allocation_kind:
            result.allocated[row_of[target]] += amount
        elif effect.kind == "allocation_return" and kind_of.get(source) == allocation_kind:
            result.allocated[row_of[source]] -= amount
        elif effect.kind in (E_PAYOUT, E_EQUITY) and kind_of.get(target) == HOUSEHOLD:
            # Cash, rewards and equity all reach the household's account first.
            result.paid[row_of[target]] += amount
        elif effect.kind == E_RECOVERY and kind_of.get(source) == HOUSEHOLD:
            result.recovered[row_of[source]] += amount
    return result


def compute_live(area: Area) -> Computed:
    """The section computed from the registry for one area, per request (the summaries' reference)."""
    policy = Policy.objects.filter(year=area.year).first()
    deadline = policy.commitment_deadline if policy else None
    counts = _counts(area, deadline)
    money = _money(area)
    keys = set(counts) | set(money.allocated) | set(money.paid) | set(money.recovered)
    values: dict[int, dict[str, Any]] = {}
    for key in keys:
        if key is None:
            continue
        row: dict[str, Any] = dict(counts.get(key, {}))
        row["paid"], row["recovered"] = money.paid[key], money.recovered[key]
        if area.level == Level.GROUP:
            row["allocated"] = None  # nothing is allocated to a 村民小组
        else:
            row["allocated"] = money.allocated[key]
            row["allocation_account"] = money.allocation_account.get(key)
        row["recovery_account"] = money.recovery_account.get(key) if area.level == Level.TOWNSHIP else None
        values[key] = row
    total: dict[str, Any] = {}
    if area.level == Level.GROUP:  # the village's own allocation
        assert area.village is not None
        total["allocated"] = money.allocated[area.village.pk]
        total["allocation_account"] = money.allocation_account.get(area.village.pk)
    notes = [MSG_NO_POLICY.format(year=area.year)] if policy is None else []
    return Computed(values=values, total=total, notes=notes, extra={"deadline": deadline})


# --- the summary figures ---------------------------------------------------------------------------

SECTION_CODE = "household_grant"
MONEY = frozenset({"allocated", "paid", "recovered"})
COUNTED = (
    "households",
    "eligible",
    "planned",
    "commitment_on_time",
    "signed_late",
    "tranche1",
    "tranche2",
    "tranche3",
    "settled",
    "recovery_households",
)

Cell = tuple[int, int, int | None]  # (village, 村民小组, cadre) of the households counted


def _cells(
    queryset: models.QuerySet[Any], to_household: str, **aggregates: Any
) -> Iterator[tuple[Cell, dict[str, int]]]:
    rows = (
        queryset.order_by()
        .values(
            v=F(f"{to_household}village_id"), g=F(f"{to_household}group_id"), c=F(f"{to_household}cadre_id")
        )
        .annotate(**aggregates)
    )
    for row in rows:
        yield (row.pop("v"), row.pop("g"), row.pop("c")), row


def refresh(year: int, townships: Sequence[int]) -> list[Figure]:
    """The section's figures of `year` for `townships`, for the summary tables: seven queries whatever
    the number of households, counted as `compute_live` counts them for any area."""
    policy = Policy.objects.filter(year=year).first()
    deadline = policy.commitment_deadline if policy else None
    in_towns = {"village__township_id__in": list(townships)}
    of_towns = {f"household__{k}": v for k, v in in_towns.items()}
    counts: defaultdict[Cell, dict[str, int]] = defaultdict(dict)

    try:
        eligible = eligible_condition(year)[0]
    except ValidationError:
        eligible = Q(pk__in=[])
    households = Household.objects.filter(**in_towns)
    for cell, values in _cells(households, "", households=Count("pk"), eligible=Count("pk", filter=eligible)):
        counts[cell].update(values)

    plans = (
        HouseholdPlan.objects.filter(year=year, **of_towns)
        .exclude(status=PlanStatus.SUPERSEDED)
        .exclude(status=PlanStatus.DRAFT, amends__isnull=False)
    )
    never = Q(pk__in=[])
    binding = Q(commitment__plan_revision=F("revision"), commitment__signed_amount=F("grant_total"))
    for cell, values in _cells(
        plans,
        "household__",
        planned=Count("household", distinct=True),
        commitment_on_time=Count(
            "household",
            distinct=True,
            filter=Q(commitment__signed_on__lte=deadline) & binding if deadline else never,
        ),
        signed_late=Count(
            "household",
            distinct=True,
            filter=Q(commitment__signed_on__gt=deadline) & binding if deadline else never,
        ),
    ):
        counts[cell].update(values)

    paid = GrantLine.objects.filter(
        year=year, cancelled_at__isnull=True, line__payout__isnull=False, **of_towns
    )
    tranches = {f"tranche{n}": Count("household", distinct=True, filter=Q(tranche=n)) for n in (1, 2, 3)}
    for cell, values in _cells(paid, "household__", **tranches):
        counts[cell].update(values)
    analyses = BenefitAnalysis.objects.filter(
        plan__year=year, **{f"plan__{k}": v for k, v in of_towns.items()}
    )
    for cell, values in _cells(
        analyses, "plan__household__", settled=Count("plan__household", distinct=True)
    ):
        counts[cell].update(values)
    orders = RecoveryOrder.objects.filter(year=year, **of_towns)
    for cell, values in _cells(orders, "household__", recovery_households=Count("household", distinct=True)):
        counts[cell].update(values)

    return _figures(year, townships, counts)


def _figures(year: int, townships: Sequence[int], counts: dict[Cell, dict[str, int]]) -> list[Figure]:
    township_of = dict(Village.objects.filter(township_id__in=townships).values_list("pk", "township_id"))
    group: defaultdict[tuple[int, int], dict[str, Any]] = defaultdict(dict)
    cadre: defaultdict[tuple[int, int], dict[str, Any]] = defaultdict(dict)

    def add(into: dict[str, Any], values: dict[str, Any]) -> None:
        for attr, value in values.items():
            into[attr] = into.get(attr, 0) + value

    for (village_id, group_id, cadre_id), values in counts.items():
        add(group[village_id, group_id], values)
        if cadre_id is not None:
            add(cadre[cadre_id, village_id], values)

    # Money: every account of the fund in these townships, and the entries touching them.
    kind_of: dict[int, str] = {}
    household_cell: dict[int, tuple[int, int, int | None]] = {}  # account → (village, group, holder)
    allocation: dict[
        int, tuple[str, int, int | None, int | None]
    ] = {}  # account → (kind, township, village, holder)
    for pk, kind, township_id, village_id, holder_id, h_village, h_group in Account.objects.filter(
        fund=FUND, township_id__in=list(townships)
    ).values_list(
        "pk",
        "kind",
        "township_id",
        "village_id",
        "holder_id",
        "grant_household__household__village_id",
        "grant_household__household__group_id",
    ):
        kind_of[pk] = kind
        if kind == HOUSEHOLD and h_village is not None:
            household_cell[pk] = (h_village, h_group, holder_id)
        elif kind in (TOWNSHIP, VILLAGE, CADRE, TOWNSHIP_FINANCE):
            allocation[pk] = (kind, township_id, village_id, holder_id)
    allocated: defaultdict[int, Decimal] = defaultdict(lambda: ZERO)
    paid: defaultdict[int, Decimal] = defaultdict(lambda: ZERO)
    recovered: defaultdict[int, Decimal] = defaultdict(lambda: ZERO)
    entries = Entry.objects.filter(year=year, fund=FUND)
    for effect in ledger.effects_touching(entries, Q(township_id__in=list(townships))):
        source, target, amount = effect.source_id, effect.target_id, effect.amount
        if effect.kind == E_ALLOCATION and target in allocation:
            allocated[target] += amount
        elif effect.kind == "allocation_return" and source in allocation:
            allocated[source] -= amount
        elif effect.kind in (E_PAYOUT, E_EQUITY) and target in household_cell:
            paid[target] += amount
        elif effect.kind == E_RECOVERY and source in household_cell:
            recovered[source] += amount
    for account, (its_village, its_group, its_holder) in household_cell.items():
        money = {"paid": paid[account], "recovered": recovered[account]}
        add(group.setdefault((its_village, its_group), {}), money)
        if its_holder is not None:
            add(cadre.setdefault((its_holder, its_village), {}), money)

    village: defaultdict[int, dict[str, Any]] = defaultdict(dict)
    township: defaultdict[int, dict[str, Any]] = defaultdict(dict)
    for (village_id, _), values in group.items():
        add(village[village_id], values)
        add(township[township_of[village_id]], values)
    for account, (kind, at_township, at_village, at_holder) in allocation.items():
        if kind == TOWNSHIP and at_township is not None:
            township[at_township].update(allocated=allocated[account], allocation_account=account)
        elif kind == TOWNSHIP_FINANCE and at_township is not None:
            township[at_township]["recovery_account"] = account
        elif kind == VILLAGE and at_village is not None:
            village[at_village].update(allocated=allocated[account], allocation_account=account)
        elif kind == CADRE and at_village is not None and at_holder is not None:
            cadre[at_holder, at_village].update(allocated=allocated[account], allocation_account=account)

    figures = [
        Figure(summaries.TOWNSHIP, t, v) for t, v in township.items() if t in township_of.values() or v
    ]
    figures += [
        Figure(summaries.VILLAGE, township_of[v], values, village_id=v) for v, values in village.items()
    ]
    figures += [
        Figure(summaries.GROUP, township_of[v], values, village_id=v, group_id=g)
        for (v, g), values in group.items()
    ]
    figures += [
        Figure(summaries.CADRE, township_of[v], values, village_id=v, cadre_id=c)
        for (c, v), values in cadre.items()
        if v in township_of
    ]
    return figures


# Which figures a level reads, and the field naming its row.
READS = {
    Level.TOWNSHIP: (summaries.TOWNSHIP, "township_id"),
    Level.VILLAGE: (summaries.VILLAGE, "village_id"),
    Level.GROUP: (summaries.GROUP, "group_id"),
    Level.CADRE: (summaries.CADRE, "village_id"),
}


def compute(area: Area) -> Computed:
    """The area's figures from the summary tables: one small query (a row per township, village,
    村民小组 or cadre-and-village of the area), whatever the number of households."""
    policy = Policy.objects.filter(year=area.year).first()
    deadline = policy.commitment_deadline if policy else None
    grain, key = READS[area.level]
    found = summaries.figures(SECTION_CODE, area.year, grain, area.user)
    if area.village is not None:
        found = found.filter(village=area.village)
    elif area.township is not None:
        found = found.filter(township=area.township)
    rows = summaries.add_up(found.values_list(key, "values"), MONEY)
    total: dict[str, Any] = {}
    if area.level == Level.GROUP:  # the village's own allocation, from its figure
        assert area.village is not None
        own = summaries.add_up(
            summaries.figures(SECTION_CODE, area.year, summaries.VILLAGE, area.user)
            .filter(village=area.village)
            .values_list("village_id", "values"),
            MONEY,
        ).get(area.village.pk, {})
        total["allocated"] = own.get("allocated", ZERO)
        total["allocation_account"] = own.get("allocation_account")
    past_deadline = deadline is not None and area.today > deadline
    values: dict[int, dict[str, Any]] = {}
    for row_key, row in rows.items():
        if row_key is None:
            continue
        late = row.pop("signed_late", 0)
        planned, on_time = row.get("planned", 0), row.get("commitment_on_time", 0)
        row["commitment_late"] = planned - on_time if past_deadline else late
        for attr in MONEY:
            row.setdefault(attr, ZERO)
        if area.level == Level.GROUP:
            row["allocated"] = None
        elif area.level != Level.TOWNSHIP:
            row.pop("recovery_account", None)
        values[row_key] = row
    notes = [MSG_NO_POLICY.format(year=area.year)] if policy is None else []
    return Computed(values=values, total=total, notes=notes, extra={"deadline": deadline})


# --- where each number comes from -----------------------------------------------------------------


@functools.cache
def _changelist(name: str, prefix: str) -> str:
    return reverse(f"admin:{name}_changelist")


def _admin(name: str, **params: Any) -> str:
    # Cached per script prefix: a city table has some 150 rows × 15 links (issue 14).
    url = _changelist(name, get_script_prefix())
    return f"{url}?{urlencode(params)}" if params else url


def links_for(dashboard: Dashboard, table: Table, row: Row) -> dict[str, Link]:
    """The admin list behind each number of `row`, filtered as far as that list's filters allow."""
    year = dashboard.year
    area: dict[str, Any]
    if row.key is None:
        if dashboard.village is not None:
            area = {"village__id__exact": dashboard.village.pk}
        elif dashboard.township is not None:
            area = {"township": dashboard.township.pk}
        else:
            area = {}
    elif dashboard.level == Level.TOWNSHIP:
        area = {"township": row.key}
    elif dashboard.level == Level.GROUP:
        area = {"group__id__exact": row.key}
    else:
        area = {"village__id__exact": row.key}
    # A list without an area filter shows the user's whole scope: exact only for an unnarrowed 合计.
    whole = row.key is None and not dashboard.narrowed

    households = Link(_admin("households_household", **area), True)
    plans = Link(_admin("subsidies_householdplan", year=year), whole)
    links = {
        "households": households,
        "eligible": Link(households.url, False),  # needs an eligibility filter on the household list
        "planned": plans,
        "commitment_on_time": Link(_admin("subsidies_commitmentletter"), False),
        "commitment_late": Link(plans.url, False),
        "settled": Link(_admin("subsidies_benefitanalysis"), False),
        "recovery_households": Link(_admin("subsidies_recoveryorder", year=year), whole),
        "paid": Link(_admin("disbursements_payout"), False),
    }
    for n in (1, 2, 3):
        links[f"tranche{n}"] = Link(
            _admin("subsidies_grantline", year=year, tranche__exact=n, paid="yes"), whole
        )
    entries = {"year": year, "kind__exact": E_ALLOCATION}
    allocation_account = row.values.get("allocation_account")
    recovery_account = row.values.get("recovery_account")
    if allocation_account is not None:
        links["allocated"] = Link(
            _admin("disbursements_entry", **entries, target__id__exact=allocation_account), True
        )
    elif row.values.get("allocated") is not None:
        links["allocated"] = Link(_admin("disbursements_entry", **entries), False)
    if recovery_account is not None:
        links["recovered"] = Link(
            _admin(
                "disbursements_entry", year=year, kind__exact=E_RECOVERY, target__id__exact=recovery_account
            ),
            True,
        )
    else:
        links["recovered"] = Link(_admin("subsidies_recoveryorder", year=year), False)
    return links


def years() -> list[int]:
    return list(Policy.objects.order_by("-year").values_list("year", flat=True))


# --- the chart above the table -----------------------------------------------------------------------

CHART_LABEL, CHART_WIDTH, CHART_ROW = 130, 520, 40


@dataclass(frozen=True)
class Bar:
    label: str
    y: int
    planned: Decimal | None
    paid: Decimal | None
    planned_width: Decimal
    paid_width: Decimal
    total: bool

    @property
    def planned_end(self) -> Decimal:
        return CHART_LABEL + self.planned_width + 6

    @property
    def paid_end(self) -> Decimal:
        return CHART_LABEL + self.paid_width + 6


def _width(percent: Decimal | None) -> Decimal:
    return ((percent or Decimal(0)) * CHART_WIDTH / 100).quantize(Decimal("0.1"))


def context(dashboard: Dashboard, table: Table) -> dict[str, Any]:
    """Bars per row: households with a plan and with tranche 1 paid, as % of the eligible households."""
    bars = []
    for index, row in enumerate([*table.rows, table.total]):
        planned, paid = row.percent_of("planned", "eligible"), row.percent_of("tranche1", "eligible")
        bars.append(
            Bar(
                label=row.name,
                y=30 + index * CHART_ROW,
                planned=planned,
                paid=paid,
                planned_width=_width(planned),
                paid_width=_width(paid),
                total=row.key is None,
            )
        )
    ticks = [(p, CHART_LABEL + p * CHART_WIDTH // 100) for p in (0, 25, 50, 75, 100)]
    chart = {
        "bars": bars,
        "ticks": ticks,
        "label_width": CHART_LABEL,
        "height": 30 + len(bars) * CHART_ROW + 26,
        "width": CHART_LABEL + CHART_WIDTH + 70,
        "axis_bottom": 30 + len(bars) * CHART_ROW,
    }
    return {"chart": chart, "deadline": table.extra.get("deadline")}


SECTION = Section(
    code=SECTION_CODE,
    label="到户产业扶持",
    columns=COLUMNS,
    compute=compute,
    links=links_for,
    template="subsidies/dashboard_section.html",
    years=years,
    context=context,
    refresh=refresh,
)
