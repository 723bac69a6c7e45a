"""Build a village of N planned households with an approved tranche-1 batch (benchmarks and query tests)."""

from __future__ import annotations

import datetime
from decimal import Decimal

from disbursements.approval import advance
from disbursements.models import Batch
from households.demo import ROSTER_HEADER, roster_rows
from households.models import Household, Role, User, Village
from households.roster import roster_import

from .. import rules
from ..models import CommitmentLetter, HouseholdPlan, PlanStatus, Policy
from . import services


def _user(username: str, role: str, **scope: object) -> User:
    user = User.objects.filter(username=username).first() or User(username=username, role=role, **scope)
    user.save()
    return user


def approved_batch(
    *, households: int, village_name: str = "红坡村", prefix: str = "BN", year: int = 2017
) -> Batch:
    """`households` eligible households of one village with a tranche-1 batch approved, ready to pay."""
    batch, approver = reviewed_batch(
        households=households, village_name=village_name, prefix=prefix, year=year
    )
    advance([batch], action="approve", actor=approver)
    batch.refresh_from_db()
    return batch


def reviewed_batch(
    *, households: int, village_name: str = "红坡村", prefix: str = "BN", year: int = 2017
) -> tuple[Batch, User]:
    """`households` eligible households of one village, one cadre, plans written in bulk (set-based),
    money allocated, a tranche-1 batch taken to the approver's desk; returns it and the approver."""
    village = Village.objects.select_related("township").get(name=village_name)
    rows = []
    for row in roster_rows(
        [(village.township.name, village.name)], households, code_prefix=prefix, seed=households
    ):
        row[ROSTER_HEADER.index("脱贫年度")] = year
        row[ROSTER_HEADER.index("挂包干部")] = "基准干部"
        row[ROSTER_HEADER.index("挂包干部电话")] = f"1370{households:07d}"[:11]
        rows.append(row)
    report = roster_import(
        header=ROSTER_HEADER, rows=rows, actor=None, file_name="bench", file_sha256="", dry_run=False
    )
    assert report.ok, report.errors[:3]
    policy = Policy.objects.get(year=year)
    terms = policy.terms()
    plans = []
    for household in Household.objects.filter(code__startswith=prefix):
        quote = rules.quote(
            terms,
            rules.PlanFacts(breeding=[("猪", Decimal(3))]),
            exit_year=household.exit_year,
            consolidation=False,
        )
        plans.append(
            HouseholdPlan(
                household=household,
                year=year,
                status=PlanStatus.DRAFT,
                species="猪",
                breeding_quantity=Decimal(3),
                tranche1_percent=quote.ratios[0],
                tranche2_percent=quote.ratios[1],
                tranche3_percent=quote.ratios[2],
                policy=policy,
                policy_version=quote.policy_version,
                planting_subsidy=quote.planting,
                breeding_subsidy=quote.breeding,
                grant_total=quote.total,
                tranche1=quote.tranches[0],
                tranche2=quote.tranches[1],
                tranche3=quote.tranches[2],
                explanation=list(quote.lines),
            )
        )
    HouseholdPlan.objects.bulk_create(plans, batch_size=1000)
    cadre = User.objects.get(phone=f"1370{households:07d}"[:11])
    # Every household signed its 到户承诺书 (a batch takes only plans whose letter binds them).
    CommitmentLetter.objects.bulk_create(
        [
            CommitmentLetter(
                plan=plan,
                signed_on=datetime.date(year, 4, 1),
                scan="commitments/bench.pdf",
                uploaded_by=cadre,
                signed_amount=plan.grant_total,
                plan_revision=plan.revision,
            )
            for plan in HouseholdPlan.objects.filter(household__code__startswith=prefix, year=year)
        ],
        batch_size=1000,
    )
    services.allocate(year=year, actor=None)
    batch = services.batch_prepare(village=village, year=year, tranche=1, actor=cadre)
    official = _user(f"bench-v-{village.code}", Role.VILLAGE, village=village)
    township = _user(f"bench-t-{village.township.code}", Role.TOWNSHIP, township=village.township)
    city, approver = _user("bench-city", Role.CITY), _user("bench-approver", Role.APPROVER)
    advance([batch], action="submit", actor=cadre)
    advance([batch], action="verify", actor=official)
    advance([batch], action="township_review", actor=township)
    advance([batch], action="city_review", actor=city)
    return batch, approver
