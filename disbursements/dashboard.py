"""进度看板: how far each area is with the household grant of a year, for the landing page and its Excel.

Read-only. Every queryset starts from `scoped(..., user)`; an area picked in the URL (city HQ opening
a township, a township official opening a village) is itself looked up through `scoped`, so a
parameter can only narrow what the user already sees, never widen it.

Set-based: one GROUP BY query per family of columns (households, plans, payouts, analyses,
recoveries) and one read of the ledger, whatever the number of households. Counts come from the
database; money is summed here from the ledger entries, in Decimal (SQLite sums are REAL).

Money follows `services.reconcile`: 下拨 is what the row's own accounts received net of returns,
兑现 is what reached households (payouts, and grants invested as equity on a household's behalf),
收回 is what households paid back to 乡财政; a reversal counts against the entry it reverses.
`reconcile` itself is not called: it reads the whole city unscoped and knows its levels by name
only. For city HQ the two agree to the fen (tests/disbursements/test_dashboard.py).
"""

from __future__ import annotations

import datetime
import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import IO, Any
from urllib.parse import urlencode

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Count, F, Q
from django.urls import reverse
from django.utils import timezone

from households.models import Household, Township, User, Village, VillageGroup
from households.scoping import scoped, sees_everything
from subsidies.models import Policy
from subsidies.rules import to_fen
from subsidies.selectors import plans_for

from .models import Account, BenefitAnalysis, Entry, Payout, RecoveryOrder
from .services import eligible_households

ZERO = Decimal("0.00")
DEFAULT_YEAR = 2017

MSG_OUT_OF_SCOPE = "该地区不在您的管辖范围内。"
MSG_NO_ROLE = "您的账号尚未分配角色或辖区，请联系市指挥部。"
MSG_NO_POLICY = "{year} 年度没有扶持政策：无法判断扶持资格和承诺书期限。"
MSG_NOT_FILTERED = "该列表暂不能按本行筛选，显示的是您辖区内的全部记录"


class OutOfScope(Exception):
    """The area asked for is not one the user may see (the view answers 404)."""


class NoArea(OutOfScope):
    """The user has no role or no area of their own (the view answers 403)."""


class Level(StrEnum):
    """What one row of the table is."""

    TOWNSHIP = "township"  # city HQ, approver, auditor: one row per township
    VILLAGE = "village"  # one township: one row per village
    GROUP = "group"  # one village: one row per 村民小组
    CADRE = "cadre"  # a cadre: one row per village where they hold households


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
    Level.TOWNSHIP: (Account.Kind.TOWNSHIP, "township_id"),
    Level.VILLAGE: (Account.Kind.VILLAGE, "village_id"),
    Level.GROUP: (Account.Kind.VILLAGE, "village_id"),
    Level.CADRE: (Account.Kind.CADRE, "village_id"),
}
ROW_HEADING = {
    Level.TOWNSHIP: "乡镇",
    Level.VILLAGE: "村委会",
    Level.GROUP: "村民小组",
    Level.CADRE: "村委会",
}


@dataclass(frozen=True)
class Column:
    attr: str
    label: str
    money: bool = False


COLUMNS = [
    Column("households", "户数"),
    Column("eligible", "符合条件"),
    Column("planned", "已填计划"),
    Column("commitment_on_time", "承诺书按期签订"),
    Column("commitment_late", "承诺书逾期"),
    Column("tranche1", "第一期已兑现"),
    Column("tranche2", "第二期已兑现"),
    Column("tranche3", "第三期/以奖代补已兑现"),
    Column("settled", "已结算"),
    Column("recovery_households", "收回户数"),
    Column("allocated", "下拨金额（元）", money=True),
    Column("paid", "已兑现金额（元）", money=True),
    Column("recovered", "已收回金额（元）", money=True),
]
COUNTS = [c.attr for c in COLUMNS if not c.money]


@dataclass
class Row:
    key: int | None  # pk of the township / village / group; None for 合计
    name: str
    households: int = 0
    eligible: int = 0
    planned: int = 0
    commitment_on_time: int = 0
    commitment_late: int = 0
    tranche1: int = 0
    tranche2: int = 0
    tranche3: int = 0
    settled: int = 0
    recovery_households: int = 0
    allocated: Decimal | None = ZERO  # None: nothing is allocated to a 村民小组
    paid: Decimal = ZERO
    recovered: Decimal = ZERO
    allocation_account: int | None = None  # for the links to the ledger
    recovery_account: int | None = None  # the township's 乡财政

    def percent_of_eligible(self, attr: str) -> Decimal | None:
        if not self.eligible:
            return None
        share = Decimal(getattr(self, attr)) * 100 / self.eligible
        return share.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


