"""Plans as cadres and officials meet them: save with the quote, freeze, amend, commitment, pages, PDF."""

from __future__ import annotations

import datetime
import io
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from pypdf import PdfReader

from households.models import Household, Role, User
from subsidies import services
from subsidies.models import HouseholdPlan, Policy, PolicyRevision

from ..factories import jpeg_upload, make_user, pdf_upload, roster_row, sign

pytestmark = pytest.mark.django_db


@pytest.fixture
def households(import_rows) -> dict[str, Household]:  # type: ignore[no-untyped-def]
    report = import_rows(
        [
            roster_row(户编号="P2017", 户主姓名="格桑卓玛", 脱贫年度=2017),
            roster_row(户编号="P2016", 脱贫年度=2016, 巩固提升="否"),
            roster_row(户编号="P2016C", 脱贫年度=2016, 巩固提升="是"),
            roster_row(
                户编号="OTHER", 乡镇="虎跳峡镇", 村委会="红旗村", 挂包干部="张伟", 挂包干部电话="13800000003"
            ),
        ]
    )
    assert report.ok, report.errors
    return {h.code: h for h in Household.objects.all()}


@pytest.fixture
def cadre(households) -> User:  # type: ignore[no-untyped-def]
    user = User.objects.get(phone="13800000001")  # 李明 holds the 建塘镇 households
    user.set_password("pw-for-tests-only")
    user.save()
    return user


def save(household: Household, actor: User, **kwargs) -> HouseholdPlan:  # type: ignore[no-untyped-def]
    return services.plan_save(household=household, year=2017, actor=actor, **kwargs)


def test_plan_is_saved_with_the_quote_and_the_policy_version(households, cadre) -> None:  # type: ignore[no-untyped-def]
    plan = save(
        households["P2017"], cadre, crops="玛咖", planting_area=Decimal(3), species="猪", quantity=Decimal(3)
    )
    assert (plan.planting_subsidy, plan.breeding_subsidy, plan.grant_total) == (
        Decimal("1000.00"),
        Decimal("1500.00"),
        Decimal("2500.00"),
    )
    assert (plan.tranche1, plan.tranche2, plan.tranche3) == (
        Decimal("1500.00"),
        Decimal("500.00"),
        Decimal("500.00"),
    )
    assert plan.policy.year == 2017 and plan.policy_version == 1
    assert "玛咖：种植 3.00 亩，按 2 亩封顶 × 500 元/亩 = 1,000.00 元" in plan.explanation


def test_saving_again_updates_the_one_plan_of_the_year(households, cadre) -> None:  # type: ignore[no-untyped-def]
    save(households["P2017"], cadre, species="羊", quantity=6)
    plan = save(households["P2017"], cadre, species="鸡", quantity=55)
    assert HouseholdPlan.objects.count() == 1
    assert plan.grant_total == Decimal("1100.00")


@pytest.mark.parametrize(
    ("code", "kwargs", "reason"),
    [
        ("P2017", {"species": "猪、羊", "quantity": 2}, "每户只能享受 1 项养殖补助"),
        ("P2017", {"crops": "花椒", "planting_area": 0}, "没有可扶持的内容"),
        ("P2016", {"species": "猪", "quantity": 2}, "巩固提升"),
        ("P2017", {"species": "熊猫", "quantity": 1}, "不在扶持目录内"),
    ],
)
def test_refused_plans_say_why_and_store_nothing(households, cadre, code, kwargs, reason) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError, match=reason):
        save(households[code], cadre, **kwargs)
    assert not HouseholdPlan.objects.exists()


def test_consolidation_household_of_2016_is_eligible(households, cadre) -> None:  # type: ignore[no-untyped-def]
    assert save(households["P2016C"], cadre, species="中蜂", quantity=4).grant_total == Decimal("800.00")


def test_custom_ratio_needs_a_reason_and_is_kept(households, cadre) -> None:  # type: ignore[no-untyped-def]
    ratios = (Decimal(50), Decimal(30), Decimal(20))
    with pytest.raises(ValidationError, match="须填写理由"):
        save(households["P2017"], cadre, species="猪", quantity=3, ratios=ratios)
    plan = save(
        households["P2017"], cadre, species="猪", quantity=3, ratios=ratios, ratio_reason="仔猪采购集中在春季"
    )
    assert (plan.tranche1, plan.tranche2, plan.tranche3) == (
        Decimal("750.00"),
        Decimal("450.00"),
        Decimal("300.00"),
    )
    assert plan.ratio_reason == "仔猪采购集中在春季"


