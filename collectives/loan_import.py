"""Excel in for the joint-guarantee loans, on the import frame of the roster (`households.imports`):
one transaction, all or nothing, every bad row reported as `第 N 行 列名 值：原因`, a dry run, and
only what the importing user may see.

- 贷款台账导入 (`import_loans`): the village's loan register → proposed loans (`services.loan_propose`,
  every rule of a loan checked as on the form); the money then moves only through a `collective_loan`
  batch. Key: 台账编号 (unique in the village): a row already imported is reported unchanged.
- 还款清单导入 (`import_repayments`): a bank or cash repayment list → repayments
  (`services.repayment_record`, applied in the policy's order), in date order. Key: 凭证号 per loan:
  a list imported twice records nothing twice.

Each row goes through its service (a loan's rules read other loans of its group and household under
the village fund's lock), so the queries grow with the rows: a village's register or a month's bank
list is tens to a few hundred rows.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from disbursements.money import to_fen
from households.imports import (
    CellError,
    Change,
    Column,
    Importer,
    ImportFileError,
    ImportReport,
    Row,
    decimal_number,
    max_length_of,
    text,
    whole_number,
)
from households.models import Household, ImportBatch, User
from households.scoping import scoped

from . import rules, services
from .models import JointGroup, LendingPolicy, Loan, Repayment

LOAN_COLUMNS = [
    Column("台账编号", "register_no", max_length=max_length_of(Loan, "register_no")),
    Column("户编号", "code", max_length=max_length_of(Household, "code")),
    Column("联保小组", "group", max_length=max_length_of(JointGroup, "name")),
    Column("年度", "year"),
    Column("借款金额（元）", "principal"),
    Column("期限（月）", "term"),
    Column("还款方式", "frequency"),
    Column("用途", "purpose", max_length=max_length_of(Loan, "purpose")),
    Column("申报日期", "proposed_on", required=False),
]
REPAYMENT_COLUMNS = [
    Column("户编号", "code", max_length=max_length_of(Household, "code")),
    Column("还款日期", "paid_on"),
    Column("还款金额（元）", "amount"),
    Column("凭证号", "reference", max_length=max_length_of(Repayment, "reference")),
    Column("台账编号", "register_no", required=False, max_length=max_length_of(Loan, "register_no")),
    Column("代偿人户编号", "payer", required=False, max_length=max_length_of(Household, "code")),
]
LOAN_HEADER = {c.key: c.header for c in LOAN_COLUMNS}
REPAYMENT_HEADER = {c.key: c.header for c in REPAYMENT_COLUMNS}

MSG_LOAN_ROLE = "贷款台账由本村村委会导入（请以村委会账号登录，命令行用 --user 指定）。"
MSG_REPAYMENT_ROLE = "还款清单由村委会或乡镇导入（请以村委会或乡镇账号登录，命令行用 --user 指定）。"
MSG_NO_HOUSEHOLD = "系统中没有这一户，或不在您的管辖范围内"
_DATE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$")
FREQUENCY_OF = {label: code for code, label in rules.FREQUENCIES.items()} | {
    "按月": rules.MONTHLY,
    "按季": rules.QUARTERLY,
    "到期一次": rules.BULLET,
    "一次还本": rules.BULLET,
    **{code: code for code in rules.FREQUENCIES},
}


def date_cell(value: Any) -> datetime.date:
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    raw = text(value)
    if not raw:
        raise CellError("不能为空")
    match = _DATE.match(raw)
    if not match:
        raise CellError("应为日期，如 2017-05-01")
    try:
        return datetime.date(*(int(g) for g in match.groups()))
    except ValueError:
        raise CellError("日期无效") from None


def _cell(row: Row, positions: dict[str, int], key: str) -> Any:
    index = positions.get(key)
    return row[index] if index is not None and index < len(row) else None


def _one_at_a_time() -> None:
    """Imports of loans and repayments are serialised (the policy rows are locked)."""
    list(LendingPolicy.objects.select_for_update(no_key=True).order_by("pk").values_list("pk"))


class _Job:
    role_message = ""
    roles: tuple[str, ...] = ()

    def __init__(self, *, actor: User | None, report: ImportReport, batch: ImportBatch) -> None:
        if actor is None or (actor.role not in self.roles and not actor.is_superuser):
            raise ImportFileError(self.role_message)
        self.actor = actor
        self.report = report
        self.batch = batch
        self.today = timezone.localdate()

    def _households(self, codes: Iterable[str]) -> dict[str, Household]:
        return {
            h.code: h
            for h in scoped(Household.objects.filter(code__in=set(codes)), self.actor).select_related(
                "village"
            )
        }

    def _run_service(self, number: int, column: str, value: Any, call: Any) -> Any:
        """The service in a savepoint: a refusal is the row's error, and the row changes nothing."""
        try:
            with transaction.atomic():
                return call()
        except ValidationError as exc:
            self.report.add_error(number, column, value, "；".join(m.rstrip("。") for m in exc.messages))
            return None


