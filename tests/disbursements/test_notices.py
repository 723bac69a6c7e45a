"""公示 as villagers and officials meet them: printed sheets, the lifecycle, the payout gate."""

from __future__ import annotations

import datetime
import io
import re
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


def masked(household: Household) -> str:
    return household.id_number[:6] + "********" + household.id_number[-4:]


def row_of(notice: Any, household: Household) -> int:
    """The 序号 of the household's row on the notice, found as a villager would: by the masked ID."""
    return next(n for n, row in enumerate(notice.rows, start=1) if row[2] == masked(household))


def pdftotext_pages(data: bytes, tmp_path: Path) -> list[str]:
    """Each page's text as poppler lays it out (-layout keeps a table row on one line)."""
    path = tmp_path / "notice.pdf"
    path.write_bytes(data)
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    return text.split("\f")[: len(PdfReader(io.BytesIO(data)).pages)]


def amounts_in(line: str) -> list[Decimal]:
    return [Decimal(a.replace(",", "")) for a in re.findall(r"\d[\d,]*\.\d\d", line)]


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
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".part") == []  # nothing half-written


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
    with pytest.raises(ValidationError, match=notices.MSG_OBJECTION_ROW):
        notices.objection_record(
            notice=notice,
            actor=village_user,
            row=None,
            raised_by="村民 卓玛",
            content="有一户不符合条件",
            received_on=datetime.date(2017, 3, 4),
        )
    with pytest.raises(ValidationError, match=notices.MSG_OBJECTION_ROW):
        notices.objection_record(
            notice=notice,
            actor=village_user,
            row=len(notice.rows) + 1,
            raised_by="村民 卓玛",
            content="有一户不符合条件",
            received_on=datetime.date(2017, 3, 4),
        )
    objection = notices.objection_record(
        notice=notice,
        actor=village_user,
        row=row_of(notice, Household.objects.get(code="H2")),
        raised_by="村民 卓玛",
        content="H2 家里只有 4 只羊",
        received_on=datetime.date(2017, 3, 4),
    )
    assert objection.payee is not None and objection.payee.grant_household.household.code == "H2"  # type: ignore[attr-defined]
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


# --- the printed sheet of a big village --------------------------------------------------------

LONG_NAMES = ("农布次仁", "格桑央宗", "阿旺次仁多吉", "扎西拉姆", "鲁茸此里", "次仁旺姆")
GROUPS = ("尼史村民小组", "吾日村民小组", "达拉村民小组", "一组")


@pytest.fixture
def big_village(import_rows) -> Village:  # type: ignore[no-untyped-def]
    """90 households of 红坡村 with 4–6 character Tibetan names, long 村民小组 names, and plans of
    every size (some planting too, so the 扶持项目 column holds two projects)."""
    rows = [
        roster_row(户编号=f"B{i:03d}", 户主姓名=LONG_NAMES[i % 6], 村民小组=GROUPS[i % 4]) for i in range(90)
    ]
    assert import_rows(rows).ok
    for i, household in enumerate(Household.objects.filter(code__startswith="B").order_by("code")):
        extra: dict[str, Any] = {"crops": "玛咖", "planting_area": Decimal("1.5")} if i % 5 == 0 else {}
        plan_services.plan_save(
            household=household,
            year=2017,
            species="猪",
            quantity=Decimal(1 + i % 4),
            actor=household.cadre,  # type: ignore[arg-type]
            **extra,
        )
    return Village.objects.get(name="红坡村")


