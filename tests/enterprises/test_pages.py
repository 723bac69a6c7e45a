"""The organisation pages: the year they show (chosen among the policy years), the 考核表 of that year,
and the incentive policy's change history (who changed what, when and why)."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from openpyxl import load_workbook

from enterprises import services
from enterprises.models import IncentivePolicy, IncentivePolicyRevision, Organisation

from .conftest import assess_all, sign_up

pytestmark = pytest.mark.django_db


def _policy_2018() -> IncentivePolicy:
    return IncentivePolicy.objects.create(
        year=2018, threshold=Decimal("3500.00"), base=Decimal("5000.00"), step=Decimal("500.00"), minimum=2
    )


def test_the_organisation_page_shows_the_chosen_year(
    fifteen: list[Any], officials: dict[str, Any], cooperative: Organisation
) -> None:
    _policy_2018()
    township = officials["township"]
    assessments = assess_all(sign_up(cooperative, fifteen[:12], township), township)
    services.assessments_confirm(actor=township, assessments=assessments)
    client = Client()
    client.force_login(township)
    url = f"/admin/enterprises/organisation/{cooperative.pk}/change/"
    page_2017 = client.get(url + "?year=2017").content.decode()
    assert "2017年度" in page_2017 and "6,000.00" in page_2017
    page_2018 = client.get(url + "?year=2018").content.decode()
    assert "<b>2018年度</b>" in page_2018 and "6,000.00" not in page_2018  # nobody assessed in 2018
    # The list counts the chosen year, and its links (考核表, batch) carry it.
    listing = client.get("/admin/enterprises/organisation/?year=2018").content.decode()
    assert "assessment-sheet/?year=2018" in listing and "下载2018年组织带贫考核表" in listing
    listing_2017 = client.get("/admin/enterprises/organisation/?year=2017").content.decode()
    assert '<td class="field-qualified">12</td>' in listing_2017
    assert '<td class="field-qualified">0</td>' in listing
    # A bad year is no error page: the default year is shown.
    assert client.get(url + "?year=abc").status_code == 200


def test_the_assessment_sheet_takes_the_year(
    fifteen: list[Any], officials: dict[str, Any], cooperative: Organisation
) -> None:
    _policy_2018()
    township = officials["township"]
    assess_all(sign_up(cooperative, fifteen[:3], township), township)
    client = Client()
    client.force_login(township)
    response = client.get("/admin/enterprises/organisation/assessment-sheet/?year=2018")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(b"".join(response.streaming_content)))  # type: ignore[attr-defined]
    assert (book.properties.title or "").startswith("2018年度")


def test_the_default_year_is_the_latest_policy_year_not_after_today() -> None:
    import datetime

    _policy_2018()
    assert services.default_year(datetime.date(2017, 6, 1)) == 2017
    assert services.default_year(datetime.date(2019, 6, 1)) == 2018
    assert services.default_year(datetime.date(2016, 6, 1)) == 2017


def test_a_policy_change_is_recorded_with_who_what_when_and_why(officials: dict[str, Any]) -> None:
    city = officials["city"]
    policy = IncentivePolicy.objects.get(year=2017)
    assert policy.revisions.count() == 1  # the migration's first record of the seeded policy
    client = Client()
    client.force_login(city)
    url = f"/admin/enterprises/incentivepolicy/{policy.pk}/change/"
    form = {
        "threshold": "3300.00",
        "base": "6000.00",
        "step": "500.00",
        "minimum": "10",
        "support_ways": "\n".join(policy.support_ways),
        "revisions-TOTAL_FORMS": "0",
        "revisions-INITIAL_FORMS": "0",
    }
    # Without a reason the change is refused on the form, and nothing moves.
    refused = client.post(url, form)
    assert refused.status_code == 200 and "请填写修改原因。" in refused.content.decode()
    policy.refresh_from_db()
    assert (policy.base, policy.version) == (Decimal("5000.00"), 1)
    response = client.post(url, {**form, "reason": "市指挥部 2017 年第 3 次会议调整"})
    assert response.status_code == 302
    policy.refresh_from_db()
    assert (policy.base, policy.version) == (Decimal("6000.00"), 2)
    revision = policy.revisions.get(version=2)
    assert revision.changed_by == city and revision.reason == "市指挥部 2017 年第 3 次会议调整"
    assert revision.changes == {"起奖金额（元）": ["5,000.00", "6,000.00"]}
    page = client.get(url).content.decode()
    assert "起奖金额（元）：5,000.00 → 6,000.00" in page and "市指挥部 2017 年第 3 次会议调整" in page
    # Saving again unchanged is no revision.
    assert client.post(url, {**form, "reason": ""}).status_code == 302
    assert policy.revisions.count() == 2


def test_only_city_hq_changes_the_policy(officials: dict[str, Any]) -> None:
    policy = IncentivePolicy.objects.get(year=2017)
    policy.base = Decimal("1.00")
    with pytest.raises(ValidationError, match="带贫奖补政策由市指挥部修改"):
        services.incentive_policy_save(policy=policy, actor=officials["township"], reason="试图修改")
    client = Client()
    client.force_login(officials["township"])
    response = client.post(f"/admin/enterprises/incentivepolicy/{policy.pk}/change/", {"base": "1.00"})
    assert response.status_code in (302, 403)
    policy.refresh_from_db()
    assert policy.base == Decimal("5000.00")
    assert not IncentivePolicyRevision.objects.filter(changed_by=officials["township"]).exists()


def test_an_organisation_carried_over_from_a_bare_partner_is_completed_on_its_page(
    officials: dict[str, Any],
) -> None:
    from households.models import Township

    from ..factories import id_number
    from .conftest import credit_code

    carried = Organisation.objects.create(
        name="吉迪村种养殖专业合作社",
        kind="cooperative",
        operating_model="cooperative",
        leader_name="和经理",
        township=Township.objects.get(name="建塘镇"),
        industry="",
        needs_completion=True,
    )
    client = Client()
    client.force_login(officials["city"])
    url = f"/admin/enterprises/organisation/{carried.pk}/change/"
    assert "待补全登记信息" in client.get(url).content.decode()
    assert client.get("/admin/enterprises/organisation/?needs_completion__exact=1").status_code == 200
    form = {
        "name": carried.name,
        "kind": "cooperative",
        "operating_model": "cooperative",
        "credit_code": "",
        "leader_name": "和建华",
        "leader_id_number": id_number(),
        "phone": "13988700001",
        "township": carried.township_id,
        "industry": "中药材",
        "bank_name": "",
        "bank_account": "",
        "agreements-TOTAL_FORMS": "0",
        "agreements-INITIAL_FORMS": "0",
        "incentives-TOTAL_FORMS": "0",
        "incentives-INITIAL_FORMS": "0",
    }
    refused = client.post(url, form)  # a cooperative needs its credit code before it is complete
    assert (
        refused.status_code == 200
        and "企业、合作社和协会须填写统一社会信用代码。" in refused.content.decode()
    )
    response = client.post(url, {**form, "credit_code": credit_code("93533421MA6K0077")})
    assert response.status_code == 302
    carried.refresh_from_db()
    assert not carried.needs_completion and carried.leader_name == "和建华"


def test_the_assessment_list_filter_offers_only_organisations_the_township_sees(
    fifteen: list[Any], officials: dict[str, Any], cooperative: Organisation
) -> None:
    from households.models import Household

    from ..factories import id_number

    other = officials["other_township"]
    theirs = services.organisation_register(
        actor=other,
        name="虎跳峡镇种养殖专业合作社",
        kind="grower",
        operating_model="grower",
        leader_name="阿旺次仁多吉",
        leader_id_number=id_number(),
        industry="中药材",
    )
    assess_all(sign_up(theirs, [Household.objects.get(code="T01")], other), other)
    township = officials["township"]
    assess_all(sign_up(cooperative, fifteen[:1], township), township)
    client = Client()
    client.force_login(township)
    page = client.get("/admin/enterprises/assessment/").content.decode()
    assert cooperative.name in page and "虎跳峡镇种养殖专业合作社" not in page
    client.force_login(other)
    page = client.get("/admin/enterprises/assessment/").content.decode()
    assert "虎跳峡镇种养殖专业合作社" in page and cooperative.name not in page
