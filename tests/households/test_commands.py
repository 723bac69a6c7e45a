"""The management commands clerks and operators run, and the import's query budget."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from households.models import Household, ImportBatch, User, Village

from ..factories import roster_row, xlsx_bytes

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_import_households_dry_run_then_real_then_again(tmp_path: Path) -> None:
    path = tmp_path / "花名册.xlsx"
    path.write_bytes(xlsx_bytes([roster_row(户编号="K1"), roster_row(户编号="K2")]))
    assert "预览（尚未写入）：共 2 行，将新增 2 户" in run("import_households", str(path), "--dry-run")
    assert Household.objects.count() == 0
    assert "共 2 行，已新增 2 户" in run("import_households", str(path))
    assert Household.objects.count() == 2
    assert "没有任何改动" in run("import_households", str(path))
    assert list(ImportBatch.objects.order_by("pk").values_list("status", flat=True)) == [
        "previewed",
        "imported",
        "imported",
    ]


def test_import_households_exits_non_zero_and_lists_every_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.xlsx"
    path.write_bytes(xlsx_bytes([roster_row(家庭人口="x"), roster_row(身份证号="123")]))
    out = io.StringIO()
    with pytest.raises(CommandError, match="2 处错误"):
        call_command("import_households", str(path), stdout=out, no_progress=True)
    assert "第 2 行 家庭人口 x：应为整数" in out.getvalue()
    assert "第 3 行 身份证号 123：应为 18 位" in out.getvalue()
    assert Household.objects.count() == 0


def test_import_households_refuses_a_file_that_is_not_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "roster.xlsx"
    path.write_text("户编号,户主姓名\n", encoding="utf-8")
    with pytest.raises(CommandError, match="不是 Excel 工作簿"):
        run("import_households", str(path))
    with pytest.raises(CommandError, match="找不到文件"):
        run("import_households", str(tmp_path / "missing.xlsx"))


def test_import_query_count_does_not_grow_with_rows(import_rows) -> None:  # type: ignore[no-untyped-def]
    """Set-based: 20 rows and 400 rows (one chunk each) cost the same number of queries."""
    counts = []
    for n, prefix in ((20, "Q"), (400, "R")):
        rows = [
            roster_row(
                户编号=f"{prefix}{i}",
                挂包干部=f"干部{i % 7}",
                挂包干部电话=f"1370000{int(prefix == 'R')}{i % 7:03d}",
            )
            for i in range(n)
        ]
        with CaptureQueriesContext(connection) as ctx:
            report = import_rows(rows)
        assert report.ok, report.errors[:3]
        counts.append(len(ctx.captured_queries))
    # bulk statements are split by batch size, so allow the extra batches of the larger file
    assert counts[1] <= counts[0] + 4, counts


def test_seed_demo_builds_a_city_with_one_user_per_role() -> None:
    run("seed_demo", "--households", "120")
    # 120 in the roster; the village funds' demo adds the members its joint-guarantee group of 7 lacks
    # in the demo village (codes VC…), never more.
    added = Household.objects.filter(code__startswith="VC").count()
    assert 0 <= added <= 7 and Household.objects.count() == 120 + added
    assert Household.objects.filter(village__name="红坡村").count() >= 7
    roles = set(User.objects.exclude(role="").values_list("role", flat=True))
    assert roles == {"cadre", "village", "township", "city", "approver", "auditor"}
    assert Village.objects.filter(is_poor_village=True).count() == 20
    for username in ("city", "jiantang", "hongpo", "cadre", "approver", "auditor", "admin"):
        assert User.objects.get(username=username).check_password("demo2017")
    assert User.objects.get(username="cadre").households.exists()
    from disbursements.models import BankAccount, BatchLine

    waiting = BatchLine.objects.filter(batch__status="approved").values_list("account_id", flat=True)
    assert waiting and set(BankAccount.objects.values_list("account_id", flat=True)) == set(waiting)  # 一卡通
    run("seed_demo", "--households", "120")  # again: nothing duplicated
    assert Household.objects.count() == 120 + added
