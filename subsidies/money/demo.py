"""A living programme year for the demo, built only through the services a user would trigger."""

from __future__ import annotations

import datetime
import random
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from stdnum.cn import uscc

from disbursements.approval import advance
from disbursements.models import Batch
from households.models import Household, OperatingModel, Organisation, OrganisationKind, Role, User, Village

from .. import services as plan_services
from ..models import GrantLine, HouseholdPlan
from . import services, settlement

DEMO_PASSWORD = "demo2017"
# Uploads are checked by their content (households.uploads): the demo's scans are a real, blank PDF.
DEMO_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)
CROPS = ["青稞", "玛咖", "核桃", "中药材", "花椒", "马铃薯"]
BREEDING: list[tuple[str, Decimal]] = [
    (s, Decimal(q))
    for s, q in (("猪", 3), ("羊", 5), ("牦牛", 1), ("鸡", 60), ("中蜂", 6), ("藏香猪", 4), ("鱼", "0.8"))
]


def _official(role: str, username: str, name: str, **scope: object) -> User:
    user = User.objects.filter(username=username).first() or User(username=username)
    user.name, user.role = name, role
    for key, value in scope.items():
        setattr(user, key, value)
    user.set_password(DEMO_PASSWORD)
    user.save()
    return user


def _village_official(village: Village) -> User:
    if village.name == "红坡村":
        return User.objects.get(username="hongpo")
    return _official(Role.VILLAGE, f"v{village.code[-6:]}", f"{village.name} 驻村工作队", village=village)


def living_year(*, year: int) -> str:
    """Plans for the eligible households; money at every step. Returns a one-line summary."""
    if HouseholdPlan.objects.filter(year=year).exists():
        return ""
    rng = random.Random(year)
    eligible, _ = services.eligible_households(year)
    for household in eligible.select_related("cadre").order_by("code"):
        if household.cadre is None:
            continue
        crops, area, species = "", None, ""
        quantity_value: Decimal | None = None
        if rng.random() < 0.6:
            crops, area = rng.choice(CROPS), Decimal(rng.choice(["0.5", "1", "1.5", "2", "2.5", "3"]))
        if rng.random() < 0.7 or not crops:
            species, quantity_value = rng.choice(BREEDING)
        plan_services.plan_save(
            household=household,
            year=year,
            crops=crops,
            planting_area=area,
            species=species,
            quantity=quantity_value,
            actor=household.cadre,
        )
    _commitments(year, rng)
    services.allocate(year=year, actor=User.objects.get(username="city"))

    township = User.objects.get(username="jiantang")
    city, approver = User.objects.get(username="city"), User.objects.get(username="approver")
    jiantang_villages = list(Village.objects.filter(township=township.township).order_by("code"))
    with_plans = [
        v for v in jiantang_villages if HouseholdPlan.objects.filter(household__village=v, year=year).exists()
    ]
    # Each village stops at a different step, so every queue has something in it.
    stops = [
        "paid2",
        "paid1",
        "approved",
        "city_reviewed",
        "township_reviewed",
        "verified",
        "prepared",
        "draft",
    ]
    paid_on = datetime.date(year, 4, 20)
    for village, stop in zip(with_plans, stops, strict=False):
        official = _village_official(village)
        batches = []
        for cadre_id in (
            Household.objects.filter(village=village, plans__year=year)
            .values_list("cadre_id", flat=True)
            .distinct()
        ):
            cadre = User.objects.get(pk=cadre_id)
            try:
                batches.append(services.batch_prepare(village=village, year=year, tranche=1, actor=cadre))
            except ValidationError:
                continue  # none of this cadre's letters signed yet
        steps = [
            "draft",
            "prepared",
            "verified",
            "township_reviewed",
            "city_reviewed",
            "approved",
            "paid1",
            "paid2",
        ]
        reached = steps.index(stop)
        for batch in batches:
            maker = batch.created_by
            for action, actor, needed in (
                ("submit", maker, 1),
                ("verify", official, 2),
                ("township_review", township, 3),
                ("city_review", city, 4),
                ("approve", approver, 5),
            ):
                if reached >= needed:
                    advance([batch], action=action, actor=actor, note="演示数据")
            if reached >= 6:
                services.payouts_record(batch=batch, actor=maker, paid_on=paid_on)
        if stop == "paid2":
            _second_tranche_and_settlement(village, year, official, township, city, approver)

    _equity_household(year)
    _bank_accounts(year)
    paid = sum(b.total for b in Batch.objects.filter(year=year, status="paid"))
    plans = HouseholdPlan.objects.filter(year=year).count()
    return f"{year} 年度：{plans} 份计划，已兑现批次合计 {paid:,.2f} 元。"


