"""Writes to user accounts (the admin's door): create, update, set password. Roles cannot escalate.

Who manages whom:

    superuser    every account, superusers and their own included
    city         (市指挥部) township, village and cadre accounts in the city: create, edit,
                 deactivate, set password; gives only those three roles, never is_superuser,
                 is_staff, groups or user permissions; never touches an account that holds any of
                 those, nor its own
    anyone else  nobody (a user changes their own password only by giving the old one)

Nobody but a superuser changes their own role, scope or active flag. Every function checks these
rules on the server, under a row lock, so a forged POST fails the same way a hidden button does;
the admin's form runs `check_user` first only to show the message beside the form.

Every change is audited by `User.save()` (see `models.UserChange`): these functions pass their
actor to it, and any other save (shell, `createsuperuser`, `changepassword`) is recorded with no
actor. Many-to-many changes (groups, user permissions) are not seen by `save()`; `user_update`
hands them to it so that one edit is one row. `QuerySet.update()` and `bulk_create` bypass `save()`
and so this audit: the roster import creates its cadres that way, with no usable password, so they
cannot log in until someone sets one here, which is audited.

Maker-checker residual risk: the approval chain (`disbursements.approval`) checks user ids: whoever
took a step may not take the next. One person holding two accounts defeats that. The last step
(产业办/分管领导 approval) is out of the city's reach: only a superuser can create or take over an
approver, city or auditor account, and that creation, and every later change of the account's role,
password or rights, is a `UserChange` row with the superuser as actor, which the auditor reads. The
lower steps (cadre, village, township) are taken by accounts the city does create, so a city
official could take those and the city review with accounts of their own making; each such account
shows in this audit with the city user as its creator, next to the batch's `Transition` rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Q

from .models import Household, Role, Township, User, Village, user_field_label
from .scoping import sees_everything, visible

# The roles the city manages; the others (city, approver, auditor) are a superuser's to give.
CITY_MANAGED_ROLES = (Role.TOWNSHIP, Role.VILLAGE, Role.CADRE)
# Fields the services write, as the admin's forms name them.
EDITABLE_FIELDS = (
    "username",
    "name",
    "phone",
    "role",
    "township",
    "village",
    "is_active",
    "is_staff",
    "is_superuser",
    "groups",
    "user_permissions",
)
SYSTEM_FIELDS = ("is_staff", "is_superuser", "groups", "user_permissions")
OWN_FIELDS = ("role", "township", "village", "is_active")

MSG_NOT_MANAGED = "您无权管理该账号：市指挥部只能管理乡镇、村和挂包干部账号。"
MSG_NO_USER_RIGHTS = "您无权管理用户账号。"
MSG_ROLE_NOT_GIVEN = "您不能授予“{role}”角色：市指挥部、产业办/分管领导、纪检/审计账号只能由系统管理员设置。"
MSG_SYSTEM_RIGHTS = "只有系统管理员可以设置超级用户、后台登录、组和用户权限。"
MSG_OWN_ACCOUNT = "不能修改自己的角色、管辖范围或启用状态，请联系系统管理员。"
MSG_OLD_PASSWORD = "原密码不正确。"
MSG_TOWNSHIP_REQUIRED = "乡镇用户必须选择所属乡镇。"
MSG_VILLAGE_REQUIRED = "村用户必须选择所属村委会。"
MSG_VILLAGE_ELSEWHERE = "所属村委会不在所属乡镇内。"
MSG_CADRE_PHONE = "挂包干部必须填写电话。"
MSG_PHONE_TAKEN = "电话 {phone} 已登记给另一位用户（户花名册按姓名和电话识别挂包干部）。"
MSG_UNKNOWN_FIELD = "不能通过此处修改“{field}”。"
MSG_NO_SUCH_USER = "该账号不存在。"


# --- who may do what (read-only; the admin uses these to shape its pages) ---------------------------


def _is_superuser(actor: User) -> bool:
    return bool(actor.is_active and actor.is_superuser)


def _is_city(actor: User) -> bool:
    return bool(actor.is_active and actor.role == Role.CITY and actor.has_perm("households.change_user"))


def _city_managed_q() -> Q:
    holds_rights = User.groups.through._default_manager.filter(user_id=models.OuterRef("pk"))
    holds_permissions = User.user_permissions.through._default_manager.filter(user_id=models.OuterRef("pk"))
    return (
        Q(role__in=CITY_MANAGED_ROLES, is_superuser=False)
        & ~Q(models.Exists(holds_rights))
        & ~Q(models.Exists(holds_permissions))
    )


def manageable_users(actor: User) -> models.QuerySet[User]:
    """The accounts `actor` may edit, deactivate and set the password of."""
    if _is_superuser(actor):
        return User.objects.all()
    if _is_city(actor):
        return User.objects.filter(_city_managed_q()).exclude(pk=actor.pk)
    return User.objects.none()


def can_manage(actor: User, user: User) -> bool:
    """Whether `actor` may change `user` (as stored): the rule of `manageable_users`, for one row."""
    if user.pk is None:
        return False
    return manageable_users(actor).filter(pk=user.pk).exists()


def assignable_roles(actor: User) -> list[str]:
    """The roles `actor` may give ("" = no role, for system accounts)."""
    if _is_superuser(actor):
        return ["", *Role.values]
    if _is_city(actor):
        return [str(r) for r in CITY_MANAGED_ROLES]
    return []


def cadre_choices(*, actor: User, current: int | None = None) -> models.QuerySet[User]:
    """The cadres `actor` may assign to a household: active, holding households in the actor's
    area or placed in one of its townships; and always the household's `current` cadre, so that
    an edit never clears or changes a cadre the actor did not pick."""
    pick = Q(is_active=True)
    if not sees_everything(actor):
        holds_here = visible(Household, actor).filter(cadre__isnull=False).values("cadre")
        pick &= Q(pk__in=holds_here) | Q(township__in=visible(Township, actor))
    if current is not None:
        pick |= Q(pk=current)
    return User.objects.filter(Q(role=Role.CADRE) & pick).order_by("name", "phone")


def may_reassign_cadre(actor: User) -> bool:
    """Reassigning a household's cadre is a township or city decision, not the village's."""
    return bool(actor.is_active and (actor.is_superuser or actor.role in (Role.TOWNSHIP, Role.CITY)))


# --- checks ------------------------------------------------------------------------------------------


def _value_of(user: User, field: str) -> Any:
    if field in ("groups", "user_permissions"):
        return set(getattr(user, field).all()) if user.pk else set()
    return getattr(user, field)


def _changes(user: User | None, data: Mapping[str, Any]) -> dict[str, Any]:
    """The entries of `data` that differ from `user` as stored (all of them for a new account)."""
    if user is None:
        return dict(data)
    changed = {}
    for field, value in data.items():
        new = set(value) if field in ("groups", "user_permissions") else value
        if _value_of(user, field) != new:
            changed[field] = value
    return changed


def check_user(*, actor: User, user: User | None, data: Mapping[str, Any]) -> None:
    """Refuse what `actor` may not do to `user` (as stored; None for a new account) with `data`.

    Raises ValidationError with the reason. The services call it under the row lock; the admin's
    form calls it to show the reason beside the form.
    """
    unknown = [f for f in data if f not in EDITABLE_FIELDS]
    if unknown:
        raise ValidationError(MSG_UNKNOWN_FIELD.format(field=unknown[0]))
    if not (_is_superuser(actor) or _is_city(actor)):
        raise ValidationError(MSG_NO_USER_RIGHTS)
    changed = _changes(user, data)
    own = user is not None and user.pk == actor.pk and not _is_superuser(actor)
    if own and any(f in changed for f in OWN_FIELDS):
        raise ValidationError(MSG_OWN_ACCOUNT)
    if user is not None and not can_manage(actor, user):
        raise ValidationError(MSG_NOT_MANAGED)
    if _is_superuser(actor):
        return
    role = data.get("role", user.role if user is not None else "")
    if role not in assignable_roles(actor):
        label = Role(role).label if role in Role.values else "无角色"
        raise ValidationError(MSG_ROLE_NOT_GIVEN.format(role=label))
    # On a new account only "granted" counts (False / empty is the default); on an existing one, any change.
    granted = [f for f in SYSTEM_FIELDS if (changed.get(f) if user is None else f in changed)]
    if granted:
        raise ValidationError(MSG_SYSTEM_RIGHTS)


def check_account(user: User, *, phone_changed: bool) -> None:
    """What an account must say for its role, in the users' words (the services then `full_clean`)."""
    village = Village.objects.get(pk=user.village_id) if user.village_id is not None else None
    if village is not None and user.township_id is None:
        user.township_id = village.township_id  # as `User.save()` would, before the constraints are checked
    if user.role == Role.TOWNSHIP and user.township_id is None:
        raise ValidationError(MSG_TOWNSHIP_REQUIRED)
    if user.role == Role.VILLAGE and village is None:
        raise ValidationError(MSG_VILLAGE_REQUIRED)
    if village is not None and village.township_id != user.township_id:
        raise ValidationError(MSG_VILLAGE_ELSEWHERE)
    if user.role == Role.CADRE and not user.phone:
        raise ValidationError(MSG_CADRE_PHONE)
    if (
        phone_changed
        and user.role == Role.CADRE
        and User.objects.filter(phone=user.phone).exclude(pk=user.pk).exists()
    ):
        raise ValidationError(MSG_PHONE_TAKEN.format(phone=user.phone))


