"""The roster import as a clerk meets it: what is accepted, what is refused and how it is said."""

from __future__ import annotations

import pytest

from households.models import CadreAssignment, Household, HouseholdChange, ImportBatch, User, VillageGroup

from ..factories import ROSTER_HEADER, id_number, roster_row

pytestmark = pytest.mark.django_db


def errors(report) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(e) for e in report.errors]


def test_new_roster_is_written_with_groups_cadres_and_audit(import_rows) -> None:  # type: ignore[no-untyped-def]
    report = import_rows(
        [
            roster_row(户编号="A1", 村民小组="一组"),
            roster_row(户编号="A2", 村民小组="二组", 挂包干部="王芳", 挂包干部电话="13800000002"),
            roster_row(户编号="A3", 村民小组="一组", 挂包干部="", 挂包干部电话=""),
        ]
    )
    assert report.ok, errors(report)
    assert (report.rows_new, report.rows_updated, report.rows_unchanged) == (3, 0, 0)
    assert Household.objects.count() == 3
    assert set(VillageGroup.objects.values_list("name", flat=True)) == {"一组", "二组"}
    assert set(User.objects.filter(role="cadre").values_list("name", "phone")) == {
        ("李明", "13800000001"),
        ("王芳", "13800000002"),
    }
    a1 = Household.objects.get(code="A1")
    assert a1.cadre is not None and a1.cadre.name == "李明"
    assert a1.village.name == "红坡村" and a1.village.township.name == "建塘镇"
    assert CadreAssignment.objects.filter(household=a1, ended_at__isnull=True).count() == 1
    assert HouseholdChange.objects.filter(action="create").count() == 3
    batch = ImportBatch.objects.get()
    assert batch.status == "imported" and batch.rows_new == 3 and len(batch.file_sha256) == 64


def test_reimport_of_same_file_changes_nothing_and_says_so(import_rows) -> None:  # type: ignore[no-untyped-def]
    rows = [roster_row(户编号=f"B{i}") for i in range(5)]
    import_rows(rows)
    changes_before = HouseholdChange.objects.count()
    report = import_rows(rows)
    assert report.ok
    assert (report.rows_new, report.rows_updated, report.rows_unchanged) == (0, 0, 5)
    assert report.nothing_changed
    assert "没有任何改动" in report.summary()
    assert HouseholdChange.objects.count() == changes_before


def test_reimport_with_changes_updates_by_code_and_reports_what_changed(import_rows) -> None:  # type: ignore[no-untyped-def]
    import_rows([roster_row(户编号="C1", 家庭人口=4, 劳动力=2), roster_row(户编号="C2")])
    report = import_rows(
        [
            roster_row(户编号="C1", 家庭人口=5, 劳动力=3, 挂包干部="王芳", 挂包干部电话="13800000002"),
        ]
    )
    assert report.ok, errors(report)
    assert (report.rows_new, report.rows_updated) == (0, 1)
    change = report.changed_rows[0]
    assert change.key == "C1"
    assert change.fields["家庭人口"] == ("4", "5")
    assert change.fields["劳动力"] == ("2", "3")
    assert change.fields["挂包干部"] == ("李明（13800000001）", "王芳（13800000002）")
    household = Household.objects.get(code="C1")
    assert household.size == 5
    # The cadre history is kept: the old assignment closed, a new one open.
    history = list(CadreAssignment.objects.filter(household=household).order_by("started_at", "pk"))
    assert [a.cadre.name for a in history] == ["李明", "王芳"]
    assert history[0].ended_at is not None and history[1].ended_at is None
    audit = HouseholdChange.objects.filter(household=household, action="update").get()
    assert audit.changes["家庭人口"] == ["4", "5"]


def test_dry_run_reports_the_same_counts_and_writes_nothing(import_rows) -> None:  # type: ignore[no-untyped-def]
    report = import_rows([roster_row(), roster_row()], dry_run=True)
    assert report.ok and report.rows_new == 2
    assert "预览" in report.summary()
    assert Household.objects.count() == 0
    assert VillageGroup.objects.count() == 0
    assert not User.objects.filter(role="cadre").exists()
    assert ImportBatch.objects.get().status == "previewed"