def _bank_accounts(year: int) -> None:
    """一卡通 accounts for the households of the approved batches waiting to be paid, so the demo's
    batch page offers 导出银行代发文件 (bulk: seed_demo stays fast)."""
    from disbursements.bank_accounts import BANKS, luhn_ok
    from disbursements.models import BankAccount, BatchLine

    lines = BatchLine.objects.filter(batch__year=year, batch__status="approved").select_related(
        "batch", "account"
    )
    rows = []
    for line in lines:
        body = f"621799{line.account_id:012d}"
        number = next(body + d for d in "0123456789" if luhn_ok(body + d))
        holder = line.account.name.split(" ")[-1]
        rows.append(
            BankAccount(
                account_id=line.account_id,
                bank=BANKS[0].name,
                number=number,
                holder_name=holder,
                created_by=line.batch.created_by,
            )
        )
    BankAccount.objects.bulk_create(rows, ignore_conflicts=True)


def _second_tranche_and_settlement(
    village: Village, year: int, official: User, township: User, city: User, approver: User
) -> None:
    for cadre_id in (
        Household.objects.filter(village=village, plans__year=year)
        .values_list("cadre_id", flat=True)
        .distinct()
    ):
        cadre = User.objects.get(pk=cadre_id)
        try:
            batch = services.batch_prepare(village=village, year=year, tranche=2, actor=cadre)
        except ValidationError:
            continue  # none of this cadre's households had tranche 1 paid
        for action, actor in (
            ("submit", cadre),
            ("verify", official),
            ("township_review", township),
            ("city_review", city),
            ("approve", approver),
        ):
            advance([batch], action=action, actor=actor, note="演示数据")
        services.payouts_record(batch=batch, actor=cadre, paid_on=datetime.date(year, 7, 15))
    paid2 = GrantLine.objects.filter(
        tranche=2, year=year, cancelled_at__isnull=True, line__payout__isnull=False
    )
    plans = list(
        HouseholdPlan.objects.filter(
            household__village=village, year=year, household__in=paid2.values("household")
        ).select_related("household__cadre")
    )
    # The last of (up to) four did not farm: its money is recovered (with two or more, so that the
    # demo always has both a reward and a recovery).
    did_not_farm = min(3, len(plans) - 1) if len(plans) > 1 else None
    for index, plan in enumerate(plans[:4]):
        plan_cadre = plan.household.cadre
        assert plan_cadre is not None
        active = index != did_not_farm
        settlement.analysis_record(
            plan=plan,
            actor=plan_cadre,
            actual_planting_area=plan.planting_area,
            actual_species=plan.species,
            actual_quantity=plan.breeding_quantity,
            sales_income=Decimal("6800"),
            costs=Decimal("2100"),
            assessment="active" if active else "inactive",
            output="按计划完成" if active else "未种植",
        )
        if not active:
            order = settlement.recovery_raise(
                household=plan.household, year=year, actor=official, reason="不积极主动发展产业"
            )
            settlement.recovery_approve(order=order, actor=township)
            settlement.recovery_repay(
                order=order, amount=order.amount / 2, received_on=datetime.date(year, 11, 1), actor=official
            )


def _equity_household(year: int) -> None:
    """One household in a village whose batch is not yet prepared invests its grant in a cooperative."""
    candidate = (
        Household.objects.filter(plans__year=year, cadre__isnull=False)
        .exclude(village__township__name="建塘镇")
        .order_by("code")
        .first()
    )
    if candidate is None or candidate.cadre is None:
        return
    partner = Organisation.objects.filter(name="香格里拉市高原特色农产品专业合作社").first()
    if partner is None:  # an organisation of the register, supervised by the household's township
        partner = Organisation(
            name="香格里拉市高原特色农产品专业合作社",
            kind=OrganisationKind.COOPERATIVE,
            operating_model=OperatingModel.COOPERATIVE,
            credit_code="93533421MA6K00090" + uscc.calc_check_digit("93533421MA6K00090"),
            leader_name="和建华",
            leader_id_number="533421197803150427",
            phone="13988700001",
            township=candidate.village.township,
            industry="高原特色农产品",
        )
        partner.full_clean()
        partner.save()
    settlement.equity_invest(
        household=candidate,
        year=year,
        partner=partner,
        agreement=f"{year}-入股-001",
        consent_scan=SimpleUploadedFile("consent.pdf", DEMO_PDF),
        invested_on=datetime.date(year, 5, 8),
        actor=candidate.cadre,
    )


def _commitments(year: int, rng: random.Random) -> None:
    """Most households sign the 到户承诺书 before 15 April; some late; a few not yet."""
    for plan in HouseholdPlan.objects.filter(year=year).select_related("household__cadre").order_by("pk"):
        draw = rng.random()
        if draw < 0.1 or plan.household.cadre is None:
            continue  # not signed yet: shows as late on the cadre's list and the dashboard
        day = datetime.date(year, 4, 25) if draw < 0.2 else datetime.date(year, 3, 1 + int(draw * 40) % 28)
        plan_services.commitment_record(
            plan=plan,
            signed_on=day,
            scan=SimpleUploadedFile("signed.pdf", DEMO_PDF),
            actor=plan.household.cadre,
        )