@dataclass
class Dashboard:
    year: int
    level: Level
    title: str
    rows: list[Row]
    total: Row
    township: Township | None = None  # the area shown
    village: Village | None = None
    narrowed: bool = False  # narrower than the user's whole scope (city HQ opened a township …)
    deadline: datetime.date | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def row_heading(self) -> str:
        return ROW_HEADING[self.level]

    @property
    def area_name(self) -> str:
        if self.village is not None:
            return self.village.name
        if self.township is not None:
            return self.township.name
        return "全市" if self.level == Level.TOWNSHIP else self.title


# --- the area -----------------------------------------------------------------------------------


def resolve_area(
    user: User, *, township_id: int | None = None, village_id: int | None = None
) -> tuple[Level, Township | None, Village | None]:
    """The table the user gets: their own area by default, or a narrower one they asked for.

    An official's own area is looked up through `scoped` like any other, so a user without a role
    or area gets nothing, and an area outside their scope is "not found".
    """
    everything = sees_everything(user)
    if not everything and user.role == "cadre":
        return Level.CADRE, None, None
    if not everything and township_id is None and village_id is None:
        if user.role == "township":
            township_id = user.township_id  # type: ignore[attr-defined]
        elif user.role == "village":
            village_id = user.village_id  # type: ignore[attr-defined]
        if township_id is None and village_id is None:
            raise NoArea(MSG_NO_ROLE)
    if village_id is not None:
        village = scoped(Village.objects.select_related("township"), user).filter(pk=village_id).first()
        if village is None:
            raise OutOfScope(MSG_OUT_OF_SCOPE)
        return Level.GROUP, village.township, village
    if township_id is not None:
        township = scoped(Township.objects.all(), user).filter(pk=township_id).first()
        if township is None:
            raise OutOfScope(MSG_OUT_OF_SCOPE)
        return Level.VILLAGE, township, None
    return Level.TOWNSHIP, None, None


def _narrow[M: models.Model](
    queryset: models.QuerySet[M], to_household: str, township: Township | None, village: Village | None
) -> models.QuerySet[M]:
    """Keep the rows of the area shown; `to_household` is the lookup prefix from the model to Household."""
    if village is not None:
        return queryset.filter(**{f"{to_household}village": village})
    if township is not None:
        return queryset.filter(**{f"{to_household}village__township": township})
    return queryset


def _row_labels(
    level: Level, user: User, township: Township | None, village: Village | None
) -> list[tuple[int, str]]:
    if level == Level.TOWNSHIP:
        return list(scoped(Township.objects.all(), user).order_by("code").values_list("pk", "name"))
    if level == Level.VILLAGE:
        villages = scoped(Village.objects.filter(township=township), user)
        return list(villages.order_by("code").values_list("pk", "name"))
    if level == Level.CADRE:  # a cadre's villages may lie in several townships
        villages = scoped(Village.objects.all(), user).order_by("code")
        return [(pk, f"{t} {v}") for pk, t, v in villages.values_list("pk", "township__name", "name")]
    groups = scoped(VillageGroup.objects.filter(village=village), user).values_list("pk", "name")
    return sorted(groups, key=lambda group: _group_order(group[1]))


NUMERALS = {c: i for i, c in enumerate("一二三四五六七八九十", start=1)}


def _group_order(name: str) -> tuple[int, str]:
    """一组 … 十二组 in counting order, then 上组 / 中组 / 下组, then the rest by name."""
    match = re.match(r"\d+|[一二三四五六七八九十]+", name)
    if match is None:
        position = "上中下".find(name[:1])
        return (1000 + position if position >= 0 else 2000), name
    text = match.group()
    if text.isdigit():
        return int(text), name
    if "十" not in text:
        return NUMERALS[text[0]], name
    tens, _, ones = text.partition("十")
    return NUMERALS.get(tens, 1) * 10 + NUMERALS.get(ones, 0), name


# --- the counts ---------------------------------------------------------------------------------


def _grouped(queryset: models.QuerySet[Any], row: str, **aggregates: Any) -> dict[int, dict[str, int]]:
    return {r.pop("row"): r for r in queryset.order_by().values(row=F(row)).annotate(**aggregates)}


