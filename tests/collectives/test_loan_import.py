"""Excel in for the loans: the village's loan register (proposed loans) and a bank / cash repayment
list, all or nothing, `第 N 行 列名 值：原因`, scoped to the importing user, a re-import changes nothing."""

from __future__ import annotations

import datetime
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from collectives import accounts
from collectives.loan_import import LOAN_COLUMNS, REPAYMENT_COLUMNS, loan_import, repayment_import
from collectives.models import GuarantorDebt, Loan, Repayment
from disbursements import ledger
from disbursements.reconcile import reconcile
from households.models import Role, Village

from ..factories import make_user, roster_row, xlsx_bytes
from .conftest import disburse

pytestmark = pytest.mark.django_db
D = Decimal
LOAN_HEADER = [c.header for c in LOAN_COLUMNS]
REPAYMENT_HEADER = [c.header for c in REPAYMENT_COLUMNS]


def loan_row(no: str, code: str, amount: Any = "12000", term: Any = 12, **extra: Any) -> list[Any]:
    row = {
        "台账编号": no,
        "户编号": code,
        "联保小组": "第一联保小组",
        "年度": 2017,
        "借款金额（元）": amount,
        "期限（月）": term,
        "还款方式": "按月等额还本",
        "用途": "养殖藏香猪",
        "申报日期": "2017-05-01",
        **extra,
    }
    return [row[h] for h in LOAN_HEADER]


def run(importer: Any, header: list[str], rows: list[list[Any]], actor: Any, dry_run: bool = False) -> Any:
    return importer(
        header=header, rows=iter(rows), actor=actor, file_name="t.xlsx", file_sha256="", dry_run=dry_run
    )


def test_the_loan_register_is_all_or_nothing_with_each_bad_row_named(
    lending_village: dict[str, Any], import_rows: Any
) -> None:
    ctx = lending_village
    assert import_rows([roster_row(户编号="J1", 户主姓名="阿旺次仁多吉", 村委会="吉迪村")]).ok
    good = [loan_row("HP-001", "C1"), loan_row("HP-002", "C2", "8000.5", 6)]
    bad = [
        loan_row("HP-003", "C3", "20001"),
        loan_row("HP-004", "C4", term=37),
        loan_row("HP-005", "J1"),
        loan_row("HP-006", "C5", **{"联保小组": "第九小组"}),
        loan_row("HP-007", "C5", **{"还款方式": "随便还"}),
        loan_row("HP-001", "C5"),
        loan_row("HP-008", "C5", "一万"),
    ]
    report = run(loan_import, LOAN_HEADER, good + bad, ctx["village_user"])
    errors = [str(e) for e in report.errors]
    assert errors == [
        "第 4 行 借款金额（元） 20,001.00：超过每户上限 20,000.00 元",
        "第 5 行 期限（月） 37：应为 1～36 个月",
        "第 8 行 还款方式 随便还：应为“按月等额还本”、“按季等额还本”、“到期一次还本”",
        "第 9 行 台账编号 HP-001：与第 2 行重复",
        "第 10 行 借款金额（元） 一万：应为数字",
        "第 6 行 户编号 J1：系统中没有这一户，或不在您的管辖范围内",  # 吉迪村's household
        "第 7 行 联保小组 第九小组：本村没有这一联保小组，请先建组",
    ]
    assert report.summary() == "发现 7 处错误，未写入任何数据。"
    assert not Loan.objects.exists()
    preview = run(loan_import, LOAN_HEADER, good, ctx["village_user"], dry_run=True)
    assert preview.ok and preview.rows_new == 2 and not Loan.objects.exists()
    done = run(loan_import, LOAN_HEADER, good, ctx["village_user"])
    assert done.ok and done.rows_new == 2
    loans = {loan.register_no: loan for loan in Loan.objects.all()}
    assert loans["HP-002"].principal == D("8000.50") and loans["HP-002"].status == Loan.Status.PROPOSED
    again = run(loan_import, LOAN_HEADER, good, ctx["village_user"])
    assert again.nothing_changed and again.rows_unchanged == 2 and Loan.objects.count() == 2
    changed = run(loan_import, LOAN_HEADER, [loan_row("HP-001", "C1", "13000")], ctx["village_user"])
    assert "贷款记录不能修改" in str(changed.errors[0]) and Loan.objects.count() == 2


