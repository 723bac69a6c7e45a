from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest

from collectives import loan_batches, services
from collectives.models import Loan
from disbursements import approval, notices
from households.models import Household, Role, Village

from ..factories import jpeg_upload, make_user, pdf_upload, roster_row

NAMES = ("扎西", "卓玛", "次仁", "拉姆", "格桑", "央金", "达瓦")


def approved_fund(village: Village, users: dict[str, Any], *, lending: Decimal = Decimal("600000")) -> Any:
    """City allocates, the village drafts after its meeting, the 公示 runs its period, the township approves."""
    fund = services.fund_allocate(village=village, year=2017, actor=users["city_user"])
    rest = fund.amount - lending
    plan = services.plan_draft(
        fund=fund,
        meeting_on=datetime.date(2017, 3, 10),
        attendance=86,
        minutes_scan=pdf_upload("minutes.pdf"),
        lending=lending,
        equity=rest / 2,
        cooperative=rest - rest / 2,
        actor=users["village_user"],
    )
    return publish_and_approve(plan, users)


def publish_and_approve(plan: Any, users: dict[str, Any]) -> Any:
    village = plan.village
    notice = notices.notice_issue(
        kind=services.NOTICE_KIND, year=2017, village=village, actor=users["village_user"]
    )
    notices.notice_post(notice=notice, actor=users["village_user"], photo=jpeg_upload())
    notices.notice_close(
        notice=notice, actor=users["village_user"], today=notice.period_end + datetime.timedelta(days=1)
    )
    return services.plan_approve(plan=plan, actor=users["township_user"])


@pytest.fixture
def lending_village(import_rows: Any) -> dict[str, Any]:
    """红坡村, a 2017 poor village with seven households, its fund approved, and a group of five."""
    assert import_rows([roster_row(户编号=f"C{n}", 户主姓名=name) for n, name in enumerate(NAMES, 1)]).ok
    village = Village.objects.get(name="红坡村")
    village.is_poor_village = True
    village.save()
    users = {
        "city_user": make_user(Role.CITY, "city_c"),
        "village_user": make_user(Role.VILLAGE, "hongpo_c"),
        "township_user": make_user(Role.TOWNSHIP, "jiantang_c"),
    }
    services.budget_receive(
        year=2017,
        amount=Decimal("20000000"),
        received_on=datetime.date(2017, 3, 1),
        reference="香财农〔2017〕12号",
        actor=users["city_user"],
    )
    plan = approved_fund(village, users)
    households = {h.code: h for h in Household.objects.filter(code__startswith="C")}
    group = services.group_create(
        village=village,
        name="第一联保小组",
        households=[households[f"C{n}"] for n in range(1, 6)],
        formed_on=datetime.date(2017, 4, 1),
        actor=users["village_user"],
    )
    return {
        **users,
        "village": village,
        "plan": plan,
        "fund": plan.fund,
        "group": group,
        "households": households,
    }


def lend(
    ctx: dict[str, Any], code: str, amount: str = "12000", term: int = 12, frequency: str = "monthly"
) -> Any:
    loan = services.loan_propose(
        group=ctx["group"],
        household=ctx["households"][code],
        principal=Decimal(amount),
        term_months=term,
        frequency=frequency,
        purpose="养殖藏香猪",
        actor=ctx["village_user"],
        year=2017,
        today=datetime.date(2017, 5, 1),
    )
    return disburse(ctx, [loan], datetime.date(2017, 5, 1))[0]


def disburse(ctx: dict[str, Any], loans: list[Any], on: datetime.date) -> list[Any]:
    """The village uploads the contracts and submits the loans as one batch; the township approves
    on a later step and records the payment (放款) on `on`: the shared approval chain."""
    for loan in loans:
        if not loan.contract_scan:
            services.loan_contract_attach(
                loan=loan, scan=pdf_upload("contract.pdf"), actor=ctx["village_user"]
            )
    batch = loan_batches.loan_batch_create(village=ctx["village"], loans=loans, actor=ctx["village_user"])
    approval.advance([batch], action=loan_batches.SUBMIT, actor=ctx["village_user"])
    approval.advance([batch], action=loan_batches.APPROVE, actor=ctx["township_user"])
    loan_batches.loan_batch_pay(batch=batch, actor=ctx["township_user"], paid_on=on)
    return list(Loan.objects.filter(pk__in=[loan.pk for loan in loans]).order_by("pk"))
