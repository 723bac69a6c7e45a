"""进度看板, the frame: the area a user sees (city → townships → villages → 村民小组; a cadre's villages),
the rows of that area, and the sections the programmes register, each computing its columns for
the rows (`DASHBOARD_SECTIONS`). Read-only.

Sections slow over the whole registry keep their figures in summary tables refreshed by the worker
(`Section.refresh`, `disbursements.summaries`); the dashboard says how fresh they are (数据截至).

Every area picked in the URL (city HQ opening a township, a township official opening a village)
is looked up through `scoped`, so a parameter can only narrow what the user already sees, never
widen it. Sections must start every queryset from `scoped(..., user)` too, and be set-based (a
constant number of queries whatever the number of rows).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import IO, Any

from django.utils import timezone

from households.models import Township, User, Village, VillageGroup
from households.scoping import scoped, sees_everything

from .registry import Registry
from .summaries import Freshness, Refresh, freshness

DEFAULT_YEAR = 2017

MSG_OUT_OF_SCOPE = "该地区不在您的管辖范围内。"
MSG_NO_ROLE = "您的账号尚未分配角色或辖区，请联系市指挥部。"
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


ROW_HEADING = {
    Level.TOWNSHIP: "乡镇",
    Level.VILLAGE: "村委会",
    Level.GROUP: "村民小组",
    Level.CADRE: "村委会",
}


@dataclass(frozen=True)
class Area:
    """The table being computed: its level and the township / village it is narrowed to."""

    level: Level
    township: Township | None
    village: Village | None
    user: User
    year: int
    today: datetime.date
    narrowed: bool = False


@dataclass(frozen=True)
class Column:
    attr: str
    label: str
    money: bool = False
    warn: bool = False  # a non-zero value is shown as a warning (e.g. letters overdue)


@dataclass(frozen=True)
class Link:
    url: str
    exact: bool  # the list shows exactly what was counted; False: the user's whole area


@dataclass
class Row:
    """One line of a section's table: the area's key and name, and the section's values by column."""

    key: int | None  # pk of the township / village / group; None for 合计
    name: str
    values: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, attr: str) -> Any:
        values = self.__dict__.get("values", {})
        if attr in values:
            return values[attr]
        raise AttributeError(attr)

    def percent_of(self, attr: str, base: str) -> Decimal | None:
        whole = self.values.get(base) or 0
        if not whole:
            return None
        share = Decimal(self.values.get(attr) or 0) * 100 / whole
        return share.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


@dataclass
class Computed:
    """What a section computed for an area: values per row key, the 合计 row's values where they are
    not the sum of the rows (e.g. money allocated to a village, not to its groups), notes, extras."""

    values: dict[int, dict[str, Any]]
    total: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Section:
    """A programme's part of the dashboard."""

    code: str
    label: str
    columns: tuple[Column, ...]
    compute: Callable[[Area], Computed] = field(compare=False)
    links: Callable[[Dashboard, Table, Row], dict[str, Link]] | None = field(default=None, compare=False)
    template: str = ""  # extra content around the table (key figures, a chart), given `table`
    years: Callable[[], list[int]] | None = field(default=None, compare=False)
    # What `template` needs beyond the table (e.g. the chart's geometry).
    context: Callable[[Dashboard, Table], dict[str, Any]] | None = field(default=None, compare=False)
    # Figures per small area for (year, township ids), kept in the summary tables by the worker;
    # `compute` then reads them (`summaries.figures`) instead of the registry.
    refresh: Refresh | None = field(default=None, compare=False)


DASHBOARD_SECTIONS: Registry[Section] = Registry("dashboard section")


@dataclass
class Table:
    section: Section
    rows: list[Row]
    total: Row
    notes: list[str]
    extra: dict[str, Any]

    @property
    def columns(self) -> tuple[Column, ...]:
        return self.section.columns


@dataclass
class Dashboard:
    year: int
    level: Level
    title: str
    tables: list[Table]
    township: Township | None = None  # the area shown
    village: Village | None = None
    narrowed: bool = False  # narrower than the user's whole scope (city HQ opened a township …)
    fresh: Freshness | None = None  # when the summary figures were taken

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

    # The first section's table, for callers that know the dashboard as one table.
    @property
    def rows(self) -> list[Row]:
        return self.tables[0].rows if self.tables else []

    @property
    def total(self) -> Row:
        return self.tables[0].total if self.tables else Row(None, "合计")

    @property
    def notes(self) -> list[str]:
        return [note for table in self.tables for note in table.notes]

    def __getattr__(self, attr: str) -> Any:
        for table in self.__dict__.get("tables", []):
            if attr in table.extra:
                return table.extra[attr]
        raise AttributeError(attr)


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


