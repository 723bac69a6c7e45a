"""考核记录 import: the agreements' frame and messages; the supervising township only; 考核合格 only when
the household reaches the threshold; what is counted in a live incentive does not change."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from enterprises import services
from enterprises.assessment_import import assessment_import
from enterprises.models import Assessment, Organisation
from households.imports import read_xlsx, sha256_of
from households.models import Household, ImportBatch, Role

from ..factories import make_user, xlsx_bytes
from .conftest import sign_up

pytestmark = pytest.mark.django_db

HEADER = [
    "年度",
    "组织统一社会信用代码",
    "组织名称",
    "户编号",
    "该产业家庭收入（元）",
    "家庭人口",
    "考核合格",
]


def row(code: str, income: Any = 7000, **kw: Any) -> list[Any]:
    values = {
        "年度": 2017,
        "组织统一社会信用代码": "",
        "组织名称": "香格里拉市高原牦牛养殖专业合作社",
        "户编号": code,
        "该产业家庭收入（元）": income,
        "家庭人口": "",
        "考核合格": "是",
    }
    values.update(kw)
    return [values[h] for h in HEADER]


def run(rows: list[list[Any]], actor: Any, dry_run: bool = False, header: list[str] = HEADER) -> Any:
    data = xlsx_bytes(rows, header)
    head, values = read_xlsx(io.BytesIO(data))
    return assessment_import(
        header=head,
        rows=values,
        actor=actor,
        file_name="考核.xlsx",
        file_sha256=sha256_of(io.BytesIO(data)),
        dry_run=dry_run,
    )


def test_twelve_confirmed_and_three_below_the_threshold_give_the_incentive_of_twelve(
    fifteen: list[Any], officials: dict[str, Any], cooperative: Organisation
) -> None:
    sign_up(cooperative, fifteen, officials["township"])
    # 2 people: 7,000 → 3,500 per head (reaches); 6,000 → 3,000 (does not).
    rows = [row(h.code) for h in fifteen[:12]] + [row(h.code, 6000, 考核合格="否") for h in fifteen[12:]]
    rows[0] = row(fifteen[0].code, 组织统一社会信用代码=cooperative.credit_code, 组织名称="")
    preview = run(rows, officials["township"], dry_run=True)
    assert preview.ok and preview.rows_new == 15 and not Assessment.objects.exists()
    report = run(rows, officials["township"])
    assert report.ok and report.rows_new == 15, report.errors
    assert services.qualified_counts(2017)[cooperative.pk] == 12
    assert services.incentive_quote(cooperative, 2017).amount == Decimal("6000.00")
    below = Assessment.objects.get(agreement__household=fifteen[14])
    assert (below.per_capita, below.reaches, below.confirmed_at) == (Decimal("3000.00"), False, None)
    assert ImportBatch.objects.filter(kind="assessments").exists()
    again = run(rows, officials["township"])
    assert again.ok and again.rows_new == 0 and again.rows_updated == 0 and again.rows_unchanged == 15


def test_bad_rows_are_named_by_row_column_and_value_and_nothing_is_written(
    fifteen: list[Any], officials: dict[str, Any], cooperative: Organisation
) -> None:
    sign_up(cooperative, fifteen[:5], officials["township"])
    rows = [
        row(fifteen[0].code, 6599.98),  # 3,299.99 per head: not qualified, yet marked 是
        row(fifteen[1].code, "七千"),
        row(fifteen[2].code, -1),
        row(fifteen[3].code, 家庭人口=0),
        row(fifteen[4].code, 考核合格="合格"),
        row(fifteen[5].code),  # no agreement with the cooperative
        row("NOPE"),
        row(fifteen[0].code, 组织名称="不存在的合作社"),
        row(fifteen[0].code, 年度=2030),
        row(fifteen[4].code, 组织名称=""),
        row(fifteen[0].code, 考核合格="否"),  # the same agreement twice in the file
    ]
    report = run(rows, officials["township"])
    messages = [str(e) for e in report.errors]
    assert "第 2 行 考核合格 是：人均产业收入 3,299.99 元未达到 3,300.00 元，不能填“是”" in messages
    assert "第 3 行 该产业家庭收入（元） 七千：应为数字" in messages
    assert "第 4 行 该产业家庭收入（元） -1：不能为负数" in messages
    assert "第 5 行 家庭人口 0：至少为 1 人" in messages
    assert "第 6 行 考核合格 合格：应填“是”或“否”（空白视为否）" in messages
    assert any(m.startswith(f"第 7 行 户编号 {fifteen[5].code}：该户与香格里拉市") for m in messages)
    assert any(m.startswith("第 8 行 户编号 NOPE：该户与") for m in messages)
    assert "第 9 行 组织名称 不存在的合作社：系统中没有这一组织，或不在您的管辖范围内，请先登记" in messages
    assert "第 10 行 年度 2030：该年度没有带贫奖补政策" in messages
    assert "第 11 行 组织名称 （空）：请填写组织统一社会信用代码或组织名称" in messages
    assert "第 12 行 户编号 E01：与第 2 行重复（同一组织、同一年度）" in messages
    assert not Assessment.objects.exists()


def test_another_township_cannot_assess_an_organisation_it_does_not_supervise(
    fifteen: list[Any], officials: dict[str, Any], cooperative: Organisation
) -> None:
    """虎跳峡镇 sees the cooperative through its T01 household, but 建塘镇 supervises the assessment."""
    t01 = Household.objects.get(code="T01")
    sign_up(cooperative, [t01], officials["township"])
    report = run([row("T01")], officials["other_township"])
    assert [str(e) for e in report.errors] == [
        "第 2 行 组织名称 香格里拉市高原牦牛养殖专业合作社：考核由组织的监管乡镇（建塘镇）录入和确认"
    ]
    assert not Assessment.objects.exists()


def test_an_assessment_counted_in_a_live_incentive_does_not_change(
    fifteen: list[Any], officials: dict[str, Any], cooperative: Organisation
) -> None:
    sign_up(cooperative, fifteen[:12], officials["township"])
    assert run([row(h.code) for h in fifteen[:12]], officials["township"]).ok
    services.incentive_batch_prepare(actor=officials["township"], township=cooperative.township, year=2017)
    report = run([row(fifteen[0].code, 8000)], officials["township"])
    assert [str(e) for e in report.errors] == [
        f"第 2 行 户编号 {fifteen[0].code}：该协议已计入奖补批次，考核不能再修改"
    ]
    assert Assessment.objects.get(agreement__household=fifteen[0]).income == Decimal("7000.00")


def test_a_second_import_replaces_the_figures_and_shows_old_and_new(
    fifteen: list[Any], officials: dict[str, Any], cooperative: Organisation
) -> None:
    sign_up(cooperative, fifteen[:2], officials["township"])
    assert run([row(h.code) for h in fifteen[:2]], officials["township"]).ok
    report = run([row(fifteen[0].code, 6000, 考核合格="否"), row(fifteen[1].code)], officials["township"])
    assert report.ok and report.rows_updated == 1 and report.rows_unchanged == 1
    change = report.changed_rows[0]
    assert change.fields["该产业家庭收入"] == ("7,000.00", "6,000.00")
    assert change.fields["考核合格"] == ("是", "否")
    assessment = Assessment.objects.get(agreement__household=fifteen[0])
    assert not assessment.reaches and assessment.confirmed_at is None


def test_a_cadre_and_a_village_cannot_import_assessments(
    fifteen: list[Any], officials: dict[str, Any], cooperative: Organisation
) -> None:
    for role in (Role.CADRE, Role.VILLAGE):
        report = run([row(fifteen[0].code)], make_user(role))
        assert [str(e) for e in report.errors] == ["您的角色不能导入考核记录。"]


def test_the_query_count_does_not_grow_with_the_rows(
    fifteen: list[Any], officials: dict[str, Any], cooperative: Organisation
) -> None:
    sign_up(cooperative, fifteen, officials["township"])
    assert run(
        [row(fifteen[0].code)], officials["township"], dry_run=True
    ).ok  # the user's permissions cached
    with CaptureQueriesContext(connection) as three:
        assert run([row(h.code) for h in fifteen[:3]], officials["township"], dry_run=True).ok
    with CaptureQueriesContext(connection) as fifteen_rows:
        assert run([row(h.code) for h in fifteen], officials["township"], dry_run=True).ok
    assert len(fifteen_rows) == len(three)


def test_the_command_needs_a_user_and_imports_as_that_user(
    fifteen: list[Any], officials: dict[str, Any], cooperative: Organisation, tmp_path: Path
) -> None:
    sign_up(cooperative, fifteen[:1], officials["township"])
    path = tmp_path / "考核.xlsx"
    path.write_bytes(xlsx_bytes([row(fifteen[0].code)], HEADER))
    with pytest.raises(CommandError):
        call_command("import_assessments", str(path), stdout=io.StringIO(), stderr=io.StringIO())
    out = io.StringIO()
    call_command("import_assessments", str(path), "--user", officials["township"].username, stdout=out)
    assessment = Assessment.objects.get()
    assert assessment.assessed_by == officials["township"] and assessment.confirmed_at is not None
    with pytest.raises(CommandError, match="没有这一在用的用户"):
        call_command("import_assessments", str(path), "--user", "nobody", stdout=io.StringIO())


def test_a_hostile_file_is_refused_with_a_message(officials: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "考核.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a workbook")
    with pytest.raises(CommandError):
        call_command(
            "import_assessments", str(path), "--user", officials["township"].username, stdout=io.StringIO()
        )
