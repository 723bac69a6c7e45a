"""公示 (rules.md §9): notice kinds registered by the programmes, the one notice renderer, and the
notice lifecycle (issue → post → objections → close) with the gate it puts on batches.

A notice kind says what a notice lists (its builder), its columns and title, and what a line is
(户, 家, 笔); a notice is issued for an area — a township, a village or a 村民小组 — and its issuing
body follows from the area. Lists show names with masked 身份证号, never the whole number; what a
notice lists is frozen at issue (`rows`, `pdf`), so it reprints exactly as posted.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from households.jobs import JOB_KINDS, JobKind, JobRun, job_start
from households.models import Job, Township, User, Village, VillageGroup
from households.pdf import render_document, write_documents
from households.scoping import scoped
from households.uploads import clean_upload, field_policy

from . import notice_layout
from .models import Account, Batch, BatchLine, Notice, Objection
from .money import ZERO
from .registry import Registry

logger = logging.getLogger(__name__)

HOTLINE = "12317"
# The public code: 12 characters of an alphabet without look-alikes (0/O, 1/I): 60 random bits, so
# guessing finds nothing (and the public page is rate-limited besides).
CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
CODE_LENGTH = 12


def new_public_code() -> str:
    import secrets

    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def short_code(code: str) -> str:
    """ABCD2345EFGH → ABCD-2345-EFGH, as printed (and typed back)."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def normalise_code(text: str) -> str:
    return "".join(ch for ch in text.upper() if ch in CODE_ALPHABET)


def public_url(code: str) -> str:
    from django.conf import settings
    from django.urls import reverse

    return settings.PUBLIC_BASE_URL + reverse("public_notice", args=[code])


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


@dataclass(frozen=True)
class NoticeRow:
    """A printed row that names its payee: `payee` is the programme's reference to it (its kind's
    `payee` hook turns it into the payee's ledger account), so an objection to the row can hold that
    payee's payments. A builder may give plain lists of cells for rows that name no payee."""

    cells: list[str]
    payee: str


Rows = Sequence[Sequence[str] | NoticeRow]
Builder = Callable[[int, Area, "User | None"], tuple[Rows, Decimal]]
PayeeHook = Callable[[str], "Account"]


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
    total_column: int  # the column whose sum is the notice's total (`Notice.total`)
    unit: str = "户"  # 共 N 户 / 家 / 笔
    levels: tuple[str, ...] = (Notice.Level.VILLAGE,)
    default_days: Callable[[int], int] | None = field(default=None, compare=False)
    preamble: str = (
        "根据《香格里拉市精准扶贫特色产业扶持方案》，经申报、核实和审核，现将以下名单予以公示，接受群众监督。"
    )
    # The columns summed on every page (本页小计) and in the 合计: default, every column from
    # `amount_from` on.
    money_columns: tuple[int, ...] | None = None
    # The one free-text column that may wrap on paper (扶持项目, 原因); every other cell stays on one line.
    wrap_column: int | None = None
    name_column: int = 1  # the column that names the payee (户主姓名, 组织名称), quoted by objections
    # `NoticeRow.payee` → the payee's ledger account (created if the programme creates them on first
    # use): an open objection to the row holds the payments to that account (`payouts_record`).
    payee: PayeeHook | None = field(default=None, compare=False)

    @property
    def summed_columns(self) -> tuple[int, ...]:
        if self.money_columns is not None:
            return self.money_columns
        return tuple(range(self.amount_from, len(self.columns)))

    def column_classes(self) -> list[str]:
        """Each column's CSS class on the printed sheet: amounts right, free text wrapping."""
        classes = []
        for index in range(len(self.columns)):
            if index in self.summed_columns:
                classes.append("num")
            elif index == self.wrap_column:
                classes.append("wrap")
            elif index == 0:
                classes.append("center")
            else:
                classes.append("")
        return classes


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
    totals: list[str] = field(default_factory=list)  # the 合计 cells, from the first amount column on
    total: Decimal = ZERO
    issued_on: datetime.date = field(default_factory=timezone.localdate)
    preamble: str = ""
    payees: list[str] = field(default_factory=list)  # each row's payee reference ("" for none)
    public_code: str = ""  # issued notices only: the QR and the short code of the public page

    @property
    def public_url(self) -> str:
        return public_url(self.public_code) if self.public_code else ""

    @property
    def short_code(self) -> str:
        return short_code(self.public_code)

    @property
    def qr_svg(self) -> str:
        """The public page's address as a QR code, inline SVG (vector, sharp at any print size)."""
        if not self.public_code:
            return ""
        import segno

        return str(segno.make(self.public_url, error="m").svg_inline(scale=2, border=2))

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

    @property
    def unit(self) -> str:
        return NOTICE_KINDS[self.kind].unit

    def pages(self, budget: notice_layout.Budget = notice_layout.DEFAULT_BUDGET) -> list[notice_layout.Page]:
        kind = NOTICE_KINDS[self.kind]
        return notice_layout.pages_of(
            self.rows,
            header=self.columns,
            amount_from=kind.amount_from,
            money_columns=kind.summed_columns,
            wrap_column=kind.wrap_column,
            classes=kind.column_classes(),
            budget=budget,
        )


