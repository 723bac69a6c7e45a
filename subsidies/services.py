"""Writes for the household grant: policy revisions, plans (quote → save → submit → amend),
commitment letters.

A plan is always saved with the quote the rules module produced under the current policy version,
so the stored amounts are what the household was told, whatever the policy becomes later.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from households.models import Household, User
from households.scoping import scoped
from households.uploads import clean_upload, field_policy

from . import rules
from .models import CommitmentLetter, HouseholdPlan, PlanStatus, Policy, PolicyRevision

MSG_NO_POLICY = "{year} 年度没有扶持政策，请联系市指挥部。"
MSG_OUT_OF_SCOPE = "该户不在您的管辖范围内。"
MSG_FROZEN = "该计划已进入审批，不能直接修改；如需调整请提交“计划变更”。"
MSG_RATIO_REASON = "调整拨付比例（默认 {default}）须填写理由。"
MSG_NO_PERMISSION = "您的角色不能填报产业计划。"
MSG_NOT_DRAFT = "只有填报中的计划可以提交审批。"
MSG_NOT_AMENDABLE = "只有已进入审批或已批准的计划才需要变更。"
MSG_AMENDMENT_OPEN = "该计划已有一份未完成的变更。"
MSG_SIGNED_FUTURE = "签订日期不能晚于今天。"


# --- policy ----------------------------------------------------------------------------------------


def policy_for_year(year: int) -> Policy:
    policy = Policy.objects.filter(year=year).prefetch_related("categories", "species__category").first()
    if policy is None:
        raise ValidationError(MSG_NO_POLICY.format(year=year))
    return policy


def policy_snapshot(policy: Policy) -> dict[str, Any]:
    return {
        "planting_rate": str(policy.planting_rate),
        "planting_area_cap": str(policy.planting_area_cap),
        "household_cap": str(policy.household_cap),
        "tranche_percent": [
            str(policy.tranche1_percent),
            str(policy.tranche2_percent),
            str(policy.tranche3_percent),
        ],
        "commitment_deadline": policy.commitment_deadline.isoformat(),
        "eligible_exit_year": policy.eligible_exit_year,
        "notice_days": policy.notice_days,
        "recovery_due_days": policy.recovery_due_days,
        "consolidation_exit_year": policy.consolidation_exit_year,
        "categories": {
            c.code: {
                "name": c.name,
                "unit": c.unit,
                "rate": str(c.rate),
                "cap": str(c.cap),
                "fractional": c.fractional,
            }
            for c in policy.categories.all()
        },
        "species": {s.name: s.category.code for s in policy.species.select_related("category")},
    }


@transaction.atomic
def policy_record_revision(*, policy: Policy, actor: User | None, reason: str = "") -> PolicyRevision | None:
    """After city HQ edited a policy (and its categories/species): bump the version and keep the snapshot.

    Returns None when nothing differs from the last snapshot (a save without changes is no revision).
    """
    locked = Policy.objects.select_for_update(no_key=True).get(pk=policy.pk)
    snapshot = policy_snapshot(locked)
    last = locked.revisions.order_by("-version").first()
    if last is not None and last.snapshot == snapshot:
        return None
    version = (last.version + 1) if last is not None else locked.version
    Policy.objects.filter(pk=locked.pk).update(version=version, updated_at=timezone.now(), updated_by=actor)
    policy.version = version
    # The dashboard's figures follow the policy (who is eligible, the letters' deadline): every
    # township's figures of that year are owed a refresh.
    from disbursements import summaries

    summaries.figures_changed(year=locked.year)
    return PolicyRevision.objects.create(
        policy=locked, version=version, snapshot=snapshot, changed_by=actor, reason=reason
    )


# --- plans -----------------------------------------------------------------------------------------


def plan_facts(*, crops: str, planting_area: Any, species: str, quantity: Any) -> rules.PlanFacts:
    """The form's or the sheet's values as the rules module takes them (several species may be named)."""
    names = [s for s in _split_species(species)]
    if len(names) > 1:
        breeding: list[tuple[str, Any]] = [(name, quantity) for name in names]
    elif names or (quantity not in (None, "", 0, Decimal(0))):
        breeding = [(names[0] if names else "", quantity)]
    else:
        breeding = []
    return rules.PlanFacts(planting_area=planting_area, crops=crops or "", breeding=breeding)


def _split_species(value: str) -> list[str]:
    for separator in "、，,;；/ ＋+和":
        value = value.replace(separator, "|")
    return [part.strip() for part in value.split("|") if part.strip()]


def plan_quote(
    *, household: Household, year: int, facts: rules.PlanFacts, ratios: Sequence[Decimal] | None = None
) -> tuple[Policy, rules.Quote]:
    """The quote for a household (read-only). Raises PlanRefused with the reason."""
    policy = policy_for_year(year)
    quote = rules.quote(
        policy.terms(),
        facts,
        exit_year=household.exit_year,
        consolidation=household.consolidation,
        ratios=ratios,
    )
    check_one_species(facts)
    return policy, quote


MSG_ONE_SPECIES = "每户计划只填一个养殖品种（同一品类的几种请合并为一种填写）"


def check_one_species(facts: rules.PlanFacts) -> None:
    """A plan row holds one species (excel-formats §2); the rules would add up same-category ones."""
    if len([s for s, _ in facts.breeding if s]) > 1:
        raise rules.PlanRefused(MSG_ONE_SPECIES)


def live_plan(household: Household, year: int) -> HouseholdPlan | None:
    """The plan that counts now: the newest non-superseded one (an open amendment before its original)."""
    return (
        HouseholdPlan.objects.filter(household=household, year=year)
        .exclude(status=PlanStatus.SUPERSEDED)
        .order_by("-pk")
        .first()
    )


def _ensure_may_plan(household: Household, actor: User) -> Household:
    if not (
        actor.has_perm("subsidies.add_householdplan") and actor.has_perm("subsidies.change_householdplan")
    ):
        raise ValidationError(MSG_NO_PERMISSION)
    return _scoped_household_locked(household, actor)


def _apply_quote(plan: HouseholdPlan, policy: Policy, quote: rules.Quote) -> None:
    plan.policy = policy
    plan.policy_version = quote.policy_version
    plan.planting_subsidy = quote.planting
    plan.breeding_subsidy = quote.breeding
    plan.grant_total = quote.total
    plan.tranche1, plan.tranche2, plan.tranche3 = quote.tranches
    plan.tranche1_percent, plan.tranche2_percent, plan.tranche3_percent = quote.ratios
    plan.explanation = list(quote.lines)


@transaction.atomic
def plan_save(
    *,
    household: Household,
    year: int,
    crops: str = "",
    planting_area: Any = None,
    species: str = "",
    quantity: Any = None,
    ratios: Sequence[Decimal] | None = None,
    ratio_reason: str = "",
    actor: User,
) -> HouseholdPlan:
    """Create or update the household's draft plan for `year`. Raises ValidationError (reason in Chinese)."""
    household = _ensure_may_plan(household, actor)
    facts = plan_facts(crops=crops, planting_area=planting_area, species=species, quantity=quantity)
    try:
        policy, quote = plan_quote(household=household, year=year, facts=facts, ratios=ratios)
    except rules.PlanRefused as exc:
        raise ValidationError(str(exc)) from None
    default = policy.terms().tranche_ratios
    if tuple(quote.ratios) != tuple(default) and not ratio_reason.strip():
        raise ValidationError(MSG_RATIO_REASON.format(default=":".join(rules.number(r) for r in default)))

    plan = live_plan(household, year)
    if plan is not None and not plan.is_editable:
        raise ValidationError(MSG_FROZEN)
    if plan is None:
        plan = HouseholdPlan(household=household, year=year, created_by=actor)
    before = _promise(plan) if plan.pk else None
    plan.crops = crops.strip() if crops else ""
    plan.planting_area = rules.to_fen(facts.planting_area or 0)
    plan.species = _split_species(species)[0] if species and species.strip() else ""
    plan.breeding_quantity = rules.to_fen(quantity or 0) if plan.species else Decimal("0.00")
    plan.ratio_reason = ratio_reason.strip() if tuple(quote.ratios) != tuple(default) else ""
    _apply_quote(plan, policy, quote)
    if before is not None and _promise(plan) != before:
        plan.revision += 1  # a signed 承诺书 no longer binds this plan: 待重新签订
    plan.updated_at = timezone.now()
    plan.full_clean()
    plan.save()
    return plan