class LoanRegisterImport(_Job):
    role_message = MSG_LOAN_ROLE
    roles = ("village",)

    def run(self, positions: dict[str, int], rows: Iterable[tuple[int, Row]]) -> None:
        parsed: list[tuple[int, dict[str, Any]]] = []
        seen: dict[str, int] = {}
        for number, row in rows:
            self.report.rows_total += 1
            values = self._cells(number, row, positions)
            if values is None:
                continue
            first = seen.setdefault(values["register_no"], number)
            if first != number:
                self.report.add_error(number, "台账编号", values["register_no"], f"与第 {first} 行重复")
                continue
            parsed.append((number, values))
        households = self._households(v["code"] for _, v in parsed)
        village = self.actor.village
        groups = {g.name: g for g in JointGroup.objects.filter(village=village)} if village else {}
        existing = {
            loan.register_no: loan
            for loan in Loan.objects.filter(
                village=village, register_no__in=[v["register_no"] for _, v in parsed]
            ).select_related("household")
        }
        for number, values in parsed:
            household = households.get(values["code"])
            if household is None or household.village_id != getattr(village, "pk", None):
                self.report.add_error(number, "户编号", values["code"], MSG_NO_HOUSEHOLD)
                continue
            group = groups.get(values["group"])
            if group is None:
                self.report.add_error(number, "联保小组", values["group"], "本村没有这一联保小组，请先建组")
                continue
            known = existing.get(values["register_no"])
            if known is not None:
                same = (
                    known.household_id == household.pk
                    and to_fen(known.principal) == values["principal"]
                    and known.term_months == values["term"]
                    and known.frequency == values["frequency"]
                )
                if same:
                    self.report.rows_unchanged += 1
                else:
                    self.report.add_error(
                        number,
                        "台账编号",
                        values["register_no"],
                        f"已导入的贷款（{known}）与本行不同；贷款记录不能修改，请核对",
                    )
                continue
            loan = self._run_service(
                number,
                "户编号",
                values["code"],
                lambda h=household, g=group, v=values: services.loan_propose(
                    group=g,
                    household=h,
                    principal=v["principal"],
                    term_months=v["term"],
                    frequency=v["frequency"],
                    purpose=v["purpose"],
                    actor=self.actor,
                    year=v["year"],
                    today=v["proposed_on"],
                    register_no=v["register_no"],
                ),
            )
            if loan is not None:
                self.report.note_new(
                    Change(
                        number,
                        values["register_no"],
                        f"{household.code} {household.head_name}",
                        {
                            "借款金额（元）": ("", f"{values['principal']:,.2f}"),
                            "期限（月）": ("", str(values["term"])),
                            "还款方式": ("", rules.FREQUENCIES[values["frequency"]]),
                        },
                    )
                )

    def _cells(self, number: int, row: Row, positions: dict[str, int]) -> dict[str, Any] | None:
        before = len(self.report.errors)
        values: dict[str, Any] = {}
        for key in ("register_no", "code", "group", "purpose"):
            values[key] = text(_cell(row, positions, key))
            if not values[key]:
                self.report.add_error(number, LOAN_HEADER[key], "", "不能为空")
        for key in ("year", "term"):
            try:
                values[key] = whole_number(_cell(row, positions, key))
            except CellError as exc:
                self.report.add_error(number, LOAN_HEADER[key], _cell(row, positions, key), str(exc))
        raw = _cell(row, positions, "principal")
        try:
            values["principal"] = to_fen(decimal_number(raw))
            if values["principal"] <= 0:
                raise CellError("须大于零")
        except CellError as exc:
            self.report.add_error(number, "借款金额（元）", raw, str(exc))
        raw = _cell(row, positions, "frequency")
        values["frequency"] = FREQUENCY_OF.get(text(raw), "")
        if not values["frequency"]:
            self.report.add_error(
                number, "还款方式", raw, "应为" + "、".join(f"“{x}”" for x in rules.FREQUENCIES.values())
            )
        raw = _cell(row, positions, "proposed_on")
        try:
            values["proposed_on"] = date_cell(raw) if text(raw) or raw else self.today
            if values["proposed_on"] > self.today:
                raise CellError("不能晚于今天")
        except CellError as exc:
            self.report.add_error(number, "申报日期", raw, str(exc))
        if len(self.report.errors) > before:
            return None
        policy = services.policy_for(values["year"]).as_rules()
        if values["principal"] > policy.loan_cap:
            self.report.add_error(
                number,
                "借款金额（元）",
                f"{values['principal']:,.2f}",
                f"超过每户上限 {policy.loan_cap:,.2f} 元",
            )
        if values["term"] > policy.max_term_months or values["term"] < 1:
            self.report.add_error(
                number, "期限（月）", values["term"], f"应为 1～{policy.max_term_months} 个月"
            )
        elif values["frequency"] == rules.QUARTERLY and values["term"] % 3:
            self.report.add_error(number, "期限（月）", values["term"], "按季还款的期限须为 3 的倍数")
        return None if len(self.report.errors) > before else values


