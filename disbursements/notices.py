"""公示 (rules.md §9): notice kinds registered by the programmes, the one notice renderer, and the
notice lifecycle (issue → post → objections → close) with the gate it puts on batches.

A notice kind says what a notice lists (its builder), its columns and title, and what a line is
(户, 家, 笔); a notice is issued for an area — a township, a village or a 村民小组 — and its issuing
body follows from the area. Lists show names with masked 身份证号, never the whole number; what a
notice lists is frozen at issue (`rows`, `pdf`), so it reprints exactly as posted.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from households.jobs import JOB_KINDS, JobKind, JobRun, job_start
from households.models import Job, Township, User, Village, VillageGroup
from households.pdf import render_pdf
from households.scoping import scoped
from households.uploads import clean_upload, field_policy

from .models import Batch, Notice, Objection
from .money import ZERO, yuan
from .registry import Registry

HOTLINE = "12317"
MSG_MIN_DAYS = "公示期不得少于 7 天。"
DEFAULT_DAYS = 10  # the national guidance's "at least 10 days in principle" (rules.md §9)


def committee(village: Village) -> str:
    """红坡村 → 红坡村村民委员会; 建塘社区 → 建塘社区居民委员会."""
    return village.committee


@dataclass(frozen=True)
class Area:
    """Where a notice is posted: a township, a village, or one of its 村民小组."""

    township: Township
    village: Village | None = None
    group: VillageGroup | None = None

    @classmethod
    def of(
        cls,
        *,
        township: Township | None = None,
        village: Village | None = None,
        group: VillageGroup | None = None,
    ) -> Area:
        if group is not None:
            return cls(group.village.township, group.village, group)
        if village is not None:
            return cls(village.township, village)
        if township is not None:
            return cls(township)
        raise ValidationError("请选择公示的乡镇、村或村民小组。")

    @property
    def level(self) -> str:
        if self.group is not None:
            return Notice.Level.GROUP
        return Notice.Level.VILLAGE if self.village is not None else Notice.Level.TOWNSHIP

    @property
    def name(self) -> str:
        if self.group is not None and self.village is not None:
            return f"{self.village.name}{self.group.name}"
        return self.village.name if self.village is not None else self.township.name

    @property
    def issuer(self) -> str:
        government = f"{self.township.name}人民政府"
        if self.village is None:
            return government
        return f"{government}　{committee(self.village)}"

    @property
    def seals(self) -> tuple[str, str]:
        """Who seals the sheet: the village committee and the township, or the township alone."""
        if self.village is None:
            return (f"{self.township.name}人民政府（盖章）", "")
        return (f"{committee(self.village)}（盖章）", f"{self.township.name}人民政府（盖章）")

    @property
    def contact(self) -> str:
        if self.village is not None:
            return self.village.contact or committee(self.village)
        return f"{self.township.name}人民政府"

    def villages(self) -> list[Village]:
        """The villages inside the area (for builders that read per village)."""
        if self.village is not None:
            return [self.village]
        return list(Village.objects.filter(township=self.township).order_by("code"))


Builder = Callable[[int, Area, "User | None"], tuple[list[list[str]], Decimal]]


@dataclass(frozen=True)
class NoticeKind:
    """What a notice of this kind lists: `rows(year, area, user)` gives the printed rows (masked)
    and the total, scoped to `user` (None: everything, for commands run by an operator)."""

    code: str
    label: str
    title: str  # "{year}年度{area}…公示"
    columns: tuple[str, ...]
    rows: Builder = field(compare=False)
    amount_from: int  # index of the first right-aligned (amount) column
    total_column: int  # where the grand total is written
    unit: str = "户"  # 共 N 户 / 家 / 笔
    levels: tuple[str, ...] = (Notice.Level.VILLAGE,)
    default_days: Callable[[int], int] | None = field(default=None, compare=False)
    preamble: str = (
        "根据《香格里拉市精准扶贫特色产业扶持方案》，经申报、核实和审核，现将以下名单予以公示，接受群众监督。"
    )


NOTICE_KINDS: Registry[NoticeKind] = Registry("notice kind")


@dataclass
class Sheet:
    """One area's notice, ready to print."""

    kind: str
    year: int
    area: Area
    title: str
    issuer: str
    contact: str
    period_start: datetime.date
    period_end: datetime.date
    columns: Sequence[str]
    rows: list[list[str]]
    totals: list[str] = field(default_factory=list)
    total: Decimal = ZERO
    issued_on: datetime.date = field(default_factory=timezone.localdate)
    preamble: str = ""

    @property
    def days(self) -> int:
        return (self.period_end - self.period_start).days + 1

    @property
    def village(self) -> Village | None:
        return self.area.village

    @property
    def committee(self) -> str:
        return committee(self.area.village) if self.area.village is not None else self.issuer

    @property
    def seals(self) -> tuple[str, str]:
        return self.area.seals

    @property
    def amount_from(self) -> int:
        return NOTICE_KINDS[self.kind].amount_from