def test_what_clerks_really_write_is_accepted(import_rows) -> None:  # type: ignore[no-untyped-def]
    from stdnum.cn import ric

    lower_x_id = None
    for seq in range(100, 999):  # find a number whose check digit is X, written in lower case
        candidate = f"53342119800101{seq}"
        if ric.calc_check_digit(candidate + "0") == "X":
            lower_x_id = candidate + "x"
            break
    assert lower_x_id is not None
    report = import_rows(
        [
            roster_row(户编号=" D1 ", 户主姓名=" 卓玛 ", 村委会="红坡"),
            roster_row(户编号="D2", 村委会="红坡村委会", 家庭人口="3", 劳动力="1"),
            roster_row(户编号="D3", 村委会="红坡村民委员会", 乡镇="建塘", 身份证号=lower_x_id),
            roster_row(户编号="D4", 村委会=" 吉迪村 ", 巩固提升="是", 家庭人口=3.0),
            roster_row(户编号=20001, 联系电话=13912345678, 巩固提升=None),
        ]
    )
    assert report.ok, errors(report)
    assert Household.objects.get(code="D1").head_name == "卓玛"
    assert Household.objects.get(code="D2").size == 3
    assert Household.objects.get(code="D3").id_number.endswith("X")
    assert Household.objects.get(code="D4").consolidation is True
    assert Household.objects.get(code="20001").phone == "13912345678"
    assert set(Household.objects.values_list("village__name", flat=True)) == {"红坡村", "吉迪村"}


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"身份证号": 5.33421198001011e17},
            "第 2 行 身份证号 5.33421198001011e+17：身份证号被 Excel 存成了数字",
        ),
        ({"身份证号": "533421800101123"}, "第 2 行 身份证号 533421800101123：15 位旧身份证号不再受理"),
        ({"身份证号": "533421198001011230"}, "校验位错误"),
        ({"身份证号": "533421198002301234"}, "出生日期无效"),
        ({"乡镇": "北京镇"}, "第 2 行 乡镇 北京镇：不是香格里拉市的乡镇"),
        ({"村委会": "联合村"}, "第 2 行 村委会 联合村：属于小中甸镇，不属于建塘镇"),
        ({"乡镇": "虎跳峡镇", "村委会": "桥头"}, "名称有歧义，可能是 桥头居委会、桥头村"),
        ({"劳动力": 5, "家庭人口": 4}, "第 2 行 劳动力 5：不能多于家庭人口（4）"),
        ({"家庭人口": 0, "劳动力": 0}, "第 2 行 家庭人口 0：至少为 1"),
        ({"家庭人口": "三"}, "第 2 行 家庭人口 三：应为整数"),
        ({"户主姓名": "  "}, "第 2 行 户主姓名 （空）：不能为空"),
        ({"挂包干部电话": ""}, "第 2 行 挂包干部电话 （空）：挂包干部“李明”必须填写电话"),
        ({"挂包干部": "", "挂包干部电话": "13800000009"}, "填写了挂包干部电话，但没有填写姓名"),
        ({"脱贫年度": 2030}, "第 2 行 脱贫年度 2030：应为 2014 至 2020 之间的年份"),
        ({"巩固提升": "可能"}, "第 2 行 巩固提升 可能：应填“是”或“否”"),
        ({"联系电话": "12345"}, "第 2 行 联系电话 12345：应为 11 位手机号或带区号的固定电话"),
    ],
)
def test_bad_cells_are_refused_with_row_column_value_and_reason(import_rows, overrides, expected) -> None:  # type: ignore[no-untyped-def]
    report = import_rows([roster_row(**overrides), roster_row()])
    assert not report.ok
    assert any(expected in e for e in errors(report)), errors(report)
    assert Household.objects.count() == 0  # all or nothing: the good row was not written either


def test_every_bad_row_is_reported_and_nothing_written(import_rows) -> None:  # type: ignore[no-untyped-def]
    rows = [roster_row() for _ in range(10)]
    rows[2][ROSTER_HEADER.index("家庭人口")] = "x"
    rows[7][ROSTER_HEADER.index("身份证号")] = "123"
    report = import_rows(rows)
    rendered = errors(report)
    assert any(e.startswith("第 4 行 家庭人口 x") for e in rendered)
    assert any(e.startswith("第 9 行 身份证号 123") for e in rendered)
    assert Household.objects.count() == 0
    assert ImportBatch.objects.get().status == "refused"


