"""公示 (rules.md §9): what a notice lists, the one notice renderer, and the notice lifecycle.

Lists show names with masked 身份证号 (first 6, last 4), never the whole number. Rows are read
set-based (one query per village and kind) and the PDF goes through `households.pdf.render_pdf`.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.tasks import task
from django.utils import timezone

from households.masking import mask_id_number
from households.models import Township, User, Village
from households.pdf import render_pdf
from households.scoping import scoped
from subsidies import rules
from subsidies.models import HouseholdPlan, PlanStatus, Policy, Species

from .models import Batch, BatchLine, Notice, Objection, PrintJob, RecoveryOrder

HOTLINE = "12317"
TITLES: dict[str, str] = {
    Notice.Kind.GRANT: "{year}年度{village}精准扶贫特色产业到户扶持资金公示",
    Notice.Kind.REWARD: "{year}年度{village}产业扶持以奖代补资金公示",
    Notice.Kind.RECOVERY: "{year}年度{village}产业扶持资金收回公示",
}
COLUMNS: dict[str, list[str]] = {
    Notice.Kind.GRANT: [
        "序号",
        "户主姓名",
        "身份证号",
        "村民小组",
        "扶持项目",
        "补助金额",
        "产前",
        "产中",
        "产后",
    ],
    Notice.Kind.REWARD: ["序号", "户主姓名", "身份证号", "村民小组", "核实应享", "已拨付", "以奖代补金额"],
    Notice.Kind.RECOVERY: ["序号", "户主姓名", "身份证号", "村民小组", "收回金额", "原因"],
}
AMOUNT_FROM: dict[str, int] = {Notice.Kind.GRANT: 5, Notice.Kind.REWARD: 4, Notice.Kind.RECOVERY: 4}
TOTAL_COLUMN: dict[str, int] = {Notice.Kind.GRANT: 5, Notice.Kind.REWARD: 6, Notice.Kind.RECOVERY: 4}

MSG_MIN_DAYS = "公示期不得少于 7 天。"


@dataclass
class Sheet:
    """One village's notice, ready to print."""

    kind: str
    year: int
    village: Village
    title: str
    issuer: str
    contact: str
    period_start: datetime.date
    period_end: datetime.date
    columns: list[str]
    rows: list[list[str]]
    totals: list[str] = field(default_factory=list)
    total: Decimal = Decimal("0.00")
    issued_on: datetime.date = field(default_factory=timezone.localdate)

    @property
    def days(self) -> int:
        return (self.period_end - self.period_start).days + 1

    @property
    def committee(self) -> str:
        return committee(self.village)

    @property
    def amount_from(self) -> int:
        """Index of the first right-aligned (amount) column."""
        return AMOUNT_FROM[self.kind]


def committee(village: Village) -> str:
    """红坡村 → 红坡村村民委员会; 建塘社区 → 建塘社区居民委员会."""
    return f"{village.name}{'居民委员会' if village.kind == '社区' else '村民委员会'}"


def _money(value: Decimal) -> str:
    return rules.yuan(value)


def _project(plan: HouseholdPlan, units: dict[str, str]) -> str:
    parts = []
    if plan.planting_area:
        parts.append(f"{plan.crops} {rules.number(plan.planting_area)}亩")
    if plan.species:
        parts.append(f"{plan.species} {rules.number(plan.breeding_quantity)}{units.get(plan.species, '')}")
    return "；".join(parts)


def notice_rows(kind: str, year: int, village: Village, user: User | None) -> tuple[list[list[str]], Decimal]:
    """The list of a village's notice as printed (masked IDs), and its total; scoped to `user`."""
    rows: list[list[str]] = []
    total = Decimal("0.00")
    if kind == Notice.Kind.GRANT:
        plans = (
            HouseholdPlan.objects.filter(household__village=village, year=year)
            .exclude(status=PlanStatus.SUPERSEDED)
            .exclude(status=PlanStatus.DRAFT, amends__isnull=False)
        )
        if user is not None:
            plans = scoped(plans, user)
        units = dict(Species.objects.filter(policy__year=year).values_list("name", "category__unit"))
        for number, plan in enumerate(
            plans.select_related("household__group").order_by("household__group__name", "household__code"),
            start=1,
        ):
            household = plan.household
            rows.append(
                [
                    str(number),
                    household.head_name,
                    mask_id_number(household.id_number),
                    household.group.name,
                    _project(plan, units),
                    _money(plan.grant_total),
                    _money(plan.tranche1),
                    _money(plan.tranche2),
                    _money(plan.tranche3),
                ]
            )
            total += plan.grant_total
    elif kind == Notice.Kind.REWARD:
        lines = BatchLine.objects.filter(
            batch__village=village, year=year, tranche=3, cancelled_at__isnull=True
        )
        if user is not None:
            lines = scoped(lines, user)
        for number, line in enumerate(
            lines.select_related("household__group", "plan__analysis").order_by(
                "household__group__name", "household__code"
            ),
            start=1,
        ):
            analysis = line.plan.analysis
            rows.append(
                [
                    str(number),
                    line.household.head_name,
                    mask_id_number(line.household.id_number),
                    line.household.group.name,
                    _money(analysis.verified_entitlement),
                    _money(analysis.paid_before),
                    _money(line.amount),
                ]
            )
            total += line.amount
    elif kind == Notice.Kind.RECOVERY:
        orders = RecoveryOrder.objects.filter(household__village=village, year=year)
        if user is not None:
            orders = scoped(orders, user)
        for number, order in enumerate(
            orders.select_related("household__group").order_by("household__group__name", "household__code"),
            start=1,
        ):
            rows.append(
                [
                    str(number),
                    order.household.head_name,
                    mask_id_number(order.household.id_number),
                    order.household.group.name,
                    _money(order.amount),
                    order.reason,
                ]
            )
            total += order.amount
    else:
        raise ValidationError(f"未知的公示类别：{kind}")
    return rows, total


