"""Uploaded scans and photos reach a browser only through the scoped download view."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse

from disbursements import notices
from disbursements.approval import advance
from disbursements.models import Payout
from disbursements.payouts import payout_attach_receipt
from households.files import NOT_FOUND, file_url
from households.models import Role, Township, User
from subsidies.models import CommitmentLetter
from subsidies.money import services

from ..disbursements.conftest import city_year  # noqa: F401  (registers the fixture here)
from ..factories import PDF_BYTES, jpeg_upload, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def city(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The money tests' small city (`city_year`): signed letters for H1 (李明) … T1 (虎跳峡镇)."""
    return request.getfixturevalue("city_year")  # type: ignore[no-any-return]


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def url_of(obj: Any, field: str) -> str:
    url = file_url(obj, field)
    assert url is not None
    return url


def letter_of(code: str) -> CommitmentLetter:
    return CommitmentLetter.objects.select_related("plan__household").get(plan__household__code=code)


def test_a_cadre_opens_the_commitment_letter_scan_of_a_household_they_hold(city: dict[str, Any]) -> None:
    letter = letter_of("H1")  # held by 李明
    url = file_url(letter, "scan")
    assert url == f"/files/subsidies/commitmentletter/{letter.pk}/scan/"
    response = client_for(city["cadres"]["李明"]).get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF_BYTES  # type: ignore[attr-defined]
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("inline;")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private, no-store"
    assert "sandbox" in response["Content-Security-Policy"]


def test_outside_ones_scope_or_without_a_registered_field_there_is_no_file(city: dict[str, Any]) -> None:
    letter = letter_of("H1")
    url = url_of(letter, "scan")
    other_township = make_user(Role.TOWNSHIP, "huxiaxia", township=Township.objects.get(name="虎跳峡镇"))
    for user in (city["cadres"]["王芳"], other_township):
        response = client_for(user).get(url)
        assert response.status_code == 404
        assert response.content.decode() == NOT_FOUND
    assert client_for(city["township_user"]).get(url).status_code == 200  # 建塘镇 holds H1
    hq = client_for(city["city_user"])
    for unregistered in (
        f"/files/subsidies/commitmentletter/{letter.pk}/signed_on/",
        f"/files/subsidies/householdplan/{letter.plan_id}/scan/",
        f"/files/households/user/{city['city_user'].pk}/password/",
        f"/files/subsidies/commitmentletter/{letter.pk + 1000}/scan/",
    ):
        assert hq.get(unregistered).status_code == 404, unregistered