def split_rows(rows: Rows) -> tuple[list[list[str]], list[str]]:
    """A builder's rows as printed cells, and each row's payee reference ("" where it names none)."""
    cells: list[list[str]] = []
    payees: list[str] = []
    for row in rows:
        if isinstance(row, NoticeRow):
            cells.append(list(row.cells))
            payees.append(row.payee)
        else:
            cells.append(list(row))
            payees.append("")
    return cells, payees


def notice_rows(
    kind: str, year: int, village: Village | None, user: User | None, *, area: Area | None = None
) -> tuple[list[list[str]], Decimal]:
    """The list of an area's notice as printed (masked IDs), and its total; scoped to `user`."""
    notice_kind = NOTICE_KINDS.get(kind)
    if notice_kind is None:
        raise ValidationError(f"未知的公示类别：{kind}")
    rows, total = notice_kind.rows(year, area or Area.of(village=village), user)
    return split_rows(rows)[0], total


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
    built, total = notice_kind.rows(year, area, user)
    rows, payees = split_rows(built)
    totals = notice_layout.totals_of(
        rows,
        header=notice_kind.columns,
        amount_from=notice_kind.amount_from,
        money_columns=notice_kind.summed_columns,
    )
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
        payees=payees,
    )


def render_sheets(sheets: list[Sheet]) -> bytes:
    """The one notice renderer: any number of sheets in one A4 PDF, each numbered on its own
    (第 N 页 / 共 M 页 of its village), paginated by `notice_layout` and checked once laid out."""
    return write_documents([_laid_out(sheet) for sheet in sheets])


def _laid_out(sheet: Sheet) -> Any:
    budget = notice_layout.DEFAULT_BUDGET
    for _attempt in range(4):
        pages = sheet.pages(budget)
        document = render_document(
            "notices/notice.html",
            {"sheet": sheet, "pages": pages, "hotline": HOTLINE, "layout": notice_layout},
        )
        if len(document.pages) == len(pages):
            return document
        # A row took more lines than estimated: a page ran over. Fewer lines per page, again.
        logger.warning(
            "notice %s: %d pages planned, %d laid out; paginating again",
            sheet.kind,
            len(pages),
            len(document.pages),
        )
        budget = budget.tighter()
    return document


def print_villages(
    *,
    kind: str,
    year: int,
    villages: Sequence[Village],
    user: User | None,
    output: IO[bytes],
    start: datetime.date | None = None,
    days: int | None = None,
    on_village: Callable[[int], None] | None = None,
) -> tuple[int, int]:
    """A township's print: every village's notice in one PDF written to `output`, each numbered on its
    own (第 N 页 / 共 M 页 of its village). Built and laid out one village at a time — its rows read,
    its sheet rendered by WeasyPrint into a temporary file, then let go — and the files joined with
    pypdf, so memory holds one village's layout, not the township's (issue 14 goal 4). Returns
    (villages printed, rows printed); `on_village(n)` after each village, for progress."""
    import tempfile

    from pypdf import PdfWriter

    printed = lines = 0
    with tempfile.TemporaryDirectory(prefix="notices-") as folder:
        parts: list[str] = []
        for done, village in enumerate(villages, start=1):
            sheet = build_sheet(kind=kind, year=year, village=village, user=user, start=start, days=days)
            if sheet.rows:
                part = f"{folder}/{len(parts):05d}.pdf"
                with open(part, "wb") as file:
                    file.write(render_sheets([sheet]))
                parts.append(part)
                printed += 1
                lines += len(sheet.rows)
            del sheet
            if on_village is not None:
                on_village(done)
        if parts:
            writer = PdfWriter()
            for part in parts:
                writer.append(part)
            writer.write(output)
            writer.close()
    return printed, lines


