"""公示 as villagers and officials meet them: printed sheets, the lifecycle, the payout gate."""

from __future__ import annotations

import datetime
import io
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.test import Client
from pypdf import PdfReader

from disbursements import notices
from households.files import file_url
from households.models import Household, Job, Role, Village
from subsidies import services as plan_services

from ..factories import jpeg_upload, make_user, roster_row

pytestmark = pytest.mark.django_db


def pdf_text(data: bytes) -> tuple[str, int]:
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages), len(reader.pages)


def flat(text: str) -> str:
    return "".join(text.split())


def test_village_grant_notice_lists_every_planned_household_with_masked_ids(
    city_year: dict[str, Any], tmp_path: Path
) -> None:
    output = tmp_path / "红坡村.pdf"
    call_command(
        "print_notice",
        "--kind",
        "grant",
        "--year",
        "2017",
        "--village",
        "红坡村",
        "--output",
        str(output),
        "--start",
        "2017-03-01",
        stdout=io.StringIO(),
    )
    text, pages = pdf_text(output.read_bytes())
    body = flat(text)
    assert "2017年度红坡村精准扶贫特色产业到户扶持资金公示" in body
    households = Household.objects.filter(village__name="红坡村", plans__year=2017)
    assert households.count() == 3  # H1 H2 H3; X1 (2015) has no plan
    for household in households:
        assert household.id_number not in body
        assert household.id_number[:6] + "********" + household.id_number[-4:] in body
    assert "合计" in body and "共3户" in body
    assert "4,600.00" in body  # H1 猪 3 → 1,500 + H2 羊 6 → 2,000 + H3 鸡 55 → 1,100
    assert "2017年3月1日至2017年3月10日（共10天）" in body
    assert "12317" in body
    assert pages == 1


def test_township_notice_is_one_pdf_with_a_sheet_per_village(
    city_year: dict[str, Any], tmp_path: Path
) -> None:
    output = tmp_path / "建塘镇.pdf"
    out = io.StringIO()
    call_command(
        "print_notice",
        "--kind",
        "grant",
        "--year",
        "2017",
        "--township",
        "建塘镇",
        "--output",
        str(output),
        stdout=out,
    )
    assert "已生成 2 个村" in out.getvalue()
    body = flat(pdf_text(output.read_bytes())[0])
    assert "红坡村精准扶贫" in body and "吉迪村精准扶贫" in body
    assert "红旗村" not in body  # another township
    with pytest.raises(CommandError, match="找不到乡镇"):
        call_command(
            "print_notice", "--kind", "grant", "--year", "2017", "--township", "北京", "--output", str(output)
        )
    with pytest.raises(CommandError, match="不得少于 7 天"):
        call_command(
            "print_notice",
            "--kind",
            "grant",
            "--year",
            "2017",
            "--village",
            "红坡村",
            "--days",
            "6",
            "--output",
            str(output),
        )


def test_long_lists_paginate_with_repeated_headers_and_only_chinese_fonts(
    import_rows, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    rows = [roster_row(户编号=f"L{i:03d}", 户主姓名=f"达瓦{i}", 村民小组=f"{1 + i % 6}组") for i in range(70)]
    assert import_rows(rows).ok
    for household in Household.objects.filter(code__startswith="L"):
        assert household.cadre is not None
        plan_services.plan_save(
            household=household, year=2017, species="猪", quantity=Decimal(2), actor=household.cadre
        )
    sheet = notices.build_sheet(
        kind="grant", year=2017, village=Village.objects.get(name="红坡村"), user=None
    )
    data = notices.render_sheets([sheet])
    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) >= 2
    for page in reader.pages:
        assert "户主姓名" in page.extract_text()  # the table header repeats on every page
    assert f"第1页/共{len(reader.pages)}页" in flat(reader.pages[0].extract_text())
    assert "70,000.00" in flat(pdf_text(data)[0])  # 70 × 1,000.00
    if shutil.which("pdffonts"):
        path = tmp_path / "long.pdf"
        path.write_bytes(data)
        fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
        families = {line.split()[0].split("+")[-1] for line in fonts.splitlines()[2:] if line.strip()}
        assert families <= {"Noto-Sans-CJK-SC", "Noto-Sans-CJK-SC-Bold"}, families


