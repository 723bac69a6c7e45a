"""Writes of the organisation programme: registering organisations, agreements (one incentive claim
per household and year, under a lock), assessments and their confirmation, and the township's
incentive batch. The admin, the import and the commands all come through here."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone

from disbursements.models import Batch, BatchLine
from disbursements.money import ZERO, to_fen
from households.models import Household, Township, User
from households.scoping import scoped
from households.uploads import clean_upload, field_policy

from . import money, rules
from .models import Agreement, Assessment, Incentive, IncentivePolicy, IncentivePolicyRevision, Organisation

MSG_NO_POLICY = "{year} 年度没有带贫奖补政策，请联系市指挥部。"
MSG_ROLE = "带贫组织、帮扶协议和考核由乡镇或市指挥部办理。"
MSG_OUT_OF_SCOPE = "该户不在您的管辖范围内。"
MSG_ORG_OUT_OF_SCOPE = "该组织不在您的管辖范围内。"
MSG_CLAIMED = "该户 {year} 年度已计入“{organisation}”的奖补（一户一年只计入一个组织），不能再计入本组织。"
MSG_DUPLICATE = "该组织与该户 {year} 年度已签订帮扶协议。"
MSG_UNKNOWN_WAY = "帮扶方式“{way}”不在政策列出的方式中。"
MSG_NO_WAY = "请至少选择一种帮扶方式。"
MSG_DATES = "结束日期不能早于开始日期。"
MSG_SUPERVISOR = "考核由组织的监管乡镇（{township}）录入和确认。"
MSG_NOT_REACHING = "人均产业收入未达到 {threshold} 元，不能确认为考核合格。"
MSG_ALREADY_CONFIRMED = "该考核已确认合格。"
MSG_IN_INCENTIVE = "该协议已计入奖补批次，考核不能再修改。"
MSG_NOTHING_TO_PAY = "{township} {year} 年度没有达到奖补条件且尚未列入批次的组织。"


def policy_years() -> list[int]:
    """The years the incentive has a policy for: the years an organisation's page can show."""
    return list(IncentivePolicy.objects.order_by("year").values_list("year", flat=True))


def default_year(today: datetime.date | None = None) -> int:
    """The programme year pages open on: the latest policy year not after today (else the first)."""
    years = policy_years()
    if not years:
        return 2017
    current = (today or timezone.localdate()).year
    past = [y for y in years if y <= current]
    return past[-1] if past else years[0]


POLICY_ITEMS = {
    "threshold": "人均产业收入标准（元）",
    "base": "起奖金额（元）",
    "step": "每增加一户奖励（元）",
    "minimum": "起奖户数",
    "support_ways": "帮扶方式",
}
MSG_POLICY_ROLE = "带贫奖补政策由市指挥部修改。"
MSG_POLICY_REASON = "请填写修改原因。"


def policy_snapshot(policy: IncentivePolicy) -> dict[str, Any]:
    return {
        "threshold": f"{to_fen(policy.threshold):.2f}",
        "base": f"{to_fen(policy.base):.2f}",
        "step": f"{to_fen(policy.step):.2f}",
        "minimum": policy.minimum,
        "support_ways": list(policy.support_ways),
    }


def _shown(key: str, value: Any) -> str:
    if key == "support_ways":
        return "、".join(value)
    if key == "minimum":
        return f"{value} 户"
    return f"{Decimal(value):,.2f}"


