"""Reads of the organisation programme: the 组织带贫考核表 (one sheet per organisation summary, one
of every assessed agreement), scoped to the user like every list."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import IO, Any

from django.db.models import Count, Q

from disbursements.money import ZERO, to_fen
from households.masking import mask_id_number
from households.models import User
from households.scoping import scoped
from households.xlsx import ColumnSpec, Kind, SheetSpec, area_name, issuer_for, write_workbook

from . import rules
from .models import Agreement, Incentive, IncentivePolicy, Organisation

SUMMARY_COLUMNS = (
    ColumnSpec("监管乡镇"),
    ColumnSpec("组织名称"),
    ColumnSpec("类别"),
    ColumnSpec("带贫模式"),
    ColumnSpec("产业"),
    ColumnSpec("帮扶户数", Kind.INT),
    ColumnSpec("已考核", Kind.INT),
    ColumnSpec("考核合格户", Kind.INT),
    ColumnSpec("应奖补（元）", Kind.MONEY),
    ColumnSpec("已列入批次（元）", Kind.MONEY),
    ColumnSpec("推荐申报"),
)
DETAIL_COLUMNS = (
    ColumnSpec("组织名称"),
    ColumnSpec("户编号"),
    ColumnSpec("户主"),
    ColumnSpec("身份证号"),
    ColumnSpec("乡镇"),
    ColumnSpec("村委会"),
    ColumnSpec("产业"),
    ColumnSpec("帮扶方式"),
    ColumnSpec("家庭人口", Kind.INT),
    ColumnSpec("产业收入（元）", Kind.MONEY),
    ColumnSpec("人均产业收入（元）", Kind.MONEY),
    ColumnSpec("考核结果"),
)


def organisations_for(user: User, year: int) -> Any:
    """The organisations the user sees, with their year's counts (one query)."""
    return (
        scoped(Organisation.objects.all(), user)
        .select_related("township")
        .annotate(
            linked_n=Count("agreements", filter=Q(agreements__year=year), distinct=True),
            assessed_n=Count(
                "agreements",
                filter=Q(agreements__year=year, agreements__assessment__isnull=False),
                distinct=True,
            ),
            qualified_n=Count(
                "agreements",
                filter=Q(
                    agreements__year=year,
                    agreements__counts=True,
                    agreements__assessment__reaches=True,
                    agreements__assessment__confirmed_at__isnull=False,
                ),
                distinct=True,
            ),
        )
        .order_by("township__code", "name")
    )


def assessment_sheet_write(stream: IO[bytes], *, user: User, year: int) -> None:
    policy = IncentivePolicy.objects.filter(year=year).first()
    terms = policy.terms() if policy is not None else rules.DEFAULT_TERMS
    batched: dict[int, Decimal] = {}
    for org_id, amount in scoped(
        Incentive.objects.filter(year=year, cancelled_at__isnull=True), user
    ).values_list("organisation_id", "amount"):
        batched[org_id] = batched.get(org_id, ZERO) + to_fen(amount)
    totals: list[Any] = [ZERO, ZERO, 0, 0, 0]

    def summary() -> Iterator[list[Any]]:
        for o in organisations_for(user, year):
            due = rules.incentive(terms, o.qualified_n).amount
            totals[0] += due
            totals[1] += batched.get(o.pk, ZERO)
            totals[2] += o.linked_n
            totals[3] += o.assessed_n
            totals[4] += o.qualified_n
            yield [
                o.township.name,
                o.name,
                o.get_kind_display(),
                o.get_operating_model_display(),
                o.industry,
                o.linked_n,
                o.assessed_n,
                o.qualified_n,
                due,
                batched.get(o.pk, ZERO),
                "是" if o.recommended else "",
            ]

    def details() -> Iterator[list[Any]]:
        agreements = (
            scoped(Agreement.objects.filter(year=year), user)
            .select_related("organisation", "household__village__township", "assessment")
            .order_by("organisation__name", "household__code")
        )
        for a in agreements.iterator(chunk_size=2000):
            assessment = getattr(a, "assessment", None)
            if assessment is None:
                result = "未考核"
            elif assessment.qualified:
                result = "考核合格" if a.counts else "考核合格（计入其他组织）"
            elif assessment.reaches:
                result = "达标，待乡镇确认"
            else:
                result = "未达标"
            yield [
                a.organisation.name,
                a.household.code,
                a.household.head_name,
                mask_id_number(a.household.id_number),
                a.household.village.township.name,
                a.household.village.name,
                a.industry,
                "、".join(a.ways),
                assessment.size if assessment else None,
                assessment.income if assessment else None,
                assessment.per_capita if assessment else None,
                result,
            ]

    area = area_name(user)
    write_workbook(
        stream,
        issuer=issuer_for(user),
        sheets=[
            SheetSpec(
                "组织带贫考核表",
                f"{year}年度{area}组织带贫考核表",
                SUMMARY_COLUMNS,
                summary(),
                total_row=lambda: [
                    "合计",
                    "",
                    "",
                    "",
                    "",
                    totals[2],
                    totals[3],
                    totals[4],
                    totals[0],
                    totals[1],
                    "",
                ],
                frozen_columns=2,
            ),
            SheetSpec(
                "考核明细",
                f"{year}年度{area}带贫协议考核明细",
                DETAIL_COLUMNS,
                details(),
                frozen_columns=2,
            ),
        ],
    )


def agreement_pdf(agreement: Agreement) -> bytes:
    """The printable 帮扶协议 with both parties' signature lines (ID numbers masked)."""
    from households.pdf import render_pdf

    policy = IncentivePolicy.objects.filter(year=agreement.year).first()
    terms = policy.terms() if policy is not None else rules.DEFAULT_TERMS
    organisation, household = agreement.organisation, agreement.household
    return render_pdf(
        "enterprises/agreement.html",
        {
            "agreement": agreement,
            "organisation": organisation,
            "household": household,
            "number": f"{agreement.year}-{organisation.pk}-{household.code}",
            "ways": "、".join(agreement.ways),
            "id_masked": mask_id_number(household.id_number),
            "leader_id_masked": mask_id_number(organisation.leader_id_number),
            "threshold": f"{terms.threshold:,.2f}",
            "minimum": terms.minimum,
        },
    )