def row_labels(
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
    return sorted(groups, key=lambda group: group_order(group[1]))


NUMERALS = {c: i for i, c in enumerate("一二三四五六七八九十", start=1)}


def group_order(name: str) -> tuple[int, str]:
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


def _title(level: Level, user: User, township: Township | None, village: Village | None) -> str:
    if level == Level.TOWNSHIP:
        return "全市各乡镇"
    if level == Level.VILLAGE:
        return f"{township}各村（社区）"
    if level == Level.GROUP:
        return f"{village}各村民小组"
    return f"{user.display_name} 挂包户（按村）"


# --- the tables ---------------------------------------------------------------------------------


def _table(section: Section, area: Area, labels: list[tuple[int, str]]) -> Table:
    computed = section.compute(area)
    rows = [Row(key, name, dict(computed.values.get(key, {}))) for key, name in labels]
    for row in rows:
        for column in section.columns:
            row.values.setdefault(column.attr, Decimal("0.00") if column.money else 0)
    total = Row(None, "合计")
    for column in section.columns:
        if column.attr in computed.total:
            total.values[column.attr] = computed.total[column.attr]
            continue
        values = [r.values[column.attr] for r in rows if r.values[column.attr] is not None]
        total.values[column.attr] = sum(values, Decimal("0.00") if column.money else 0)
    for attr, value in computed.total.items():
        total.values.setdefault(attr, value)
    return Table(section, rows, total, computed.notes, computed.extra)


def dashboard_for(
    user: User,
    *,
    year: int = DEFAULT_YEAR,
    township_id: int | None = None,
    village_id: int | None = None,
    today: datetime.date | None = None,
) -> Dashboard:
    """The progress tables of `year` for the user's area (or a narrower area inside it)."""
    level, township, village = resolve_area(user, township_id=township_id, village_id=village_id)
    asked = township_id is not None or village_id is not None
    narrowed = asked and (level, township, village) != resolve_area(user)
    area = Area(level, township, village, user, year, today or timezone.localdate(), narrowed)
    labels = row_labels(level, user, township, village)
    if township is not None:
        fresh = freshness(year, [township.pk])
    else:  # the city (every township) or a cadre (the townships of their households)
        fresh = freshness(year, scoped(Township.objects.all(), user).values("pk"))
    return Dashboard(
        year=year,
        level=level,
        title=_title(level, user, township, village),
        tables=[_table(section, area, labels) for section in DASHBOARD_SECTIONS],
        township=township,
        village=village,
        narrowed=narrowed,
        fresh=fresh,
    )


def links_for(dashboard: Dashboard, table: Table, row: Row) -> dict[str, Link]:
    section = table.section
    return section.links(dashboard, table, row) if section.links is not None else {}


def years() -> list[int]:
    found: set[int] = set()
    for section in DASHBOARD_SECTIONS:
        if section.years is not None:
            found.update(section.years())
    return sorted(found, reverse=True) or [DEFAULT_YEAR]


def all_columns(dashboard: Dashboard) -> Iterator[tuple[Table, Column]]:
    for table in dashboard.tables:
        for column in table.columns:
            yield table, column


# --- Excel --------------------------------------------------------------------------------------


def write_xlsx(dashboard: Dashboard, stream: IO[bytes], *, issuer: str | None = None) -> None:
    """The tables as shown: one sheet per section, a header row, one row per line, the 合计 row;
    through the one xlsx writer: numbers stay numeric cells, names stay text (a 村民小组 named `=…`
    is never a formula), and each sheet prints on A4 landscape, one page wide, under its title and
    `issuer` (who downloads it: `households.xlsx.issuer_for`; the city HQ by default)."""
    from households.xlsx import CITY_ISSUER, ColumnSpec, Kind, SheetSpec, write_workbook

    tables = dashboard.tables or [
        Table(Section("none", "进度", (), lambda a: Computed({})), [], Row(None, "合计"), [], {})
    ]
    sheets = []
    for table in tables:
        columns = [
            ColumnSpec(dashboard.row_heading),
            *(ColumnSpec(c.label, Kind.MONEY if c.money else Kind.INT) for c in table.columns),
        ]
        sheets.append(
            SheetSpec(
                name=f"{dashboard.year}年度{table.section.label}",
                title=f"{dashboard.year}年度{table.section.label}（{dashboard.title}）",
                columns=columns,
                rows=[[row.name, *(row.values.get(c.attr) for c in table.columns)] for row in table.rows],
                total_row=[table.total.name, *(table.total.values.get(c.attr) for c in table.columns)],
            )
        )
    write_workbook(stream, issuer=issuer or CITY_ISSUER, sheets=sheets)
