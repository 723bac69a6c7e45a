"""帮扶协议 import: the roster's frame and messages, the one-claim rule across the file and the database."""

from __future__ import annotations

import datetime
import io
from typing import Any

import pytest
from django.core.management import call_command

from enterprises.agreement_import import agreement_import
from enterprises.models import Agreement, Organisation
from households.imports import sha256_of

from ..factories import xlsx_bytes
from .conftest import sign_up

pytestmark = pytest.mark.django_db

HEADER = [
    "组织名称",
    "户编号",
    "年度",
    "帮扶方式",
    "产业",
    "签订日期",
    "开始日期",
    "结束日期",
    "计入本组织奖补",
]


def row(code: str, org: str = "香格里拉市高原牦牛养殖专业合作社", **kw: Any) -> list[Any]:
    values = {
        "组织名称": org,
        "户编号": code,
        "年度": 2017,
        "帮扶方式": "订单种植/养殖、技术指导",
        "产业": "牦牛养殖",
        "签订日期": datetime.date(2017, 3, 1),
        "开始日期": "2017-03-01",
        "结束日期": "2017年12月31日",
        "计入本组织奖补": "",
    }
    values.update(kw)
    return [values[h] for h in HEADER]


def run(rows: list[list[Any]], actor: Any, dry_run: bool = False) -> Any:
    data = xlsx_bytes(rows, HEADER)
    from households.imports import read_xlsx

    header, values = read_xlsx(io.BytesIO(data))
    return agreement_import(
        header=header,
        rows=values,
        actor=actor,
        file_name="协议.xlsx",
        file_sha256=sha256_of(io.BytesIO(data)),
        dry_run=dry_run,
    )


def test_fifteen_agreements_import_and_a_second_run_changes_nothing(
    fifteen: list[Any], officials: dict[str, Any], cooperative: Organisation
) -> None:
    rows = [row(h.code) for h in fifteen]
    preview = run(rows, officials["township"], dry_run=True)
    assert preview.ok and preview.rows_new == 15 and not Agreement.objects.exists()
    report = run(rows, officials["township"])
    assert report.ok and report.rows_new == 15
    agreement = Agreement.objects.get(household=fifteen[0])
    assert agreement.ways == ["订单种植/养殖", "技术指导"] and agreement.ends_on == datetime.date(
        2017, 12, 31
    )
    again = run(rows, officials["township"])
    assert again.ok and again.rows_new == 0 and again.rows_unchanged == 15


def test_bad_rows_are_named_and_nothing_is_written(
    fifteen: list[Any], officials: dict[str, Any], cooperative: Organisation
) -> None:
    other = Organisation.objects.create(
        name="建塘镇中蜂养殖协会",
        kind="grower",
        operating_model="grower",
        leader_name="次里",
        leader_id_number=fifteen[3].id_number,
        township=cooperative.township,
        industry="中蜂",
    )
    sign_up(other, [fifteen[2]], officials["township"])
    rows = [
        row(fifteen[0].code),
        row(fifteen[0].code, org="建塘镇中蜂养殖协会"),  # claimed twice in the file
        row(fifteen[1].code, 帮扶方式="放牧"),
        row(fifteen[2].code),  # already counts toward the association
        row("NOPE"),
        row(fifteen[4].code, 结束日期="2017-02-01"),
        row(fifteen[5].code, 签订日期="三月"),
    ]
    report = run(rows, officials["township"])
    messages = [str(e) for e in report.errors]
    assert messages == [
        f"第 3 行 户编号 {fifteen[0].code}：该户 2017 年度已计入“香格里拉市高原牦牛养殖专业合作社”的奖补（一户一年只计入一个组织），不能再计入本组织（第 2 行）",
        "第 4 行 帮扶方式 放牧：不在政策列出的帮扶方式中",
        "第 7 行 结束日期 2017-02-01：不能早于开始日期",
        "第 8 行 签订日期 三月：应为日期，如 2017-03-01",
        f"第 5 行 户编号 {fifteen[2].code}：该户 2017 年度已计入“建塘镇中蜂养殖协会”的奖补（一户一年只计入一个组织），不能再计入本组织。",
        "第 6 行 户编号 NOPE：系统中没有这一户，请先导入户花名册",
    ]
    assert Agreement.objects.count() == 1


def test_the_command_imports_and_exits_nonzero_on_errors(
    tmp_path: Any, fifteen: list[Any], officials: dict[str, Any], cooperative: Organisation
) -> None:
    good = tmp_path / "good.xlsx"
    good.write_bytes(xlsx_bytes([row(h.code) for h in fifteen[:3]], HEADER))
    out = io.StringIO()
    call_command("import_agreements", str(good), "--dry-run", stdout=out)
    assert not Agreement.objects.exists()
    call_command("import_agreements", str(good), stdout=out)
    assert Agreement.objects.count() == 3
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(xlsx_bytes([row("NOPE")], HEADER))
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="1 处错误"):
        call_command("import_agreements", str(bad), stdout=out, stderr=io.StringIO())
    assert "第 2 行 户编号 NOPE" in out.getvalue()


def test_a_village_may_not_import(fifteen: list[Any], cooperative: Organisation) -> None:
    from households.models import Role

    from ..factories import make_user

    report = run([row(fifteen[0].code)], make_user(Role.VILLAGE, "hp"))
    assert [str(e) for e in report.errors] == ["您的角色不能导入帮扶协议。"]