def test_the_loan_register_refuses_what_the_service_refuses(lending_village: dict[str, Any]) -> None:
    ctx = lending_village
    (late,) = disburse(ctx, [Loan.objects.get(pk=_propose(ctx, "C1").pk)], datetime.date(2017, 5, 1))
    del late
    # 扎西 is overdue on 20 June: no new loan to his group, named on the row.
    report = run(
        loan_import,
        LOAN_HEADER,
        [loan_row("HP-010", "C2", **{"申报日期": "2017-06-20"})],
        ctx["village_user"],
    )
    assert [str(e) for e in report.errors] == [
        "第 2 行 户编号 C2：联保小组有逾期未还的成员（扎西），在还清前小组成员不能再借款"
    ]
    assert Loan.objects.count() == 1
    # Only the village imports its register.
    township = run(loan_import, LOAN_HEADER, [loan_row("HP-011", "C3")], ctx["township_user"])
    assert "由本村村委会导入" in str(township.errors[0]) and Loan.objects.count() == 1


def _propose(ctx: dict[str, Any], code: str, amount: str = "6000") -> Loan:
    from collectives import services

    return services.loan_propose(
        group=ctx["group"],
        household=ctx["households"][code],
        principal=D(amount),
        term_months=6,
        frequency="monthly",
        purpose="养殖",
        actor=ctx["village_user"],
        year=2017,
        today=datetime.date(2017, 5, 1),
    )


def repayment_row(code: str, on: str, amount: Any, ref: str, payer: str = "", no: str = "") -> list[Any]:
    row = {
        "户编号": code,
        "还款日期": on,
        "还款金额（元）": amount,
        "凭证号": ref,
        "台账编号": no,
        "代偿人户编号": payer,
    }
    return [row[h] for h in REPAYMENT_HEADER]


def test_a_bank_repayment_list_is_applied_once_in_date_order(lending_village: dict[str, Any]) -> None:
    ctx = lending_village
    disburse(ctx, [_propose(ctx, "C1"), _propose(ctx, "C2")], datetime.date(2017, 5, 1))
    lending = accounts.village_account(ctx["village"], accounts.LENDING)
    before = ledger.balances([lending], 2017)[lending.pk]
    rows = [
        repayment_row("C1", "2017-07-01", "1000", "YH20170701-01"),
        repayment_row("C1", "2017-06-01", "1000", "YH20170601-01"),
        repayment_row("C2", "2017-06-01", 1000, "YH20170601-02", payer="C3"),  # 代偿 by 次仁
    ]
    bad = [
        repayment_row("C2", "2017-06-02", "99999", "YH20170602-09"),
        repayment_row("C1", "2017-06-01", "1000", "YH20170601-01"),
        repayment_row("C9", "2017-06-01", "1000", "YH-x"),
        repayment_row("C4", "2017-06-01", "1000", "YH-y"),
        repayment_row("C1", "2099-01-01", "1000", "YH-z"),
    ]
    report = run(repayment_import, REPAYMENT_HEADER, rows + bad, ctx["village_user"])
    assert [str(e) for e in report.errors] == [
        "第 6 行 凭证号 YH20170601-01：与第 3 行重复（同一户）",
        "第 9 行 还款日期 2099-01-01：不能晚于今天",
        "第 7 行 户编号 C9：系统中没有这一户，或不在您的管辖范围内",
        "第 8 行 户编号 C4：该户没有已放款、未还清的贷款",
        "第 5 行 还款金额（元） 99,999.00：还款 99,999.00 元超过该笔贷款尚欠的 5,000.00 元",
    ]
    assert not Repayment.objects.exists() and ledger.balances([lending], 2017)[lending.pk] == before
    done = run(repayment_import, REPAYMENT_HEADER, rows, ctx["village_user"])
    assert done.ok and done.rows_new == 3
    first = Repayment.objects.filter(loan__household__code="C1").order_by("paid_on")
    assert [r.reference for r in first] == ["YH20170601-01", "YH20170701-01"]
    debt = GuarantorDebt.objects.get()
    assert (debt.debtor.head_name, debt.creditor.head_name) == ("卓玛", "次仁")
    assert ledger.balances([lending], 2017)[lending.pk] == before + D("3000.00")
    again = run(repayment_import, REPAYMENT_HEADER, rows, ctx["village_user"])
    assert again.nothing_changed and Repayment.objects.count() == 3
    assert ledger.balances([lending], 2017)[lending.pk] == before + D("3000.00")
    assert reconcile(year=2017, fund=accounts.FUND)[0].problems == []