@transaction.atomic
def incentive_policy_save(
    *, policy: IncentivePolicy, actor: User, reason: str = ""
) -> IncentivePolicyRevision | None:
    """City HQ saves the year's incentive policy (new, or edited in `policy`): under the policy's lock,
    a change raises the version (incentives name the version they were computed with) and appends a
    revision: the whole policy, what changed (old → new), who, when and why. Saving without a change
    is no revision (None)."""
    if not (actor.is_superuser or actor.role == "city"):
        raise ValidationError(MSG_POLICY_ROLE)
    policy.full_clean()
    if policy.pk is None:
        policy.version = 1
        policy.updated_at = timezone.now()
        policy.save()
        return IncentivePolicyRevision.objects.create(
            policy=policy,
            version=1,
            snapshot=policy_snapshot(policy),
            changed_by=actor,
            reason=reason.strip(),
        )
    locked = IncentivePolicy.objects.select_for_update(no_key=True).get(pk=policy.pk)
    old, new = policy_snapshot(locked), policy_snapshot(policy)
    if old == new:
        return None
    if not reason.strip():
        raise ValidationError(MSG_POLICY_REASON)
    changes = {
        POLICY_ITEMS[key]: [_shown(key, old[key]), _shown(key, new[key])]
        for key in POLICY_ITEMS
        if old[key] != new[key]
    }
    policy.version = locked.version + 1
    policy.year = locked.year  # a policy is the year's: its year does not move
    policy.updated_at = timezone.now()
    policy.save()
    return IncentivePolicyRevision.objects.create(
        policy=policy,
        version=policy.version,
        snapshot=new,
        changes=changes,
        changed_by=actor,
        changed_at=policy.updated_at,
        reason=reason.strip(),
    )


def policy_for_year(year: int) -> IncentivePolicy:
    policy = IncentivePolicy.objects.filter(year=year).first()
    if policy is None:
        raise ValidationError(MSG_NO_POLICY.format(year=year))
    return policy


def _require_editor(actor: User) -> None:
    if not (actor.is_superuser or actor.role in ("township", "city")):
        raise ValidationError(MSG_ROLE)


# --- organisations ------------------------------------------------------------------------------------


@transaction.atomic
def organisation_register(*, actor: User, **fields: Any) -> Organisation:
    """A new organisation, supervised by the actor's township (a township registers its own)."""
    _require_editor(actor)
    if actor.role == "township":
        fields["township"] = actor.township
    organisation = Organisation(created_by=actor, **fields)
    organisation.full_clean()
    organisation.save()
    return organisation


# --- agreements and the one claim per household and year ------------------------------------------------


def check_ways(ways: Sequence[str], policy: IncentivePolicy) -> list[str]:
    if not ways:
        raise ValidationError({"ways": MSG_NO_WAY})
    for way in ways:
        if way not in policy.support_ways:
            raise ValidationError({"ways": MSG_UNKNOWN_WAY.format(way=way)})
    return list(dict.fromkeys(ways))


def claims_of(household_ids: Sequence[int], year: int) -> dict[int, str]:
    """The organisation each household already counts toward this year (by household id)."""
    return dict(
        Agreement.objects.filter(household_id__in=list(household_ids), year=year, counts=True).values_list(
            "household_id", "organisation__name"
        )
    )


def lock_households(household_ids: Sequence[int]) -> None:
    """Serialise claims on these households (PostgreSQL row locks; SQLite serialises writers)."""
    list(
        Household.objects.select_for_update(no_key=True)
        .filter(pk__in=sorted(set(household_ids)))
        .order_by("pk")
        .values_list("pk")
    )