def _counts(
    level: Level,
    user: User,
    year: int,
    township: Township | None,
    village: Village | None,
    deadline: datetime.date | None,
    today: datetime.date,
) -> dict[int, dict[str, int]]:
    """Per row: the household counts of every column, each a count of distinct households."""
    row = ROW_OF_HOUSEHOLD[level]
    result: dict[int, dict[str, int]] = defaultdict(dict)

    try:
        eligible = Q(pk__in=eligible_households(year)[0].values("pk"))  # the one eligibility rule
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
    past_deadline = deadline is not None and today > deadline
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

    payouts = _narrow(
        scoped(Payout.objects.filter(year=year, reversed_at__isnull=True), user),
        "household__",
        township,
        village,
    )
    tranches = {f"tranche{n}": Count("household", distinct=True, filter=Q(tranche=n)) for n in (1, 2, 3)}
    for key, values in _grouped(payouts, f"household__{row}", **tranches).items():
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


# --- the money ----------------------------------------------------------------------------------


def _sums() -> defaultdict[int | None, Decimal]:
    return defaultdict(lambda: ZERO)


@dataclass
class _Money:
    allocated: defaultdict[int | None, Decimal] = field(default_factory=_sums)
    paid: defaultdict[int | None, Decimal] = field(default_factory=_sums)
    recovered: defaultdict[int | None, Decimal] = field(default_factory=_sums)
    allocation_account: dict[int, int] = field(default_factory=dict)
    recovery_account: dict[int, int] = field(default_factory=dict)


def _money(level: Level, user: User, year: int, township: Township | None, village: Village | None) -> _Money:
    """Per row, from the ledger entries touching the accounts the user may see in the area."""
    row = ROW_OF_HOUSEHOLD[level]
    allocation_kind, place = ALLOCATION[level]
    accounts = scoped(Account.objects.all(), user)
    if village is not None:
        accounts = accounts.filter(village=village)
    elif township is not None:
        accounts = accounts.filter(township=township)

    result = _Money()
    kind_of: dict[int, str] = {}
    row_of: dict[int, int | None] = {}  # an account's row: by its place, a household's by the household
    for pk, kind, place_id, household_row in accounts.values_list("pk", "kind", place, f"household__{row}"):
        kind_of[pk] = kind
        row_of[pk] = household_row if kind == Account.Kind.HOUSEHOLD else place_id
        if place_id is not None and kind == allocation_kind:
            result.allocation_account[place_id] = pk
        if place_id is not None and kind == Account.Kind.TOWNSHIP_FINANCE:
            result.recovery_account[place_id] = pk
    visible_accounts = accounts.values("pk")
    entries = (
        Entry.objects.filter(year=year)
        .filter(Q(source__in=visible_accounts) | Q(target__in=visible_accounts))
        .values_list("pk", "source_id", "target_id", "amount", "kind", "reverses_id", "reverses__kind")
    )
    for pk, source, target, amount, kind, reverses_id, reverses_kind in entries:
        amount = to_fen(amount)
        if kind == Entry.Kind.REVERSAL:  # undoes the original: count it against the original's sides
            pk, kind, source, target, amount = reverses_id, reverses_kind, target, source, -amount
        if kind == Entry.Kind.ALLOCATION and kind_of.get(target) == allocation_kind:
            result.allocated[row_of[target]] += amount
        elif kind == Entry.Kind.ALLOCATION_RETURN and kind_of.get(source) == allocation_kind:
            result.allocated[row_of[source]] -= amount
        elif kind in (Entry.Kind.PAYOUT, Entry.Kind.EQUITY) and kind_of.get(target) == Account.Kind.HOUSEHOLD:
            # Cash, rewards and equity all reach the household's account first.
            result.paid[row_of[target]] += amount
        elif kind == Entry.Kind.RECOVERY and kind_of.get(source) == Account.Kind.HOUSEHOLD:
            result.recovered[row_of[source]] += amount
    return result


# --- the table ----------------------------------------------------------------------------------