def _promise(plan: HouseholdPlan) -> tuple[Any, ...]:
    """What the 承诺书 promises: the plan's items and amounts."""
    return (
        plan.crops,
        rules.to_fen(plan.planting_area),
        plan.species,
        rules.to_fen(plan.breeding_quantity),
        rules.to_fen(plan.grant_total),
        rules.to_fen(plan.tranche1),
        rules.to_fen(plan.tranche2),
        rules.to_fen(plan.tranche3),
    )


def plan_of_record(household_id: int, year: int) -> HouseholdPlan | None:
    """The plan that binds the money: not superseded, and not a draft amendment still awaiting approval."""
    return (
        HouseholdPlan.objects.filter(household_id=household_id, year=year)
        .exclude(status=PlanStatus.SUPERSEDED)
        .exclude(status=PlanStatus.DRAFT, amends__isnull=False)
        .select_related("commitment")
        .first()
    )


@transaction.atomic
def plan_submit(*, plan: HouseholdPlan, actor: User) -> HouseholdPlan:
    """The cadre hands the plan to the approval chain; from here on it is frozen."""
    _ensure_may_plan(plan.household, actor)
    if (
        HouseholdPlan.objects.filter(pk=plan.pk, status=PlanStatus.DRAFT).update(
            status=PlanStatus.SUBMITTED, updated_at=timezone.now()
        )
        != 1
    ):
        raise ValidationError(MSG_NOT_DRAFT)
    plan.refresh_from_db()
    _figures_changed(plan)  # a submitted amendment counts next to its original
    return plan