@transaction.atomic
def agreement_create(
    *,
    actor: User,
    organisation: Organisation,
    household: Household,
    year: int,
    ways: Sequence[str],
    industry: str,
    signed_on: datetime.date,
    starts_on: datetime.date,
    ends_on: datetime.date,
    counts: bool = True,
    scan: UploadedFile | None = None,
) -> Agreement:
    """帮扶协议: the household is locked, then a second incentive claim for the year is refused naming
    the organisation it already counts toward."""
    _require_editor(actor)
    if not scoped(Organisation.objects.filter(pk=organisation.pk), actor).exists():
        raise ValidationError(MSG_ORG_OUT_OF_SCOPE)
    if actor.role == "township" and not (
        organisation.township_id == actor.township_id
        or scoped(Household.objects.filter(pk=household.pk), actor).exists()
    ):
        raise ValidationError(MSG_OUT_OF_SCOPE)
    policy = policy_for_year(year)
    ways = check_ways(ways, policy)
    if ends_on < starts_on:
        raise ValidationError({"ends_on": MSG_DATES})
    lock_households([household.pk])
    if Agreement.objects.filter(organisation=organisation, household=household, year=year).exists():
        raise ValidationError(MSG_DUPLICATE.format(year=year))
    if counts:
        first = claims_of([household.pk], year).get(household.pk)
        if first is not None:
            raise ValidationError(MSG_CLAIMED.format(year=year, organisation=first))
    agreement = Agreement(
        organisation=organisation,
        household=household,
        year=year,
        ways=ways,
        industry=industry,
        signed_on=signed_on,
        starts_on=starts_on,
        ends_on=ends_on,
        counts=counts,
        created_by=actor,
    )
    if scan is not None:
        agreement.scan = clean_upload(scan, *field_policy(Agreement, "scan"))  # type: ignore[assignment]
    try:
        with transaction.atomic():
            agreement.save()
    except IntegrityError:  # a racing claim that the lock did not see (should not happen): same words
        first = claims_of([household.pk], year).get(household.pk, "另一组织")
        raise ValidationError(MSG_CLAIMED.format(year=year, organisation=first)) from None
    return agreement


# --- assessments ----------------------------------------------------------------------------------------


def _check_supervisor(actor: User, agreement: Agreement) -> None:
    if actor.is_superuser or actor.role == "city":
        return
    organisation = agreement.organisation
    if actor.role != "township" or organisation.township_id != actor.township_id:
        raise ValidationError(MSG_SUPERVISOR.format(township=organisation.township.name))


@transaction.atomic
def assessment_record(
    *,
    actor: User,
    agreement: Agreement,
    income: Decimal,
    size: int | None = None,
    evidence: UploadedFile | None = None,
) -> Assessment:
    """The year's 考核 of one agreement: the income from the industry and 家庭人口 (the household's
    size today unless given), with the per-capita income the rules compute. Entering it again
    (before the incentive batch) replaces the figures and withdraws an earlier confirmation."""
    _check_supervisor(actor, agreement)
    policy = policy_for_year(agreement.year)
    size = size if size is not None else agreement.household.size
    if isinstance(income, float):
        raise TypeError("money must not be a float")
    result = rules.assess(policy.terms(), income=to_fen(income), size=size, confirmed=False)
    existing = Assessment.objects.select_for_update(no_key=True).filter(agreement=agreement).first()
    if (
        existing is not None
        and Incentive.objects.filter(agreements=agreement, cancelled_at__isnull=True).exists()
    ):
        raise ValidationError(MSG_IN_INCENTIVE)
    assessment = existing or Assessment(agreement=agreement)
    assessment.income = to_fen(income)
    assessment.size = size
    assessment.per_capita = result.per_capita
    assessment.reaches = result.reaches_threshold
    assessment.policy_version = policy.version
    assessment.assessed_by = actor
    assessment.assessed_at = timezone.now()
    assessment.confirmed_by = None
    assessment.confirmed_at = None
    if evidence is not None:
        assessment.evidence = clean_upload(evidence, *field_policy(Assessment, "evidence"))  # type: ignore[assignment]
    assessment.full_clean(exclude=["agreement"])
    assessment.save()
    return assessment


@transaction.atomic
def assessments_confirm(*, actor: User, assessments: Sequence[Assessment]) -> int:
    """考核合格: the supervising township confirms assessments that reach the threshold. Set-based:
    returns how many were confirmed now; refuses (confirming none) if any does not reach it."""
    ids = [a.pk for a in assessments]
    rows = list(
        Assessment.objects.select_for_update(no_key=True, of=("self",))
        .filter(pk__in=ids)
        .select_related("agreement__organisation__township", "agreement__household")
        .order_by("pk")
    )
    for row in rows:
        _check_supervisor(actor, row.agreement)
        if not row.reaches:
            policy = policy_for_year(row.agreement.year)
            raise ValidationError(
                f"{row.agreement.household.head_name}："
                + MSG_NOT_REACHING.format(threshold=f"{policy.threshold:,.2f}")
            )
    return Assessment.objects.filter(pk__in=ids, confirmed_at__isnull=True, reaches=True).update(
        confirmed_at=timezone.now(), confirmed_by=actor
    )


