"""考核记录 import (README, formats: 考核记录导入表): the admin's and `import_assessments`' one service.

The same frame as the agreements: chunked, a fixed number of queries per chunk, one transaction, all
or nothing, every bad row reported as `第 N 行 列名 值：原因`. Each row is the year's 考核 of one
agreement (organisation × household × year), entered by the organisation's supervising township (or
city HQ): the rules compute the per-capita income as `services.assessment_record` does; a row marked
考核合格 is confirmed at once, and refused when it does not reach the threshold. An assessment already
counted in a live incentive cannot change (as in the admin). Evidence scans are attached in the admin.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import Q
from django.utils import timezone

from disbursements.money import to_fen
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
    yes_no,
)
from households.models import Household, ImportBatch, User
from households.scoping import scoped, sees_everything

from . import rules
from .models import Agreement, Assessment, Incentive, IncentivePolicy, Organisation
from .services import MSG_IN_INCENTIVE, MSG_SUPERVISOR

COLUMNS = [
    Column("年度", "year"),
    Column("组织统一社会信用代码", "credit_code", required=False, max_length=18),
    Column("组织名称", "organisation", required=False, max_length=max_length_of(Organisation, "name")),
    Column("户编号", "code", max_length=max_length_of(Household, "code")),
    Column("该产业家庭收入（元）", "income"),
    Column("家庭人口", "size", required=False),
    Column("考核合格", "confirm", required=False),
]
HEADER = {c.key: c.header for c in COLUMNS}
MSG_NO_PERMISSION = "您的角色不能导入考核记录。"
MSG_NEEDS_USER = "考核记录须记明录入人：从命令行导入请用 --user 指明乡镇或市指挥部的用户。"
MSG_NO_ORGANISATION = "请填写组织统一社会信用代码或组织名称"
MSG_UNKNOWN_ORGANISATION = "系统中没有这一组织，或不在您的管辖范围内，请先登记"
MSG_NAME_MISMATCH = "与统一社会信用代码对应的组织（{name}）名称不符"
MSG_NO_AGREEMENT = "该户与{organisation}没有 {year} 年度的帮扶协议，请先录入或导入帮扶协议"
MSG_NOT_REACHING = "人均产业收入 {per_capita} 元未达到 {threshold} 元，不能填“是”"


def _yuan(value: Decimal) -> str:
    return f"{value:,.2f}"


class AssessmentImport(ChunkedImportJob):
    def __init__(self, *, actor: User | None, report: ImportReport, batch: ImportBatch) -> None:
        if actor is None:
            raise ImportFileError(MSG_NEEDS_USER)
        if not actor.has_perm("enterprises.import_assessment"):
            raise ImportFileError(MSG_NO_PERMISSION)
        self.actor = actor
        self.report = report
        self.batch = batch
        self.now = timezone.now()
        self.seen: dict[tuple[str, str, int], int] = {}
        self.policies = {p.year: p for p in IncentivePolicy.objects.all()}
        self.writing = True

    def _organisations(self) -> Any:
        queryset = Organisation.objects.select_related("township")
        return queryset if sees_everything(self.actor) else scoped(queryset, self.actor)

    def _cells(self, number: int, row: Row, positions: dict[str, int]) -> dict[str, Any] | None:
        def cell(key: str) -> Any:
            return cell_at(row, positions, key)

        before = len(self.report.errors)
        values: dict[str, Any] = {
            "credit_code": text(cell("credit_code")).upper(),
            "organisation": text(cell("organisation")),
            "code": text(cell("code")),
        }
        if not values["credit_code"] and not values["organisation"]:
            self.report.add_error(number, "组织名称", cell("organisation"), MSG_NO_ORGANISATION)
        if not values["code"]:
            self.report.add_error(number, "户编号", cell("code"), "不能为空")
        try:
            values["year"] = whole_number(cell("year"))
        except CellError as exc:
            self.report.add_error(number, "年度", cell("year"), str(exc))
        else:
            if values["year"] not in self.policies:
                self.report.add_error(number, "年度", values["year"], "该年度没有带贫奖补政策")
        try:
            values["income"] = decimal_number(cell("income"))
        except CellError as exc:
            self.report.add_error(number, HEADER["income"], cell("income"), str(exc))
        else:
            if values["income"] < 0:
                self.report.add_error(number, HEADER["income"], cell("income"), "不能为负数")
        raw_size = cell("size")
        values["size"] = None
        if text(raw_size):
            try:
                values["size"] = whole_number(raw_size)
            except CellError as exc:
                self.report.add_error(number, "家庭人口", raw_size, str(exc))
            else:
                if values["size"] < 1:
                    self.report.add_error(number, "家庭人口", raw_size, "至少为 1 人")
        try:
            values["confirm"] = yes_no(cell("confirm"))
        except CellError as exc:
            self.report.add_error(number, "考核合格", cell("confirm"), str(exc))
        if len(self.report.errors) > before:
            return None
        who = values["credit_code"] or values["organisation"]
        first = self.first_row(self.seen, (who, values["code"], values["year"]), number)
        if first is not None:
            self.report.add_error(
                number, "户编号", values["code"], f"与第 {first} 行重复（同一组织、同一年度）"
            )
            return None
        return values

    def _process(self, chunk: list[tuple[int, dict[str, Any]]]) -> None:
        codes = {v["code"] for _, v in chunk}
        credit_codes = {v["credit_code"] for _, v in chunk if v["credit_code"]}
        names = {v["organisation"] for _, v in chunk if v["organisation"] and not v["credit_code"]}
        # Locked, in one order, like the incentive batch that counts their assessments: a batch being
        # prepared for one of them waits for this import, or this import sees the batch's lines.
        found = list(
            self._organisations()
            .select_for_update(no_key=True, of=("self",))
            .filter(Q(credit_code__in=credit_codes) | Q(name__in=names))
            .order_by("pk")
        )
        by_code = {o.credit_code: o for o in found if o.credit_code}
        by_name = {o.name: o for o in found}
        agreements = {
            (a.organisation_id, a.household.code, a.year): a
            for a in Agreement.objects.filter(
                organisation__in=[o.pk for o in found],
                household__code__in=codes,
                year__in={v["year"] for _, v in chunk},
            ).select_related("household")
        }
        ids = [a.pk for a in agreements.values()]
        existing = {a.agreement_id: a for a in Assessment.objects.filter(agreement__in=ids)}
        in_incentive = set(
            Incentive.agreements.through.objects.filter(
                agreement__in=ids, incentive__cancelled_at__isnull=True
            ).values_list("agreement_id", flat=True)
        )
        new: list[Assessment] = []
        changed: list[Assessment] = []
        for number, values in chunk:
            organisation = by_code.get(values["credit_code"]) if values["credit_code"] else None
            if values["credit_code"] and organisation is None:
                self.report.add_error(
                    number, "组织统一社会信用代码", values["credit_code"], MSG_UNKNOWN_ORGANISATION
                )
                continue
            if organisation is None:
                organisation = by_name.get(values["organisation"])
                if organisation is None:
                    self.report.add_error(
                        number, "组织名称", values["organisation"], MSG_UNKNOWN_ORGANISATION
                    )
                    continue
            elif values["organisation"] and values["organisation"] != organisation.name:
                self.report.add_error(
                    number,
                    "组织名称",
                    values["organisation"],
                    MSG_NAME_MISMATCH.format(name=organisation.name),
                )
                continue
            if not (
                sees_everything(self.actor)
                or (self.actor.role == "township" and organisation.township_id == self.actor.township_id)
            ):
                reason = MSG_SUPERVISOR.format(township=organisation.township.name).rstrip("。")
                self.report.add_error(number, "组织名称", organisation.name, reason)
                continue
            agreement = agreements.get((organisation.pk, values["code"], values["year"]))
            if agreement is None:
                reason = MSG_NO_AGREEMENT.format(organisation=organisation.name, year=values["year"])
                self.report.add_error(number, "户编号", values["code"], reason)
                continue
            policy = self.policies[values["year"]]
            income = to_fen(values["income"])
            size = values["size"] or agreement.household.size
            result = rules.assess(policy.terms(), income=income, size=size, confirmed=False)
            if values["confirm"] and not result.reaches_threshold:
                reason = MSG_NOT_REACHING.format(
                    per_capita=_yuan(result.per_capita), threshold=_yuan(policy.threshold)
                )
                self.report.add_error(number, "考核合格", "是", reason)
                continue
            old = existing.get(agreement.pk)
            label = f"{agreement.household.head_name} — {organisation.name}"
            shown_new = {
                "该产业家庭收入": _yuan(income),
                "家庭人口": str(size),
                "人均产业收入": _yuan(result.per_capita),
                "考核合格": "是" if values["confirm"] else "否",
            }
            if old is not None:
                confirmed = old.confirmed_at is not None
                if (old.income, old.size, confirmed) == (income, size, values["confirm"]):
                    self.report.rows_unchanged += 1
                    continue
                if agreement.pk in in_incentive:
                    self.report.add_error(number, "户编号", values["code"], MSG_IN_INCENTIVE.rstrip("。"))
                    continue
                shown_old = {
                    "该产业家庭收入": _yuan(old.income),
                    "家庭人口": str(old.size),
                    "人均产业收入": _yuan(old.per_capita),
                    "考核合格": "是" if confirmed else "否",
                }
                fields = {k: (shown_old[k], v) for k, v in shown_new.items() if shown_old[k] != v}
                self.report.note_changed(Change(number, values["code"], label, fields))
                assessment = old
                changed.append(assessment)
            else:
                self.report.note_new(
                    Change(number, values["code"], label, {k: ("", v) for k, v in shown_new.items()})
                )
                assessment = Assessment(agreement=agreement)
                new.append(assessment)
            assessment.income = income
            assessment.size = size
            assessment.per_capita = result.per_capita
            assessment.reaches = result.reaches_threshold
            assessment.policy_version = policy.version
            assessment.assessed_by = self.actor
            assessment.assessed_at = self.now
            assessment.confirmed_by = self.actor if values["confirm"] else None
            assessment.confirmed_at = self.now if values["confirm"] else None
        if self.report.errors:
            self.writing = False
        if not self.writing:
            return
        Assessment.objects.bulk_create(new, batch_size=1000)
        Assessment.objects.bulk_update(
            changed,
            [
                "income",
                "size",
                "per_capita",
                "reaches",
                "policy_version",
                "assessed_by",
                "assessed_at",
                "confirmed_by",
                "confirmed_at",
            ],
            batch_size=1000,
        )


def _one_assessment_import_at_a_time() -> None:
    """The same lock as the agreement import and the incentive batch's reading of the counts."""
    list(IncentivePolicy.objects.select_for_update(no_key=True).order_by("pk").values_list("pk"))


assessment_import = Importer(
    kind="assessments",
    label="考核记录导入表",
    columns=COLUMNS,
    job=AssessmentImport,
    lock=_one_assessment_import_at_a_time,
    unit="条",
)