@pytest.mark.skipif(not shutil.which("pdftotext"), reason="needs poppler-utils (scripts/test installs it)")
def test_a_90_household_notice_fits_4_pages_names_whole_with_page_subtotals_and_one_total(
    big_village: Village, tmp_path: Path
) -> None:
    from subsidies.models import HouseholdPlan

    sheet = notices.build_sheet(kind="grant", year=2017, village=big_village, user=None)
    assert len(sheet.rows) == 90
    data = notices.render_sheets([sheet])
    pages = pdftotext_pages(data, tmp_path)
    assert len(pages) <= 4, len(pages)

    # Each long name and 村民小组 name whole, on the line of its row: never broken over two lines.
    everything = [line for page in pages for line in page.splitlines()]
    for name in (*LONG_NAMES, *GROUPS[:3]):
        whole = [line for line in everything if name in line]
        assert len(whole) == sum(name in row for row in sheet.rows), name
        assert not [line for line in everything if name[:3] in line and name not in line], name

    # Every page: the header row, at least 25 rows (but the last), and its own 本页小计 of its rows.
    sums_of_pages = [Decimal(0)] * 4
    for number, page in enumerate(pages, start=1):
        lines = page.splitlines()
        rows = [line for line in lines if "********" in line]
        assert any("户主姓名" in line and "产后" in line for line in lines), number
        assert len(rows) >= 25 or number == len(pages), (number, len(rows))
        subtotal = [line for line in lines if "本页小计" in line]
        assert len(subtotal) == 1, number
        expected = [sum((amounts_in(r)[-4:][c] for r in rows), Decimal(0)) for c in range(4)]
        assert amounts_in(subtotal[0]) == expected, number
        sums_of_pages = [a + b for a, b in zip(sums_of_pages, expected, strict=True)]
        assert ("合计" in page) is (number == len(pages)), number

    # One 合计, on the last page, with every money column summed: 补助金额, 产前, 产中, 产后.
    total_lines = [line for line in pages[-1].splitlines() if "合计" in line]
    assert len(total_lines) == 1 and "共 90 户" in total_lines[0]
    plans = HouseholdPlan.objects.filter(household__code__startswith="B", year=2017)
    expected_total = [
        sum((getattr(p, f) for p in plans), Decimal(0))
        for f in ("grant_total", "tranche1", "tranche2", "tranche3")
    ]
    assert amounts_in(total_lines[0]) == expected_total == sums_of_pages
    assert sheet.total == expected_total[0]  # what the notice records as its total
    assert expected_total[0] == expected_total[1] + expected_total[2] + expected_total[3] > 0


def test_each_village_of_a_township_print_is_numbered_on_its_own(
    city_year: dict[str, Any], tmp_path: Path
) -> None:
    villages = [city_year["hongpo"], city_year["jidi"]]
    sheets = [notices.build_sheet(kind="grant", year=2017, village=v, user=None) for v in villages]
    reader = PdfReader(io.BytesIO(notices.render_sheets(sheets)))
    assert len(reader.pages) == 2
    for page in reader.pages:  # posted on two boards: each sheet is 第1页/共1页, not 第2页/共2页
        assert "第1页/共1页" in flat(page.extract_text())


# --- 登记张贴: a photo and a date, fixed once recorded -------------------------------------------


def test_posting_needs_a_photo_and_the_photo_can_never_be_cleared_or_replaced(
    city_year: dict[str, Any],
) -> None:
    from django.db import IntegrityError, transaction
    from django.utils import timezone

    from disbursements.models import Notice
    from disbursements.models.notices import MSG_PHOTO_FIXED

    village_user = city_year["village_user"]
    notice = notices.notice_issue(kind="grant", year=2017, village=city_year["hongpo"], actor=village_user)
    with pytest.raises(ValidationError, match=notices.MSG_POST_PHOTO):
        notices.notice_post(notice=notice, actor=village_user, photo=None)
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    with pytest.raises(ValidationError, match=notices.MSG_POST_DATE_FUTURE):
        notices.notice_post(notice=notice, actor=village_user, photo=jpeg_upload(), posted_on=tomorrow)
    with pytest.raises(ValidationError, match="公示由村委会或乡镇"):
        notices.notice_post(notice=notice, actor=city_year["cadres"]["李明"], photo=jpeg_upload())
    notice.refresh_from_db()
    assert notice.status == "issued" and not notice.posted_photo

    posted = notices.notice_post(notice=notice, actor=village_user, photo=jpeg_upload("board.jpg"))
    assert posted.status == "posted" and posted.posted_on == timezone.localdate() and posted.posted_photo
    with pytest.raises(ValidationError, match=notices.MSG_ALREADY_POSTED):
        notices.notice_post(notice=posted, actor=village_user, photo=jpeg_upload("other.jpg"))

    # Not by the model either: clearing or swapping the photo is refused however it is attempted.
    photo = posted.posted_photo.name
    for replacement in ("", "notices/photos/other.jpg"):
        posted.posted_photo = replacement  # type: ignore[assignment]
        with pytest.raises(ValidationError, match=MSG_PHOTO_FIXED):
            posted.save()
    with pytest.raises(IntegrityError), transaction.atomic():
        Notice.objects.filter(pk=posted.pk).update(posted_photo="")
    assert Notice.objects.get(pk=posted.pk).posted_photo.name == photo