def test_a_submitted_plan_is_frozen_and_changes_by_amendment(households, cadre) -> None:  # type: ignore[no-untyped-def]
    plan = save(households["P2017"], cadre, species="猪", quantity=3)
    services.plan_submit(plan=plan, actor=cadre)
    with pytest.raises(ValidationError, match="已进入审批"):
        save(households["P2017"], cadre, species="猪", quantity=4)
    amendment = services.plan_amend(plan=plan, actor=cadre)
    assert amendment.amends == plan and amendment.status == "draft"
    changed = save(households["P2017"], cadre, species="猪", quantity=4)
    assert changed.pk == amendment.pk and changed.grant_total == Decimal("2000.00")
    plan.refresh_from_db()
    assert plan.grant_total == Decimal("1500.00")  # the plan of record is untouched until approval
    with pytest.raises(ValidationError, match="未完成的变更"):
        services.plan_amend(plan=plan, actor=cadre)


def test_a_cadre_cannot_plan_for_a_household_outside_their_scope(households, cadre) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError, match="管辖范围"):
        save(households["OTHER"], cadre, species="猪", quantity=1)
    auditor = make_user(Role.AUDITOR)
    with pytest.raises(ValidationError, match="不能填报"):
        save(households["P2017"], auditor, species="猪", quantity=1)


def test_policy_change_makes_a_new_version_and_leaves_saved_plans_alone(households, cadre, city_user) -> None:  # type: ignore[no-untyped-def]
    plan = save(households["P2017"], cadre, species="猪", quantity=3)
    policy = Policy.objects.get(year=2017)
    pig = policy.categories.get(code="pig")
    pig.rate = Decimal("600.00")
    pig.save()
    revision = services.policy_record_revision(policy=policy, actor=city_user, reason="测试调价")
    assert revision is not None and revision.version == 2
    assert services.policy_record_revision(policy=policy, actor=city_user) is None  # nothing changed
    plan.refresh_from_db()
    assert plan.grant_total == Decimal("1500.00") and plan.policy_version == 1
    assert (
        PolicyRevision.objects.get(policy=policy, version=1).snapshot["categories"]["pig"]["rate"] == "500.00"
    )
    again = save(households["P2017"], cadre, species="猪", quantity=3)
    assert again.grant_total == Decimal("1800.00") and again.policy_version == 2


def test_commitment_letter_lateness(households, cadre) -> None:  # type: ignore[no-untyped-def]
    plan = save(households["P2017"], cadre, species="猪", quantity=3)
    assert plan.commitment_late(today=datetime.date(2017, 4, 15)) is False
    assert plan.commitment_late(today=datetime.date(2017, 4, 16)) is True
    scan = jpeg_upload("signed.jpg")
    services.commitment_record(plan=plan, signed_on=datetime.date(2017, 4, 10), scan=scan, actor=cadre)
    plan.refresh_from_db()
    assert plan.commitment_late(today=datetime.date(2018, 1, 1)) is False
    services.commitment_record(
        plan=plan,
        signed_on=datetime.date(2017, 4, 20),
        scan=pdf_upload("s.pdf"),
        actor=cadre,
    )
    plan.refresh_from_db()
    assert plan.commitment_late() is True
    with pytest.raises(ValidationError, match="承诺书扫描件：文件不是有效的 PDF 或图片"):
        services.commitment_record(
            plan=plan,
            signed_on=datetime.date(2017, 4, 1),
            scan=SimpleUploadedFile("x.exe", b"MZ"),
            actor=cadre,
        )


def test_cadre_pages_show_households_quote_and_save(households, cadre) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(cadre)
    listing = client.get("/cadre/").content.decode()
    assert "格桑卓玛" in listing and "待填计划" in listing
    assert households["OTHER"].head_name not in listing or households["OTHER"].code not in listing
    household = households["P2017"]
    quote = client.post(
        f"/cadre/households/{household.pk}/quote/?year=2017",
        {"crops": "玛咖", "planting_area": "3", "species": "猪", "quantity": "3"},
    ).content.decode()
    assert "2,500.00 元" in quote and "1,500.00" in quote
    refused = client.post(
        f"/cadre/households/{household.pk}/quote/?year=2017", {"species": "猪、羊", "quantity": "2"}
    ).content.decode()
    assert "每户只能享受 1 项养殖补助" in refused
    response = client.post(
        f"/cadre/households/{household.pk}/?year=2017",
        {"crops": "玛咖", "planting_area": "3", "species": "猪", "quantity": "3"},
    )
    assert response.status_code == 302
    assert HouseholdPlan.objects.get(household=household).grant_total == Decimal("2500.00")
    assert client.get(f"/cadre/households/{households['OTHER'].pk}/").status_code == 404


