"""The organisation programme's part of the demo year (seed_demo): two organisations of 建塘镇 with
their agreements and assessments, the programme's money at city HQ, and one incentive batch waiting
for its 公示 — all through the real services."""

from __future__ import annotations

import datetime
from decimal import Decimal

from stdnum.cn import ric, uscc

from households.models import Household, Township, User

from . import services
from .models import Organisation


def _code(body: str) -> str:
    return body + uscc.calc_check_digit(body)


def _person(seq: int) -> str:
    body = f"53342119750315{seq:03d}"
    return body + ric.calc_check_digit(body + "0")


def organisations_year(*, year: int) -> str:
    if Organisation.objects.filter(name="香格里拉市高原牦牛养殖专业合作社").exists():
        return ""
    township = User.objects.filter(username="jiantang").first()
    city = User.objects.filter(username="city").first()
    if township is None or city is None:
        return ""
    jiantang = Township.objects.get(name="建塘镇")
    cooperative = services.organisation_register(
        actor=township,
        name="香格里拉市高原牦牛养殖专业合作社",
        kind="cooperative",
        operating_model="cooperative",
        credit_code=_code("93533421MA6K00011"),
        leader_name="格桑",
        leader_id_number=_person(1),
        phone="13988770001",
        industry="牦牛养殖",
        bank_name="香格里拉农村商业银行建塘支行",
        bank_account="6228480000000001",
    )
    company = services.organisation_register(
        actor=township,
        name="迪庆香格里拉松茸产业有限公司",
        kind="company",
        operating_model="leading",
        credit_code=_code("91533421MA6K00022"),
        leader_name="李华",
        leader_id_number=_person(2),
        phone="13988770002",
        industry="松茸",
        bank_name="中国农业银行香格里拉支行",
        bank_account="6228480000000002",
    )
    services.organisation_register(
        actor=city,
        name="扎西（致富带头人）",
        kind="leader",
        operating_model="grower",
        leader_name="扎西",
        leader_id_number=_person(3),
        township=jiantang,
        industry="中药材",
    )
    households = list(Household.objects.filter(village__township=jiantang).order_by("code")[:20])
    signed = datetime.date(year, 3, 1)
    for index, household in enumerate(households):
        organisation = cooperative if index < 13 else company
        agreement = services.agreement_create(
            actor=township,
            organisation=organisation,
            household=household,
            year=year,
            ways=["订单种植/养殖", "保底收购", "技术指导"]
            if organisation is cooperative
            else ["协议收购", "基地务工"],
            industry=organisation.industry,
            signed_on=signed,
            starts_on=signed,
            ends_on=datetime.date(year, 12, 31),
        )
        income = Decimal(3600 * household.size) if index % 7 else Decimal(3000 * household.size)
        assessment = services.assessment_record(actor=township, agreement=agreement, income=income)
        if assessment.reaches and index < 18:
            services.assessments_confirm(actor=township, assessments=[assessment])
    try:
        batch = services.incentive_batch_prepare(actor=township, township=jiantang, year=year)
    except Exception:  # fewer than the minimum confirmed in a small demo roster
        return "带贫组织 3 家；"
    return f"带贫组织 3 家，奖补批次 {batch.total:,.2f} 元待公示；"
