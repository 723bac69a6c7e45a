"""Payments through the bank: bank accounts, the bank payment file of an approved batch, the bank's
return file — a full round trip with failures, re-import, tampering — and the books after it."""

from __future__ import annotations

import csv
import datetime
import io
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from disbursements import bank_files
from disbursements.bank_accounts import bank_account_set, clean_account_number, luhn_ok, mask_account_number
from disbursements.models import Account, BankFileLine, BankReturn, Batch, BatchLine, Entry, Payout
from subsidies.money import services

from .test_money_flow import run_chain

pytestmark = pytest.mark.django_db
TODAY = datetime.date(2017, 5, 1)
RCC = "云南省农村信用社（香格里拉市联社）"


def luhn_number(prefix: str, length: int = 19) -> str:
    """A card number with a correct Luhn check digit."""
    body = prefix.ljust(length - 1, "0")
    for digit in "0123456789":
        if luhn_ok(body + digit):
            return body + digit
    raise AssertionError


def household_account(code: str) -> Account:
    return Account.objects.get(kind="household", grant_household__household__code=code)


def approved_batch(city_year: dict[str, Any]) -> Batch:
    services.allocate(year=2017, actor=None)
    liming = city_year["cadres"]["李明"]
    batch = services.batch_prepare(village=city_year["hongpo"], year=2017, tranche=1, actor=liming)
    run_chain(batch, city_year, liming)
    for n, code in enumerate(("H1", "H2"), start=1):
        bank_account_set(
            account=household_account(code),
            bank=RCC,
            number=luhn_number(f"62179930{n}"),
            holder_name=f"户主{code}",
            actor=liming,
        )
    return batch


def read_rows(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("gbk"))))


def return_file(export: bytes, results: dict[str, tuple[str, str]], *, total: str | None = None) -> bytes:
    """The bank's answer to `export`: each line with 处理结果 / 失败原因 / 银行流水号 added
    (results by 业务参考号, default 成功), and the same totals line (or a tampered one)."""
    rows = read_rows(export)
    header = [*rows[0], "处理结果", "失败原因", "银行流水号"]
    out = [header]
    ref_at = rows[0].index("业务参考号")
    for n, row in enumerate(rows[1:-1], start=1):
        result, reason = results.get(row[ref_at], ("成功", ""))
        out.append([*row, result, reason, f"YN{n:08d}" if result == "成功" else ""])
    totals = [*rows[-1], "", "", ""]
    if total is not None:
        totals[rows[0].index("金额")] = total
    out.append(totals)
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(out)
    return buffer.getvalue().encode("gbk")


def test_account_numbers_are_validated_and_masked() -> None:
    good = luhn_number("621799301")
    assert clean_account_number(RCC, good[:4] + " " + good[4:]) == good
    wrong_digit = good[:-1] + str((int(good[-1]) + 1) % 10)
    with pytest.raises(ValidationError, match="校验位不对"):
        clean_account_number(RCC, wrong_digit)
    with pytest.raises(ValidationError, match="应为 19 位"):
        clean_account_number(RCC, good[:16])
    with pytest.raises(ValidationError, match="只能是数字"):
        clean_account_number(RCC, "6217-9930")
    assert clean_account_number("某村镇银行", "123456789012") == "123456789012"  # no Luhn there
    assert mask_account_number(good) == good[:6] + "*********" + good[-4:]


def test_a_new_account_supersedes_the_old_one_and_keeps_its_history(city_year: dict[str, Any]) -> None:
    batch = approved_batch(city_year)
    liming = city_year["cadres"]["李明"]
    h1 = household_account("H1")
    old = h1.bank_accounts.get()
    with pytest.raises(ValidationError, match="无需变更"):
        bank_account_set(
            account=h1, bank=old.bank, number=old.number, holder_name=old.holder_name, actor=liming
        )
    bank_account_set(account=h1, bank=RCC, number=luhn_number("62179939"), holder_name="妻子", actor=liming)
    assert h1.bank_accounts.count() == 2 and h1.bank_accounts.filter(superseded_at__isnull=True).count() == 1
    assert batch.pk