def test_commitment_pdf_has_the_household_and_amounts_in_chinese(households, cadre) -> None:  # type: ignore[no-untyped-def]
    plan = save(
        households["P2017"], cadre, crops="玛咖", planting_area=Decimal(3), species="猪", quantity=Decimal(3)
    )
    client = Client()
    client.force_login(cadre)
    response = client.get(f"/cadre/plans/{plan.pk}/commitment.pdf")
    assert response["Content-Type"] == "application/pdf"
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    text = "".join(text.split())
    assert "到户承诺书" in text and "格桑卓玛" in text
    assert "2,500.00" in text and "1,500.00" in text
    assert households["P2017"].id_number not in text  # masked
    assert households["P2017"].id_number[:6] + "********" in text
    assert "2017年4月15日" in text
    other = make_user(Role.CADRE)
    client.force_login(other)
    assert client.get(f"/cadre/plans/{plan.pk}/commitment.pdf").status_code == 404


def test_pdf_rendering_uses_harfbuzz_subsetting() -> None:
    """Without libharfbuzz-subset0, WeasyPrint subsets CJK fonts in Python and takes seconds per PDF."""
    from households.pdf import harfbuzz_subset_available

    assert harfbuzz_subset_available(), "apt-get install libharfbuzz-subset0 (scripts/test does this)"


def test_cadre_files_the_benefit_analysis_on_the_household_page(households, cadre) -> None:  # type: ignore[no-untyped-def]
    from disbursements.approval import advance
    from subsidies.models import BenefitAnalysis
    from subsidies.money import services as money

    plan = save(households["P2017"], cadre, species="猪", quantity=3)
    client = Client()
    client.force_login(cadre)
    page = client.get(f"/cadre/households/{households['P2017'].pk}/?year=2017").content.decode()
    assert "产业扶持分析表" not in page  # nothing paid yet
    sign(plan)
    money.allocate(year=2017, actor=None)
    for tranche in (1, 2):
        page = client.get(f"/cadre/households/{households['P2017'].pk}/?year=2017").content.decode()
        assert "产业扶持分析表（产后）" not in page  # the analysis comes after the cycle: tranche 2 paid
        batch = money.batch_prepare(
            village=households["P2017"].village, year=2017, tranche=tranche, actor=cadre
        )
        advance([batch], action="submit", actor=cadre)
        for role, step in (
            (Role.VILLAGE, "verify"),
            (Role.TOWNSHIP, "township_review"),
            (Role.CITY, "city_review"),
            (Role.APPROVER, "approve"),
        ):
            advance([batch], action=step, actor=make_user(role))
        money.payouts_record(batch=batch, actor=cadre, paid_on=datetime.date(2017, 5, 1))
    page = client.get(f"/cadre/households/{households['P2017'].pk}/?year=2017").content.decode()
    assert "产业扶持分析表（产后）" in page
    response = client.post(
        f"/cadre/plans/{plan.pk}/analysis/",
        {
            "actual_planting_area": "0",
            "actual_species": "猪",
            "actual_quantity": "3",
            "sales_income": "6000",
            "costs": "1500",
            "assessment": "active",
            "output": "出栏 3 头",
        },
        follow=True,
    )
    body = response.content.decode()
    assert "分析表已保存" in body and "300.00" in body  # reward = 1,500 − 1,200 paid
    analysis = BenefitAnalysis.objects.get(plan=plan)
    assert analysis.reward == Decimal("300.00") and analysis.net_income == Decimal("4500.00")


def test_submitting_plans_from_the_admin_freezes_them_and_names_refusals(households, cadre) -> None:  # type: ignore[no-untyped-def]
    plan = save(households["P2017"], cadre, species="猪", quantity=3)
    client = Client()
    client.force_login(cadre)
    client.post("/admin/subsidies/householdplan/", {"action": "submit_plans", "_selected_action": [plan.pk]})
    plan.refresh_from_db()
    assert plan.status == "submitted"
    response = client.post(
        "/admin/subsidies/householdplan/",
        {"action": "submit_plans", "_selected_action": [plan.pk]},
        follow=True,
    )
    assert "只有填报中的计划可以提交审批" in response.content.decode()