def test_a_user_in_scope_without_the_view_permission_gets_no_file(
    city: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = url_of(letter_of("H1"), "scan")
    client = client_for(city["city_user"])
    assert client.get(url).status_code == 200
    monkeypatch.setattr(
        User, "has_perm", lambda self, perm, obj=None: perm != "subsidies.view_commitmentletter"
    )
    assert client.get(url).status_code == 404


@pytest.mark.parametrize(
    ("name", "content_type"), [("page.html", "text/html"), ("drawing.svg", "image/svg+xml")]
)
def test_html_and_svg_are_only_ever_downloaded(city: dict[str, Any], name: str, content_type: str) -> None:
    letter = letter_of("H1")
    letter.scan.save(name, ContentFile(b"<script>alert(1)</script>"))
    response = client_for(city["city_user"]).get(url_of(letter, "scan"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith(content_type)
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"


def test_a_chinese_file_name_is_sent_the_rfc_6266_way(city: dict[str, Any]) -> None:
    letter = letter_of("H1")
    letter.scan.name = "commitments/2017/承诺书.pdf"  # as an older upload may be named
    letter.scan.storage.save(letter.scan.name, ContentFile(b"%PDF"))
    letter.save(update_fields=["scan"])
    response = client_for(city["city_user"]).get(url_of(letter, "scan"))
    assert response["Content-Disposition"] == "inline; filename*=utf-8''%E6%89%BF%E8%AF%BA%E4%B9%A6.pdf"


def test_anonymous_users_are_sent_to_the_login_page(city: dict[str, Any]) -> None:
    url = url_of(letter_of("H1"), "scan")
    response = Client().get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_with_the_nginx_prefix_set_the_file_is_handed_to_nginx(city: dict[str, Any], settings: Any) -> None:
    settings.FILES_X_ACCEL_REDIRECT_PREFIX = "/protected/"
    letter = letter_of("H1")
    response = client_for(city["cadres"]["李明"]).get(url_of(letter, "scan"))
    assert response.status_code == 200 and response.content == b""
    assert response["X-Accel-Redirect"] == f"/protected/{letter.scan.name}"
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("inline;")
    # Still checked by Django first.
    assert client_for(city["cadres"]["王芳"]).get(url_of(letter, "scan")).status_code == 404


def test_the_admin_links_a_commitment_letter_to_the_scoped_view(city: dict[str, Any]) -> None:
    letter = letter_of("H1")
    client = client_for(city["township_user"])
    for page in (
        reverse("admin:subsidies_commitmentletter_change", args=[letter.pk]),  # view-only page
        reverse("admin:subsidies_householdplan_change", args=[letter.plan_id]),  # the letter inline
    ):
        html = client.get(page).content.decode()
        assert f'href="/files/subsidies/commitmentletter/{letter.pk}/scan/"' in html, page
        assert str(letter.scan) not in html and "/media/" not in html, page


def test_the_admin_links_a_payout_receipt_to_the_scoped_view(city: dict[str, Any]) -> None:
    liming = city["cadres"]["李明"]
    services.allocate(year=2017, actor=None)
    batch = services.batch_prepare(village=city["hongpo"], year=2017, tranche=1, actor=liming)
    advance([batch], action="submit", actor=liming)
    advance([batch], action="verify", actor=city["village_user"])
    advance([batch], action="township_review", actor=city["township_user"])
    advance([batch], action="city_review", actor=city["city_user"])
    advance([batch], action="approve", actor=city["approver"])
    services.payouts_record(batch=batch, actor=liming, paid_on=datetime.date(2017, 5, 1))
    payout = payout_attach_receipt(
        payout=Payout.objects.filter(line__batch=batch).earliest("pk"),
        receipt=jpeg_upload("回执.jpg"),
        actor=liming,
    )
    link = f'href="/files/disbursements/payout/{payout.pk}/receipt/"'
    change = reverse("admin:disbursements_payout_change", args=[payout.pk])
    # The cadre who paid may add the scan (the file input), the township only looks (read-only).
    for user, editable in ((liming, True), (city["township_user"], False)):
        client = client_for(user)
        for page in (reverse("admin:disbursements_payout_changelist"), change):
            html = client.get(page).content.decode()
            assert link in html, (user, page)
            assert str(payout.receipt) not in html and "/media/" not in html, (user, page)
        assert ('type="file"' in client.get(change).content.decode()) is editable
    response = client_for(liming).get(url_of(payout, "receipt"))
    assert response["Content-Type"] == "image/jpeg"
    assert response["Content-Disposition"].startswith("inline;")


def test_the_admin_links_a_notice_photo_and_offers_the_upload_where_it_may(city: dict[str, Any]) -> None:
    village_user = city["village_user"]
    notice = notices.notice_issue(
        kind="grant", year=2017, village=city["hongpo"], actor=village_user, start=datetime.date(2017, 3, 1)
    )
    # Before posting, 登记张贴 is where the photo is uploaded (for the village, not for city HQ).
    post = reverse("admin:disbursements_notice_post", args=[notice.pk])
    assert 'type="file"' in client_for(village_user).get(post).content.decode()
    assert client_for(city["city_user"]).get(post).status_code == 403
    notice = notices.notice_post(notice=notice, actor=village_user, photo=jpeg_upload("张贴.jpg"))
    link = f'href="/files/disbursements/notice/{notice.pk}/posted_photo/"'
    change = reverse("admin:disbursements_notice_change", args=[notice.pk])
    # Once posted, the photo is a link through the scoped view for everyone, never an input again.
    for user in (village_user, city["city_user"]):
        html = client_for(user).get(change).content.decode()
        assert link in html and str(notice.posted_photo) not in html, user
        assert 'type="file"' not in html and 'name="posted_photo"' not in html, user
    # Recording an equity investment: the consent scan is uploaded through the same widget.
    add = client_for(city["cadres"]["李明"]).get(reverse("admin:subsidies_equityinvestment_add"))
    assert add.status_code == 200 and 'name="consent_scan"' in add.content.decode()
