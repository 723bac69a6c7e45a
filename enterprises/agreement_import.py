"""帮扶协议 import (README, formats: 帮扶协议导入表): the admin's and `import_agreements`' one service.

On the import frame of the roster: chunked, a fixed number of queries per chunk, one transaction,
all or nothing, every bad row reported as `第 N 行 列名 值：原因`. The one-claim rule (a household
counts toward one organisation's incentive per year) is checked against the database and within the
file, naming the first claim.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from django.db.models import Q
from django.utils import timezone

from households.imports import (
    CellError,
    Change,
    ChunkedImportJob,
    Column,
    Importer,
    ImportFileError,
    ImportReport,
    Row,
    cell_at,
    max_length_of,
    text,
    whole_number,
    yes_no,
)
from households.models import Household, ImportBatch, User
from households.scoping import scoped, sees_everything

from .models import Agreement, IncentivePolicy, Organisation
from .services import MSG_CLAIMED

CHUNK = 2000

COLUMNS = [
    Column("组织名称", "organisation", max_length=max_length_of(Organisation, "name")),
    Column("户编号", "code", max_length=max_length_of(Household, "code")),
    Column("年度", "year"),
    Column("帮扶方式", "ways"),
    Column("产业", "industry", max_length=max_length_of(Agreement, "industry")),
    Column("签订日期", "signed_on"),
    Column("开始日期", "starts_on"),
    Column("结束日期", "ends_on"),
    Column("计入本组织奖补", "counts", required=False),
]
HEADER = {c.key: c.header for c in COLUMNS}
MSG_NO_PERMISSION = "您的角色不能导入帮扶协议。"
_DATE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$")
_SPLIT = re.compile(r"[、，,；;/\s]+")


def date_cell(value: Any) -> datetime.date:
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    raw = text(value)
    if not raw:
        raise CellError("不能为空")
    match = _DATE.match(raw)
    if not match:
        raise CellError("应为日期，如 2017-03-01")
    try:
        return datetime.date(*(int(g) for g in match.groups()))
    except ValueError:
        raise CellError("日期无效") from None


def split_ways(raw: str) -> list[str]:
    """“订单种植/养殖” holds a slash: it is matched whole before the cell is split."""
    ways: list[str] = []
    rest = raw
    for whole in ("订单种植/养殖",):
        if whole in rest:
            ways.append(whole)
            rest = rest.replace(whole, "、")
    ways.extend(w for w in _SPLIT.split(rest) if w)
    return list(dict.fromkeys(ways))


class AgreementImport(ChunkedImportJob):
    chunk_size = CHUNK

    def __init__(self, *, actor: User | None, report: ImportReport, batch: ImportBatch) -> None:
        if actor is not None and not actor.has_perm("enterprises.import_agreement"):
            raise ImportFileError(MSG_NO_PERMISSION)
        self.actor = actor
        self.report = report
        self.batch = batch
        self.now = timezone.now()
        self.seen: dict[tuple[str, str, int], int] = {}
        self.claims_in_file: dict[tuple[str, int], tuple[int, str]] = {}
        self.policies = {p.year: p for p in IncentivePolicy.objects.all()}
        self.writing = True

    def _organisations(self) -> Any:
        queryset = Organisation.objects.all()
        if self.actor is None or sees_everything(self.actor):
            return queryset
        return scoped(queryset, self.actor)

    def _cells(self, number: int, row: Row, positions: dict[str, int]) -> dict[str, Any] | None:
        def cell(key: str) -> Any:
            return cell_at(row, positions, key)

        before = len(self.report.errors)
        values: dict[str, Any] = {}
        for key in ("organisation", "code", "industry"):
            values[key] = text(cell(key))
            if not values[key]:
                self.report.add_error(number, HEADER[key], cell(key), "不能为空")
        try:
            values["year"] = whole_number(cell("year"))
        except CellError as exc:
            self.report.add_error(number, "年度", cell("year"), str(exc))
        for key in ("signed_on", "starts_on", "ends_on"):
            try:
                values[key] = date_cell(cell(key))
            except CellError as exc:
                self.report.add_error(number, HEADER[key], cell(key), str(exc))
        raw_counts = cell("counts")
        try:
            values["counts"] = True if text(raw_counts) == "" else yes_no(raw_counts)
        except CellError as exc:
            self.report.add_error(number, "计入本组织奖补", raw_counts, str(exc))
        values["ways"] = split_ways(text(cell("ways")))
        if not values["ways"]:
            self.report.add_error(number, "帮扶方式", cell("ways"), "不能为空")
        elif "year" in values:
            policy = self.policies.get(values["year"])
            if policy is None:
                self.report.add_error(number, "年度", values["year"], "该年度没有带贫奖补政策")
            else:
                for way in values["ways"]:
                    if way not in policy.support_ways:
                        self.report.add_error(number, "帮扶方式", way, "不在政策列出的帮扶方式中")
        if "starts_on" in values and "ends_on" in values and values["ends_on"] < values["starts_on"]:
            self.report.add_error(number, "结束日期", cell("ends_on"), "不能早于开始日期")
        if len(self.report.errors) > before:
            return None
        first = self.first_row(self.seen, (values["organisation"], values["code"], values["year"]), number)
        if first is not None:
            self.report.add_error(
                number, "户编号", values["code"], f"与第 {first} 行重复（同一组织、同一年度）"
            )
            return None
        if values["counts"]:
            claim = self.claims_in_file.setdefault(
                (values["code"], values["year"]), (number, values["organisation"])
            )
            if claim[0] != number:
                self.report.add_error(
                    number,
                    "户编号",
                    values["code"],
                    MSG_CLAIMED.format(year=values["year"], organisation=claim[1]).rstrip("。")
                    + f"（第 {claim[0]} 行）",
                )
                return None
        return values

    def _process(self, chunk: list[tuple[int, dict[str, Any]]]) -> None:
        names = {v["organisation"] for _, v in chunk}
        codes = {v["code"] for _, v in chunk}
        years = {v["year"] for _, v in chunk}
        organisations = {o.name: o for o in self._organisations().filter(name__in=names)}
        households = {h.code: h for h in Household.objects.filter(code__in=codes).select_related("village")}
        visible: set[int] = set()
        if self.actor is not None and not sees_everything(self.actor):
            visible = set(
                scoped(Household.objects.filter(code__in=codes), self.actor).values_list("pk", flat=True)
            )
        existing = set(
            Agreement.objects.filter(
                household__code__in=codes, year__in=years, organisation__name__in=names
            ).values_list("organisation__name", "household__code", "year")
        )
        claims = {
            (code, year): name
            for code, year, name in Agreement.objects.filter(
                Q(household__code__in=codes), year__in=years, counts=True
            ).values_list("household__code", "year", "organisation__name")
        }
        new: list[Agreement] = []
        for number, values in chunk:
            organisation = organisations.get(values["organisation"])
            if organisation is None:
                self.report.add_error(
                    number,
                    "组织名称",
                    values["organisation"],
                    "系统中没有这一组织，或不在您的管辖范围内，请先登记",
                )
                continue
            household = households.get(values["code"])
            if household is None:
                self.report.add_error(number, "户编号", values["code"], "系统中没有这一户，请先导入户花名册")
                continue
            if (
                self.actor is not None
                and not sees_everything(self.actor)
                and household.pk not in visible
                and organisation.township_id != getattr(self.actor, "township_id", None)
            ):
                self.report.add_error(number, "户编号", values["code"], "该户不在您的管辖范围内")
                continue
            key = (values["organisation"], values["code"], values["year"])
            if key in existing:
                self.report.rows_unchanged += 1
                continue
            if values["counts"]:
                first = claims.get((values["code"], values["year"]))
                if first is not None and first != values["organisation"]:
                    self.report.add_error(
                        number,
                        "户编号",
                        values["code"],
                        MSG_CLAIMED.format(year=values["year"], organisation=first),
                    )
                    continue
            new.append(
                Agreement(
                    organisation=organisation,
                    household=household,
                    year=values["year"],
                    ways=values["ways"],
                    industry=values["industry"],
                    signed_on=values["signed_on"],
                    starts_on=values["starts_on"],
                    ends_on=values["ends_on"],
                    counts=values["counts"],
                    import_batch=self.batch,
                    created_by=self.actor,
                    created_at=self.now,
                )
            )
            self.report.note_new(
                Change(
                    number,
                    values["code"],
                    f"{household.head_name} — {organisation.name}",
                    {"帮扶方式": ("", "、".join(values["ways"])), "产业": ("", values["industry"])},
                )
            )
        if self.report.errors:
            self.writing = False
        if not self.writing:
            return
        Agreement.objects.bulk_create(new, batch_size=1000)


def _one_agreement_import_at_a_time() -> None:
    list(IncentivePolicy.objects.select_for_update(no_key=True).order_by("pk").values_list("pk"))


agreement_import = Importer(
    kind="agreements",
    label="帮扶协议导入表",
    columns=COLUMNS,
    job=AgreementImport,
    lock=_one_agreement_import_at_a_time,
    unit="份",
)