def test_posting_in_the_admin_is_its_own_page_and_refuses_without_a_photo(city_year: dict[str, Any]) -> None:
    from django.urls import reverse
    from django.utils import timezone

    village_user = city_year["village_user"]
    notice = notices.notice_issue(kind="grant", year=2017, village=city_year["hongpo"], actor=village_user)
    client = Client()
    client.force_login(village_user)
    change = client.get(reverse("admin:disbursements_notice_change", args=[notice.pk])).content.decode()
    post_url = reverse("admin:disbursements_notice_post", args=[notice.pk])
    assert f'href="{post_url}"' in change and "登记张贴" in change
    page = client.get(post_url).content.decode()
    assert f'value="{timezone.localdate().isoformat()}"' in page  # the posting date, today (ISO)
    refused = client.post(post_url, {"posted_on": timezone.localdate().isoformat()})
    assert refused.status_code == 200 and "这个字段是必填项" in refused.content.decode()
    notice.refresh_from_db()
    assert notice.status == "issued"
    done = client.post(
        post_url, {"posted_on": timezone.localdate().isoformat(), "photo": jpeg_upload("board.jpg")}
    )
    assert done.status_code == 302
    notice.refresh_from_db()
    assert notice.status == "posted" and notice.posted_photo
    # Nothing on the notice page edits it in place: a forged change POST is refused.
    forged = client.post(
        reverse("admin:disbursements_notice_change", args=[notice.pk]), {"posted_photo-clear": "on"}
    )
    assert forged.status_code == 403
    assert (
        "登记张贴"
        not in client.get(reverse("admin:disbursements_notice_change", args=[notice.pk]))
        .content.decode()
        .split("object-tools")[1][:400]
    )
    photo = client.get(f"/files/disbursements/notice/{notice.pk}/posted_photo/")
    assert photo.status_code == 200 and photo["Content-Type"] == "image/jpeg"


# --- 印发 with today's date -----------------------------------------------------------------------


def test_the_issue_form_starts_today_in_the_iso_form_a_date_input_accepts(city_year: dict[str, Any]) -> None:
    from django.urls import reverse
    from django.utils import timezone

    from disbursements.admin.notices import HELP_ISSUE, HELP_PRINT
    from disbursements.models import Notice

    client = Client()
    client.force_login(city_year["village_user"])
    today = timezone.localdate()
    page = client.get(reverse("admin:disbursements_notice_issue")).content.decode()
    start = re.search(r'<input[^>]*name="start"[^>]*>', page)
    assert (
        start is not None
        and f'value="{today.isoformat()}"' in start.group(0)
        and 'type="date"' in start.group(0)
    )
    assert HELP_ISSUE in page
    assert HELP_PRINT in client.get(reverse("admin:disbursements_notice_print")).content.decode()
    listing = client.get(reverse("admin:disbursements_notice_changelist")).content.decode()
    assert HELP_ISSUE in listing and HELP_PRINT in listing
    response = client.post(
        reverse("admin:disbursements_notice_issue"),
        {
            "kind": "grant",
            "year": 2017,
            "village": city_year["hongpo"].pk,
            "start": today.isoformat(),
            "days": 10,
        },
    )
    assert response.status_code == 302
    notice = Notice.objects.get()
    assert notice.period_start == today and notice.period_end == today + datetime.timedelta(days=9)


# --- an objection holds back its household's payment, and only that one ------------------------


