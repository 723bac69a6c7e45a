"""Payments through the bank: the bank payment file of an approved batch (代发文件) and the bank's
return file (回盘文件), in layouts defined as data (`BANK_FILE_PROFILES`), for any batch kind.

Export: the batch's open lines in the payer's scope, each payee with a current bank account and no
open objection, become the file's lines, each 在途 (sent) with a reference the file carries. Import of
the return: every line is matched to its sent line by reference, account and amount; the file's
totals must match its lines; a line that matches nothing, or a line matched twice, refuses the whole
file with `第 N 行 …`. Successes are paid through `payouts_record` (the ledger, method bank);
failures leave the line open with the bank's reason, to be sent again once the account is fixed.
Importing the same file again changes nothing.

Who the payee is (姓名, 身份证号 for the bank) is the programme's: each registers a `PayeeIdentity`
for its payee account kind, as it registers its batch kinds; this module imports no programme.
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from households.models import User
from households.scoping import scoped

from .approval import BATCH_KINDS, role_names
from .bank_accounts import current_bank_accounts
from .models import APPROVED, Account, BankFile, BankFileLine, BankReturn, Batch, BatchLine
from .money import ZERO, to_fen
from .notices import payees_held
from .payouts import payouts_record
from .registry import Registry

# --- profiles: a bank's layout as data ----------------------------------------------------------

FIELDS = ("seq", "name", "id_number", "bank", "number", "holder_name", "amount", "item", "memo", "reference")


@dataclass(frozen=True)
class BankFileProfile:
    """A bank's file layout. `columns` are (field, header) in order, fields from `FIELDS`;
    `totals` the totals line (its first cell, then the count and the amount); the return file
    repeats the export's columns and adds `result_header`, `reason_header`, `serial_header`."""

    code: str
    label: str
    bank: str
    columns: tuple[tuple[str, str], ...]
    encoding: str = "gbk"
    delimiter: str = ","
    totals_label: str = "合计"
    result_header: str = "处理结果"
    reason_header: str = "失败原因"
    serial_header: str = "银行流水号"
    success: tuple[str, ...] = ("成功",)
    failure: tuple[str, ...] = ("失败",)
    suffix: str = "csv"

    def header(self, field_name: str) -> str:
        return dict(self.columns)[field_name]


BANK_FILE_PROFILES: Registry[BankFileProfile] = Registry("bank file profile")

YNRCC = BankFileProfile(
    code="ynrcc_csv",
    label="云南农信 一卡通代发（CSV，GBK）",
    bank="云南省农村信用社（香格里拉市联社）",
    columns=(
        ("seq", "序号"),
        ("name", "姓名"),
        ("id_number", "身份证号"),
        ("bank", "开户行"),
        ("number", "账号"),
        ("holder_name", "户名"),
        ("amount", "金额"),
        ("item", "补贴项目"),
        ("memo", "摘要"),
        ("reference", "业务参考号"),
    ),
)
BANK_FILE_PROFILES.register(YNRCC)


@dataclass(frozen=True)
class PayeeIdentity:
    """How a programme names its payees to the bank: for ledger accounts of kind `code`, each
    account's (姓名, 身份证号) in one or two queries."""

    code: str  # the payee account kind
    label: str
    identify: Callable[[Sequence[Account]], dict[int, tuple[str, str]]] = field(compare=False)


PAYEE_IDENTITIES: Registry[PayeeIdentity] = Registry("payee identity")


# --- export --------------------------------------------------------------------------------------

MSG_ROLE = "银行代发文件由{roles}导出和导入。"
MSG_NOT_APPROVED = "批次审批通过后才能导出银行代发文件。"
MSG_NOTHING = "没有可以送银行的户（都已兑现、在途，或不在您的管辖范围内）。"
MSG_NO_ACCOUNT = "{name}：没有登记银行账户，请先登记（或本次不走银行）。"
MSG_NO_IDENTITY = "{name}：无法确定收款人身份（该类收款对象未登记身份信息）。"


def _check_role(batch: Batch, actor: User) -> None:
    kind = BATCH_KINDS[batch.kind]
    if actor.role not in kind.pay_roles:
        raise ValidationError(MSG_ROLE.format(roles=role_names(kind.pay_roles)))


def _identities(accounts: Sequence[Account]) -> dict[int, tuple[str, str]]:
    by_kind: dict[str, list[Account]] = {}
    for account in accounts:
        by_kind.setdefault(account.kind, []).append(account)
    found: dict[int, tuple[str, str]] = {}
    for kind, members in by_kind.items():
        identity = PAYEE_IDENTITIES.get(kind)
        if identity is not None:
            found.update(identity.identify(members))
    return found