def dashboard_for(
    user: User,
    *,
    year: int = DEFAULT_YEAR,
    township_id: int | None = None,
    village_id: int | None = None,
    today: datetime.date | None = None,
) -> Dashboard:
    """The progress table of `year` for the user's area (or a narrower area inside it)."""
    level, township, village = resolve_area(user, township_id=township_id, village_id=village_id)
    asked = township_id is not None or village_id is not None
    narrowed = asked and (level, township, village) != resolve_area(user)
    policy = Policy.objects.filter(year=year).first()
    deadline = policy.commitment_deadline if policy else None
    counts = _counts(level, user, year, township, village, deadline, today or timezone.localdate())
    money = _money(level, user, year, township, village)

    rows = []
    for key, name in _row_labels(level, user, township, village):
        row = Row(key=key, name=name)
        for attr, count in counts.get(key, {}).items():
            setattr(row, attr, count)
        row.paid, row.recovered = money.paid[key], money.recovered[key]
        if level == Level.GROUP:
            row.allocated = None
        else:
            row.allocated = money.allocated[key]
            row.allocation_account = money.allocation_account.get(key)
        row.recovery_account = money.recovery_account.get(key) if level == Level.TOWNSHIP else None
        rows.append(row)

    total = Row(key=None, name="合计")
    for attr in COUNTS:
        setattr(total, attr, sum(getattr(r, attr) for r in rows))
    total.paid = sum((r.paid for r in rows), ZERO)
    total.recovered = sum((r.recovered for r in rows), ZERO)
    if level == Level.GROUP:  # the village's own allocation
        assert village is not None
        total.allocated = money.allocated[village.pk]
        total.allocation_account = money.allocation_account.get(village.pk)
    else:
        total.allocated = sum((r.allocated or ZERO for r in rows), ZERO)

    notes = []
    if policy is None:
        notes.append(MSG_NO_POLICY.format(year=year))
    return Dashboard(
        year=year,
        level=level,
        title=_title(level, user, township, village),
        rows=rows,
        total=total,
        township=township,
        village=village,
        narrowed=narrowed,
        deadline=deadline,
        notes=notes,
    )


def _title(level: Level, user: User, township: Township | None, village: Village | None) -> str:
    if level == Level.TOWNSHIP:
        return "全市各乡镇"
    if level == Level.VILLAGE:
        return f"{township}各村（社区）"
    if level == Level.GROUP:
        return f"{village}各村民小组"
    return f"{user.display_name} 挂包户（按村）"


def years() -> list[int]:
    return list(Policy.objects.order_by("-year").values_list("year", flat=True)) or [DEFAULT_YEAR]


# --- where each number comes from -----------------------------------------------------------------


@dataclass(frozen=True)
class Link:
    url: str
    exact: bool  # the list shows exactly the households counted; False: the user's whole area


def _admin(name: str, **params: Any) -> str:
    url = reverse(f"admin:{name}_changelist")
    return f"{url}?{urlencode(params)}" if params else url


def links_for(dashboard: Dashboard, row: Row) -> dict[str, Link]:
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
        "settled": Link(_admin("disbursements_benefitanalysis"), False),
        "recovery_households": Link(_admin("disbursements_recoveryorder", year=year), whole),
        "paid": Link(_admin("disbursements_payout", year=year), False),  # equity is on its own list
    }
    for n in (1, 2, 3):
        links[f"tranche{n}"] = Link(_admin("disbursements_payout", year=year, tranche__exact=n), whole)
    entries = {"year": year, "kind__exact": Entry.Kind.ALLOCATION}
    if row.allocation_account is not None:
        links["allocated"] = Link(
            _admin("disbursements_entry", **entries, target__id__exact=row.allocation_account), True
        )
    elif row.allocated is not None:
        links["allocated"] = Link(_admin("disbursements_entry", **entries), False)
    if row.recovery_account is not None:
        links["recovered"] = Link(
            _admin(
                "disbursements_entry",
                year=year,
                kind__exact=Entry.Kind.RECOVERY,
                target__id__exact=row.recovery_account,
            ),
            True,
        )
    else:
        links["recovered"] = Link(_admin("disbursements_recoveryorder", year=year), False)
    return links


# --- Excel --------------------------------------------------------------------------------------


def write_xlsx(dashboard: Dashboard, stream: IO[bytes]) -> None:
    """The table as shown: a header row, one row per line, the 合计 row; numbers stay numeric cells."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = f"{dashboard.year}年度进度"
    sheet.append([dashboard.row_heading, *(c.label for c in COLUMNS)])
    for row in [*dashboard.rows, dashboard.total]:
        sheet.append([row.name, *(getattr(row, c.attr) for c in COLUMNS)])
    bold = Font(bold=True)
    for cell in sheet[1]:
        cell.font = bold
        cell.alignment = Alignment(wrap_text=True, vertical="center", horizontal="center")
    for cell in sheet[sheet.max_row]:
        cell.font = bold
    for index, column in enumerate(COLUMNS, start=2):
        letter = sheet.cell(row=1, column=index).column_letter
        sheet.column_dimensions[letter].width = 16 if column.money else 11
        if column.money:
            for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                cell.number_format = "#,##0.00"
    sheet.column_dimensions["A"].width = 16
    sheet.freeze_panes = "B2"
    book.save(stream)