def test_another_township_sees_no_loan_to_repay(lending_village: dict[str, Any]) -> None:
    ctx = lending_village
    disburse(ctx, [_propose(ctx, "C1")], datetime.date(2017, 5, 1))
    from households.models import Township

    other = Township.objects.exclude(pk=ctx["village"].township_id).first()
    outsider = make_user(Role.TOWNSHIP, "hutiaoxia_i", township=other)
    report = run(
        repayment_import, REPAYMENT_HEADER, [repayment_row("C1", "2017-06-01", "1000", "R1")], outsider
    )
    assert [str(e) for e in report.errors] == ["第 2 行 户编号 C1：系统中没有这一户，或不在您的管辖范围内"]
    assert not Repayment.objects.exists()
    jidi_user = make_user(
        Role.VILLAGE, "jidi_i", village=Village.objects.exclude(pk=ctx["village"].pk).first()
    )
    report = run(
        repayment_import, REPAYMENT_HEADER, [repayment_row("C1", "2017-06-01", "1000", "R1")], jidi_user
    )
    assert not report.ok and not Repayment.objects.exists()


def test_the_commands_refuse_a_hostile_file_and_import_a_good_one(
    lending_village: dict[str, Any], tmp_path: Path
) -> None:
    ctx = lending_village
    fake = tmp_path / "loans.xlsx"
    fake.write_bytes(b"PK\x03\x04 not really a workbook" * 10)
    with pytest.raises(CommandError, match="Excel"):
        call_command("import_loans", str(fake), "--user", ctx["village_user"].username, stdout=io.StringIO())
    with pytest.raises(CommandError, match="没有用户"):
        call_command("import_loans", str(fake), "--user", "nobody", stdout=io.StringIO())
    good = tmp_path / "register.xlsx"
    good.write_bytes(xlsx_bytes([loan_row("HP-101", "C1")], header=LOAN_HEADER))
    out = io.StringIO()
    call_command("import_loans", str(good), "--user", ctx["village_user"].username, "--dry-run", stdout=out)
    assert "预览（尚未写入）" in out.getvalue() and not Loan.objects.exists()
    call_command("import_loans", str(good), "--user", ctx["village_user"].username, stdout=out)
    assert Loan.objects.get().register_no == "HP-101"
    bad = tmp_path / "repayments.xlsx"
    bad.write_bytes(xlsx_bytes([repayment_row("C1", "2017-06-01", "1000", "R1")], header=REPAYMENT_HEADER))
    out = io.StringIO()
    with pytest.raises(CommandError, match="1 处错误"):
        call_command("import_repayments", str(bad), "--user", ctx["village_user"].username, stdout=out)
    assert "第 2 行 户编号 C1：该户没有已放款、未还清的贷款" in out.getvalue()


def _upload(client: Any, url: str, data: bytes) -> Any:
    upload = io.BytesIO(data)
    upload.name = "list.xlsx"
    return client.post(url, {"import_file": upload, "format": "0", "resource": "0"})


def test_the_admin_import_pages_preview_then_confirm(lending_village: dict[str, Any]) -> None:
    from django.test import Client

    ctx = lending_village
    village = Client()
    village.force_login(ctx["village_user"])
    assert "导入" in village.get("/admin/collectives/loan/").content.decode()
    preview = _upload(
        village, "/admin/collectives/loan/import/", xlsx_bytes([loan_row("HP-201", "C1")], header=LOAN_HEADER)
    )
    assert preview.status_code == 200 and "确认导入" in preview.content.decode()
    assert not Loan.objects.exists()
    form = preview.context["confirm_form"]
    done = village.post(
        "/admin/collectives/loan/process_import/", {n: form[n].value() for n in form.fields}, follow=True
    )
    assert "已新增 1 笔" in done.content.decode() and Loan.objects.get().register_no == "HP-201"
    # Bad rows: named, nothing to confirm.
    bad = _upload(
        village,
        "/admin/collectives/repayment/import/",
        xlsx_bytes([repayment_row("C1", "2017-06-01", "-5", "R9")], header=REPAYMENT_HEADER),
    ).content.decode()
    assert "第 2 行 还款金额（元） -5：须大于零" in bad and "确认导入" not in bad
    # The township may import repayments, not a village's loan register.
    township = Client()
    township.force_login(ctx["township_user"])
    assert township.get("/admin/collectives/loan/import/").status_code == 403
    assert township.get("/admin/collectives/repayment/import/").status_code == 200
