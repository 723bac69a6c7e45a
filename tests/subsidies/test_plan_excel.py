"""A whole year of plans through Excel: import (all or nothing) → entitlement export with totals."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from households.files import file_url
from households.imports import sha256_of
from households.models import Household, Job, Role
from subsidies.models import HouseholdPlan
from subsidies.plan_import import plan_import

from ..factories import make_user, roster_row, xlsx_bytes

pytestmark = pytest.mark.django_db

PLAN_HEADER = ["户编号", "年度", "种植品种", "种植面积（亩）", "养殖品种", "养殖数量"]

# rules.md §2 worked examples, one household each: (sheet row, planting, breeding, grant)
WORKED = [
    (["W1", 2017, "青稞", 1.5, None, None], "750.00", "0.00", "750.00"),
    (["W2", 2017, "玛咖", 3, "猪", 3], "1000.00", "1500.00", "2500.00"),
    (["W3", 2017, None, None, "羊", 6], "0.00", "2000.00", "2000.00"),
    (["W4", 2017, None, None, "鸡", 55], "0.00", "1100.00", "1100.00"),
    (["W5", 2017, "核桃", 2, "中蜂", 4], "1000.00", "800.00", "1800.00"),
    (["W6", 2017, None, None, "鱼", 0.8], "0.00", "800.00", "800.00"),
    (["W7", 2017, None, None, "牦牛", 1], "0.00", "2000.00", "2000.00"),
]


@pytest.fixture
def roster(import_rows):  # type: ignore[no-untyped-def]
    rows = [roster_row(户编号=f"W{i}") for i in range(1, 8)]
    rows += [
        roster_row(户编号="OLD", 脱贫年度=2015),
        roster_row(户编号="HT", 乡镇="虎跳峡镇", 村委会="红旗村"),
    ]
    assert import_rows(rows).ok
    return Household.objects.all()


def run_plans(rows, *, actor=None, dry_run=False, header=PLAN_HEADER):  # type: ignore[no-untyped-def]
    data = xlsx_bytes(rows, header)
    sheet = openpyxl.load_workbook(io.BytesIO(data), read_only=True).worksheets[0]
    values = sheet.iter_rows(values_only=True)
    return plan_import(
        header=next(values),
        rows=values,
        actor=actor,
        file_name="plans.xlsx",
        file_sha256=sha256_of(io.BytesIO(data)),
        dry_run=dry_run,
    )


def test_worked_examples_hold_through_import_and_export(roster, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    report = run_plans([row for row, *_ in WORKED])
    assert report.ok, [str(e) for e in report.errors]
    assert report.rows_new == 7
    for row, planting, breeding, grant in WORKED:
        plan = HouseholdPlan.objects.get(household__code=row[0], year=2017)
        assert (plan.planting_subsidy, plan.breeding_subsidy, plan.grant_total) == (
            Decimal(planting),
            Decimal(breeding),
            Decimal(grant),
        )
        assert plan.tranche1 + plan.tranche2 + plan.tranche3 == plan.grant_total

    output = tmp_path / "entitlements.xlsx"
    call_command("export_entitlements", "--year", "2017", "--output", str(output), stdout=io.StringIO())
    sheet = openpyxl.load_workbook(output).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == (
        "户编号",
        "户主姓名",
        "乡镇",
        "村委会",
        "种植补助",
        "养殖补助",
        "补助合计",
        "第一期（产前）",
        "第二期（产中）",
        "第三期（产后）",
    )
    body, total = rows[1:-1], rows[-1]
    assert [r[0] for r in body] == sorted(r[0] for r in body)  # sorted by 户编号
    by_code = {r[0]: r for r in body}
    assert by_code["W2"][4:10] == (1000, 1500, 2500, 1500, 500, 500)
    assert all(isinstance(v, int | float) for r in body for v in r[4:10])  # numeric cells, not text
    assert total[0] == "合计"
    assert Decimal(str(total[6])) == sum(Decimal(g) for *_, g in WORKED)  # 10,950.00
    assert Decimal(str(total[7])) + Decimal(str(total[8])) + Decimal(str(total[9])) == Decimal(str(total[6]))

    # Re-importing the same sheet changes nothing and says so.
    again = run_plans([row for row, *_ in WORKED])
    assert again.nothing_changed and "没有任何改动" in again.summary()


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (["NOPE", 2017, None, None, "猪", 1], "第 2 行 户编号 NOPE：系统中没有这一户，请先导入户花名册"),
        (["OLD", 2017, None, None, "猪", 1], "第 2 行 脱贫年度 2015：脱贫年度为 2015"),
        (["W1", 2017, None, None, "猪、羊", 2], "第 2 行 养殖品种 猪、羊：每户只能享受 1 项养殖补助"),
        (["W1", 2017, None, None, "熊猫", 2], "不在扶持目录内"),
        (["W1", 2017, "青稞", -1, None, None], "第 2 行 种植面积（亩） -1：不能为负数"),
        (["W1", 2017, None, None, None, 3], "第 2 行 养殖品种 （空）：填写了养殖数量，请同时填写养殖品种"),
        (["W1", 2017, "花椒", 0, None, None], "没有可扶持的内容"),
        (["W1", 2017, None, None, "猪", 2.5], "数量应为整数"),
        (["W1", "二〇一七", None, None, "猪", 2], "第 2 行 年度 二〇一七：应为整数"),
        (["W1", 2017, None, None, "牛、马", 1], "第 2 行 养殖品种 牛、马：每户计划只填一个养殖品种"),
    ],
)
def test_bad_plan_rows_are_refused_and_nothing_written(roster, row, expected) -> None:  # type: ignore[no-untyped-def]
    report = run_plans([row, ["W2", 2017, None, None, "猪", 2]])
    rendered = [str(e) for e in report.errors]
    assert any(expected in e for e in rendered), rendered
    assert not HouseholdPlan.objects.exists()


def test_duplicate_rows_and_scope(roster) -> None:  # type: ignore[no-untyped-def]
    report = run_plans([["W1", 2017, None, None, "猪", 1], ["W1", 2017, None, None, "羊", 1]])
    assert "第 3 行 户编号 W1：2017 年度的计划与第 2 行重复" in [str(e) for e in report.errors]
    township = make_user(Role.TOWNSHIP)
    report = run_plans([["HT", 2017, None, None, "猪", 1]], actor=township)
    assert "第 2 行 户编号 HT：该户不在您的管辖范围内" in [str(e) for e in report.errors]
    assert run_plans([["W1", 2017, None, None, "猪", 1]], actor=make_user(Role.AUDITOR)).errors[0].reason == (
        "您的角色不能导入产业计划。"
    )


def test_import_plans_command_dry_run_and_errors(roster, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    good = tmp_path / "plans.xlsx"
    good.write_bytes(xlsx_bytes([["W1", 2017, None, None, "猪", 2]], PLAN_HEADER))
    out = io.StringIO()
    call_command("import_plans", str(good), "--dry-run", stdout=out)
    assert "将新增 1 份" in out.getvalue() and not HouseholdPlan.objects.exists()
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(xlsx_bytes([["W1", 2017, None, None, "猪", 2]], ["户编号", "养殖品种"]))
    with pytest.raises(CommandError):
        call_command("import_plans", str(bad), stdout=(out := io.StringIO()))
    assert "缺少必填列：年度" in out.getvalue()


def test_admin_entitlement_download_is_scoped(roster, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    assert run_plans([["W1", 2017, None, None, "猪", 2], ["HT", 2017, None, None, "羊", 1]]).ok
    client = Client()
    client.force_login(make_user(Role.TOWNSHIP))
    with django_capture_on_commit_callbacks(execute=True):  # a township's table is a background job
        client.post("/admin/subsidies/householdplan/entitlements/", {"year": 2017})
    response = client.get(file_url(Job.objects.get(), "file"))  # type: ignore[arg-type]
    assert response.status_code == 200
    data = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    rows = list(openpyxl.load_workbook(io.BytesIO(data)).active.iter_rows(values_only=True))  # type: ignore[union-attr]
    assert [r[0] for r in rows[1:-1]] == ["W1"]
    assert rows[-1][6] == 1000
    client.force_login(make_user(Role.VILLAGE))  # a village's table is small: downloaded at once
    rows = list(
        openpyxl.load_workbook(
            io.BytesIO(client.get("/admin/subsidies/householdplan/entitlements/?year=2017").content)
        ).active.iter_rows(values_only=True)  # type: ignore[union-attr]
    )
    assert [r[0] for r in rows[1:-1]] == ["W1"]
    client.force_login(make_user(Role.CADRE))
    assert client.get("/admin/subsidies/householdplan/entitlements/?year=2017").status_code == 403