def build_sheet(
    *,
    kind: str,
    year: int,
    village: Village,
    user: User | None,
    start: datetime.date | None = None,
    days: int | None = None,
    contact: str = "",
) -> Sheet:
    policy = Policy.objects.filter(year=year).first()
    days = days or (policy.notice_days if policy else 10)
    if days < 7:
        raise ValidationError(MSG_MIN_DAYS)
    start = start or timezone.localdate()
    rows, total = notice_rows(kind, year, village, user)
    columns = COLUMNS[kind]
    totals = [""] * len(columns)
    totals[1] = f"共 {len(rows)} 户"
    totals[TOTAL_COLUMN[kind]] = _money(total)
    return Sheet(
        kind=kind,
        year=year,
        village=village,
        title=TITLES[kind].format(year=year, village=village.name),
        issuer=f"{village.township.name}人民政府　{committee(village)}",
        contact=contact or village.contact or committee(village),
        period_start=start,
        period_end=start + datetime.timedelta(days=days - 1),
        columns=columns,
        rows=rows,
        totals=totals,
        total=total,
    )


def render_sheets(sheets: list[Sheet]) -> bytes:
    """The one notice renderer: any number of village sheets in one A4 PDF."""
    return render_pdf(
        "notices/notice.html",
        {"sheets": sheets, "hotline": HOTLINE},
    )


def villages_of(township: Township, user: User | None) -> list[Village]:
    villages = Village.objects.filter(township=township).select_related("township").order_by("code")
    return list(scoped(villages, user) if user is not None else villages)


# --- lifecycle ------------------------------------------------------------------------------------


@transaction.atomic
def notice_issue(
    *,
    kind: str,
    year: int,
    village: Village,
    actor: User,
    start: datetime.date | None = None,
    days: int | None = None,
    contact: str = "",
    batch: Batch | None = None,
) -> Notice:
    """Print and record a notice; its list and PDF are frozen as issued."""
    if actor.role not in ("village", "township"):
        raise ValidationError("公示由村委会或乡镇印发。")
    if not scoped(Village.objects.filter(pk=village.pk), actor).exists():
        raise ValidationError("该村不在您的管辖范围内。")
    if batch is not None and (batch.village_id != village.pk or batch.year != year):
        raise ValidationError("批次与公示的村、年度不一致。")
    sheet = build_sheet(
        kind=kind, year=year, village=village, user=actor, start=start, days=days, contact=contact
    )
    if not sheet.rows:
        raise ValidationError(f"{village.name} 没有可公示的内容。")
    pdf = render_sheets([sheet])
    notice = Notice(
        kind=kind,
        year=year,
        village=village,
        batch=batch,
        title=sheet.title,
        issuer=sheet.issuer,
        contact=sheet.contact,
        period_start=sheet.period_start,
        period_end=sheet.period_end,
        period_days=sheet.days,
        rows=sheet.rows,
        total=sheet.total,
        issued_by=actor,
    )
    notice.pdf.save(f"{kind}-{year}-{village.code}.pdf", ContentFile(pdf), save=False)
    notice.save()
    return notice


def _scoped_notice(notice: Notice, actor: User) -> Notice:
    locked = (
        scoped(Notice.objects.select_for_update(no_key=True, of=("self",)), actor)
        .filter(pk=notice.pk)
        .first()
    )
    if locked is None:
        raise ValidationError("该公示不在您的管辖范围内。")
    return locked


@transaction.atomic
def notice_post(
    *, notice: Notice, actor: User, photo: UploadedFile, posted_at: datetime.datetime | None = None
) -> Notice:
    """Record that the notice went up, with a photo of it on the board."""
    locked = _scoped_notice(notice, actor)
    if locked.status != Notice.Status.ISSUED:
        raise ValidationError("该公示已登记张贴。")
    locked.posted_photo = photo
    locked.posted_at = posted_at or timezone.now()
    locked.status = Notice.Status.POSTED
    locked.save(update_fields=["posted_photo", "posted_at", "status"])
    return locked


