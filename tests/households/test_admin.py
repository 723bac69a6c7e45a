"""The admin as officials use it: every page opens for every role, edits are audited, imports work."""

from __future__ import annotations

import io

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from households.models import CadreAssignment, Household, HouseholdChange, ImportBatch, Role, User

from ..factories import make_user, roster_row, xlsx_bytes

pytestmark = pytest.mark.django_db

ROLES = [Role.CADRE, Role.VILLAGE, Role.TOWNSHIP, Role.CITY, Role.APPROVER, Role.AUDITOR]


@pytest.fixture
def roster(import_rows):  # type: ignore[no-untyped-def]
    report = import_rows([roster_row(户编号=f"S{i}") for i in range(3)])
    assert report.ok
    return Household.objects.all()


@pytest.mark.parametrize("role", ROLES)
def test_every_admin_page_opens_for_every_role(roster, role: str) -> None:  # type: ignore[no-untyped-def]
    user = make_user(role) if role != Role.CADRE else User.objects.get(phone="13800000001")
    client = Client()
    client.force_login(user)
    assert client.get("/admin/").status_code == 200
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        response = client.get(url)
        assert b"Select an option" not in response.content  # Django 6.1's new label, translated in locale/
        allowed = model_admin.has_view_or_change_permission(_request(user))
        assert response.status_code == (200 if allowed else 403), (role, url, response.status_code)
        if allowed:
            first = model_admin.get_queryset(_request(user)).first()
            if first is not None:
                change = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[first.pk])
                assert client.get(change).status_code == 200, (role, change)


def _request(user: User):  # type: ignore[no-untyped-def]
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.user = user
    return request


def test_editing_a_household_in_the_admin_is_audited_with_cadre_history(roster, township_user) -> None:  # type: ignore[no-untyped-def]
    household = roster.get(code="S0")
    new_cadre = make_user(Role.CADRE, name="赵敏", township=township_user.township)
    client = Client()
    client.force_login(township_user)
    response = client.post(
        f"/admin/households/household/{household.pk}/change/",
        {
            "code": household.code,
            "head_name": "次仁",
            "id_number": household.id_number,
            "phone": household.phone,
            "village": household.village_id,
            "group": household.group_id,
            "size": household.size,
            "labour": household.labour,
            "exit_year": household.exit_year,
            "cadre": new_cadre.pk,
            "cadre_assignments-TOTAL_FORMS": 0,
            "cadre_assignments-INITIAL_FORMS": 0,
            "changes-TOTAL_FORMS": 0,
            "changes-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    change = HouseholdChange.objects.filter(household=household, action="update").get()
    assert change.actor == township_user
    assert change.changes["户主姓名"][1] == "次仁"
    assert [a.cadre.name for a in CadreAssignment.objects.filter(household=household).order_by("pk")] == [
        "李明",
        "赵敏",
    ]


def test_bad_id_number_in_the_admin_form_is_explained(roster, township_user) -> None:  # type: ignore[no-untyped-def]
    household = roster.get(code="S1")
    client = Client()
    client.force_login(township_user)
    response = client.post(
        f"/admin/households/household/{household.pk}/change/",
        {
            "code": household.code,
            "head_name": household.head_name,
            "id_number": household.id_number[:-1] + ("0" if household.id_number[-1] != "0" else "1"),
            "village": household.village_id,
            "group": household.group_id,
            "size": household.size,
            "labour": household.labour,
            "exit_year": household.exit_year,
            "cadre_assignments-TOTAL_FORMS": 0,
            "cadre_assignments-INITIAL_FORMS": 0,
            "changes-TOTAL_FORMS": 0,
            "changes-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 200
    assert "校验位错误" in response.content.decode()


def _upload(client: Client, data: bytes, name: str = "roster.xlsx"):  # type: ignore[no-untyped-def]
    upload = io.BytesIO(data)
    upload.name = name
    return client.post(
        "/admin/households/household/import/", {"import_file": upload, "format": "0", "resource": "0"}
    )


def test_admin_import_previews_then_confirms(city_user) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(city_user)
    preview = _upload(client, xlsx_bytes([roster_row(户编号="P1"), roster_row(户编号="P2")]))
    page = preview.content.decode()
    assert preview.status_code == 200
    assert "新增：<strong>2</strong>" in page and "确认导入" in page
    assert Household.objects.count() == 0  # the preview wrote nothing
    form = preview.context["confirm_form"]
    confirm = client.post(
        "/admin/households/household/process_import/",
        {name: form[name].value() for name in form.fields},
        follow=True,
    )
    assert confirm.status_code == 200
    assert "已新增 2 户" in confirm.content.decode()
    assert set(Household.objects.values_list("code", flat=True)) == {"P1", "P2"}
    batches = list(ImportBatch.objects.order_by("pk").values_list("status", "actor__username", "file_sha256"))
    assert [b[0] for b in batches] == ["previewed", "imported"]
    assert batches[0][2] == batches[1][2] and len(batches[0][2]) == 64  # the same file, hashed both times


def test_admin_import_with_errors_shows_them_and_offers_no_confirm(city_user) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(city_user)
    page = _upload(client, xlsx_bytes([roster_row(), roster_row(家庭人口=2, 劳动力=3)])).content.decode()
    assert "第 3 行 劳动力 3：不能多于家庭人口（2）" in page
    assert "确认导入" not in page


def test_admin_import_of_a_file_that_is_not_xlsx_says_so(city_user) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(city_user)
    response = _upload(client, "户编号,户主姓名\n1,2\n".encode(), name="roster.xlsx")
    assert response.status_code == 200
    assert "不是有效的 Excel 工作簿" in response.content.decode()


def test_login_is_throttled_after_repeated_failures(city_user) -> None:  # type: ignore[no-untyped-def]
    client = Client(REMOTE_ADDR="10.0.0.9")
    for _ in range(5):
        client.post("/admin/login/", {"username": "city", "password": "wrong"})
    response = client.post("/admin/login/", {"username": "city", "password": "pw-for-tests-only"})
    assert "已暂时锁定" in response.content.decode()
    assert "_auth_user_id" not in client.session