@transaction.atomic
def bank_file_export(*, batch: Batch, actor: User, profile: str = YNRCC.code) -> BankFile:
    """Put the batch's open lines (payer's scope) in a new bank file; each becomes 在途."""
    BANK_FILE_PROFILES[profile]
    _check_role(batch, actor)
    locked = (
        scoped(Batch.objects.select_for_update(no_key=True, of=("self",)), actor).filter(pk=batch.pk).first()
    )
    if locked is None:
        raise ValidationError("该批次不在您的管辖范围内。")
    if locked.status != APPROVED:
        raise ValidationError(MSG_NOT_APPROVED)
    in_bank = Exists(
        BankFileLine.objects.filter(
            line=OuterRef("pk"), status__in=[BankFileLine.Status.SENT, BankFileLine.Status.SUCCESS]
        )
    )
    lines = list(
        scoped(BatchLine.objects.filter(batch=locked, payout__isnull=True, cancelled_at__isnull=True), actor)
        .exclude(in_bank)
        .select_related("account")
        .order_by("account__name", "pk")
    )
    held = payees_held(lines, locked.year)
    lines = [line for line in lines if line.pk not in held]
    if not lines:
        raise ValidationError(MSG_NOTHING)
    banks = current_bank_accounts([line.account_id for line in lines])
    identities = _identities([line.account for line in lines])
    errors = [MSG_NO_ACCOUNT.format(name=line.account.name) for line in lines if line.account_id not in banks]
    errors += [
        MSG_NO_IDENTITY.format(name=line.account.name) for line in lines if line.account_id not in identities
    ]
    if errors:
        raise ValidationError(errors)
    stamp = timezone.localdate().strftime("%Y%m%d")
    reference = f"B{locked.pk}-{stamp}-{secrets.token_hex(3).upper()}"
    bank_file = BankFile.objects.create(
        batch=locked,
        profile=profile,
        reference=reference,
        created_by=actor,
        line_count=len(lines),
        total=sum((to_fen(line.amount) for line in lines), ZERO),
    )
    BankFileLine.objects.bulk_create(
        [
            BankFileLine(
                bank_file=bank_file,
                line=line,
                seq=seq,
                reference=f"{reference}-{seq:04d}",
                bank_account=banks[line.account_id],
                amount=to_fen(line.amount),
            )
            for seq, line in enumerate(lines, start=1)
        ]
    )
    return bank_file


def bank_file_rows(bank_file: BankFile) -> list[list[str]]:
    """The file's rows as the bank reads them: header, one row per payment, totals."""
    profile = BANK_FILE_PROFILES[bank_file.profile]
    batch = bank_file.batch
    kind = BATCH_KINDS[batch.kind]
    lines = list(bank_file.lines.select_related("line__account", "bank_account").order_by("seq"))
    identities = _identities([item.line.account for item in lines])
    rows = [[header for _field, header in profile.columns]]
    for item in lines:
        name, id_number = identities.get(item.line.account_id, (item.line.account.name, ""))
        values = {
            "seq": str(item.seq),
            "name": name,
            "id_number": id_number,
            "bank": item.bank_account.bank,
            "number": item.bank_account.number,
            "holder_name": item.bank_account.holder_name,
            "amount": f"{item.amount:.2f}",
            "item": kind.label,
            "memo": f"{batch.year}年{kind.label}",
            "reference": item.reference,
        }
        rows.append([values[name] for name, _header in profile.columns])
    rows.append(_totals_row(profile, bank_file.line_count, bank_file.total))
    return rows


def _totals_row(profile: BankFileProfile, count: int, total: Decimal) -> list[str]:
    row = [""] * len(profile.columns)
    row[0] = profile.totals_label
    row[1] = str(count)
    row[[name for name, _h in profile.columns].index("amount")] = f"{total:.2f}"
    return row


def bank_file_bytes(bank_file: BankFile) -> bytes:
    profile = BANK_FILE_PROFILES[bank_file.profile]
    return write_rows(profile, bank_file_rows(bank_file))


def write_rows(profile: BankFileProfile, rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=profile.delimiter, lineterminator="\r\n")
    writer.writerows(rows)
    return out.getvalue().encode(profile.encoding)


def bank_file_name(bank_file: BankFile) -> str:
    return f"代发-{bank_file.reference}.{BANK_FILE_PROFILES[bank_file.profile].suffix}"


# --- the bank's return file ----------------------------------------------------------------------

