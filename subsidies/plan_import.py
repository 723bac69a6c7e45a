"""Industry-plan import (产业计划汇总表, `excel-formats.md` §2): the admin's and the command's one service.

Like the roster import: chunked, a fixed number of queries per chunk, one transaction, all or
nothing, every bad row reported as `第 N 行 列名 值：原因`. Each row is quoted by the rules module
under the year's current policy, so a sheet can never store an amount the rules would not give.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils import timezone

from disbursements import summaries
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
    decimal_number,
    max_length_of,
    text,
    whole_number,
)
from households.models import Household, ImportBatch, User
from households.scoping import scoped, sees_everything

from . import rules
from .models import HouseholdPlan, PlanStatus, Policy
from .services import _split_species, check_one_species

CHUNK = 2000

# Text columns hold at most what the field they land in holds (checked by the import frame).
COLUMNS = [
    Column("户编号", "code", max_length=max_length_of(Household, "code")),
    Column("年度", "year"),
    Column("种植品种", "crops", required=False, max_length=max_length_of(HouseholdPlan, "crops")),
    Column("种植面积（亩）", "area", required=False),
    Column("养殖品种", "species", required=False, max_length=max_length_of(HouseholdPlan, "species")),
    Column("养殖数量", "quantity", required=False),
]
HEADER = {c.key: c.header for c in COLUMNS}
STORED = [
    "crops",
    "planting_area",
    "species",
    "breeding_quantity",
    "planting_subsidy",
    "breeding_subsidy",
    "grant_total",
    "tranche1",
    "tranche2",
    "tranche3",
]
SHOWN = {
    "crops": "种植品种",
    "planting_area": "种植面积（亩）",
    "species": "养殖品种",
    "breeding_quantity": "养殖数量",
    "grant_total": "补助合计",
}

MSG_NO_PERMISSION = "您的角色不能导入产业计划。"


class PlanImport(ChunkedImportJob):
    chunk_size = CHUNK

    def __init__(self, *, actor: User | None, report: ImportReport, batch: ImportBatch) -> None:
        if actor is not None and not actor.has_perm("subsidies.import_householdplan"):
            raise ImportFileError(MSG_NO_PERMISSION)
        self.actor = actor
        self.report = report
        self.batch = batch
        self.now = timezone.now()
        self.seen: dict[tuple[str, int], int] = {}
        self.policies: dict[int, tuple[Policy, rules.Terms] | None] = {}
        self.writing = True

    def households(self) -> Any:
        queryset = Household.objects.all()
        if self.actor is None or sees_everything(self.actor):
            return queryset
        return scoped(queryset, self.actor)

    def terms(self, year: int) -> tuple[Policy, rules.Terms] | None:
        if year not in self.policies:
            policy = (
                Policy.objects.filter(year=year).prefetch_related("categories", "species__category").first()
            )
            self.policies[year] = (policy, policy.terms()) if policy else None
        return self.policies[year]

    def _cells(self, number: int, row: Row, positions: dict[str, int]) -> dict[str, Any] | None:
        def cell(key: str) -> Any:
            return cell_at(row, positions, key)

        before = len(self.report.errors)
        values: dict[str, Any] = {"crops": text(cell("crops")), "species": text(cell("species"))}
        code = text(cell("code"))
        if not code:
            self.report.add_error(number, "户编号", cell("code"), "不能为空")
        values["code"] = code
        try:
            values["year"] = whole_number(cell("year"))
        except CellError as exc:
            self.report.add_error(number, "年度", cell("year"), str(exc))
        for key, column in (("area", "种植面积（亩）"), ("quantity", "养殖数量")):
            raw = cell(key)
            if raw is None or text(raw) == "":
                values[key] = Decimal(0)
                continue
            try:
                values[key] = decimal_number(raw)
            except CellError as exc:
                self.report.add_error(number, column, raw, str(exc))
                continue
            if values[key] < 0:
                self.report.add_error(number, column, raw, "不能为负数")
        if values.get("quantity") and not values["species"]:
            self.report.add_error(number, "养殖品种", cell("species"), "填写了养殖数量，请同时填写养殖品种")
        if values.get("area") and not values["crops"]:
            self.report.add_error(number, "种植品种", cell("crops"), "填写了种植面积，请同时填写种植品种")
        if len(self.report.errors) > before:
            return None
        first = self.first_row(self.seen, (code, values["year"]), number)
        if first is not None:
            self.report.add_error(number, "户编号", code, f"{values['year']} 年度的计划与第 {first} 行重复")
            return None
        return values

    def _process(self, chunk: list[tuple[int, dict[str, Any]]]) -> None:
        codes = {v["code"] for _, v in chunk}
        households = {h.code: h for h in self.households().filter(code__in=codes)}
        unknown_anywhere = codes - households.keys()
        exists_elsewhere = (
            set(Household.objects.filter(code__in=unknown_anywhere).values_list("code", flat=True))
            if unknown_anywhere
            else set()
        )
        plans: dict[tuple[int, int], HouseholdPlan] = {}
        for existing in (
            HouseholdPlan.objects.filter(
                household__in=households.values(), year__in={v["year"] for _, v in chunk}
            )
            .exclude(status=PlanStatus.SUPERSEDED)
            .order_by("pk")
        ):
            plans[(existing.household_id, existing.year)] = existing  # the newest wins: an open amendment
        new: list[HouseholdPlan] = []
        changed: list[tuple[int, HouseholdPlan, dict[str, tuple[str, str]]]] = []
        for number, values in chunk:
            household = households.get(values["code"])
            if household is None:
                reason = (
                    "该户不在您的管辖范围内"
                    if values["code"] in exists_elsewhere
                    else "系统中没有这一户，请先导入户花名册"
                )
                self.report.add_error(number, "户编号", values["code"], reason)
                continue
            policy_terms = self.terms(values["year"])
            if policy_terms is None:
                self.report.add_error(number, "年度", values["year"], "该年度没有扶持政策")
                continue
            policy, terms = policy_terms
            species = _split_species(values["species"])
            facts = rules.PlanFacts(
                planting_area=values["area"],
                crops=values["crops"],
                breeding=[(s, values["quantity"]) for s in species],
            )
            try:
                quote = rules.quote(
                    terms, facts, exit_year=household.exit_year, consolidation=household.consolidation
                )
                check_one_species(facts)
            except rules.PlanRefused as exc:
                column = _column_for(str(exc))
                raw = {
                    "脱贫年度": household.exit_year,
                    "养殖品种": values["species"],
                    "种植面积（亩）": values["area"],
                }
                self.report.add_error(number, column, raw.get(column, values["code"]), str(exc))
                continue
            plan = plans.get((household.pk, values["year"]))
            if plan is not None and not plan.is_editable:
                self.report.add_error(number, "户编号", values["code"], "该户计划已进入审批，不能用导入修改")
                continue
            target: HouseholdPlan = plan or HouseholdPlan(
                household=household, year=values["year"], created_by=self.actor, created_at=self.now
            )
            old = {f: getattr(target, f) for f in STORED} if plan else {}
            target.crops = values["crops"]
            target.planting_area = rules.to_fen(values["area"])
            target.species = species[0] if species else ""
            target.breeding_quantity = rules.to_fen(values["quantity"]) if species else Decimal("0.00")
            target.policy = policy
            target.policy_version = quote.policy_version
            target.planting_subsidy, target.breeding_subsidy, target.grant_total = (
                quote.planting,
                quote.breeding,
                quote.total,
            )
            target.tranche1, target.tranche2, target.tranche3 = quote.tranches
            target.tranche1_percent, target.tranche2_percent, target.tranche3_percent = quote.ratios
            target.ratio_reason = ""
            target.explanation = list(quote.lines)
            target.updated_at = self.now
            label = f"{household.head_name} {values['year']}"
            if plan is None:
                new.append(target)
                shown = {SHOWN[f]: ("", _show(getattr(target, f))) for f in SHOWN}
                self.report.note_new(Change(number, values["code"], label, shown))
                continue
            diff = {
                SHOWN.get(f, f): (_show(old[f]), _show(getattr(target, f)))
                for f in STORED
                if old[f] != getattr(target, f)
            }
            diff = {k: v for k, v in diff.items() if k in SHOWN.values()}
            if not diff and plan.policy_version == quote.policy_version:
                self.report.rows_unchanged += 1
                continue
            changed.append((number, target, diff))
            self.report.note_changed(Change(number, values["code"], label, diff))
        if self.report.errors:
            self.writing = False
        if not self.writing:
            return
        HouseholdPlan.objects.bulk_create(new, batch_size=1000)
        if new or changed:  # the dashboard's figures of the importer's area wait for a refresh
            summaries.figures_changed(townships=self.households().values("village__township"))
        if changed:
            HouseholdPlan.objects.bulk_update(
                [p for _, p, _ in changed],
                [
                    *STORED,
                    "policy",
                    "policy_version",
                    "tranche1_percent",
                    "tranche2_percent",
                    "tranche3_percent",
                    "ratio_reason",
                    "explanation",
                    "updated_at",
                ],
                batch_size=500,
            )


def _column_for(reason: str) -> str:
    if "脱贫" in reason or "巩固提升" in reason:
        return "脱贫年度"
    if "种植" in reason:
        return "种植面积（亩）"
    return "养殖品种"


def _show(value: Any) -> str:
    if isinstance(value, Decimal):
        return rules.number(value)
    return "" if value is None else str(value)


def _one_plan_import_at_a_time() -> None:
    list(Policy.objects.select_for_update(no_key=True).order_by("pk").values_list("pk"))


# Validate, quote and (unless a dry run, or any row is bad) write a sheet of plans.
plan_import = Importer(
    kind="plans",
    label="产业计划汇总表",
    columns=COLUMNS,
    job=PlanImport,
    lock=_one_plan_import_at_a_time,
    unit="份",
)