@transaction.atomic
def objection_record(
    *, notice: Notice, actor: User, raised_by: str, content: str, received_on: datetime.date
) -> Objection:
    locked = _scoped_notice(notice, actor)
    if locked.status == Notice.Status.CLOSED:
        raise ValidationError("公示已结束。")
    if not raised_by.strip() or not content.strip():
        raise ValidationError("请填写反映人和异议内容。")
    return Objection.objects.create(
        notice=locked,
        received_on=received_on,
        raised_by=raised_by.strip(),
        content=content.strip(),
        recorded_by=actor,
    )


@transaction.atomic
def objection_resolve(
    *, objection: Objection, actor: User, resolution: str, resolved_on: datetime.date
) -> Objection:
    _scoped_notice(objection.notice, actor)
    if not resolution.strip():
        raise ValidationError("请写明处理结果。")
    Objection.objects.filter(pk=objection.pk).update(
        resolution=resolution.strip(), resolved_on=resolved_on, resolved_by=actor
    )
    objection.refresh_from_db()
    return objection


def notice_blockers(notice: Notice, today: datetime.date | None = None) -> list[str]:
    today = today or timezone.localdate()
    blockers = []
    if notice.status == Notice.Status.ISSUED:
        blockers.append(f"“{notice.title}”尚未登记张贴")
    if today <= notice.period_end:
        blockers.append(f"“{notice.title}”公示期至 {notice.period_end:%Y-%m-%d}，尚未结束")
    open_objections = [o for o in notice.objections.all() if o.resolved_on is None]
    if open_objections:
        blockers.append(f"“{notice.title}”有 {len(open_objections)} 条异议尚未处理")
    return blockers


@transaction.atomic
def notice_close(*, notice: Notice, actor: User, today: datetime.date | None = None) -> Notice:
    locked = _scoped_notice(notice, actor)
    blockers = notice_blockers(locked, today)
    if blockers:
        raise ValidationError("；".join(blockers))
    Notice.objects.filter(pk=locked.pk).update(status=Notice.Status.CLOSED, closed_at=timezone.now())
    locked.refresh_from_db()
    return locked


def batches_blocked_by_notices(batches: list[Batch], today: datetime.date | None = None) -> list[str]:
    """For batches that require a notice (以奖代补): what still stops them (one query for all)."""
    needing = [b for b in batches if b.kind == Batch.Kind.REWARD]
    if not needing:
        return []
    notices: dict[int, list[Notice]] = {}
    for notice in Notice.objects.filter(batch__in=needing).prefetch_related("objections"):
        notices.setdefault(notice.batch_id, []).append(notice)  # type: ignore[arg-type]
    problems = []
    for batch in needing:
        mine = notices.get(batch.pk, [])
        if not mine:
            problems.append(f"{batch}：以奖代补须经村民会议公示，尚未印发公示")
            continue
        for notice in mine:
            problems.extend(f"{batch}：{b}" for b in notice_blockers(notice, today))
    return problems


# --- the township print, in the background ------------------------------------------------------


@task()
def print_township_notices(job_id: int) -> None:
    """Render every village of a township into one PDF, updating the job's progress as it goes."""
    job = PrintJob.objects.select_related("township", "requested_by").get(pk=job_id)
    PrintJob.objects.filter(pk=job.pk).update(status=PrintJob.Status.RUNNING)
    try:
        sheets = []
        villages = villages_of(job.township, job.requested_by)
        PrintJob.objects.filter(pk=job.pk).update(total=len(villages))
        for done, village in enumerate(villages, start=1):
            sheet = build_sheet(kind=job.kind, year=job.year, village=village, user=job.requested_by)
            if sheet.rows:
                sheets.append(sheet)
            PrintJob.objects.filter(pk=job.pk).update(done=done)
        if not sheets:
            raise ValidationError("该乡镇没有可公示的内容。")
        job.pdf.save(
            f"{job.kind}-{job.year}-{job.township.code}.pdf", ContentFile(render_sheets(sheets)), save=False
        )
        PrintJob.objects.filter(pk=job.pk).update(status=PrintJob.Status.DONE, pdf=job.pdf.name)
    except ValidationError as exc:
        PrintJob.objects.filter(pk=job.pk).update(status=PrintJob.Status.FAILED, error=exc.messages[0][:200])


def print_job_start(*, kind: str, year: int, township: Township, actor: User) -> PrintJob:
    if not scoped(Township.objects.filter(pk=township.pk), actor).exists():
        raise ValidationError("该乡镇不在您的管辖范围内。")
    job = PrintJob.objects.create(kind=kind, year=year, township=township, requested_by=actor)
    transaction.on_commit(lambda: print_township_notices.enqueue(job.pk))
    return job