def _locked(user: User) -> User:
    stored = User.objects.select_for_update(no_key=True).filter(pk=user.pk).first()
    if stored is None:
        raise ValidationError(MSG_NO_SUCH_USER)
    return stored


def _names(values: Any) -> str:
    return "、".join(sorted(str(v) for v in values))


# --- services ----------------------------------------------------------------------------------------


@transaction.atomic
def user_create(
    *,
    actor: User,
    username: str,
    password: str | None,
    name: str = "",
    phone: str = "",
    role: str = "",
    township: Township | None = None,
    village: Village | None = None,
    is_active: bool = True,
    is_staff: bool = False,
    is_superuser: bool = False,
) -> User:
    """Create an account. `password=None` creates it without password login."""
    data = {
        "username": username,
        "name": name,
        "phone": phone,
        "role": role,
        "township": township,
        "village": village,
        "is_active": is_active,
        "is_staff": is_staff,
        "is_superuser": is_superuser,
    }
    check_user(actor=actor, user=None, data=data)
    user = User(**data)
    if password is None:
        user.set_unusable_password()
    else:
        password_validation.validate_password(password, user)
        user.set_password(password)
    check_account(user, phone_changed=True)
    user.full_clean()
    user.save(audit_actor=actor)
    return user


@transaction.atomic
def user_update(*, actor: User, user: User, data: Mapping[str, Any]) -> User:
    """Change the fields in `data` (names of `EDITABLE_FIELDS`) of `user`; returns the stored account.

    Writes nothing if nothing changes. `user` is read only for its pk: the row is locked and read
    again, so an in-memory instance edited by a form cannot smuggle other fields in.
    """
    stored = _locked(user)
    check_user(actor=actor, user=stored, data=data)
    changed = _changes(stored, data)
    if not changed:
        return stored
    extra: dict[str, list[str]] = {}
    for field, value in changed.items():
        if field in ("groups", "user_permissions"):
            manager = getattr(stored, field)
            before = _names(manager.all())
            manager.set(value)
            extra[user_field_label(field)] = [before, _names(value)]
        else:
            setattr(stored, field, value)
    check_account(stored, phone_changed="phone" in changed or "role" in changed)
    stored.full_clean()
    stored.save(audit_actor=actor, audit_extra=extra)
    return stored


@transaction.atomic
def user_set_password(
    *, actor: User, user: User, password: str | None, old_password: str | None = None
) -> User:
    """Set `user`'s password (None: no password login). Their own, a non-superuser sets only by
    giving the old one. The given instance is updated (so the caller can keep its session)."""
    stored = _locked(user)
    if stored.pk == actor.pk and not _is_superuser(actor):
        if old_password is None or not stored.check_password(old_password):
            raise ValidationError(MSG_OLD_PASSWORD)
    elif not can_manage(actor, stored):
        raise ValidationError(MSG_NOT_MANAGED if _is_city(actor) else MSG_NO_USER_RIGHTS)
    if password is None:
        user.set_unusable_password()
    else:
        password_validation.validate_password(password, stored)
        user.set_password(password)
    user.save(update_fields=["password"], audit_actor=actor)
    return user