MSG_ENCODING = "文件不是 {encoding} 编码的文本，请上传银行返回的原文件。"
MSG_HEADER = "第 1 行：缺少列“{column}”。"
MSG_UNMATCHED = "第 {n} 行 业务参考号 {reference}：与本文件的任何一笔都对不上（参考号、账号或金额不符）。"
MSG_TWICE = "第 {n} 行 业务参考号 {reference}：与第 {first} 行是同一笔，重复。"
MSG_AMOUNT = "第 {n} 行 金额 {value}：不是有效金额。"
MSG_RESULT = "第 {n} 行 处理结果 {value}：应为{allowed}。"
MSG_REASON = "第 {n} 行 失败原因：失败的一笔须有银行给出的原因。"
MSG_NO_TOTALS = "文件没有合计行，无法核对总数。"
MSG_TOTALS = (
    "第 {n} 行 合计：文件写 {count} 笔 {total} 元，明细为 {lines} 笔 {amount} 元，不符，整个文件未导入。"
)
MSG_ALREADY = "该回盘文件已于 {at:%Y-%m-%d %H:%M} 导入，本次没有任何变化。"
MSG_OTHER_FILE = "该回盘文件不属于代发文件 {reference}。"
MSG_CONTRADICTS = "第 {n} 行 业务参考号 {reference}：此前已回盘为“{was}”，本文件却为“{now}”。"


@dataclass
class ReturnResult:
    succeeded: int = 0
    failed: int = 0
    unchanged: int = 0
    amount: Decimal = ZERO
    already_imported: bool = False
    messages: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _ReturnLine:
    row: int
    item: BankFileLine
    success: bool
    reason: str
    serial: str


def _parse_return(bank_file: BankFile, content: bytes) -> list[_ReturnLine]:
    profile = BANK_FILE_PROFILES[bank_file.profile]
    try:
        text = content.decode(profile.encoding)
    except UnicodeDecodeError:
        raise ValidationError(MSG_ENCODING.format(encoding=profile.encoding.upper())) from None
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=profile.delimiter))
    if not rows:
        raise ValidationError(MSG_NO_TOTALS)
    header = [cell.strip() for cell in rows[0]]
    wanted = {
        "reference": profile.header("reference"),
        "number": profile.header("number"),
        "amount": profile.header("amount"),
        "result": profile.result_header,
        "reason": profile.reason_header,
    }
    index: dict[str, int] = {}
    for key, column in wanted.items():
        if column not in header:
            raise ValidationError(MSG_HEADER.format(column=column))
        index[key] = header.index(column)
    serial_at = header.index(profile.serial_header) if profile.serial_header in header else None
    items = {item.reference: item for item in bank_file.lines.select_related("bank_account", "line")}
    errors: list[str] = []
    parsed: list[_ReturnLine] = []
    seen: dict[int, int] = {}
    totals: tuple[int, list[str]] | None = None
    count, amount_sum = 0, ZERO

    def cell(row: list[str], key: str) -> str:
        at = index[key]
        return row[at].strip() if at < len(row) else ""

    for number, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        if row[0].strip() == profile.totals_label:
            totals = (number, row)
            continue
        reference, raw_amount = cell(row, "reference"), cell(row, "amount")
        try:
            amount = to_fen(Decimal(raw_amount.replace(",", "")))
        except InvalidOperation:
            errors.append(MSG_AMOUNT.format(n=number, value=raw_amount[:20]))
            continue
        count += 1
        amount_sum += amount
        item = items.get(reference)
        if (
            item is None
            or item.amount != amount
            or item.bank_account.number != cell(row, "number").replace(" ", "")
        ):
            errors.append(MSG_UNMATCHED.format(n=number, reference=reference[:40]))
            continue
        if item.pk in seen:
            errors.append(MSG_TWICE.format(n=number, reference=reference, first=seen[item.pk]))
            continue
        seen[item.pk] = number
        result = cell(row, "result")
        if result not in profile.success + profile.failure:
            allowed = "或".join(f"“{v}”" for v in profile.success + profile.failure)
            errors.append(MSG_RESULT.format(n=number, value=result[:20], allowed=allowed))
            continue
        success = result in profile.success
        reason = cell(row, "reason")
        if not success and not reason:
            errors.append(MSG_REASON.format(n=number))
            continue
        serial = row[serial_at].strip() if serial_at is not None and serial_at < len(row) else ""
        parsed.append(_ReturnLine(number, item, success, reason[:100], serial[:64]))
    if totals is None:
        errors.append(MSG_NO_TOTALS)
    else:
        n, row = totals
        try:
            stated_count = int(row[1].strip())
            at = index["amount"]
            stated_total = to_fen(Decimal(row[at].strip().replace(",", ""))) if at < len(row) else None
        except (ValueError, InvalidOperation, IndexError):
            stated_count, stated_total = -1, None
        if stated_count != count or stated_total != amount_sum:
            errors.append(
                MSG_TOTALS.format(
                    n=n,
                    count=row[1].strip()[:12] if len(row) > 1 else "",
                    total=row[index["amount"]].strip()[:20] if index["amount"] < len(row) else "",
                    lines=count,
                    amount=f"{amount_sum:,.2f}",
                )
            )
    if errors:
        raise ValidationError(errors)
    return parsed


