"""Who sees what: every role against its own and another area, as an attacker editing URLs would try."""

from __future__ import annotations

import io

import openpyxl
import pytest
from django.test import Client

from households.models import Household, Role, Township, User, Village
from households.scoping import visible

from ..factories import make_user, roster_row

pytestmark = pytest.mark.django_db


@pytest.fixture
def city_with_two_townships(import_rows) -> dict[str, Household]:  # type: ignore[no-untyped-def]
    report = import_rows(
        [
            roster_row(户编号="JT-HP-1", 户主姓名="红坡户一", 挂包干部="李明", 挂包干部电话="13800000001"),
            roster_row(户编号="JT-HP-2", 户主姓名="红坡户二", 挂包干部="王芳", 挂包干部电话="13800000002"),
            roster_row(
                户编号="JT-JD-1",
                户主姓名="吉迪户一",
                村委会="吉迪村",
                挂包干部="李明",
                挂包干部电话="13800000001",
            ),
            roster_row(
                户编号="HT-1",
                户主姓名="虎跳户一",
                乡镇="虎跳峡镇",
                村委会="红旗村",
                挂包干部="张伟",
                挂包干部电话="13800000003",
            ),
        ]
    )
    assert report.ok, report.errors
    return {h.code: h for h in Household.objects.all()}


def cadre(phone: str) -> User:
    user = User.objects.get(phone=phone)
    user.set_password("pw-for-tests-only")
    user.save()
    return user


EXPECTED = {
    "city": {"JT-HP-1", "JT-HP-2", "JT-JD-1", "HT-1"},
    "approver": {"JT-HP-1", "JT-HP-2", "JT-JD-1", "HT-1"},
    "auditor": {"JT-HP-1", "JT-HP-2", "JT-JD-1", "HT-1"},
    "township": {"JT-HP-1", "JT-HP-2", "JT-JD-1"},
    "village": {"JT-HP-1", "JT-HP-2"},
    "cadre": {"JT-HP-1", "JT-JD-1"},
    "none": set(),
}


def user_for(role: str) -> User:
    if role == "cadre":
        return cadre("13800000001")
    if role == "none":
        return make_user("", is_staff=True)
    return make_user(role)


@pytest.mark.parametrize("role", list(EXPECTED))
def test_each_role_sees_exactly_its_households(city_with_two_townships, role: str) -> None:  # type: ignore[no-untyped-def]
    user = user_for(role)
    assert set(visible(Household, user).values_list("code", flat=True)) == EXPECTED[role]


@pytest.mark.parametrize("role", [r for r in EXPECTED if r != "none"])
def test_admin_list_and_change_urls_follow_the_scope(city_with_two_townships, role: str) -> None:  # type: ignore[no-untyped-def]
    user = user_for(role)
    client = Client()
    client.force_login(user)
    listing = client.get("/admin/households/household/")
    assert listing.status_code == 200
    page = listing.content.decode()
    for code, household in city_with_two_townships.items():
        response = client.get(f"/admin/households/household/{household.pk}/change/", follow=True)
        if code in EXPECTED[role]:
            assert household.head_name in page
            assert response.status_code == 200 and household.id_number in response.content.decode()
        else:
            assert household.head_name not in page
            # Editing the id in the URL: Django admin answers "does not exist" and shows nothing of it.
            body = response.content.decode()
            assert household.head_name not in body and household.id_number not in body


def test_tampered_post_to_another_townships_household_changes_nothing(city_with_two_townships) -> None:  # type: ignore[no-untyped-def]
    user = make_user(Role.TOWNSHIP)
    target = city_with_two_townships["HT-1"]
    client = Client()
    client.force_login(user)
    response = client.post(f"/admin/households/household/{target.pk}/change/", {"head_name": "被篡改"})
    assert response.status_code in (302, 403, 404)
    target.refresh_from_db()
    assert target.head_name == "虎跳户一"


def test_dropdowns_offer_only_the_users_area(city_with_two_townships) -> None:  # type: ignore[no-untyped-def]
    user = make_user(Role.TOWNSHIP)
    client = Client()
    client.force_login(user)
    household = city_with_two_townships["JT-HP-1"]
    page = client.get(f"/admin/households/household/{household.pk}/change/").content.decode()
    assert "红坡村" in page and "吉迪村" in page
    assert "红旗村" not in page  # a village of 虎跳峡镇
    assert "张伟" not in page  # a cadre of 虎跳峡镇
    changelist = client.get("/admin/households/household/").content.decode()
    assert "虎跳峡镇" not in changelist  # the township filter lists only the user's township