def villages_of(township: Township, user: User | None) -> list[Village]:
    villages = Village.objects.filter(township=township).select_related("township").order_by("code")
    return list(scoped(villages, user) if user is not None else villages)


# --- lifecycle ------------------------------------------------------------------------------------

WORKER_ROLES = ("village", "township")  # who issues, posts, records objections and closes
MSG_WORKER_ROLE = "公示由村委会或乡镇印发、登记张贴和处理异议。"
MSG_POST_PHOTO = "登记张贴须上传公示张贴现场的照片。"
MSG_POST_DATE_FUTURE = "张贴日期不能晚于今天。"
MSG_POST_DATE_EARLY = "张贴日期不能早于印发日期（{issued:%Y-%m-%d}）。"
MSG_ALREADY_POSTED = "该公示已登记张贴，张贴照片不能更换或清除。"
MSG_OBJECTION_ROW = "请选择异议涉及的对象（公示名单中的一行）。"
MSG_OBJECTION_TEXT = "请填写反映人和异议内容。"
MSG_OBJECTION_RESOLVED = "该异议已处理。"
MSG_HELD = "{payee}：公示异议尚未处理（{raised_by}，{received_on:%Y-%m-%d} 收到），处理前不能兑现。"


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
    """印发: freeze the list as it is now, render the PDF to post, and record both."""
    if actor.role not in WORKER_ROLES:
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
    sheet.public_code = new_public_code()
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
        payees=sheet.payees,
        total=sheet.total,
        issued_by=actor,
        public_code=sheet.public_code,
    )
    code = area.group.pk if area.group else (area.village.code if area.village else area.township.code)
    notice.pdf.save(f"{kind}-{year}-{code}.pdf", ContentFile(pdf), save=False)
    notice.save()
    return notice


def _scoped_notice(notice: Notice, actor: User) -> Notice:
    if actor.role not in WORKER_ROLES:
        raise ValidationError(MSG_WORKER_ROLE)
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
    *,
    notice: Notice,
    actor: User,
    photo: UploadedFile | None,
    posted_on: datetime.date | None = None,
) -> Notice:
    """登记张贴: the notice went up on the board on `posted_on`, and here is the photo of it. Once
    recorded, the photo is never cleared or replaced (the model refuses it too)."""
    if not photo:
        raise ValidationError(MSG_POST_PHOTO)
    today = timezone.localdate()
    posted_on = posted_on or today
    if posted_on > today:
        raise ValidationError(MSG_POST_DATE_FUTURE)
    checked = clean_upload(photo, *field_policy(Notice, "posted_photo"))  # before the row lock
    locked = _scoped_notice(notice, actor)
    if locked.status != Notice.Status.ISSUED or locked.posted_photo:
        raise ValidationError(MSG_ALREADY_POSTED)
    issued = timezone.localdate(locked.issued_at)
    if posted_on < issued:
        raise ValidationError(MSG_POST_DATE_EARLY.format(issued=issued))
    locked.posted_photo = checked
    locked.posted_on = posted_on
    locked.posted_at = timezone.now()
    locked.status = Notice.Status.POSTED
    locked.save(update_fields=["posted_photo", "posted_on", "posted_at", "status"])
    forget_public_page(locked)
    return locked


