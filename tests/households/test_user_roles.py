"""Accounts: roles cannot escalate, and every change of role, scope, rights or password is audited."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from households import users
from households.models import Household, HouseholdChange, Role, Township, User, UserChange, Village

from ..factories import make_user, roster_row

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Shangrila-2017-new"
USERS = "/admin/households/user/"


class FastPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    """A hasher "newer" than the test settings' MD5, so that a login re-hashes the password."""

    iterations = 2


@pytest.fixture
def superuser(db: Any) -> User:
    return User.objects.create_superuser("admin", password="pw-for-tests-only")


@pytest.fixture
def cadre(db: Any) -> User:
    return make_user(Role.CADRE, "gb13900000099", name="周平", township=Township.objects.get(name="建塘镇"))


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def form_data(response: Any, **changes: Any) -> dict[str, Any]:
    """What the browser sends back from an admin change page, with `changes` typed in."""
    form = response.context["adminform"].form
    data: dict[str, Any] = {}
    for name, field in form.fields.items():
        if field.disabled:
            continue
        value = form[name].value()
        if value is None or value is False:
            continue
        data[name] = "on" if value is True else value
    for inline in response.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        for name in management.fields:
            data[management.add_prefix(name)] = management[name].value()
    for name, value in changes.items():
        if value is None or value is False:
            data.pop(name, None)
        else:
            data[name] = "on" if value is True else value
    return data


def refused(response: Any) -> bool:
    """403, 404, or the admin's "not found" (back to the index with a "does not exist" message)."""
    return response.status_code in (403, 404) or (response.status_code == 302 and response.url == "/admin/")


def change_rows(user: User) -> list[tuple[str, str | None, dict[str, list[str]]]]:
    return [
        (c.action, c.actor.username if c.actor else None, c.changes)
        for c in UserChange.objects.filter(user=user).order_by("pk")
    ]


# --- the city cannot reach accounts at or above its own ------------------------------------------------