def test_duplicates_in_the_file_name_the_first_row(import_rows) -> None:  # type: ignore[no-untyped-def]
    same_id = id_number(seq=777)
    report = import_rows(
        [
            roster_row(户编号="E1", 身份证号=same_id),
            roster_row(户编号="E1"),
            roster_row(户编号="E3", 身份证号=same_id),
        ]
    )
    rendered = errors(report)
    assert "第 3 行 户编号 E1：与第 2 行重复" in rendered
    assert f"第 4 行 身份证号 {same_id}：与第 2 行重复" in rendered
    assert Household.objects.count() == 0


def test_id_number_already_in_another_household_is_refused(import_rows) -> None:  # type: ignore[no-untyped-def]
    taken = id_number(seq=555)
    import_rows([roster_row(户编号="F1", 身份证号=taken)])
    report = import_rows([roster_row(户编号="F2", 身份证号=taken)])
    assert f"第 2 行 身份证号 {taken}：已登记在户 F1，一人只能属于一户" in errors(report)
    assert not Household.objects.filter(code="F2").exists()


def test_cadre_phone_with_another_name_is_refused(import_rows) -> None:  # type: ignore[no-untyped-def]
    import_rows([roster_row(挂包干部="李明", 挂包干部电话="13800000001")])
    report = import_rows([roster_row(挂包干部="张三", 挂包干部电话="13800000001")])
    assert any("已登记为挂包干部“李明”，姓名不一致" in e for e in errors(report))


def test_missing_required_column_is_named_and_unknown_columns_warned(import_rows) -> None:  # type: ignore[no-untyped-def]
    header = [h for h in ROSTER_HEADER if h != "身份证号"] + ["备注"]
    row = roster_row()
    del row[ROSTER_HEADER.index("身份证号")]
    report = import_rows([[*row, "x"]], header=header)
    assert errors(report) == ["缺少必填列：身份证号"]
    assert Household.objects.count() == 0

    report = import_rows([[*roster_row(), "备注内容"]], header=[*ROSTER_HEADER, "备注"])
    assert report.ok
    assert report.warnings == ["已忽略以下未知列：备注"]


def test_header_spacing_and_width_do_not_matter(import_rows) -> None:  # type: ignore[no-untyped-def]
    header = [f" {h} " for h in ROSTER_HEADER]
    report = import_rows([roster_row()], header=header)
    assert report.ok, errors(report)


def test_township_user_cannot_import_into_another_township(
    import_rows, township_user, other_township_user
) -> None:  # type: ignore[no-untyped-def]
    report = import_rows([roster_row(乡镇="虎跳峡镇", 村委会="红旗村")], actor=township_user)
    assert "第 2 行 乡镇 虎跳峡镇：超出您的管辖范围" in errors(report)
    # …nor rewrite a household of another township by reusing its code.
    import_rows([roster_row(户编号="G1", 乡镇="虎跳峡镇", 村委会="红旗村")], actor=other_township_user)
    report = import_rows([roster_row(户编号="G1")], actor=township_user)
    assert "第 2 行 户编号 G1：该户属于您管辖范围以外的地区，不能修改" in errors(report)
    assert Household.objects.get(code="G1").village.name == "红旗村"


def test_roles_without_import_permission_are_refused(import_rows, auditor_user) -> None:  # type: ignore[no-untyped-def]
    report = import_rows([roster_row()], actor=auditor_user)
    assert errors(report) == ["您的角色不能导入户花名册。"]
    assert Household.objects.count() == 0


def test_blank_rows_are_skipped_and_row_numbers_stay_excel_numbers(import_rows) -> None:  # type: ignore[no-untyped-def]
    report = import_rows([roster_row(), [None] * len(ROSTER_HEADER), roster_row(家庭人口="x")])
    assert any(e.startswith("第 4 行 家庭人口 x") for e in errors(report))


def test_the_demo_header_is_the_imports_header() -> None:
    from households.demo import ROSTER_HEADER as DEMO_HEADER
    from households.roster import COLUMNS

    assert [c.header for c in COLUMNS] == DEMO_HEADER


def test_a_new_cadre_never_collides_with_an_old_username(import_rows) -> None:  # type: ignore[no-untyped-def]
    import_rows([roster_row(挂包干部="李明", 挂包干部电话="13800000001")])
    old = User.objects.get(phone="13800000001")
    old.phone = "13900000009"  # 李明 changed phone in the admin; his username stays gb13800000001
    old.save()
    report = import_rows([roster_row(挂包干部="赵敏", 挂包干部电话="13800000001")])
    assert report.ok, errors(report)
    assert User.objects.get(phone="13800000001").username == "gb13800000001-2"
