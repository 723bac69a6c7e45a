from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from stdnum.cn import uscc

from enterprises import services
from enterprises.models import Agreement, Organisation
from households.models import Household, Role, Township

from ..factories import make_user, roster_row


def credit_code(body: str) -> str:
    body = body[:17].ljust(17, "1")
    return body + uscc.calc_check_digit(body)


@pytest.fixture
def fifteen(import_rows: Any) -> list[Household]:
    """15 households of 2 people in 红坡村 (建塘镇), held by 李明, and one in 红旗村 (虎跳峡镇)."""
    rows = [roster_row(户编号=f"E{n:02d}", 家庭人口=2, 劳动力=1) for n in range(1, 16)]
    rows.append(
        roster_row(
            户编号="T01", 乡镇="虎跳峡镇", 村委会="红旗村", 挂包干部="张伟", 挂包干部电话="13800000003"
        )
    )
    assert import_rows(rows).ok
    return list(Household.objects.filter(code__startswith="E").order_by("code"))


@pytest.fixture
def officials(db: Any) -> dict[str, Any]:
    return {
        "township": make_user(Role.TOWNSHIP, "jt_official"),
        "township2": make_user(Role.TOWNSHIP, "jt_cashier"),
        "other_township": make_user(
            Role.TOWNSHIP, "hx_official", township=Township.objects.get(name="虎跳峡镇")
        ),
        "city": make_user(Role.CITY, "city_official"),
        "city2": make_user(Role.CITY, "city_cashier"),
        "approver": make_user(Role.APPROVER, "leader"),
        "auditor": make_user(Role.AUDITOR, "auditor"),
    }


@pytest.fixture
def cooperative(officials: dict[str, Any]) -> Organisation:
    return services.organisation_register(
        actor=officials["township"],
        name="香格里拉市高原牦牛养殖专业合作社",
        kind="cooperative",
        operating_model="cooperative",
        credit_code=credit_code("93533421MA6K0001"),
        leader_name="格桑",
        leader_id_number=_id(),
        phone="13988776655",
        industry="牦牛养殖",
        bank_name="香格里拉农村商业银行",
        bank_account="6228480000000001",
    )


def _id() -> str:
    from ..factories import id_number

    return id_number()


def sign_up(
    organisation: Organisation, households: list[Household], actor: Any, **kwargs: Any
) -> list[Agreement]:
    return [
        services.agreement_create(
            actor=actor,
            organisation=organisation,
            household=h,
            year=2017,
            ways=kwargs.get("ways", ["订单种植/养殖", "技术指导"]),
            industry=organisation.industry,
            signed_on=datetime.date(2017, 3, 1),
            starts_on=datetime.date(2017, 3, 1),
            ends_on=datetime.date(2017, 12, 31),
            counts=kwargs.get("counts", True),
        )
        for h in households
    ]


def assess_all(agreements: list[Agreement], actor: Any, income: Decimal = Decimal("7000.00")) -> list[Any]:
    return [services.assessment_record(actor=actor, agreement=a, income=income) for a in agreements]