@pytest.mark.parametrize("kind", ["superuser", "approver", "auditor", "city"])
def test_city_cannot_open_change_or_reset_higher_accounts(city_user: User, kind: str) -> None:
    if kind == "superuser":
        target = User.objects.create_superuser("admin", password="pw-for-tests-only")
    else:
        target = make_user(kind, f"other-{kind}")
    before = (target.role, target.password, target.is_active, target.is_superuser)
    client = client_for(city_user)

    assert refused(client.get(f"{USERS}{target.pk}/change/"))
    forged = {"username": target.username, "name": "篡改", "role": Role.CITY, "is_active": "on"}
    assert refused(client.post(f"{USERS}{target.pk}/change/", forged))
    assert refused(client.get(f"{USERS}{target.pk}/password/"))
    reset = {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"}
    assert refused(client.post(f"{USERS}{target.pk}/password/", reset))
    assert target not in client.get(USERS).context["cl"].result_list  # not listed either

    with pytest.raises(ValidationError, match="无权管理该账号"):
        users.user_update(actor=city_user, user=target, data={"name": "篡改"})
    with pytest.raises(ValidationError, match="无权管理该账号"):
        users.user_set_password(actor=city_user, user=target, password=NEW_PASSWORD)
    target.refresh_from_db()
    assert (target.role, target.password, target.is_active, target.is_superuser) == before
    assert target.name != "篡改"
    assert not UserChange.objects.filter(user=target, actor=city_user).exists()


def test_city_cannot_reset_the_superusers_password(city_user: User, superuser: User) -> None:
    client = client_for(city_user)
    assert refused(client.get(f"{USERS}{superuser.pk}/password/"))
    response = client.post(
        f"{USERS}{superuser.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )
    assert refused(response)
    superuser.refresh_from_db()
    assert superuser.check_password("pw-for-tests-only")
    assert not superuser.check_password(NEW_PASSWORD)


@pytest.mark.parametrize("role", [Role.APPROVER, Role.AUDITOR, Role.CITY])
def test_city_cannot_give_a_high_role_by_forged_post(city_user: User, township_user: User, role: str) -> None:
    client = client_for(city_user)
    page = client.get(f"{USERS}{township_user.pk}/change/")
    assert page.status_code == 200
    assert role not in [value for value, _ in page.context["adminform"].form.fields["role"].choices]
    data = form_data(page, role=role, is_superuser=True, is_staff=True, groups=[])
    response = client.post(f"{USERS}{township_user.pk}/change/", data)
    assert response.status_code == 200  # the form comes back with the refusal
    township_user.refresh_from_db()
    assert (township_user.role, township_user.is_superuser) == (Role.TOWNSHIP, False)
    assert not UserChange.objects.filter(user=township_user, action="update").exists()

    with pytest.raises(ValidationError, match="不能授予"):
        users.user_update(actor=city_user, user=township_user, data={"role": role})
    with pytest.raises(ValidationError, match="不能授予"):
        users.user_create(actor=city_user, username="approver2", password=NEW_PASSWORD, role=role)
    assert not User.objects.filter(username="approver2").exists()


def test_city_cannot_give_itself_a_role_or_change_its_own_account(city_user: User) -> None:
    client = client_for(city_user)
    assert client.get(f"{USERS}{city_user.pk}/change/").status_code == 200  # read-only
    forged = {"username": "city", "role": Role.APPROVER, "is_active": "on", "is_superuser": "on"}
    assert client.post(f"{USERS}{city_user.pk}/change/", forged).status_code == 403
    assert client.get(f"{USERS}{city_user.pk}/password/").status_code == 403
    with pytest.raises(ValidationError, match="不能修改自己的角色"):
        users.user_update(actor=city_user, user=city_user, data={"role": Role.APPROVER})
    with pytest.raises(ValidationError):
        users.user_update(actor=city_user, user=city_user, data={"is_superuser": True})
    city_user.refresh_from_db()
    assert (city_user.role, city_user.is_superuser) == (Role.CITY, False)


def test_city_cannot_grant_system_rights_to_accounts_it_manages(city_user: User, cadre: User) -> None:
    group = Group.objects.create(name="财务")
    for data in ({"is_superuser": True}, {"is_staff": False}, {"groups": [group]}):
        with pytest.raises(ValidationError, match="只有系统管理员"):
            users.user_update(actor=city_user, user=cadre, data=data)
    with pytest.raises(ValidationError, match="只有系统管理员"):
        users.user_create(
            actor=city_user,
            username="gb13900000100",
            password=NEW_PASSWORD,
            role=Role.CADRE,
            phone="13900000100",
            is_superuser=True,
        )
    # An account a superuser gave extra rights to is no longer the city's to manage (or to take over).
    cadre.groups.add(group)
    with pytest.raises(ValidationError, match="无权管理该账号"):
        users.user_set_password(actor=city_user, user=cadre, password=NEW_PASSWORD)


def test_other_roles_manage_no_accounts(township_user: User, cadre: User) -> None:
    with pytest.raises(ValidationError, match="无权管理用户账号"):
        users.user_update(actor=township_user, user=cadre, data={"name": "改名"})
    with pytest.raises(ValidationError, match="无权管理用户账号"):
        users.user_set_password(actor=township_user, user=cadre, password=NEW_PASSWORD)
    assert client_for(township_user).get(f"{USERS}{cadre.pk}/password/").status_code == 403


# --- what the city does, and the audit of it -------------------------------------------------------------


def test_city_creates_a_cadre_and_a_township_user_in_the_admin(city_user: User) -> None:
    client = client_for(city_user)
    jiantang = Township.objects.get(name="建塘镇")
    response = client.post(
        f"{USERS}add/",
        {
            "username": "gb13912345678",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
            "name": "赵敏",
            "phone": "13912345678",
            "role": Role.CADRE,
            "township": jiantang.pk,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    new_cadre = User.objects.get(username="gb13912345678")
    assert (new_cadre.role, new_cadre.is_staff, new_cadre.is_superuser) == (Role.CADRE, True, False)
    assert new_cadre.check_password(NEW_PASSWORD)
    [(action, actor, changes)] = change_rows(new_cadre)
    assert (action, actor) == ("create", "city")
    assert changes["角色"] == ["", "挂包干部"]
    assert changes["所属乡镇"] == ["", "建塘镇"]
    assert changes["密码"] == ["", "已设置"]
    assert NEW_PASSWORD not in str(changes)

    response = client.post(
        f"{USERS}add/",
        {
            "username": "huxiaxia",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
            "name": "虎跳峡镇扶贫办",
            "role": Role.TOWNSHIP,
            "township": Township.objects.get(name="虎跳峡镇").pk,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    official = User.objects.get(username="huxiaxia")
    assert change_rows(official)[0][:2] == ("create", "city")
    assert change_rows(official)[0][2]["角色"] == ["", "乡镇"]


def test_city_cannot_create_an_approver_in_the_admin(city_user: User) -> None:
    response = client_for(city_user).post(
        f"{USERS}add/",
        {
            "username": "approver2",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
            "role": Role.APPROVER,
            "is_superuser": "on",
        },
    )
    assert response.status_code == 200  # the form again, with the refusal
    assert not User.objects.filter(username="approver2").exists()


def test_a_township_user_needs_a_township(city_user: User) -> None:
    response = client_for(city_user).post(
        f"{USERS}add/",
        {"username": "nowhere", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "role": Role.TOWNSHIP},
    )
    assert response.status_code == 200
    assert users.MSG_TOWNSHIP_REQUIRED in response.content.decode()
    assert not User.objects.filter(username="nowhere").exists()


def test_city_resets_a_cadres_password_in_the_admin(city_user: User, cadre: User) -> None:
    client = client_for(city_user)
    assert client.get(f"{USERS}{cadre.pk}/password/").status_code == 200
    response = client.post(
        f"{USERS}{cadre.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )
    assert response.status_code == 302
    cadre.refresh_from_db()
    assert cadre.check_password(NEW_PASSWORD)
    assert change_rows(cadre)[-1] == ("password", "city", {"密码": ["", "已重置"]})


def test_city_edits_and_deactivates_a_village_user_in_the_admin(city_user: User, village_user: User) -> None:
    client = client_for(city_user)
    page = client.get(f"{USERS}{village_user.pk}/change/")
    jidi = Village.objects.get(name="吉迪村")
    response = client.post(
        f"{USERS}{village_user.pk}/change/",
        form_data(page, village=jidi.pk, is_active=False, phone="13700000001"),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    village_user.refresh_from_db()
    assert (village_user.village, village_user.is_active) == (jidi, False)
    action, actor, changes = change_rows(village_user)[-1]
    assert (action, actor) == ("update", "city")
    assert changes == {
        "电话": ["", "13700000001"],
        "所属村委会": ["红坡村", "吉迪村"],
        "有效": ["是", "否"],
    }


def test_saving_an_unchanged_account_writes_no_audit_row(city_user: User, cadre: User) -> None:
    client = client_for(city_user)
    page = client.get(f"{USERS}{cadre.pk}/change/")
    rows = UserChange.objects.count()
    assert client.post(f"{USERS}{cadre.pk}/change/", form_data(page)).status_code == 302
    assert UserChange.objects.count() == rows


# --- the superuser ----------------------------------------------------------------------------------------


def test_superuser_manages_every_account_and_is_audited(superuser: User, city_user: User) -> None:
    client = client_for(superuser)
    response = client.post(
        f"{USERS}add/",
        {
            "username": "approver2",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
            "role": Role.APPROVER,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    approver2 = User.objects.get(username="approver2")
    assert change_rows(approver2)[0][:2] == ("create", "admin")

    group = Group.objects.create(name="审计组")
    page = client.get(f"{USERS}{city_user.pk}/change/")
    response = client.post(
        f"{USERS}{city_user.pk}/change/",
        form_data(page, role=Role.AUDITOR, is_superuser=True, groups=[group.pk]),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    city_user.refresh_from_db()
    assert (city_user.role, city_user.is_superuser, list(city_user.groups.all())) == (
        Role.AUDITOR,
        True,
        [group],
    )
    action, actor, changes = change_rows(city_user)[-1]
    assert (action, actor) == ("update", "admin")
    assert changes == {"角色": ["市指挥部", "纪检/审计"], "超级用户状态": ["否", "是"], "组": ["", "审计组"]}

    other_admin = User.objects.create_superuser("admin2", password="pw-for-tests-only")
    response = client.post(
        f"{USERS}{other_admin.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )
    assert response.status_code == 302
    assert change_rows(other_admin)[-1] == ("password", "admin", {"密码": ["", "已重置"]})


def test_superuser_may_change_its_own_account(superuser: User) -> None:
    users.user_update(actor=superuser, user=superuser, data={"role": Role.CITY, "name": "系统管理员"})
    superuser.refresh_from_db()
    assert superuser.role == Role.CITY
    assert change_rows(superuser)[-1][:2] == ("update", "admin")


# --- changes outside the admin -----------------------------------------------------------------------------


def test_a_save_from_a_shell_is_audited_without_actor(cadre: User) -> None:
    cadre.role = Role.TOWNSHIP
    cadre.is_superuser = True
    cadre.save()
    action, actor, changes = change_rows(cadre)[-1]
    assert (action, actor) == ("update", None)
    assert changes == {"角色": ["挂包干部", "乡镇"], "超级用户状态": ["否", "是"]}

    cadre.set_password(NEW_PASSWORD)
    cadre.save()
    assert change_rows(cadre)[-1] == ("password", None, {"密码": ["", "已重置"]})

    cadre.last_login = timezone.now()
    cadre.save(update_fields=["last_login"])  # what every login writes: not an account change
    cadre.name = "孙强强"
    cadre.save(update_fields=["last_login"])  # only the named fields are written, so only they count
    assert change_rows(cadre)[-1][2] == {"密码": ["", "已重置"]}


def test_a_password_rehash_on_login_is_not_a_password_change(settings: Any, cadre: User) -> None:
    rows = UserChange.objects.filter(user=cadre).count()
    settings.PASSWORD_HASHERS = [
        f"{__name__}.FastPBKDF2PasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]
    old_hash = cadre.password
    assert cadre.check_password("pw-for-tests-only")  # re-hashed with the preferred hasher, and saved
    cadre.refresh_from_db()
    assert cadre.password != old_hash and cadre.password.startswith("pbkdf2_sha256$2$")
    assert UserChange.objects.filter(user=cadre).count() == rows


def test_manage_py_createsuperuser_and_changepassword_leave_audit_rows(monkeypatch: Any) -> None:
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "pw-for-tests-only")
    call_command("createsuperuser", "--noinput", "--username", "root", "--email", "root@example.cn")
    root = User.objects.get(username="root")
    [(action, actor, changes)] = change_rows(root)
    assert (action, actor) == ("create", None)
    assert changes["超级用户状态"] == ["", "是"] and changes["密码"] == ["", "已设置"]

    from django.contrib.auth.management.commands import changepassword

    monkeypatch.setattr(changepassword.Command, "_get_pass", lambda self, prompt="": NEW_PASSWORD)
    call_command("changepassword", "root")
    assert change_rows(root)[-1] == ("password", None, {"密码": ["", "已重置"]})


def test_own_password_change_in_the_admin_header_is_audited(city_user: User) -> None:
    client = client_for(city_user)
    response = client.post(
        "/admin/password_change/",
        {"old_password": "pw-for-tests-only", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    city_user.refresh_from_db()
    assert city_user.check_password(NEW_PASSWORD)
    assert change_rows(city_user)[-1] == ("password", "city", {"密码": ["", "已重置"]})
    assert client.get("/admin/").status_code == 200  # still logged in
    with pytest.raises(ValidationError, match="原密码不正确"):
        users.user_set_password(actor=city_user, user=city_user, password="Another-pass-2017")


def test_the_account_audit_is_append_only_and_read_only_in_the_admin(
    city_user: User, auditor_user: User, township_user: User, superuser: User, cadre: User
) -> None:
    row = UserChange.objects.filter(user=cadre).first()
    assert row is not None
    with pytest.raises(ValueError):
        row.save()
    with pytest.raises(ValueError):
        row.delete()
    url = "/admin/households/userchange/"
    for reader in (city_user, auditor_user, superuser):
        client = client_for(reader)
        assert client.get(url).status_code == 200
        assert client.get(f"{url}{row.pk}/change/").status_code == 200
        assert client.post(f"{url}{row.pk}/change/", {"changes": "{}"}).status_code == 403
        assert client.get(f"{url}add/").status_code == 403
        assert client.post(f"{url}{row.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client_for(township_user).get(url).status_code == 403
    assert UserChange.objects.filter(pk=row.pk, changes=row.changes).exists()


# --- the household's cadre is never cleared by an edit that cannot choose it ------------------------------


@pytest.fixture
def held_household(import_rows: Any) -> Household:
    report = import_rows([roster_row(户编号="HP001", 挂包干部="孙强", 挂包干部电话="13800000031")])
    assert report.ok, [str(e) for e in report.errors]
    return Household.objects.get(code="HP001")


HOUSEHOLDS = "/admin/households/household/"


def test_a_village_edit_keeps_the_households_cadre(village_user: User, held_household: Household) -> None:
    cadre = held_household.cadre
    assert cadre is not None and cadre.name == "孙强"
    client = client_for(village_user)
    page = client.get(f"{HOUSEHOLDS}{held_household.pk}/change/")
    assert page.status_code == 200
    assert "cadre" not in page.context["adminform"].form.fields  # shown read-only
    assert "孙强" in page.content.decode()
    response = client.post(f"{HOUSEHOLDS}{held_household.pk}/change/", form_data(page, phone="13711112222"))
    assert response.status_code == 302, response.content.decode()[:3000]
    held_household.refresh_from_db()
    assert (held_household.phone, held_household.cadre) == ("13711112222", cadre)
    change = HouseholdChange.objects.filter(household=held_household, action="update").get()
    assert change.actor == village_user
    assert set(change.changes) == {"联系电话"}


def test_a_forged_cadre_from_a_village_user_is_ignored(
    village_user: User, held_household: Household, cadre: User
) -> None:
    original = held_household.cadre
    client = client_for(village_user)
    page = client.get(f"{HOUSEHOLDS}{held_household.pk}/change/")
    response = client.post(
        f"{HOUSEHOLDS}{held_household.pk}/change/", form_data(page, cadre=cadre.pk, head_name="次仁")
    )
    assert response.status_code == 302
    held_household.refresh_from_db()
    assert (held_household.head_name, held_household.cadre) == ("次仁", original)
    assert (
        "挂包干部"
        not in HouseholdChange.objects.filter(household=held_household, action="update").get().changes
    )


def test_township_cadre_dropdown_offers_the_cadres_of_its_area(
    township_user: User, held_household: Household, cadre: User
) -> None:
    huxiaxia = Township.objects.get(name="虎跳峡镇")
    elsewhere = make_user(Role.CADRE, "gb-elsewhere", name="张伟", township=huxiaxia)
    retired = make_user(
        Role.CADRE, "gb-retired", name="老王", township=township_user.township, is_active=False
    )
    current = held_household.cadre
    assert current is not None
    # The household's cadre lives in another township and has since left: still offered, so kept.
    User.objects.filter(pk=current.pk).update(township=huxiaxia, is_active=False)

    client = client_for(township_user)
    page = client.get(f"{HOUSEHOLDS}{held_household.pk}/change/")
    offered = set(page.context["adminform"].form.fields["cadre"].queryset)
    assert current in offered and cadre in offered
    assert elsewhere not in offered and retired not in offered
    assert township_user not in offered  # cadres only

    response = client.post(f"{HOUSEHOLDS}{held_household.pk}/change/", form_data(page, phone="13722223333"))
    assert response.status_code == 302, response.content.decode()[:3000]
    held_household.refresh_from_db()
    assert held_household.cadre == current

    response = client.post(f"{HOUSEHOLDS}{held_household.pk}/change/", form_data(page, cadre=elsewhere.pk))
    assert response.status_code == 200  # not one of the choices
    held_household.refresh_from_db()
    assert held_household.cadre == current


def test_cadre_choices_for_a_township_include_cadres_holding_its_households(
    township_user: User, held_household: Household
) -> None:
    current = held_household.cadre
    assert current is not None
    User.objects.filter(pk=current.pk).update(township=None)  # holds 建塘镇 households, placed nowhere
    assert current in users.cadre_choices(actor=township_user)
    other = make_user(Role.TOWNSHIP, "huxiaxia", township=Township.objects.get(name="虎跳峡镇"))
    assert current not in users.cadre_choices(actor=other)
    assert current in users.cadre_choices(actor=other, current=current.pk)
