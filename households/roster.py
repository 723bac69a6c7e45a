"""Roster import (户花名册, `excel-formats.md` §1): one service behind the admin and the command.

Set-based and streaming: rows are validated and written in chunks of CHUNK rows, each chunk costing a
fixed handful of queries whatever its size, inside one transaction. All or nothing: after the first
bad row nothing more is written, the remaining rows are still checked (so the user sees every
error at once), and the transaction is rolled back. A dry run does the same writes and rolls back,
so its counts are exactly what the real run will do.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from . import events
from .idcard import normalise_id_number
from .imports import (
    CellError,
    Change,
    Column,
    Importer,
    ImportFileError,
    ImportReport,
    Row,
    any_of,
    insert_rows,
    max_length_of,
    text,
    whole_number,
    yes_no,
)
from .models import (
    CadreAssignment,
    Household,
    HouseholdChange,
    ImportBatch,
    Role,
    Township,
    User,
    Village,
    VillageGroup,
)
from .scoping import sees_everything

CHUNK = 2000

# Text columns hold at most what the field they land in holds (the frame refuses longer cells, so
# PostgreSQL never sees a value too long for its column); the others, `MAX_CELL_CHARS`.
COLUMNS = [
    Column("户编号", "code", max_length=max_length_of(Household, "code")),
    Column("户主姓名", "head_name", max_length=max_length_of(Household, "head_name")),
    Column("身份证号", "id_number", max_length=max_length_of(Household, "id_number")),
    Column("乡镇", "township", max_length=max_length_of(Township, "name")),
    Column("村委会", "village", max_length=max_length_of(Village, "name")),
    Column("村民小组", "group", max_length=max_length_of(VillageGroup, "name")),
    Column("家庭人口", "size"),
    Column("劳动力", "labour"),
    Column("脱贫年度", "exit_year"),
    Column("巩固提升", "consolidation", required=False),
    Column("联系电话", "phone", required=False, max_length=max_length_of(Household, "phone")),
    Column("挂包干部", "cadre_name", required=False, max_length=max_length_of(User, "name")),
    Column("挂包干部电话", "cadre_phone", required=False, max_length=max_length_of(User, "phone")),
]
HEADER = {c.key: c.header for c in COLUMNS}

# Household fields an import may change, with the column each is reported under.
TRACKED = {
    "head_name": "户主姓名",
    "id_number": "身份证号",
    "village_id": "村委会",
    "group_id": "村民小组",
    "size": "家庭人口",
    "labour": "劳动力",
    "exit_year": "脱贫年度",
    "consolidation": "巩固提升",
    "phone": "联系电话",
    "cadre_id": "挂包干部",
}

EXIT_YEARS = range(2014, 2021)  # 建档立卡 began in 2014; every cohort had exited by 2020
MOBILE = re.compile(r"^1[3-9]\d{9}$")
LANDLINE = re.compile(r"^0\d{2,3}-?\d{7,8}$")
VILLAGE_SUFFIXES = ("村民委员会", "居民委员会", "村委会", "居委会", "社区", "村")
TOWNSHIP_SUFFIXES = ("人民政府", "镇", "乡")

MSG_NO_PERMISSION = "您的角色不能导入户花名册。"


# --- reference data, loaded once per import -------------------------------------------------------


def _strip_suffix(name: str, suffixes: Iterable[str]) -> str:
    for suffix in suffixes:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


class Geography:
    """Townships and villages by the names clerks actually write (红坡 / 红坡村 / 红坡村委会 …)."""

    def __init__(self) -> None:
        self.townships: dict[str, Township] = {}
        for township in Township.objects.all():
            self.townships[township.name] = township
            self.townships.setdefault(_strip_suffix(township.name, TOWNSHIP_SUFFIXES), township)
        self.villages_by_township: dict[int, dict[str, list[Village]]] = {}
        self.villages_anywhere: dict[str, list[Village]] = {}
        for village in Village.objects.select_related("township"):
            by_name = self.villages_by_township.setdefault(village.township_id, {})
            for key in {village.name, _strip_suffix(village.name, VILLAGE_SUFFIXES)}:
                by_name.setdefault(key, []).append(village)
                self.villages_anywhere.setdefault(key, []).append(village)
        self.groups: dict[tuple[int, str], int] = {
            (v, n): pk for pk, v, n in VillageGroup.objects.values_list("pk", "village_id", "name")
        }
        self.village_names = {v.pk: v.name for vs in self.villages_anywhere.values() for v in vs}
        self.group_names = {pk: name for (_, name), pk in self.groups.items()}

    def township(self, raw: str) -> Township:
        township = self.townships.get(raw) or self.townships.get(_strip_suffix(raw, TOWNSHIP_SUFFIXES))
        if township is None:
            raise CellError("不是香格里拉市的乡镇")
        return township

    def village(self, township: Township, raw: str) -> Village:
        by_name = self.villages_by_township.get(township.pk, {})
        exact = [v for v in by_name.get(raw, []) if v.name == raw]
        if exact:
            return exact[0]
        candidates = by_name.get(_strip_suffix(raw, VILLAGE_SUFFIXES), [])
        if len(candidates) == 1:
            return candidates[0]
        if len(candidates) > 1:
            names = "、".join(sorted(v.name for v in candidates))
            raise CellError(f"名称有歧义，可能是 {names}，请写全称")
        elsewhere = self.villages_anywhere.get(raw) or self.villages_anywhere.get(
            _strip_suffix(raw, VILLAGE_SUFFIXES), []
        )
        if elsewhere:
            owners = "、".join(sorted({v.township.name for v in elsewhere}))
            raise CellError(f"属于{owners}，不属于{township.name}")
        raise CellError(f"{township.name}没有这个村委会/社区")


class Cadres:
    """Cadres are identified by name + phone; a new pair becomes a new cadre user."""

    def __init__(self) -> None:
        self.by_phone: dict[str, tuple[int | None, str, str]] = {
            phone: (pk, name, role)
            for pk, phone, name, role in User.objects.exclude(phone="").values_list(
                "pk", "phone", "name", "role"
            )
        }
        self.pending: dict[str, User] = {}
        self.names = {pk: f"{name}（{phone}）" for phone, (pk, name, _) in self.by_phone.items() if pk}
        # A cadre whose phone was changed keeps the username gb<old phone>: never reuse it.
        self.usernames = set(
            User.objects.filter(username__startswith="gb").values_list("username", flat=True)
        )

    def _username(self, phone: str) -> str:
        username, suffix = f"gb{phone}", 1
        while username in self.usernames:
            suffix += 1
            username = f"gb{phone}-{suffix}"
        self.usernames.add(username)
        return username

    def check(self, name: str, phone: str) -> None:
        known = self.by_phone.get(phone)
        if known is None:
            return
        _, known_name, role = known
        if role != Role.CADRE:
            raise CellError("这个电话属于一位非挂包干部的系统用户")
        if known_name != name:
            raise CellError(f"这个电话已登记为挂包干部“{known_name}”，姓名不一致")

    def key(self, name: str, phone: str, township_id: int | None) -> str:
        if phone not in self.by_phone:
            self.by_phone[phone] = (None, name, Role.CADRE)
            # The township of the first household they hold, so township officials can pick them.
            self.pending[phone] = User(
                username=self._username(phone),
                name=name,
                phone=phone,
                role=Role.CADRE,
                is_staff=True,
                township_id=township_id,
            )
        return phone

    def flush(self) -> int:
        """Create the cadres first seen in this chunk; returns how many."""
        if not self.pending:
            return 0
        users = list(self.pending.values())
        for user in users:
            user.set_unusable_password()
        User.objects.bulk_create(users)
        created = {
            u.phone: u.pk for u in User.objects.filter(phone__in=list(self.pending)).only("pk", "phone")
        }
        for phone, pk in created.items():
            self.by_phone[phone] = (pk, self.by_phone[phone][1], Role.CADRE)
            self.names[pk] = f"{self.by_phone[phone][1]}（{phone}）"
        count = len(self.pending)
        self.pending.clear()
        return count

    def pk(self, key: str | None) -> int | None:
        return None if key is None else self.by_phone[key][0]


# --- one row -------------------------------------------------------------------------------------


@dataclass
class CleanRow:
    number: int
    code: str
    head_name: str
    id_number: str
    village: Village
    group_name: str
    size: int
    labour: int
    exit_year: int
    consolidation: bool
    phone: str
    cadre_key: str | None


def clean_id_number(value: Any) -> str:
    try:
        return normalise_id_number(value)
    except ValueError as exc:
        raise CellError(str(exc)) from None


def clean_phone(value: Any) -> str:
    raw = text(value).replace(" ", "")
    if raw and not (MOBILE.match(raw) or LANDLINE.match(raw)):
        raise CellError("应为 11 位手机号或带区号的固定电话")
    return raw


class RowCleaner:
    def __init__(self, positions: dict[str, int], geography: Geography, cadres: Cadres, report: ImportReport):
        self.positions = positions
        self.geography = geography
        self.cadres = cadres
        self.report = report
        # Each cell checked alone, in this order (the order of the messages): (key, index, convert).
        self.conversions: list[tuple[str, int | None, Callable[[Any], Any]]] = [
            (key, positions.get(key), convert)
            for key, convert in (
                ("code", required_text),
                ("head_name", required_text),
                ("id_number", clean_id_number),
                ("size", whole_number),
                ("labour", whole_number),
                ("exit_year", whole_number),
                ("consolidation", yes_no),
                ("phone", clean_phone),
                ("group", required_text),
            )
        ]

    def cell(self, row: Row, key: str) -> Any:
        index = self.positions.get(key)
        if index is None or index >= len(row):
            return None
        return row[index]

    def clean(self, number: int, row: Row) -> CleanRow | None:
        errors_before = len(self.report.errors)
        values: dict[str, Any] = {}
        width = len(row)
        for key, index, convert in self.conversions:
            raw = row[index] if index is not None and index < width else None
            try:
                values[key] = convert(raw)
            except CellError as exc:
                self.report.add_error(number, HEADER[key], raw, str(exc))

        if "size" in values and values["size"] < 1:
            self.report.add_error(number, "家庭人口", values["size"], "至少为 1")
        if "labour" in values:
            if values["labour"] < 0:
                self.report.add_error(number, "劳动力", values["labour"], "不能为负数")
            elif "size" in values and values["labour"] > values["size"]:
                self.report.add_error(
                    number, "劳动力", values["labour"], f"不能多于家庭人口（{values['size']}）"
                )
        if "exit_year" in values and values["exit_year"] not in EXIT_YEARS:
            self.report.add_error(number, "脱贫年度", values["exit_year"], "应为 2014 至 2020 之间的年份")

        village = self._village(number, row)
        cadre_key = self._cadre(number, row, village)

        if len(self.report.errors) > errors_before or village is None:
            return None
        return CleanRow(
            number=number,
            code=values["code"],
            head_name=values["head_name"],
            id_number=values["id_number"],
            village=village,
            group_name=values["group"],
            size=values["size"],
            labour=values["labour"],
            exit_year=values["exit_year"],
            consolidation=values["consolidation"],
            phone=values["phone"],
            cadre_key=cadre_key,
        )

    def _village(self, number: int, row: Row) -> Village | None:
        raw_township, raw_village = self.cell(row, "township"), self.cell(row, "village")
        try:
            township = self.geography.township(required_text(raw_township))
        except CellError as exc:
            self.report.add_error(number, "乡镇", raw_township, str(exc))
            return None
        try:
            return self.geography.village(township, required_text(raw_village))
        except CellError as exc:
            self.report.add_error(number, "村委会", raw_village, str(exc))
            return None

    def _cadre(self, number: int, row: Row, village: Village | None) -> str | None:
        raw_name, raw_phone = self.cell(row, "cadre_name"), self.cell(row, "cadre_phone")
        name, phone = text(raw_name), text(raw_phone).replace(" ", "")
        if not name and not phone:
            return None
        if not name:
            self.report.add_error(number, "挂包干部", raw_name, "填写了挂包干部电话，但没有填写姓名")
            return None
        if not phone:
            self.report.add_error(number, "挂包干部电话", raw_phone, f"挂包干部“{name}”必须填写电话")
            return None
        if not (MOBILE.match(phone) or LANDLINE.match(phone)):
            self.report.add_error(number, "挂包干部电话", raw_phone, "应为 11 位手机号或带区号的固定电话")
            return None
        try:
            self.cadres.check(name, phone)
        except CellError as exc:
            self.report.add_error(number, "挂包干部电话", raw_phone, str(exc))
            return None
        return self.cadres.key(name, phone, village.township_id if village else None)


def required_text(value: Any) -> str:
    raw = text(value)
    if not raw:
        raise CellError("不能为空")
    return raw


# --- the import ----------------------------------------------------------------------------------


class RosterImport:
    def __init__(self, *, actor: User | None, report: ImportReport, batch: ImportBatch):
        self.actor = actor
        self.report = report
        self.batch = batch
        self.geography = Geography()
        self.cadres = Cadres()
        self.seen_codes: dict[str, int] = {}
        self.seen_ids: dict[str, int] = {}
        self.writing = True
        self.now = timezone.now()
        self.groups_created = 0
        self.cadres_created = 0
        self.allowed_townships, self.allowed_villages = _import_scope(actor)

    def run(self, positions: dict[str, int], rows: Iterator[tuple[int, Row]]) -> None:
        cleaner = RowCleaner(positions, self.geography, self.cadres, self.report)
        chunk: list[CleanRow] = []
        for number, row in rows:
            self.report.rows_total += 1
            clean = cleaner.clean(number, row)
            if clean is not None and self._unique_in_file(clean) and self._in_scope(clean):
                chunk.append(clean)
            if len(chunk) >= CHUNK:
                self._process(chunk)
                chunk = []
        if chunk:
            self._process(chunk)
        self.report.extra = {"groups_created": self.groups_created, "cadres_created": self.cadres_created}

    def _unique_in_file(self, row: CleanRow) -> bool:
        ok = True
        first = self.seen_codes.setdefault(row.code, row.number)
        if first != row.number:
            self.report.add_error(row.number, "户编号", row.code, f"与第 {first} 行重复")
            ok = False
        first = self.seen_ids.setdefault(row.id_number, row.number)
        if first != row.number:
            self.report.add_error(row.number, "身份证号", row.id_number, f"与第 {first} 行重复")
            ok = False
        return ok

    def _in_scope(self, row: CleanRow) -> bool:
        if self.allowed_villages is not None and row.village.pk not in self.allowed_villages:
            self.report.add_error(row.number, "村委会", row.village.name, "超出您的管辖范围")
            return False
        if self.allowed_townships is not None and row.village.township_id not in self.allowed_townships:
            self.report.add_error(row.number, "乡镇", row.village.township.name, "超出您的管辖范围")
            return False
        return True

    def _process(self, chunk: list[CleanRow]) -> None:
        """Check a chunk against the database and, while the file is still clean, write it."""
        existing = {
            h["code"]: h
            for h in Household.objects.filter(any_of("code", [r.code for r in chunk]))
            .order_by()
            .values("pk", "code", "village__township_id", *TRACKED)
        }
        holders = dict(
            Household.objects.filter(any_of("id_number", [r.id_number for r in chunk]))
            .order_by()
            .values_list("id_number", "code")
        )
        for row in chunk:
            holder = holders.get(row.id_number)
            if holder is not None and holder != row.code:
                self.report.add_error(
                    row.number, "身份证号", row.id_number, f"已登记在户 {holder}，一人只能属于一户"
                )
            old = existing.get(row.code)
            if old is not None and not self._may_touch(old):
                self.report.add_error(
                    row.number, "户编号", row.code, "该户属于您管辖范围以外的地区，不能修改"
                )
        if self.report.errors:
            self.writing = False
        if not self.writing:
            return
        self._create_groups(chunk)
        self.cadres_created += self.cadres.flush()
        self._write(chunk, existing)

    def _may_touch(self, old: dict[str, Any]) -> bool:
        if self.allowed_villages is not None:
            return old["village_id"] in self.allowed_villages
        if self.allowed_townships is not None:
            return old["village__township_id"] in self.allowed_townships
        return True

    def _create_groups(self, chunk: list[CleanRow]) -> None:
        missing = {(r.village.pk, r.group_name) for r in chunk} - self.geography.groups.keys()
        if not missing:
            return
        VillageGroup.objects.bulk_create([VillageGroup(village_id=v, name=n) for v, n in sorted(missing)])
        for pk, village_id, name in VillageGroup.objects.filter(
            village_id__in={v for v, _ in missing}, name__in={n for _, n in missing}
        ).values_list("pk", "village_id", "name"):
            self.geography.groups[(village_id, name)] = pk
            self.geography.group_names[pk] = name
        self.groups_created += len(missing)

    def _write(self, chunk: list[CleanRow], existing: dict[str, dict[str, Any]]) -> None:
        # New households stay plain values (no model instances: at 100,000 rows that is most of the
        # writing); changed ones become instances for `bulk_update`.
        new: list[tuple[CleanRow, dict[str, Any]]] = []
        changed: list[tuple[CleanRow, Household, dict[str, Any]]] = []
        groups, cadre_pk = self.geography.groups, self.cadres.pk
        for row in chunk:
            village_id = row.village.pk
            values = {  # in the order of TRACKED
                "head_name": row.head_name,
                "id_number": row.id_number,
                "village_id": village_id,
                "group_id": groups[(village_id, row.group_name)],
                "size": row.size,
                "labour": row.labour,
                "exit_year": row.exit_year,
                "consolidation": row.consolidation,
                "phone": row.phone,
                "cadre_id": cadre_pk(row.cadre_key),
            }
            old = existing.get(row.code)
            if old is None:
                new.append((row, values))
                continue
            diff = {f: (old[f], v) for f, v in values.items() if old[f] != v}
            if not diff:
                self.report.rows_unchanged += 1
                continue
            changed.append((row, Household(pk=old["pk"], code=row.code, updated_at=self.now, **values), diff))

        new_ids = self._insert_households(new)
        if changed:
            Household.objects.bulk_update(
                [h for _, h, _ in changed], [*TRACKED, "updated_at"], batch_size=500
            )
        self._record_assignments(new, new_ids, changed)
        self._record_changes(new, new_ids, changed)
        villages = {values["village_id"] for _, values in new} | {h.village_id for _, h, _ in changed}
        villages |= {diff["village_id"][0] for _, _, diff in changed if "village_id" in diff}
        events.registry_changed(sorted(villages))

    NEW_FIELDS = (
        "code",
        "head_name",
        "id_number",
        "village",
        "group",
        "size",
        "labour",
        "exit_year",
        "consolidation",
        "phone",
        "ethnicity",
        "bank_name",
        "bank_account",
        "cadre",
        "created_at",
        "updated_at",
    )

    def _insert_households(self, new: list[tuple[CleanRow, dict[str, Any]]]) -> list[int]:
        """New households in bulk without the ORM's per-object insert machinery; returns their ids."""
        if not new:
            return []
        # The columns the sheet does not fill get their field's default, as a model instance would.
        blank = Household()
        ethnicity, bank_name, bank_account = blank.ethnicity, blank.bank_name, blank.bank_account
        now = self.now
        insert_rows(
            Household,
            self.NEW_FIELDS,
            (
                (
                    row.code,
                    v["head_name"],
                    v["id_number"],
                    v["village_id"],
                    v["group_id"],
                    v["size"],
                    v["labour"],
                    v["exit_year"],
                    v["consolidation"],
                    v["phone"],
                    ethnicity,
                    bank_name,
                    bank_account,
                    v["cadre_id"],
                    now,
                    now,
                )
                for row, v in new
            ),
        )
        ids = dict(
            Household.objects.filter(any_of("code", [row.code for row, _ in new]))
            .order_by()
            .values_list("code", "pk")
        )
        return [ids[row.code] for row, _ in new]

    def _record_assignments(
        self,
        new: list[tuple[CleanRow, dict[str, Any]]],
        new_ids: list[int],
        changed: list[tuple[CleanRow, Household, dict[str, Any]]],
    ) -> None:
        moved = [h for _, h, diff in changed if "cadre_id" in diff]
        if moved:
            CadreAssignment.objects.filter(
                household_id__in=[h.pk for h in moved], ended_at__isnull=True
            ).update(ended_at=self.now)
            # Other programmes follow (e.g. the money a household's cadre holds for it).
            events.reassigned(
                [
                    (h.pk, diff["cadre_id"][0], h.cadre_id)
                    for _, h, diff in changed
                    if "cadre_id" in diff and "village_id" not in diff
                ],
                self.actor,
            )
        events.relocated([h.pk for _, h, diff in changed if "cadre_id" in diff or "village_id" in diff])
        starts = [(pk, v["cadre_id"]) for (_, v), pk in zip(new, new_ids, strict=True) if v["cadre_id"]]
        starts += [(h.pk, h.cadre_id) for h in moved if h.cadre_id]
        # Audit rows go in without model instances: at 100,000 rows these are two thirds of the writes.
        actor_id = self.actor.pk if self.actor else None
        now, batch_id = self.now, self.batch.pk
        insert_rows(
            CadreAssignment,
            ["household", "cadre", "started_at", "ended_at", "assigned_by", "import_batch"],
            ((pk, cadre_id, now, None, actor_id, batch_id) for pk, cadre_id in starts),
        )

    def _record_changes(
        self,
        new: list[tuple[CleanRow, dict[str, Any]]],
        new_ids: list[int],
        changed: list[tuple[CleanRow, Household, dict[str, Any]]],
    ) -> None:
        audit: list[tuple[int, str, dict[str, list[str]]]] = []
        show, create = self._show, HouseholdChange.Action.CREATE
        for (row, values), pk in zip(new, new_ids, strict=True):
            fields: dict[str, tuple[str, str]] = {}
            for f, value in values.items():  # TRACKED order; empty values are left out
                shown = show(f, value)
                if shown != "":
                    fields[TRACKED[f]] = ("", shown)
            audit.append((pk, create, {k: ["", new_value] for k, (_, new_value) in fields.items()}))
            self.report.note_new(Change(row.number, row.code, row.head_name, fields))
        for row, household, diff in changed:
            fields = {
                TRACKED[f]: (self._show(f, old), self._show(f, value)) for f, (old, value) in diff.items()
            }
            audit.append(
                (household.pk, HouseholdChange.Action.UPDATE, {k: list(v) for k, v in fields.items()})
            )
            self.report.note_changed(Change(row.number, row.code, row.head_name, fields))
        actor_id = self.actor.pk if self.actor else None
        now, batch_id = self.now, self.batch.pk
        insert_rows(
            HouseholdChange,
            ["household", "actor", "at", "action", "changes", "import_batch"],
            ((pk, actor_id, now, action, changes, batch_id) for pk, action, changes in audit),
        )

    def _show(self, field: str, value: Any) -> str:
        """A stored value as the user wrote it in the sheet."""
        if value is None:
            return ""
        if field == "village_id":
            return self.geography.village_names.get(value, str(value))
        if field == "group_id":
            return self.geography.group_names.get(value, str(value))
        if field == "cadre_id":
            return self.cadres.names.get(value, str(value))
        if field == "consolidation":
            return "是" if value else "否"
        return str(value)


def _import_scope(actor: User | None) -> tuple[set[int] | None, set[int] | None]:
    """(townships, villages) the actor may import into; None = no limit at that level."""
    if actor is None:
        return None, None  # the management command, run by the system's operator
    if not actor.has_perm("households.import_household"):
        raise ImportFileError(MSG_NO_PERMISSION)
    if sees_everything(actor):
        return None, None
    if actor.role == Role.TOWNSHIP and actor.township_id:
        return {actor.township_id}, None
    if actor.role == Role.VILLAGE and actor.village_id:
        return None, {actor.village_id}
    raise ImportFileError(MSG_NO_PERMISSION)


def _one_roster_import_at_a_time() -> None:
    # Row locks on PostgreSQL; SQLite's IMMEDIATE transaction already serialises writers.
    list(Township.objects.select_for_update(no_key=True).order_by("pk").values_list("pk"))


# Validate and (unless a dry run, or any row is bad) write a roster; always records an ImportBatch.
roster_import = Importer(
    kind="roster", label="户花名册", columns=COLUMNS, job=RosterImport, lock=_one_roster_import_at_a_time
)