def test_an_open_objection_holds_that_households_payment_only_until_resolved(
    city_year: dict[str, Any], django_assert_num_queries
) -> None:  # type: ignore[no-untyped-def]
    from django.urls import reverse

    from disbursements.approval import advance
    from disbursements.models import Payout
    from subsidies.money import services

    services.allocate(year=2017, actor=None)
    liming, village_user = city_year["cadres"]["李明"], city_year["village_user"]
    batch = services.batch_prepare(village=city_year["hongpo"], year=2017, tranche=1, actor=liming)
    advance([batch], action="submit", actor=liming)
    advance([batch], action="verify", actor=village_user)
    advance([batch], action="township_review", actor=city_year["township_user"])
    advance([batch], action="city_review", actor=city_year["city_user"])
    advance([batch], action="approve", actor=city_year["approver"])

    notice = notices.notice_issue(kind="grant", year=2017, village=city_year["hongpo"], actor=village_user)
    notices.notice_post(notice=notice, actor=village_user, photo=jpeg_upload())
    h1, h2 = Household.objects.get(code="H1"), Household.objects.get(code="H2")
    objection = notices.objection_record(
        notice=notice,
        actor=village_user,
        row=row_of(notice, h2),
        raised_by="村民 次里",
        content="该户羊只数量不实",
        received_on=datetime.date(2017, 4, 18),
    )
    assert objection.payee_name == h2.head_name

    # The batch page shows it, next to that household only: for the cadre, the village, the city.
    h2_line = batch.lines.get(account__grant_household__household=h2)
    for user in (liming, village_user, city_year["city_user"]):
        with django_assert_num_queries(2):
            held = notices.open_objections_for_batch(batch, user)
        assert {line: [o.pk for o in found] for line, found in held.items()} == {h2_line.pk: [objection.pk]}
    assert notices.open_objections_for_batch(batch, city_year["cadres"]["王芳"]) == {}  # not hers
    client = Client()
    client.force_login(liming)
    page = client.get(reverse("admin:disbursements_batch_change", args=[batch.pk])).content.decode()
    assert "有未处理的公示异议" in page and f"H2 {h2.head_name}" in page and "该户羊只数量不实" in page

    # Paying: H1 is paid, H2 is held back with a reason naming it; asked for alone, H2 is refused.
    result = services.payouts_record(batch=batch, actor=liming, paid_on=datetime.date(2017, 4, 20))
    assert result.paid == 1 and not result.batch_paid
    assert result.held == [
        f"H2 {h2.head_name}：公示异议尚未处理（村民 次里，2017-04-18 收到），处理前不能兑现。"
    ]
    assert set(Payout.objects.values_list("line__account__grant_household__household__code", flat=True)) == {
        "H1"
    }
    with pytest.raises(ValidationError, match=f"H2 {h2.head_name}：公示异议尚未处理"):
        services.payouts_record(
            batch=batch, actor=liming, paid_on=datetime.date(2017, 4, 20), households=[h2.pk]
        )
    assert Payout.objects.count() == 1

    # Resolved: the page no longer warns, and H2 is paid; the batch is done.
    notices.objection_resolve(
        objection=objection,
        actor=village_user,
        resolution="入户核实：存栏 6 只，属实",
        resolved_on=datetime.date(2017, 4, 21),
    )
    assert notices.open_objections_for_batch(batch, liming) == {}
    assert (
        "有未处理的公示异议"
        not in client.get(reverse("admin:disbursements_batch_change", args=[batch.pk])).content.decode()
    )
    result = services.payouts_record(batch=batch, actor=liming, paid_on=datetime.date(2017, 4, 22))
    assert result.paid == 1 and result.batch_paid and result.held == []
    assert h1.pk != h2.pk