class RepaymentListImport(_Job):
    role_message = MSG_REPAYMENT_ROLE
    roles = ("village", "township")

    def run(self, positions: dict[str, int], rows: Iterable[tuple[int, Row]]) -> None:
        parsed: list[tuple[int, dict[str, Any]]] = []
        seen: dict[tuple[str, str], int] = {}
        for number, row in rows:
            self.report.rows_total += 1
            values = self._cells(number, row, positions)
            if values is None:
                continue
            first = seen.setdefault((values["code"], values["reference"]), number)
            if first != number:
                self.report.add_error(number, "凭证号", values["reference"], f"与第 {first} 行重复（同一户）")
                continue
            parsed.append((number, values))
        households = self._households(
            [v["code"] for _, v in parsed] + [v["payer"] for _, v in parsed if v["payer"]]
        )
        open_loans: dict[int, list[Loan]] = {}
        for open_loan in (
            scoped(Loan.objects.all(), self.actor)
            .filter(household__in=list(households.values()), status=Loan.Status.DISBURSED)
            .order_by("disbursed_on", "pk")
        ):
            open_loans.setdefault(open_loan.household_id, []).append(open_loan)
        recorded = {
            (loan_id, reference): (to_fen(amount), paid_on)
            for loan_id, reference, amount, paid_on in scoped(Repayment.objects.all(), self.actor)
            .filter(loan__household__in=list(households.values()))
            .exclude(reference="")
            .values_list("loan_id", "reference", "amount", "paid_on")
        }
        # In date order, as the money came in; a row's loan by its household (and 台账编号 when needed).
        for number, values in sorted(parsed, key=lambda item: (item[1]["paid_on"], item[0])):
            household = households.get(values["code"])
            if household is None:
                self.report.add_error(number, "户编号", values["code"], MSG_NO_HOUSEHOLD)
                continue
            payer = None
            if values["payer"]:
                payer = households.get(values["payer"])
                if payer is None:
                    self.report.add_error(number, "代偿人户编号", values["payer"], MSG_NO_HOUSEHOLD)
                    continue
            loans = open_loans.get(household.pk, [])
            loan = self._loan(number, values, loans, recorded)
            if loan is None:
                continue
            done = recorded.get((loan.pk, values["reference"]))
            if done is not None:
                if done == (values["amount"], values["paid_on"]):
                    self.report.rows_unchanged += 1
                else:
                    self.report.add_error(
                        number, "凭证号", values["reference"], "已登记过一笔金额或日期不同的还款，请核对"
                    )
                continue
            repayment = self._run_service(
                number,
                "还款金额（元）",
                f"{values['amount']:,.2f}",
                lambda ln=loan, p=payer, v=values: services.repayment_record(
                    loan=ln,
                    amount=v["amount"],
                    paid_on=v["paid_on"],
                    actor=self.actor,
                    payer=p,
                    reference=v["reference"],
                ),
            )
            if repayment is not None:
                recorded[(loan.pk, values["reference"])] = (values["amount"], values["paid_on"])
                self.report.note_new(
                    Change(
                        number,
                        values["reference"],
                        f"{household.code} {household.head_name}",
                        {
                            "还款金额（元）": ("", f"{repayment.amount:,.2f}"),
                            "其中本金": ("", f"{repayment.principal:,.2f}"),
                            "其中占用费": ("", f"{repayment.fee:,.2f}"),
                            **({"代偿人": ("", payer.head_name)} if payer else {}),
                        },
                    )
                )

    def _loan(
        self,
        number: int,
        values: dict[str, Any],
        loans: list[Loan],
        recorded: dict[tuple[int, str], tuple[Decimal, datetime.date]],
    ) -> Loan | None:
        if values["register_no"]:
            found = [loan for loan in loans if loan.register_no == values["register_no"]]
            if not found:
                self.report.add_error(
                    number, "台账编号", values["register_no"], "该户没有这一台账编号的未还清贷款"
                )
                return None
            return found[0]
        if not loans:
            self.report.add_error(number, "户编号", values["code"], "该户没有已放款、未还清的贷款")
            return None
        if len(loans) > 1:
            already = [loan for loan in loans if (loan.pk, values["reference"]) in recorded]
            if len(already) == 1:
                return already[0]
            self.report.add_error(
                number, "台账编号", "", f"该户有 {len(loans)} 笔未还清的贷款，请填写台账编号指明还哪一笔"
            )
            return None
        return loans[0]

    def _cells(self, number: int, row: Row, positions: dict[str, int]) -> dict[str, Any] | None:
        before = len(self.report.errors)
        values: dict[str, Any] = {}
        for key in ("code", "reference"):
            values[key] = text(_cell(row, positions, key))
            if not values[key]:
                self.report.add_error(number, REPAYMENT_HEADER[key], "", "不能为空")
        for key in ("register_no", "payer"):
            values[key] = text(_cell(row, positions, key))
        raw = _cell(row, positions, "paid_on")
        try:
            values["paid_on"] = date_cell(raw)
            if values["paid_on"] > self.today:
                raise CellError("不能晚于今天")
        except CellError as exc:
            self.report.add_error(number, "还款日期", raw, str(exc))
        raw = _cell(row, positions, "amount")
        try:
            values["amount"] = to_fen(decimal_number(raw))
            if values["amount"] <= 0:
                raise CellError("须大于零")
        except CellError as exc:
            self.report.add_error(number, "还款金额（元）", raw, str(exc))
        if values["payer"] and values["payer"] == values["code"]:
            values["payer"] = ""
        return None if len(self.report.errors) > before else values


loan_import = Importer(
    kind="collective_loans",
    label="贷款台账导入表",
    columns=LOAN_COLUMNS,
    job=LoanRegisterImport,
    lock=_one_at_a_time,
    unit="笔",
)
repayment_import = Importer(
    kind="collective_repayments",
    label="还款清单导入表",
    columns=REPAYMENT_COLUMNS,
    job=RepaymentListImport,
    lock=_one_at_a_time,
    unit="笔",
)