# --- the incentive ----------------------------------------------------------------------------------------


def qualified_counts(year: int, organisations: Any = None) -> dict[int, int]:
    """Confirmed qualified households per organisation for the year, counted agreements only: one query."""
    queryset = Organisation.objects.all() if organisations is None else organisations
    return {
        pk: n
        for pk, n in queryset.annotate(
            n=Count(
                "agreements",
                filter=Q(
                    agreements__year=year,
                    agreements__counts=True,
                    agreements__assessment__reaches=True,
                    agreements__assessment__confirmed_at__isnull=False,
                ),
            )
        ).values_list("pk", "n")
    }


@transaction.atomic
def incentive_batch_prepare(*, actor: User, township: Township, year: int) -> Batch:
    """The township's incentive batch: every organisation it supervises whose confirmed qualified
    households earn an incentive and which has none live for the year, with the households counted
    frozen on the line. A constant number of queries, whatever the number of organisations."""
    if not (actor.is_superuser or actor.role in ("township", "city")):
        raise ValidationError(MSG_ROLE)
    if actor.role == "township" and actor.township_id != township.pk:
        raise ValidationError("只能为本乡镇监管的组织建奖补批次。")
    policy = policy_for_year(year)
    terms = policy.terms()
    organisations = list(
        Organisation.objects.select_for_update(no_key=True)
        .filter(township=township)
        .exclude(incentives__year=year, incentives__cancelled_at__isnull=True)
        .order_by("pk")
    )
    counts = qualified_counts(year, Organisation.objects.filter(pk__in=[o.pk for o in organisations]))
    due = []
    for organisation in organisations:
        result = rules.incentive(terms, counts.get(organisation.pk, 0))
        if result.amount > 0:
            due.append((organisation, result))
    if not due:
        raise ValidationError(MSG_NOTHING_TO_PAY.format(township=township.name, year=year))
    accounts = money.organisation_accounts([o for o, _ in due])
    batch = Batch.objects.create(
        kind=money.KIND,
        year=year,
        township=township,
        created_by=actor,
        total=sum((r.amount for _, r in due), ZERO),
        line_count=len(due),
    )
    lines = BatchLine.objects.bulk_create(
        [BatchLine(batch=batch, account=accounts[o.pk], amount=r.amount) for o, r in due]
    )
    incentives = Incentive.objects.bulk_create(
        [
            Incentive(
                organisation=o,
                year=year,
                line=line,
                households=r.households,
                amount=r.amount,
                policy_version=r.policy_version,
                explanation=list(r.lines),
            )
            for line, (o, r) in zip(lines, due, strict=True)
        ]
    )
    by_org = {i.organisation_id: i.pk for i in incentives}
    Through = Incentive.agreements.through
    Through.objects.bulk_create(
        [
            Through(incentive_id=by_org[org_id], agreement_id=agreement_id)
            for agreement_id, org_id in Agreement.objects.filter(
                organisation_id__in=list(by_org),
                year=year,
                counts=True,
                assessment__reaches=True,
                assessment__confirmed_at__isnull=False,
            ).values_list("pk", "organisation_id")
        ]
    )
    return batch


def incentive_quote(organisation: Organisation, year: int) -> rules.Incentive:
    """What the organisation would receive now, explained (for its page)."""
    policy = policy_for_year(year)
    n = qualified_counts(year, Organisation.objects.filter(pk=organisation.pk)).get(organisation.pk, 0)
    return rules.incentive(policy.terms(), n)