def test_recording_and_resolving_an_objection_in_the_admin(city_year: dict[str, Any]) -> None:
    from django.urls import reverse

    village_user = city_year["village_user"]
    notice = notices.notice_issue(kind="grant", year=2017, village=city_year["hongpo"], actor=village_user)
    h3 = Household.objects.get(code="H3")
    client = Client()
    client.force_login(village_user)
    url = reverse("admin:disbursements_notice_objection", args=[notice.pk])
    form = client.get(url).content.decode()
    assert f"{row_of(notice, h3)}. {h3.head_name}" in form and masked(h3) in form  # choose the row
    refused = client.post(url, {"received_on": "2017-03-03", "raised_by": "村民", "content": "不符合条件"})
    assert refused.status_code == 200 and notice.objections.count() == 0
    client.post(
        url,
        {
            "row": row_of(notice, h3),
            "received_on": "2017-03-03",
            "raised_by": "村民 拉姆",
            "content": "该户已外出务工",
        },
    )
    objection = notice.objections.get()
    assert objection.payee_name == h3.head_name and objection.payee is not None
    change = client.get(reverse("admin:disbursements_notice_change", args=[notice.pk])).content.decode()
    resolve = reverse("admin:disbursements_notice_resolve", args=[objection.pk])
    assert "该户已外出务工" in change and resolve in change
    # Another village's official cannot reach it.
    client.force_login(make_user(Role.VILLAGE, village=city_year["jidi"]))
    assert client.get(resolve).status_code == 404
    client.force_login(village_user)
    client.post(resolve, {"resolution": "核实：仍在村内发展养殖", "resolved_on": "2017-03-05"})
    objection.refresh_from_db()
    assert objection.resolved_on == datetime.date(2017, 3, 5) and objection.resolved_by == village_user


def test_a_township_print_is_laid_out_village_by_village_and_reads_as_one_run_did(
    city_year: dict[str, Any], import_rows, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """Issue 14 goal 4: a township's print renders each village on its own (memory: one village's
    layout) and joins the files; the joined PDF has the pages and text one WeasyPrint run gave, each
    village numbered on its own, the same queries for every village, and no temporary file left."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    # 红坡村 long enough for two pages, so a village's own 第N页/共M页 has to survive the join.
    rows = [roster_row(户编号=f"T{i:03d}", 户主姓名=f"农布次仁{i}") for i in range(40)]
    assert import_rows(rows).ok
    for household in Household.objects.filter(code__startswith="T"):
        assert household.cadre is not None
        plan_services.plan_save(
            household=household, year=2017, species="猪", quantity=Decimal(2), actor=household.cadre
        )
    township = city_year["hongpo"].township
    villages = notices.villages_of(township, None)
    today = datetime.date(2026, 12, 1)
    sheets = [
        s
        for v in villages
        if (s := notices.build_sheet(kind="grant", year=2017, village=v, user=None, start=today)).rows
    ]
    assert len(sheets) == 2
    before = PdfReader(io.BytesIO(notices.render_sheets(sheets)))  # the one-run print, as it was

    renders: list[int] = []
    real_render = notices.render_sheets

    def counting_render(some: list[notices.Sheet]) -> bytes:
        renders.append(len(some))
        return real_render(some)

    monkeypatch.setattr(notices, "render_sheets", counting_render)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(scratch))
    queries: list[int] = []
    output = io.BytesIO()
    with CaptureQueriesContext(connection) as captured:
        printed, lines = notices.print_villages(
            kind="grant",
            year=2017,
            villages=villages,
            user=None,
            output=output,
            start=today,
            on_village=lambda done: queries.append(len(captured.captured_queries)),
        )
    assert (printed, lines) == (2, sum(len(s.rows) for s in sheets))
    assert renders == [1, 1]  # one WeasyPrint run per village, never the township at once
    per_village = [b - a for a, b in zip([0, *queries], queries, strict=False)]
    assert len(set(per_village)) == 1, per_village  # 40 households or 3: the same queries
    assert list(scratch.iterdir()) == []  # the temporary files are gone

    after = PdfReader(io.BytesIO(output.getvalue()))
    assert len(after.pages) == len(before.pages) >= 3
    for old, new in zip(before.pages, after.pages, strict=True):
        assert flat(new.extract_text()) == flat(old.extract_text())
    numbers = [re.search(r"第(\d+)页/共(\d+)页", flat(p.extract_text())) for p in after.pages]
    assert [m.groups() for m in numbers if m] == [("1", "2"), ("2", "2"), ("1", "1")]
