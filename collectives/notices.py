"""The 公示 of a village fund plan (集体经济扶持资金方案), a notice kind of the shared machinery."""

from __future__ import annotations

from decimal import Decimal

from disbursements.money import ZERO, yuan
from disbursements.notices import Area, NoticeKind, Rows
from households.models import User
from households.scoping import scoped

from .models import FundPlan
from .services import NOTICE_KIND


def plan_rows(year: int, area: Area, user: User | None) -> tuple[Rows, Decimal]:
    plans = FundPlan.objects.filter(fund__year=year, village__in=area.villages()).select_related("village")
    if user is not None:
        plans = scoped(plans, user)
    rows: list[list[str]] = []
    total = ZERO
    for plan in plans.order_by("village__code"):
        for use, amount in (
            ("联保小额贷款（借款资金）", plan.lending),
            ("入股分红（入股资金）", plan.equity),
            ("村党总支牵头的专业合作社经营", plan.cooperative),
        ):
            rows.append(
                [
                    str(len(rows) + 1),
                    plan.village.name,
                    use,
                    f"{plan.meeting_on:%Y-%m-%d}（{plan.attendance} 人）",
                    yuan(amount),
                ]
            )
            total += amount
    return rows, total


PLAN_NOTICE = NoticeKind(
    NOTICE_KIND,
    "村集体经济扶持资金方案",
    "{year}年度{area}村集体经济扶持资金方案公示",
    ("序号", "村委会", "资金用途", "村民大会（参会）", "金额（元）"),
    plan_rows,
    amount_from=4,
    total_column=4,
    unit="项",
    preamble=(
        "根据《香格里拉市精准扶贫特色产业扶持方案》，经村党总支召开村民大会讨论，"
        "现将本村集体经济扶持资金使用方案予以公示，接受群众监督。"
    ),
    wrap_column=2,
)