def notice_row_choices(notice: Notice) -> list[tuple[int, str]]:
    """The rows of the notice as issued, for naming what an objection is about: (序号, label)."""
    kind = NOTICE_KINDS.get(notice.kind)
    name_column = kind.name_column if kind else 1
    amount_from = kind.amount_from if kind else 2
    choices = []
    for number, row in enumerate(notice.rows, start=1):
        details = "　".join(cell for i, cell in enumerate(row[1:amount_from], start=1) if i != name_column)
        choices.append((number, f"{number}. {row[name_column]}　{details}".rstrip()))
    return choices


@transaction.atomic
def objection_record(
    *,
    notice: Notice,
    actor: User,
    row: int | None,
    raised_by: str,
    content: str,
    received_on: datetime.date,
) -> Objection:
    """An objection to one row of the notice (a household, an organisation …). If that row names a
    payee, payments to the payee are held until the objection is resolved (`payees_held`)."""
    locked = _scoped_notice(notice, actor)
    if locked.status == Notice.Status.CLOSED:
        raise ValidationError("公示已结束。")
    return _objection_create(
        locked,
        row=row,
        raised_by=raised_by,
        content=content,
        received_on=received_on,
        recorded_by=actor,
        channel=Objection.Channel.PAPER,
    )


def _objection_create(
    locked: Notice,
    *,
    row: int | None,
    raised_by: str,
    content: str,
    received_on: datetime.date,
    recorded_by: User | None,
    channel: str,
    phone: str = "",
) -> Objection:
    """One objection to a row of a locked notice, however it came in (paper or online)."""
    if row is None or not 1 <= row <= len(locked.rows):
        raise ValidationError(MSG_OBJECTION_ROW)
    if not raised_by.strip() or not content.strip():
        raise ValidationError(MSG_OBJECTION_TEXT)
    kind = NOTICE_KINDS.get(locked.kind)
    cells = locked.rows[row - 1]
    reference = locked.payees[row - 1] if row <= len(locked.payees) else ""
    payee = None
    if reference and kind is not None and kind.payee is not None:
        payee = kind.payee(reference)
        # The payee's lock orders this objection against a payment running now (payouts_record
        # locks the accounts it pays before it reads the open objections).
        list(
            Account.objects.select_for_update(no_key=True)
            .filter(pk=payee.pk)
            .order_by("pk")
            .values_list("pk")
        )
    objection = Objection(
        notice=locked,
        row=row,
        payee_name=cells[kind.name_column if kind else 1][:64],
        payee=payee,
        received_on=received_on,
        raised_by=raised_by.strip()[:64],
        content=content.strip(),
        recorded_by=recorded_by,
        channel=channel,
        phone=phone,
    )
    objection.full_clean()
    objection.save()
    forget_public_page(locked)
    return objection


MSG_ONLINE_CLOSED = "本公示的公示期已结束（或尚未张贴），不能在网上提出异议；如有问题请拨打 12317。"
MSG_PHONE = "请填写 11 位手机号码，以便村委会回复您。"


def notice_open_for_objections(notice: Notice, today: datetime.date | None = None) -> bool:
    today = today or timezone.localdate()
    return notice.status != Notice.Status.CLOSED and notice.period_start <= today <= notice.period_end


@transaction.atomic
def objection_submit_online(
    *, notice: Notice, row: int | None, name: str, phone: str, content: str
) -> Objection:
    """An objection filed on the public page by anyone (no login): it enters the notice's list like
    a paper one (and holds the payee's payments the same way); the village sees it on its to-do.
    Throttling (per phone and address) is the page's business, before this is called."""
    phone = "".join(ch for ch in phone if ch.isdigit())
    if len(phone) != 11 or not phone.startswith("1"):
        raise ValidationError(MSG_PHONE)
    locked = Notice.objects.select_for_update(no_key=True, of=("self",)).filter(pk=notice.pk).first()
    if locked is None or not notice_open_for_objections(locked):
        raise ValidationError(MSG_ONLINE_CLOSED)
    return _objection_create(
        locked,
        row=row,
        raised_by=name,
        content=content[:2000],
        received_on=timezone.localdate(),
        recorded_by=None,
        channel=Objection.Channel.ONLINE,
        phone=phone,
    )


def public_cache_key(code: str) -> str:
    return f"public-notice:{code}"