def notice_rows(
    kind: str, year: int, village: Village | None, user: User | None, *, area: Area | None = None
) -> tuple[list[list[str]], Decimal]:
    """The list of an area's notice as printed (masked IDs), and its total; scoped to `user`."""
    notice_kind = NOTICE_KINDS.get(kind)
    if notice_kind is None:
        raise ValidationError(f"未知的公示类别：{kind}")
    return notice_kind.rows(year, area or Area.of(village=village), user)


def build_sheet(
    *,
    kind: str,
    year: int,
    user: User | None,
    village: Village | None = None,
    township: Township | None = None,
    group: VillageGroup | None = None,
    start: datetime.date | None = None,
    days: int | None = None,
    contact: str = "",
) -> Sheet:
    notice_kind = NOTICE_KINDS.get(kind)
    if notice_kind is None:
        raise ValidationError(f"未知的公示类别：{kind}")
    area = Area.of(township=township, village=village, group=group)
    if area.level not in notice_kind.levels:
        levels = "、".join(str(Notice.Level(level).label) for level in notice_kind.levels)
        raise ValidationError(f"“{notice_kind.label}”公示在{levels}一级张贴。")
    if days is None:
        days = notice_kind.default_days(year) if notice_kind.default_days else DEFAULT_DAYS
    if days < 7:
        raise ValidationError(MSG_MIN_DAYS)
    start = start or timezone.localdate()
    rows, total = notice_kind.rows(year, area, user)
    totals = [""] * len(notice_kind.columns)
    totals[1] = f"共 {len(rows)} {notice_kind.unit}"
    totals[notice_kind.total_column] = yuan(total)
    return Sheet(
        kind=kind,
        year=year,
        area=area,
        title=notice_kind.title.format(year=year, area=area.name, village=area.name),
        issuer=area.issuer,
        contact=contact or area.contact,
        period_start=start,
        period_end=start + datetime.timedelta(days=days - 1),
        columns=notice_kind.columns,
        rows=rows,
        totals=totals,
        total=total,
        preamble=notice_kind.preamble,
    )


def render_sheets(sheets: list[Sheet]) -> bytes:
    """The one notice renderer: any number of sheets in one A4 PDF."""
    return render_pdf("notices/notice.html", {"sheets": sheets, "hotline": HOTLINE})


def villages_of(township: Township, user: User | None) -> list[Village]:
    villages = Village.objects.filter(township=township).select_related("township").order_by("code")
    return list(scoped(villages, user) if user is not None else villages)


# --- lifecycle ------------------------------------------------------------------------------------