def test_bank_round_trip_with_a_failure_then_the_corrected_line(city_year: dict[str, Any]) -> None:
    batch = approved_batch(city_year)
    liming = city_year["cadres"]["李明"]
    village = city_year["village_user"]
    bank_file = bank_files.bank_file_export(batch=batch, actor=village)
    content = bank_files.bank_file_bytes(bank_file)
    rows = read_rows(content)
    assert rows[0] == [
        "序号",
        "姓名",
        "身份证号",
        "开户行",
        "账号",
        "户名",
        "金额",
        "补贴项目",
        "摘要",
        "业务参考号",
    ]
    assert len(rows) == 4 and rows[-1][0] == "合计" and rows[-1][1] == "2" and rows[-1][6] == "2100.00"
    assert all(len(row[2]) == 18 and "*" not in row[2] for row in rows[1:-1])  # the bank needs the full ID

    # While the bank holds the lines, nobody pays them in cash and no second file takes them.
    with pytest.raises(ValidationError, match="银行代发途中"):
        services.payouts_record(batch=batch, actor=liming, paid_on=TODAY)
    with pytest.raises(ValidationError, match="没有可以送银行的户"):
        bank_files.bank_file_export(batch=batch, actor=village)

    failed_ref = rows[2][9]
    answer = return_file(content, {failed_ref: ("失败", "户名与账号不符")})
    result = bank_files.bank_return_import(bank_file=bank_file, content=answer, actor=village, paid_on=TODAY)
    assert (result.succeeded, result.failed) == (1, 1)

    paid = Payout.objects.get()
    assert paid.method == "bank" and paid.reference == "YN00000001"  # the bank's serial
    failed_line = BatchLine.objects.get(bank_lines__reference=failed_ref)
    assert not Payout.objects.filter(line=failed_line).exists()
    assert failed_line.unpaid_reason == "银行退回：户名与账号不符"
    summary = {c.label: (c.count, c.amount) for c in bank_files.bank_summary(batch, village)}
    assert summary["银行已确认兑现"][0] == 1 and summary["银行退回、待更正重发"][0] == 1
    assert summary["在途（待银行回盘）"] == (0, Decimal("0.00"))
    assert services.reconcile(year=2017)[1] == []
    batch.refresh_from_db()
    assert batch.status == "approved"  # partly paid

    # The same file again changes nothing.
    entries = Entry.objects.count()
    again = bank_files.bank_return_import(bank_file=bank_file, content=answer, actor=village, paid_on=TODAY)
    assert again.already_imported and Entry.objects.count() == entries and Payout.objects.count() == 1

    # The account is corrected; the failed household goes in a later file and is paid.
    failed_account = failed_line.account
    bank_account_set(
        account=failed_account, bank=RCC, number=luhn_number("62179988"), holder_name="户主更正", actor=liming
    )
    second = bank_files.bank_file_export(batch=batch, actor=village)
    assert second.line_count == 1 and second.lines.get().bank_account.holder_name == "户主更正"
    bank_files.bank_return_import(
        bank_file=second,
        content=return_file(bank_files.bank_file_bytes(second), {}),
        actor=village,
        paid_on=TODAY,
    )
    batch.refresh_from_db()
    assert batch.status == "paid" and Payout.objects.count() == 2
    assert set(Payout.objects.values_list("method", flat=True)) == {"bank"}
    assert services.reconcile(year=2017)[1] == []
    summary = {c.label: (c.count, c.amount) for c in bank_files.bank_summary(batch, village)}
    assert summary["银行已确认兑现"] == (2, Decimal("2100.00")) and summary["银行退回、待更正重发"][0] == 0


def test_a_tampered_total_or_an_unknown_line_refuses_the_whole_file(city_year: dict[str, Any]) -> None:
    batch = approved_batch(city_year)
    village = city_year["village_user"]
    bank_file = bank_files.bank_file_export(batch=batch, actor=village)
    content = bank_files.bank_file_bytes(bank_file)
    with pytest.raises(ValidationError, match=r"第 4 行 合计：.*不符，整个文件未导入"):
        bank_files.bank_return_import(
            bank_file=bank_file, content=return_file(content, {}, total="2110.00"), actor=village
        )
    rows = read_rows(return_file(content, {}))
    rows[2][9] = rows[2][9][:-4] + "9999"  # a reference the export never wrote
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    with pytest.raises(ValidationError, match=r"第 3 行 业务参考号 .*对不上"):
        bank_files.bank_return_import(
            bank_file=bank_file, content=buffer.getvalue().encode("gbk"), actor=village
        )
    rows = read_rows(return_file(content, {}))
    rows.insert(3, list(rows[2]))  # the same payment twice
    rows[-1][1], rows[-1][6] = "3", f"{Decimal(rows[-1][6]) + Decimal(rows[2][6]):.2f}"
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    with pytest.raises(ValidationError, match=r"第 4 行 .*与第 3 行是同一笔"):
        bank_files.bank_return_import(
            bank_file=bank_file, content=buffer.getvalue().encode("gbk"), actor=village
        )
    assert Payout.objects.count() == 0 and BankReturn.objects.count() == 0
    assert set(BankFileLine.objects.values_list("status", flat=True)) == {"sent"}


def test_a_payee_without_a_bank_account_is_named(city_year: dict[str, Any]) -> None:
    services.allocate(year=2017, actor=None)
    liming = city_year["cadres"]["李明"]
    batch = services.batch_prepare(village=city_year["hongpo"], year=2017, tranche=1, actor=liming)
    run_chain(batch, city_year, liming)
    with pytest.raises(ValidationError, match="没有登记银行账户"):
        bank_files.bank_file_export(batch=batch, actor=city_year["village_user"])


def test_only_the_payers_of_the_batch_download_the_bank_file(city_year: dict[str, Any]) -> None:
    """The file carries whole ID and account numbers: the township (not a payer) gets nothing, nor
    does a payer of another village; the payer gets the GBK file."""
    from django.test import Client

    from ..factories import make_user

    batch = approved_batch(city_year)
    village = city_year["village_user"]
    bank_file = bank_files.bank_file_export(batch=batch, actor=village)
    url = f"/admin/disbursements/batch/{batch.pk}/bank/{bank_file.pk}/download/"
    township = Client()
    township.force_login(city_year["township_user"])
    assert township.get(url).status_code == 403
    other = Client()
    other.force_login(make_user("village", "jidi_official", village=city_year["jidi"]))
    assert other.get(url).status_code == 404
    payer = Client()
    payer.force_login(village)
    response = payer.get(url)
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    assert response.content.decode("gbk").startswith("序号,姓名,身份证号")
    page = payer.get(f"/admin/disbursements/batch/{batch.pk}/change/").content.decode()
    assert "在途：已送银行" in page and bank_file.lines.first().bank_account.number not in page  # type: ignore[union-attr]