def forget_public_page(notice: Notice) -> None:
    """The public page shows objection counts and the status: rebuild it after any change — now,
    and again once committed (a read between the two would have cached the old state)."""
    if notice.public_code:
        from django.core.cache import cache

        key = public_cache_key(notice.public_code)
        cache.delete(key)
        transaction.on_commit(lambda: cache.delete(key))


@transaction.atomic
def objection_resolve(
    *, objection: Objection, actor: User, resolution: str, resolved_on: datetime.date
) -> Objection:
    _scoped_notice(objection.notice, actor)
    if not resolution.strip():
        raise ValidationError("请写明处理结果。")
    if resolved_on > timezone.localdate():
        raise ValidationError("处理日期不能晚于今天。")
    if resolved_on < objection.received_on:
        raise ValidationError("处理日期不能早于收到异议的日期。")
    done = Objection.objects.filter(pk=objection.pk, resolved_on__isnull=True).update(
        resolution=resolution.strip(), resolved_on=resolved_on, resolved_by=actor
    )
    if done != 1:
        raise ValidationError(MSG_OBJECTION_RESOLVED)
    objection.refresh_from_db()
    notice = objection.notice
    forget_public_page(notice)
    return objection


def open_objections_for_batch(batch: Batch, user: User) -> dict[int, list[Objection]]:
    """The open objections to the payees of the batch's lines, by line id, as `user` may see them
    (two queries): what the batch page shows next to each line it holds back."""
    lines = dict(
        scoped(BatchLine.objects.filter(batch=batch, cancelled_at__isnull=True), user).values_list(
            "pk", "account_id"
        )
    )
    if not lines:
        return {}
    by_account: dict[int, list[Objection]] = {}
    objections = scoped(
        Objection.objects.filter(
            payee_id__in=set(lines.values()), resolved_on__isnull=True, notice__year=batch.year
        ),
        user,
    ).select_related("notice", "payee")
    for objection in objections.order_by("received_on", "pk"):
        by_account.setdefault(objection.payee_id, []).append(objection)  # type: ignore[arg-type]
    return {line: by_account[account] for line, account in lines.items() if account in by_account}


def payees_held(lines: Sequence[BatchLine], year: int) -> dict[int, str]:
    """Which of these lines an open objection holds back, by line id, with the reason naming the
    payee. Called by `payouts_record` inside the paying transaction: the payee accounts are locked
    first, so an objection recorded meanwhile is either seen here or recorded after the payment."""
    accounts = sorted({line.account_id for line in lines})
    if not accounts:
        return {}
    list(
        Account.objects.select_for_update(no_key=True)
        .filter(pk__in=accounts)
        .order_by("pk")
        .values_list("pk")
    )
    first_open: dict[int, Objection] = {}
    for objection in Objection.objects.filter(
        payee_id__in=accounts, resolved_on__isnull=True, notice__year=year
    ).order_by("received_on", "pk"):
        first_open.setdefault(objection.payee_id, objection)  # type: ignore[arg-type]
    return {
        line.pk: MSG_HELD.format(
            payee=line.account.name,
            raised_by=first_open[line.account_id].raised_by,
            received_on=first_open[line.account_id].received_on,
        )
        for line in lines
        if line.account_id in first_open
    }


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
    forget_public_page(locked)
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
    job's actor, laid out village by village (`print_villages`); progress counts villages."""
    import tempfile

    township = Township.objects.get(pk=job.params["township"])
    kind, year = job.params["kind"], int(job.params["year"])
    villages = villages_of(township, job.actor)
    run.progress(0, total=len(villages), step="逐村整理和排版公示")
    with tempfile.TemporaryFile() as output:
        printed, _lines = print_villages(
            kind=kind, year=year, villages=villages, user=job.actor, output=output, on_village=run.progress
        )
        if not printed:
            raise ValidationError(f"{township.name}没有可公示的内容。")
        run.progress(step=f"合并 PDF（{printed} 个村）")
        output.seek(0)
        name = f"{township.name}{year}年{NOTICE_KINDS.label(kind)}公示-{printed}个村.pdf"
        run.save_file(name, output)
    run.result = {"villages": printed}


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