@transaction.atomic
def notice_issue(
    *,
    kind: str,
    year: int,
    actor: User,
    village: Village | None = None,
    township: Township | None = None,
    group: VillageGroup | None = None,
    start: datetime.date | None = None,
    days: int | None = None,
    contact: str = "",
    batch: Batch | None = None,
) -> Notice:
    """Print and record a notice; its list and PDF are frozen as issued."""
    if actor.role not in ("village", "township"):
        raise ValidationError("公示由村委会或乡镇印发。")
    area = Area.of(township=township, village=village, group=group)
    place = area.village or area.township
    if not scoped(type(place).objects.filter(pk=place.pk), actor).exists():
        raise ValidationError("该地区不在您的管辖范围内。")
    if batch is not None and (
        batch.year != year
        or batch.township_id != area.township.pk
        or (area.village is not None and batch.village_id not in (None, area.village.pk))
    ):
        raise ValidationError("批次与公示的地区、年度不一致。")
    sheet = build_sheet(
        kind=kind,
        year=year,
        user=actor,
        village=area.village if area.group is None else None,
        township=area.township if area.village is None else None,
        group=area.group,
        start=start,
        days=days,
        contact=contact,
    )
    if not sheet.rows:
        raise ValidationError(f"{area.name} 没有可公示的内容。")
    pdf = render_sheets([sheet])
    notice = Notice(
        kind=kind,
        year=year,
        level=area.level,
        township=area.township,
        village=area.village,
        group=area.group,
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
    code = area.group.pk if area.group else (area.village.code if area.village else area.township.code)
    notice.pdf.save(f"{kind}-{year}-{code}.pdf", ContentFile(pdf), save=False)
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
    locked.posted_photo = clean_upload(photo, *field_policy(Notice, "posted_photo"))
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


def batches_blocked_by_notices(
    batches: list[Batch], notice_kind: str, today: datetime.date | None = None
) -> list[str]:
    """What still stops these batches at their gated step: no notice of `notice_kind` naming them,
    or one whose period is not over or whose objections are open (one query for all)."""
    if not batches:
        return []
    notices: dict[int, list[Notice]] = {}
    for notice in Notice.objects.filter(batch__in=batches, kind=notice_kind).prefetch_related("objections"):
        notices.setdefault(notice.batch_id, []).append(notice)  # type: ignore[arg-type]
    label = NOTICE_KINDS.label(notice_kind)
    problems = []
    for batch in batches:
        mine = notices.get(batch.pk, [])
        if not mine:
            problems.append(f"{batch}：{label}须经公示，尚未印发公示")
            continue
        for notice in mine:
            problems.extend(f"{batch}：{b}" for b in notice_blockers(notice, today))
    return problems


# --- the township print, in the background ------------------------------------------------------

# Who starts a township's batch print. It writes (a job, a file): read-only roles (auditor, approver)
# print a village at a time instead.
PRINT_JOB_ROLES = frozenset({"village", "township", "city"})
PRINT_JOB_KIND = "notice_print"
MSG_PRINT_READ_ONLY = "您的角色只能查看和打印单个村的公示，不能发起批量打印任务。"


def print_township_notices(job: Job, run: JobRun) -> None:
    """Every village of a township in one PDF (a background job of kind `notice_print`), scoped to the
    job's actor; progress counts villages, then the PDF is laid out."""
    township = Township.objects.get(pk=job.params["township"])
    kind, year = job.params["kind"], int(job.params["year"])
    villages = villages_of(township, job.actor)
    run.progress(0, total=len(villages), step="逐村整理公示名单")
    sheets = []
    for done, village in enumerate(villages, start=1):
        sheet = build_sheet(kind=kind, year=year, village=village, user=job.actor)
        if sheet.rows:
            sheets.append(sheet)
        run.progress(done)
    if not sheets:
        raise ValidationError(f"{township.name}没有可公示的内容。")
    run.progress(step=f"排版 PDF（{len(sheets)} 个村）")
    name = f"{township.name}{year}年{NOTICE_KINDS.label(kind)}公示-{len(sheets)}个村.pdf"
    run.save_file(name, render_sheets(sheets))
    run.result = {"villages": len(sheets)}


def print_job_start(*, kind: str, year: int, township: Township, actor: User) -> Job:
    """A township's batch print, in the background (`households.jobs`)."""
    if actor.role not in PRINT_JOB_ROLES and not actor.is_superuser:
        raise ValidationError(MSG_PRINT_READ_ONLY)
    if not scoped(Township.objects.filter(pk=township.pk), actor).exists():
        raise ValidationError("该乡镇不在您的管辖范围内。")
    if NOTICE_KINDS.get(kind) is None:
        raise ValidationError(f"未知的公示类别：{kind}")
    return job_start(
        kind=PRINT_JOB_KIND,
        actor=actor,
        title=f"{township.name} {year} 年{NOTICE_KINDS.label(kind)}公示批量打印",
        params={"kind": kind, "year": year, "township": township.pk},
        township=township,
    )


def register_jobs() -> None:
    JOB_KINDS.register(
        JobKind(
            code=PRINT_JOB_KIND,
            label="批量打印公示",
            run=print_township_notices,
            roles=PRINT_JOB_ROLES,
            unit="个村",
        )
    )