def _figures_changed(plan: HouseholdPlan) -> None:
    """Plans counted by the dashboard changed without a `save()` (which `summaries.watch` sees)."""
    from disbursements import summaries

    summaries.figures_changed(
        year=plan.year, townships=Household.objects.filter(pk=plan.household_id).values("village__township")
    )


@transaction.atomic
def plan_amend(*, plan: HouseholdPlan, actor: User) -> HouseholdPlan:
    """Open a draft amendment of a frozen plan; it replaces the original once approved."""
    _ensure_may_plan(plan.household, actor)
    if plan.status not in (PlanStatus.SUBMITTED, PlanStatus.APPROVED):
        raise ValidationError(MSG_NOT_AMENDABLE)
    if plan.amendments.exclude(status=PlanStatus.SUPERSEDED).exists():
        raise ValidationError(MSG_AMENDMENT_OPEN)
    amendment = HouseholdPlan.objects.get(pk=plan.pk)
    amendment.pk = None
    amendment.amends = plan
    amendment.status = PlanStatus.DRAFT
    amendment.created_by = actor
    amendment.created_at = amendment.updated_at = timezone.now()
    amendment.save()
    return amendment


MSG_AMEND_ROLE = "计划变更由乡镇审批。"
MSG_NOT_AN_AMENDMENT = "只有待审批的计划变更可以审批。"
MSG_AMEND_UNSIGNED = "变更后的计划须先由户和挂包干部重新签订承诺书。"
MSG_AMEND_OWN = "同一人不能审批自己发起的计划变更（审核与经办分离）。"


@transaction.atomic
def plan_amendment_approve(
    *, amendment: HouseholdPlan, actor: User, money_check: Any = None
) -> HouseholdPlan:
    """The township approves a draft amendment: it becomes the plan of record, the original SUPERSEDED.

    The changed plan must be signed again (承诺书 of the amendment); `money_check(household, old, new)`
    (given by the money side) refuses when the change would leave money already paid above the new
    grant, or a tranche in flight.
    """
    if actor.role != "township":
        raise ValidationError(MSG_AMEND_ROLE)
    household = _scoped_household_locked(amendment.household, actor)
    locked = (
        HouseholdPlan.objects.select_for_update(no_key=True, of=("self",))
        .select_related("commitment", "amends")
        .filter(pk=amendment.pk, household=household)
        .first()
    )
    if locked is None or locked.amends is None or locked.status != PlanStatus.DRAFT:
        raise ValidationError(MSG_NOT_AN_AMENDMENT)
    if locked.created_by_id == actor.pk:
        raise ValidationError(MSG_AMEND_OWN)
    if not locked.commitment_signed:
        raise ValidationError(MSG_AMEND_UNSIGNED)
    original = locked.amends
    if money_check is not None:
        money_check(household, original, locked)
    now = timezone.now()
    if (
        HouseholdPlan.objects.filter(pk=original.pk)
        .exclude(status=PlanStatus.SUPERSEDED)
        .update(status=PlanStatus.SUPERSEDED, updated_at=now)
        != 1
    ):
        raise ValidationError(MSG_NOT_AN_AMENDMENT)
    HouseholdPlan.objects.filter(pk=locked.pk).update(status=original.status, updated_at=now)
    locked.refresh_from_db()
    _figures_changed(locked)
    return locked


def _scoped_household_locked(household: Household, actor: User) -> Household:
    locked = scoped(Household.objects.select_for_update(no_key=True), actor).filter(pk=household.pk).first()
    if locked is None:
        raise ValidationError(MSG_OUT_OF_SCOPE)
    return locked


@transaction.atomic
def commitment_record(
    *, plan: HouseholdPlan, signed_on: datetime.date, scan: UploadedFile, actor: User
) -> CommitmentLetter:
    """Record the signed 到户承诺书 (date and scan). A later upload replaces the scan of the same plan."""
    _ensure_may_plan(plan.household, actor)
    checked_scan = clean_upload(scan, *field_policy(CommitmentLetter, "scan"))
    if signed_on > timezone.localdate():
        raise ValidationError(MSG_SIGNED_FUTURE)
    plan = HouseholdPlan.objects.select_for_update(no_key=True).get(pk=plan.pk)
    if plan.status == PlanStatus.SUPERSEDED:
        raise ValidationError("该计划已被变更取代，请签订变更后的计划。")
    letter = CommitmentLetter.objects.filter(plan=plan).first() or CommitmentLetter(plan=plan)
    letter.signed_on = signed_on
    letter.signed_amount = plan.grant_total
    letter.plan_revision = plan.revision
    letter.scan = checked_scan
    letter.uploaded_by = actor
    letter.uploaded_at = timezone.now()
    letter.save()
    return letter