def test_issued_notice_is_frozen_and_reprints_as_issued(city_year: dict[str, Any]) -> None:
    village_user = city_year["village_user"]
    with pytest.raises(ValidationError, match="不得少于 7 天"):
        notices.notice_issue(kind="grant", year=2017, village=city_year["hongpo"], actor=village_user, days=6)
    notice = notices.notice_issue(
        kind="grant",
        year=2017,
        village=city_year["hongpo"],
        actor=village_user,
        start=datetime.date(2017, 3, 1),
    )
    assert notice.period_days == 10 and notice.period_end == datetime.date(2017, 3, 10)
    issued_pdf = notice.pdf.read()
    # The plan changes afterwards: the issued notice does not.
    household = Household.objects.get(code="H1")
    plan_services.plan_save(
        household=household,
        year=2017,
        species="猪",
        quantity=Decimal(4),
        actor=household.cadre,  # type: ignore[arg-type]
    )
    notice.refresh_from_db()
    masked = household.id_number[:6] + "********" + household.id_number[-4:]
    assert [r[5] for r in notice.rows if r[2] == masked] == ["1,500.00"]  # as issued, not the new 2,000.00
    assert notices.build_sheet(
        kind="grant", year=2017, village=city_year["hongpo"], user=None
    ).total == Decimal("5100.00")
    client = Client()
    client.force_login(village_user)
    reprint = client.get(f"/admin/disbursements/notice/{notice.pk}/pdf/")
    assert b"".join(reprint.streaming_content) == issued_pdf  # type: ignore[attr-defined]
    other = make_user(Role.VILLAGE, village=city_year["jidi"])
    client.force_login(other)
    assert client.get(f"/admin/disbursements/notice/{notice.pk}/pdf/").status_code == 404


def test_notice_lifecycle_post_object_resolve_close(city_year: dict[str, Any]) -> None:
    village_user = city_year["village_user"]
    notice = notices.notice_issue(
        kind="grant",
        year=2017,
        village=city_year["hongpo"],
        actor=village_user,
        start=datetime.date(2017, 3, 1),
    )
    with pytest.raises(ValidationError, match="尚未登记张贴"):
        notices.notice_close(notice=notice, actor=village_user)
    notices.notice_post(notice=notice, actor=village_user, photo=jpeg_upload("board.jpg"))
    objection = notices.objection_record(
        notice=notice,
        actor=village_user,
        raised_by="村民 卓玛",
        content="H2 家里只有 4 只羊",
        received_on=datetime.date(2017, 3, 4),
    )
    with pytest.raises(ValidationError, match="异议尚未处理"):
        notices.notice_close(notice=notice, actor=village_user)
    notices.objection_resolve(
        objection=objection,
        actor=village_user,
        resolution="核实后按 6 只计",
        resolved_on=datetime.date(2017, 3, 6),
    )
    with pytest.raises(ValidationError, match="尚未结束"):
        notices.notice_close(notice=notice, actor=village_user, today=datetime.date(2017, 3, 10))
    closed = notices.notice_close(notice=notice, actor=village_user, today=datetime.date(2017, 3, 11))
    assert closed.status == "closed"


def test_admin_print_is_scoped_and_the_township_print_runs_as_a_job(
    city_year: dict[str, Any], django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    township_user = city_year["township_user"]
    client = Client()
    client.force_login(township_user)
    page = client.get("/admin/disbursements/notice/print/").content.decode()
    assert "红坡村" in page and "红旗村" not in page
    hongqi = Village.objects.get(name="红旗村")
    response = client.post(
        "/admin/disbursements/notice/print/", {"kind": "grant", "year": 2017, "village": hongqi.pk}
    )
    assert (
        response.status_code == 200 and "选择一个有效的选项" in response.content.decode()
    )  # not offered, refused
    hongpo = city_year["hongpo"]
    response = client.post(
        "/admin/disbursements/notice/print/", {"kind": "grant", "year": 2017, "village": hongpo.pk}
    )
    assert response["Content-Type"] == "application/pdf"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/disbursements/notice/print/",
            {"kind": "grant", "year": 2017, "township": hongpo.township_id},
        )
    job = Job.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/admin/households/job/{job.pk}/change/"
    job.refresh_from_db()
    assert job.kind == "notice_print" and job.status == "done" and job.done == job.total == 10
    progress = client.get(response["Location"]).content.decode()
    assert "已完成" in progress and "10/10 个村" in progress
    state = client.get(f"/admin/households/job/{job.pk}/status/").json()
    assert state["status"] == "done" and state["file_url"] == file_url(job, "file")
    pdf = client.get(state["file_url"])
    assert pdf["Content-Type"] == "application/pdf"
    assert "吉迪村" in flat(pdf_text(b"".join(pdf.streaming_content))[0])  # type: ignore[attr-defined]
    client.force_login(make_user(Role.TOWNSHIP, township=hongqi.township))
    assert client.get(f"/admin/households/job/{job.pk}/change/").status_code == 404
    assert client.get(state["file_url"]).status_code == 404


def test_fonts_are_subset_by_harfbuzz_not_python() -> None:
    from households.pdf import harfbuzz_subset_available

    assert harfbuzz_subset_available()