def test_posting_a_village_outside_the_scope_is_refused(city_with_two_townships) -> None:  # type: ignore[no-untyped-def]
    user = make_user(Role.TOWNSHIP)
    household = city_with_two_townships["JT-HP-1"]
    hongqi = Village.objects.get(name="红旗村")
    client = Client()
    client.force_login(user)
    response = client.post(
        f"/admin/households/household/{household.pk}/change/",
        {
            "code": household.code,
            "head_name": household.head_name,
            "id_number": household.id_number,
            "village": hongqi.pk,
            "group": household.group_id,
            "size": household.size,
            "labour": household.labour,
            "exit_year": household.exit_year,
        },
    )
    assert response.status_code == 200  # the form comes back with an error
    household.refresh_from_db()
    assert household.village.name == "红坡村"


@pytest.mark.parametrize(("role", "expected"), [("township", 3), ("village", 2), ("city", 4)])
def test_export_is_scoped_and_masks_ids_for_those_who_do_not_import(
    city_with_two_townships, role: str, expected: int
) -> None:  # type: ignore[no-untyped-def]
    user = make_user(role)
    client = Client()
    client.force_login(user)
    response = client.post(
        "/admin/households/household/export/",
        {
            "format": "0",
            "resource": "0",
            **{
                f"householdresource_{f}": "on"
                for f in (
                    "code",
                    "head_name",
                    "id_number",
                    "township",
                    "village",
                    "group",
                    "size",
                    "labour",
                    "exit_year",
                    "consolidation",
                    "phone",
                    "cadre_name",
                    "cadre_phone",
                )
            },
        },
    )
    assert response.status_code == 200, response.content[:500]
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("户编号", "户主姓名", "身份证号")
    assert len(rows) - 1 == expected
    ids = [r[2] for r in rows[1:]]
    if user.has_perm("households.import_household"):
        assert all("*" not in i for i in ids)
    else:
        assert all(i[6:14] == "********" for i in ids)


def test_a_user_without_role_sees_nothing_and_an_auditor_changes_nothing(city_with_two_townships) -> None:  # type: ignore[no-untyped-def]
    auditor = make_user(Role.AUDITOR)
    household = city_with_two_townships["JT-HP-1"]
    client = Client()
    client.force_login(auditor)
    page = client.get(f"/admin/households/household/{household.pk}/change/").content.decode()
    assert household.head_name in page
    assert 'name="_save"' not in page  # read-only view
    response = client.post(f"/admin/households/household/{household.pk}/change/", {"head_name": "X"})
    assert response.status_code == 403
    assert client.get("/admin/households/household/import/").status_code == 403


def test_village_and_township_lists_follow_the_scope() -> None:
    township = make_user(Role.TOWNSHIP)
    assert set(visible(Township, township).values_list("name", flat=True)) == {"建塘镇"}
    assert visible(Village, township).count() == 10
    village = make_user(Role.VILLAGE)
    assert list(visible(Village, village).values_list("name", flat=True)) == ["红坡村"]
    assert list(visible(Township, village).values_list("name", flat=True)) == ["建塘镇"]


def test_scope_paths_may_list_alternatives_or_hide_a_model_from_a_role(city_with_two_townships) -> None:  # type: ignore[no-untyped-def]
    """A path can be several alternatives (any one matching puts the row in scope), or None: the
    role never sees the model at all (e.g. cadres and another programme's organisations)."""
    from households.scoping import ScopePaths

    class Hidden:
        scope_paths = ScopePaths(township="village__township", village="village", cadre=None)

    cadre = User.objects.filter(role=Role.CADRE).first()
    assert cadre is not None
    Household.scope_paths, saved = Hidden.scope_paths, Household.scope_paths  # type: ignore[assignment]
    try:
        assert not visible(Household, cadre).exists()  # None: nothing for cadres
        Household.scope_paths = ScopePaths(  # type: ignore[misc]
            township="village__township", village="village", cadre=("cadre", "village__households__cadre")
        )
        # Either their own households, or any household of a village where they hold one.
        held_villages = Household.objects.filter(cadre=cadre).values("village")
        assert set(visible(Household, cadre)) == set(Household.objects.filter(village__in=held_villages))
    finally:
        Household.scope_paths = saved  # type: ignore[misc]