@transaction.atomic
def bank_return_import(
    *, bank_file: BankFile, content: bytes, actor: User, paid_on: datetime.date | None = None
) -> ReturnResult:
    """Import the bank's return file of `bank_file`: all or nothing; the same file twice changes
    nothing (by its SHA-256, and line by line: a line already returned with the same result is left)."""
    batch = bank_file.batch
    _check_role(batch, actor)
    if not scoped(BankFile.objects.filter(pk=bank_file.pk), actor).exists():
        raise ValidationError("该代发文件不在您的管辖范围内。")
    digest = hashlib.sha256(content).hexdigest()
    earlier = BankReturn.objects.filter(sha256=digest).first()
    if earlier is not None:
        if earlier.bank_file_id != bank_file.pk:
            raise ValidationError(MSG_OTHER_FILE.format(reference=bank_file.reference))
        return ReturnResult(
            already_imported=True,
            messages=[MSG_ALREADY.format(at=timezone.localtime(earlier.imported_at))],
        )
    # Lock the file's lines: a second import running now waits, then sees them returned.
    list(BankFileLine.objects.select_for_update(no_key=True).filter(bank_file=bank_file).values_list("pk"))
    parsed = _parse_return(bank_file, content)
    result = ReturnResult()
    labels = dict(BankFileLine.Status.choices)
    contradictions = []
    fresh: list[_ReturnLine] = []
    for entry in parsed:
        status = BankFileLine.Status.SUCCESS if entry.success else BankFileLine.Status.FAILED
        if entry.item.status == BankFileLine.Status.SENT:
            fresh.append(entry)
        elif entry.item.status == status:
            result.unchanged += 1
        else:
            contradictions.append(
                MSG_CONTRADICTS.format(
                    n=entry.row,
                    reference=entry.item.reference,
                    was=labels[entry.item.status],
                    now=labels[status],
                )
            )
    if contradictions:
        raise ValidationError(contradictions)
    now = timezone.now()
    successes = [e for e in fresh if e.success]
    failures = [e for e in fresh if not e.success]
    for entry in failures:
        BankFileLine.objects.filter(pk=entry.item.pk, status=BankFileLine.Status.SENT).update(
            status=BankFileLine.Status.FAILED, reason=entry.reason, bank_serial=entry.serial, returned_at=now
        )
        BatchLine.objects.filter(pk=entry.item.line_id, payout__isnull=True).update(
            unpaid_reason=f"银行退回：{entry.reason}"[:100], unpaid_noted_at=now
        )
    if successes:
        paid = payouts_record(
            batch=batch,
            actor=actor,
            paid_on=paid_on or timezone.localdate(),
            method="bank",
            lines=[e.item.line_id for e in successes],
            references={e.item.line_id: e.serial or e.item.reference for e in successes},
            through_bank=True,
        )
        if paid.paid != len(successes):
            raise ValidationError("有银行已成功的笔数未能登记兑现，请联系管理员。")
        for entry in successes:
            BankFileLine.objects.filter(pk=entry.item.pk, status=BankFileLine.Status.SENT).update(
                status=BankFileLine.Status.SUCCESS, bank_serial=entry.serial, returned_at=now
            )
        result.amount = paid.amount
    result.succeeded, result.failed = len(successes), len(failures)
    BankReturn.objects.create(
        bank_file=bank_file,
        sha256=digest,
        imported_by=actor,
        succeeded=result.succeeded,
        failed=result.failed,
    )
    if not fresh:
        result.messages.append("回盘结果此前均已导入，本次没有任何变化。")
    return result


# --- what the batch page shows -------------------------------------------------------------------


@dataclass(frozen=True)
class BankCount:
    label: str
    count: int
    amount: Decimal


def bank_summary(batch: Batch, user: User) -> list[BankCount]:
    """已成功 / 失败待重发 / 在途 counts and amounts of the batch's bank payments, in `user`'s scope;
    empty when nothing of the batch went through the bank."""
    items = list(
        scoped(BankFileLine.objects.filter(bank_file__batch=batch), user).values_list(
            "line_id", "status", "amount"
        )
    )
    if not items:
        return []
    latest: dict[int, tuple[str, Decimal]] = {}
    for line_id, status, amount in items:  # a line failed once and sent again counts once, as it is now
        if latest.get(line_id, ("", ZERO))[0] in ("", BankFileLine.Status.FAILED):
            latest[line_id] = (status, to_fen(amount))
    groups = [
        ("银行已确认兑现", BankFileLine.Status.SUCCESS),
        ("银行退回、待更正重发", BankFileLine.Status.FAILED),
        ("在途（待银行回盘）", BankFileLine.Status.SENT),
    ]
    return [
        BankCount(
            label,
            sum(1 for s, _a in latest.values() if s == status),
            sum((a for s, a in latest.values() if s == status), ZERO),
        )
        for label, status in groups
    ]
