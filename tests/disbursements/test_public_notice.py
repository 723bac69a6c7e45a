"""Notices anyone can verify: the QR code and short code on the printed sheet, the public page (no
login) showing nothing the sheet does not, online objections flowing into the notice's lifecycle,
and the page's safety (no enumeration, throttling)."""

from __future__ import annotations

import datetime
import io
import re
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from pypdf import PdfReader

from disbursements import notices
from disbursements.models import Notice, Objection
from disbursements.worklist import objections_open
from households.models import Household

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    cache.clear()


def issue(city_year: dict[str, Any]) -> Notice:
    return notices.notice_issue(
        kind="grant", year=2017, village=city_year["hongpo"], actor=city_year["village_user"]
    )


def pdf_text(notice: Notice) -> str:
    notice.pdf.open("rb")
    data = notice.pdf.read()
    return "".join("\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages).split())


def url_on_sheet(notice: Notice) -> str:
    """The public address printed under the QR code, read back from the PDF as a phone would."""
    match = re.search(r"访问(http://[^（]+/gs/[A-Z0-9]+/)", pdf_text(notice))
    assert match, "the sheet prints the public address"
    return match.group(1)


def test_every_issued_sheet_carries_its_qr_and_short_code(city_year: dict[str, Any]) -> None:
    notice = issue(city_year)
    assert notice.public_code and len(notice.public_code) == 12
    text = pdf_text(notice)
    assert notices.short_code(notice.public_code) in text and "扫码核验" in text and "12317" in text
    assert url_on_sheet(notice).endswith(f"/gs/{notice.public_code}/")
    other = issue(city_year)
    assert other.public_code != notice.public_code


def test_public_page_shows_the_notice_as_issued_and_nothing_more(city_year: dict[str, Any]) -> None:
    notice = issue(city_year)
    page = Client().get(f"/gs/{notice.public_code}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert notice.title in html and "公示中" in html and notice.issuer.split("　")[0] in html
    assert "未收到异议" in html
    for row in notice.rows:
        for cell in row:
            assert cell in html
    printed = {cell for row in notice.rows for cell in row}
    for household in Household.objects.filter(village=city_year["hongpo"]):
        assert household.id_number not in html  # only the masked form, as on the sheet
        assert household.code in printed or f">{household.code}<" not in html
        assert household.phone == "" or household.phone not in html
    # The form names rows by their 序号 on the sheet, never by a database id.
    assert re.findall(r'<option value="(\d+)"', html) == [str(n) for n in range(1, len(notice.rows) + 1)]
    assert "household:" not in html  # no payee references
    assert page["X-Robots-Tag"].startswith("noindex")
    # The sheet and the page list the same things.
    sheet = pdf_text(notice)
    for row in notice.rows:
        assert "".join(row[1:3]) in sheet


def test_guessing_identifiers_finds_nothing_and_is_throttled(
    city_year: dict[str, Any], settings: Any
) -> None:
    notice = issue(city_year)
    client = Client()
    assert client.get(f"/gs/{notice.pk}/").status_code == 404
    assert client.get(f"/gs/{notices.new_public_code()}/").status_code == 404
    assert client.get(f"/gs/{(notice.public_code or '').lower()}/").status_code == 200  # typed in lower case
    for _ in range(25):
        last = client.get(f"/gs/{notices.new_public_code()}/")
    assert last.status_code == 429  # a handful of misses per hour per address, then nothing
    settings.PUBLIC_NOTICE_LIMITS = {**settings.PUBLIC_NOTICE_LIMITS, "VIEWS_PER_MINUTE": 3}
    cache.clear()
    statuses = [
        Client(REMOTE_ADDR="10.0.0.9").get(f"/gs/{notice.public_code}/").status_code for _ in range(5)
    ]
    assert statuses == [200, 200, 200, 429, 429]


def test_online_objection_enters_the_list_and_the_village_to_do(city_year: dict[str, Any]) -> None:
    notice = issue(city_year)
    village_user = city_year["village_user"]
    before = objections_open(village_user, 2017)[0].count
    client = Client()
    response = client.post(
        f"/gs/{notice.public_code}/",
        {"row": "1", "name": "卓玛", "phone": "13912345678", "content": "这户今年没有养猪"},
    )
    assert response.status_code == 302 and response["Location"].endswith("?sent=1")
    objection = Objection.objects.get()
    assert objection.channel == "online" and objection.recorded_by is None and objection.row == 1
    assert objection.payee is not None  # holds that household's payment like a paper objection
    assert objections_open(village_user, 2017)[0].count == before + 1
    page = client.get(f"/gs/{notice.public_code}/").content.decode()
    assert "收到 1 件，0 件已处理" in page
    assert "卓玛" not in page and "13912345678" not in page and "5678" not in page  # nothing of the objector
    notices.objection_resolve(
        objection=objection,
        actor=village_user,
        resolution="已入户核实，名单无误",
        resolved_on=timezone.localdate(),
    )
    assert "1 件已处理" in client.get(f"/gs/{notice.public_code}/").content.decode()


def test_online_objections_are_throttled_per_phone_and_address(city_year: dict[str, Any]) -> None:
    notice = issue(city_year)
    data = {"row": "1", "name": "卓玛", "content": "有疑问"}
    one = Client(REMOTE_ADDR="10.0.0.1")
    codes = [
        one.post(f"/gs/{notice.public_code}/", {**data, "phone": "13912345678"}).status_code for _ in range(4)
    ]
    assert codes == [302, 302, 302, 429]  # 3 per phone per day
    codes = [
        one.post(f"/gs/{notice.public_code}/", {**data, "phone": f"1391234560{n}"}).status_code
        for n in range(3)
    ]
    assert codes == [302, 429, 429]  # 5 attempts per address per hour (4 made above)
    assert Objection.objects.count() == 4
    bad = Client(REMOTE_ADDR="10.0.0.2").post(f"/gs/{notice.public_code}/", {**data, "phone": "12345"})
    assert bad.status_code == 200 and "11 位手机号码" in bad.content.decode()


def test_no_online_objection_after_the_period(city_year: dict[str, Any]) -> None:
    notice = notices.notice_issue(
        kind="grant",
        year=2017,
        village=city_year["hongpo"],
        actor=city_year["village_user"],
        start=timezone.localdate() - datetime.timedelta(days=20),
    )
    client = Client()
    page = client.get(f"/gs/{notice.public_code}/").content.decode()
    assert "已结束" in page and "<form" not in page
    response = client.post(
        f"/gs/{notice.public_code}/", {"row": "1", "name": "卓玛", "phone": "13912345678", "content": "x"}
    )
    assert response.status_code == 200 and Objection.objects.count() == 0
