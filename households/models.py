"""The registry: geography, users with roles and scopes, households, cadre assignments, audit.

Every model that officials list carries `scope_paths`: how to reach its township, village and
cadre. `households.scoping.scoped()` is the one place that turns a user into a queryset filter.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import ValidationError
from django.db import models, router, transaction
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from stdnum.cn import uscc

from .fields import CodeField
from .idcard import validate_id_number
from .scoping import ScopePaths
from .uploads import OUTPUT, UploadValidator


class Role(models.TextChoices):
    CADRE = "cadre", _("挂包干部")
    VILLAGE = "village", _("村（村委会/驻村工作队）")
    TOWNSHIP = "township", _("乡镇")
    CITY = "city", _("市指挥部")
    APPROVER = "approver", _("产业办/分管领导")
    AUDITOR = "auditor", _("纪检/审计")


class Township(models.Model):
    """乡镇, from the 2017 statistical division codes (9 digits)."""

    code = models.CharField(_("统计用区划代码"), max_length=9, unique=True)
    name = models.CharField(_("名称"), max_length=32, unique=True)
    kind = models.CharField(_("类别"), max_length=4)  # 镇 / 乡

    scope_paths: ClassVar[ScopePaths] = ScopePaths(
        township="pk", village="villages", cadre="villages__households__cadre"
    )

    class Meta:
        verbose_name = _("乡镇")
        verbose_name_plural = _("乡镇")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class Village(models.Model):
    """村委会 or 社区 (12-digit code). `is_poor_village` marks the 20 villages of the collective programme."""

    class Kind(models.TextChoices):
        VILLAGE = "村", _("村委会")
        COMMUNITY = "社区", _("社区")

    code = models.CharField(_("统计用区划代码"), max_length=12, unique=True)
    township = models.ForeignKey(
        Township, on_delete=models.PROTECT, related_name="villages", verbose_name=_("乡镇")
    )
    name = models.CharField(_("名称"), max_length=32)
    kind = models.CharField(_("类别"), max_length=4, choices=Kind.choices)
    is_poor_village = models.BooleanField(_("2017年贫困村"), default=False)
    contact = models.CharField(_("公示异议受理联系人及电话"), max_length=64, blank=True)

    scope_paths: ClassVar[ScopePaths] = ScopePaths(
        township="township", village="pk", cadre="households__cadre"
    )

    class Meta:
        verbose_name = _("村委会/社区")
        verbose_name_plural = _("村委会/社区")
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["township", "name"], name="village_name_unique_in_township"),
            models.CheckConstraint(condition=Q(kind__in=["村", "社区"]), name="village_kind_valid"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def committee(self) -> str:
        """红坡村 → 红坡村村民委员会; 建塘社区 → 建塘社区居民委员会 (who issues its notices)."""
        return f"{self.name}{'居民委员会' if self.kind == '社区' else '村民委员会'}"


class VillageGroup(models.Model):
    """村民小组: created on first use under its village (roster import)."""

    village = models.ForeignKey(
        Village, on_delete=models.PROTECT, related_name="groups", verbose_name=_("村委会")
    )
    name = models.CharField(_("村民小组"), max_length=32)

    scope_paths: ClassVar[ScopePaths] = ScopePaths(
        township="village__township", village="village", cadre="households__cadre"
    )

    class Meta:
        verbose_name = _("村民小组")
        verbose_name_plural = _("村民小组")
        ordering = ["village__code", "name"]
        constraints = [
            models.UniqueConstraint(fields=["village", "name"], name="group_name_unique_in_village"),
        ]

    def __str__(self) -> str:
        return f"{self.village.name}{self.name}"


# What `UserChange` records of an account: identity, role and scope, rights. The password is
# recorded only as "changed", in these words.
AUDITED_USER_FIELDS = (
    "username",
    "name",
    "phone",
    "role",
    "township",
    "village",
    "is_active",
    "is_staff",
    "is_superuser",
)
AUDIT_TRIGGERS = frozenset({*AUDITED_USER_FIELDS, "password"})
PASSWORD_SET = "已设置"
PASSWORD_RESET = "已重置"
PASSWORD_DISABLED = "已停用密码登录"


def user_field_label(field: str) -> str:
    """The field's name as the admin shows it (Django's own fields translated, ours written in Chinese)."""
    with translation.override("zh-hans"):
        return str(User._meta.get_field(field).verbose_name)  # type: ignore[union-attr]


def _user_value(user: User | None, field: str) -> str:
    if user is None:
        return ""
    if field == "role":
        return str(Role(user.role).label) if user.role else ""
    value = getattr(user, field)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    return str(value)


class User(AbstractUser):
    """A user of the system. The role decides what they may do; township/village decide where."""

    name = models.CharField(_("姓名"), max_length=32, blank=True)
    phone = models.CharField(_("电话"), max_length=20, blank=True)
    role = models.CharField(_("角色"), max_length=16, choices=Role.choices, blank=True)
    township = models.ForeignKey(
        Township,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("所属乡镇"),
    )
    village = models.ForeignKey(
        Village,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("所属村委会"),
    )

    objects = UserManager()  # type: ignore[assignment,misc]

    scope_paths: ClassVar[ScopePaths] = ScopePaths(township="township", village="village", cadre="pk")

    class Meta:
        verbose_name = _("用户")
        verbose_name_plural = _("用户")
        constraints = [
            models.CheckConstraint(condition=Q(role__in=[*Role.values, ""]), name="user_role_valid"),
            models.CheckConstraint(
                condition=~Q(role=Role.VILLAGE) | Q(village__isnull=False),
                name="village_user_has_village",
            ),
            models.CheckConstraint(
                condition=~Q(role=Role.TOWNSHIP) | Q(township__isnull=False),
                name="township_user_has_township",
            ),
            models.CheckConstraint(condition=~Q(role=Role.CADRE) | ~Q(phone=""), name="cadre_has_phone"),
        ]

    def save(
        self,
        *args: Any,
        audit_actor: User | None = None,
        audit_extra: dict[str, list[str]] | None = None,
        **kwargs: Any,
    ) -> None:
        """Save, and write a `UserChange` row for any change of an audited field (see `UserChange`).

        `audit_actor` is who did it (the services in `households.users` pass it; a shell, a
        management command or a data script leave it None); `audit_extra` adds changes that the
        row itself does not hold (groups, user permissions), so that one edit is one audit row.
        """
        # The township follows from the village, so that township-level scoping finds village users.
        if self.village_id and not self.township_id:
            self.township_id = self.village.township_id  # type: ignore[union-attr]
        if self.role:
            self.is_staff = True  # every role works in the admin
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and not AUDIT_TRIGGERS.intersection(update_fields) and not audit_extra:
            super().save(*args, **kwargs)  # e.g. last_login, written on every login
            return
        using = kwargs.get("using") or router.db_for_write(type(self), instance=self)
        with transaction.atomic(using=using):
            before = None
            if self.pk is not None:  # the stored row, locked, to compare with
                before = (
                    type(self)
                    ._base_manager.using(using)
                    .select_for_update(no_key=True, of=("self",))
                    .select_related("township", "village")
                    .filter(pk=self.pk)
                    .first()
                )
            password = self._password_change(before, update_fields)
            super().save(*args, **kwargs)
            fields = AUDITED_USER_FIELDS if update_fields is None else set(update_fields)
            changes = {
                user_field_label(f): [_user_value(before, f), _user_value(self, f)]
                for f in AUDITED_USER_FIELDS
                if f in fields and _user_value(before, f) != _user_value(self, f)
            }
            if password:
                changes[user_field_label("password")] = ["", password]
            changes.update(audit_extra or {})
            if before is not None and not changes:
                return
            if before is None:
                action = UserChange.Action.CREATE
            elif set(changes) == {user_field_label("password")}:
                action = UserChange.Action.PASSWORD
            else:
                action = UserChange.Action.UPDATE
            UserChange.objects.using(using).create(
                user=self, actor=audit_actor, action=action, changes=changes
            )

    def _password_change(self, before: User | None, update_fields: Any) -> str:
        """How the password changed, in the audit's words ("" if it did not); never the password."""
        if update_fields is not None and "password" not in update_fields:
            return ""
        if before is None:
            return PASSWORD_SET if self.has_usable_password() else ""
        if self.password == before.password:
            return ""
        if not self.has_usable_password():
            return PASSWORD_DISABLED
        if getattr(self, "_password", None) is None and list(update_fields or []) == ["password"]:
            # `check_password` re-hashing on login (new hasher settings): the same password.
            return ""
        return PASSWORD_RESET

    @property
    def display_name(self) -> str:
        return self.name or self.username

    def get_short_name(self) -> str:
        return self.display_name  # the admin greets 李明, not GB13800000001

    def __str__(self) -> str:
        return f"{self.name}（{self.phone}）" if self.name and self.phone else self.display_name


def _import_kinds() -> dict[str, str]:
    from .imports import IMPORT_KINDS

    return IMPORT_KINDS.labels()


class ImportBatch(models.Model):
    """One run of an Excel import (admin or command): who, which file, what happened. The kinds are
    registered by the apps that import (`households.imports.IMPORT_KINDS`), not listed here."""

    class Status(models.TextChoices):
        PREVIEWED = "previewed", _("已预览（未写入）")
        IMPORTED = "imported", _("已导入")
        REFUSED = "refused", _("有错误，未写入")

    kind = CodeField(_("类别"), max_length=24, labels=_import_kinds)
    actor = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, related_name="+", verbose_name=_("操作人")
    )
    file_name = models.CharField(_("文件名"), max_length=255)
    file_sha256 = models.CharField(_("文件 SHA-256"), max_length=64)
    dry_run = models.BooleanField(_("仅预览"), default=False)
    status = models.CharField(_("结果"), max_length=16, choices=Status.choices)
    started_at = models.DateTimeField(_("开始时间"), default=timezone.now)
    finished_at = models.DateTimeField(_("结束时间"), null=True)
    rows_total = models.PositiveIntegerField(_("数据行数"), default=0)
    rows_new = models.PositiveIntegerField(_("新增"), default=0)
    rows_updated = models.PositiveIntegerField(_("修改"), default=0)
    rows_unchanged = models.PositiveIntegerField(_("未变"), default=0)
    errors = models.JSONField(_("错误"), default=list)
    warnings = models.JSONField(_("提示"), default=list)

    scope_paths: ClassVar[ScopePaths] = ScopePaths(
        township="actor__township", village="actor__village", cadre="actor"
    )

    class Meta:
        verbose_name = _("导入记录")
        verbose_name_plural = _("导入记录")
        ordering = ["-started_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["previewed", "imported", "refused"]), name="import_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.get_kind_display()} {self.file_name} {timezone.localtime(self.started_at):%Y-%m-%d %H:%M}"
        )

    def get_kind_display(self) -> str:
        return _import_kinds().get(self.kind, self.kind)


class Household(models.Model):
    """建档立卡贫困户: the roster of `excel-formats.md` §1, keyed by 户编号."""

    code = models.CharField(_("户编号"), max_length=32, unique=True)
    head_name = models.CharField(_("户主姓名"), max_length=32)
    id_number = models.CharField(_("身份证号"), max_length=18, unique=True, validators=[validate_id_number])
    village = models.ForeignKey(
        Village, on_delete=models.PROTECT, related_name="households", verbose_name=_("村委会")
    )
    group = models.ForeignKey(
        VillageGroup, on_delete=models.PROTECT, related_name="households", verbose_name=_("村民小组")
    )
    size = models.PositiveSmallIntegerField(_("家庭人口"))
    labour = models.PositiveSmallIntegerField(_("劳动力"))
    exit_year = models.PositiveSmallIntegerField(_("脱贫年度"), db_index=True)
    consolidation = models.BooleanField(_("巩固提升"), default=False)
    phone = models.CharField(_("联系电话"), max_length=20, blank=True)
    ethnicity = models.CharField(_("民族"), max_length=16, blank=True)
    bank_name = models.CharField(_("开户银行"), max_length=64, blank=True)
    bank_account = models.CharField(_("银行账号"), max_length=32, blank=True)
    cadre = models.ForeignKey(
        User,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="households",
        verbose_name=_("挂包干部"),
        limit_choices_to={"role": Role.CADRE},
    )
    created_at = models.DateTimeField(_("登记时间"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("最后修改"), default=timezone.now, editable=False)

    scope_paths: ClassVar[ScopePaths] = ScopePaths(
        township="village__township", village="village", cadre="cadre"
    )

    class Meta:
        verbose_name = _("贫困户")
        verbose_name_plural = _("贫困户")
        ordering = ["code"]
        permissions = [
            ("import_household", _("可导入户花名册")),
            ("export_household", _("可导出户花名册")),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(size__gte=1), name="household_size_at_least_one"),
            models.CheckConstraint(condition=Q(labour__lte=F("size")), name="labour_not_above_size"),
            models.CheckConstraint(
                condition=Q(exit_year__gte=2014) & Q(exit_year__lte=2020), name="exit_year_in_programme"
            ),
            models.CheckConstraint(condition=~Q(head_name=""), name="household_head_named"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.head_name}"

    @property
    def township(self) -> Township:
        return self.village.township


class OrganisationKind(models.TextChoices):
    COMPANY = "company", _("企业（公司）")
    COOPERATIVE = "cooperative", _("农民专业合作社")
    ASSOCIATION = "association", _("协会")
    GROWER = "grower", _("种养殖大户")
    LEADER = "leader", _("致富带头人")


LEGAL_ENTITIES = (OrganisationKind.COMPANY, OrganisationKind.COOPERATIVE, OrganisationKind.ASSOCIATION)


class OperatingModel(models.TextChoices):
    LEADING = "leading", _("龙头企业+贫困户")
    COOPERATIVE = "cooperative", _("合作社+贫困户")
    ASSOCIATION = "association", _("协会+贫困户")
    GROWER = "grower", _("专业大户/致富带头人+贫困户")
    ECOMMERCE = "ecommerce", _("农村电商平台+贫困户")


MSG_USCC = "统一社会信用代码无效（GB 32100 校验位不符或格式错误），请核对。"
MSG_USCC_REQUIRED = "企业、合作社和协会须填写统一社会信用代码。"


def validate_uscc(value: str) -> None:
    if value and not uscc.is_valid(value):
        raise ValidationError(MSG_USCC)


class Organisation(models.Model):
    """The register of organisations that work with poor households (rules.md §3 equity partner, §7):
    an enterprise, cooperative, association, large grower or 致富带头人. Registry data, so that every
    programme can point at it: the household programme's equity partner, the organisation programme's
    agreements and incentive. Supervised by one township.

    Seen by its supervising township and by every area where it has linked households — through a
    帮扶协议 or an equity investment. `needs_completion` marks an organisation carried over from the
    old bare equity-partner names: it lacks the register's data until the township or city completes
    it (the admin form then requires everything, and an incentive cannot be paid to it)."""

    name = models.CharField(_("名称"), max_length=100, unique=True)
    kind = models.CharField(_("类别"), max_length=16, choices=OrganisationKind.choices)
    operating_model = models.CharField(_("带贫模式"), max_length=16, choices=OperatingModel.choices)
    credit_code = models.CharField(
        _("统一社会信用代码"), max_length=18, blank=True, validators=[validate_uscc]
    )
    leader_name = models.CharField(_("法定代表人/负责人"), max_length=32)
    leader_id_number = models.CharField(_("负责人身份证号"), max_length=18, validators=[validate_id_number])
    phone = models.CharField(_("联系电话"), max_length=20, blank=True)
    township = models.ForeignKey(
        Township, on_delete=models.PROTECT, related_name="organisations", verbose_name=_("监管乡镇")
    )
    industry = models.CharField(_("主导产业"), max_length=64)
    bank_name = models.CharField(_("开户银行"), max_length=64, blank=True)
    bank_account = models.CharField(_("银行账号"), max_length=32, blank=True)
    recommended_at = models.DateTimeField(_("列为推荐申报时间"), null=True, blank=True, editable=False)
    needs_completion = models.BooleanField(_("待补全登记信息"), default=False, editable=False)
    created_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, editable=False, related_name="+"
    )
    created_at = models.DateTimeField(_("登记时间"), default=timezone.now, editable=False)

    # As a choice (the equity form's partner): the organisations supervised by the user's township and
    # those already linked to the user's area. The organisation programme's pages narrow this (its proxy).
    # Lookups by name, not imports: the programmes' links (帮扶协议, 入股) are reverse relations.
    scope_paths: ClassVar[ScopePaths] = ScopePaths(
        township=(
            "township",
            "agreements__household__village__township",
            "equity_investments__household__village__township",
        ),
        village=(
            "township__villages",
            "agreements__household__village",
            "equity_investments__household__village",
        ),
        cadre=(
            "township__villages__households__cadre",
            "agreements__household__cadre",
            "equity_investments__household__cadre",
        ),
    )

    class Meta:
        db_table = "enterprises_organisation"  # the table the organisation programme created first
        verbose_name = _("带贫组织")
        verbose_name_plural = _("带贫组织")
        ordering = ["township", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=OrganisationKind.values), name="organisation_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(operating_model__in=OperatingModel.values), name="organisation_model_valid"
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=[k.value for k in LEGAL_ENTITIES])
                | ~Q(credit_code="")
                | Q(needs_completion=True),
                name="legal_entity_has_credit_code",
            ),
            models.UniqueConstraint(
                fields=["credit_code"], condition=~Q(credit_code=""), name="one_organisation_per_credit_code"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.kind in LEGAL_ENTITIES and not self.credit_code:
            raise ValidationError({"credit_code": MSG_USCC_REQUIRED})
        if self.credit_code:
            self.credit_code = self.credit_code.strip().upper()

    @property
    def recommended(self) -> bool:
        return self.recommended_at is not None


class CadreAssignment(models.Model):
    """Who held a household when (挂包关系). Closed by setting `ended_at`, never overwritten."""

    household = models.ForeignKey(
        Household, on_delete=models.PROTECT, related_name="cadre_assignments", verbose_name=_("贫困户")
    )
    cadre = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="assignments", verbose_name=_("挂包干部")
    )
    started_at = models.DateTimeField(_("开始"), default=timezone.now)
    ended_at = models.DateTimeField(_("结束"), null=True, blank=True)
    assigned_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, related_name="+", verbose_name=_("操作人")
    )
    import_batch = models.ForeignKey(
        ImportBatch,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("导入记录"),
    )

    scope_paths: ClassVar[ScopePaths] = ScopePaths(
        township="household__village__township", village="household__village", cadre="household__cadre"
    )

    class Meta:
        verbose_name = _("挂包关系")
        verbose_name_plural = _("挂包关系")
        ordering = ["household", "-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["household"], condition=Q(ended_at__isnull=True), name="one_current_cadre"
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=F("started_at")),
                name="assignment_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.household} ← {self.cadre}"


class HouseholdChange(models.Model):
    """Append-only audit of every change to a household, written by the services (also in bulk)."""

    class Action(models.TextChoices):
        CREATE = "create", _("新增")
        UPDATE = "update", _("修改")

    household = models.ForeignKey(
        Household, on_delete=models.PROTECT, related_name="changes", verbose_name=_("贫困户")
    )
    actor = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, related_name="+", verbose_name=_("操作人")
    )
    at = models.DateTimeField(_("时间"), default=timezone.now, db_index=True)
    action = models.CharField(_("操作"), max_length=8, choices=Action.choices)
    # {"字段名": [旧值, 新值]} with the verbose (Chinese) field names, as users read them.
    changes = models.JSONField(_("变更内容"), default=dict)
    import_batch = models.ForeignKey(
        ImportBatch,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("导入批次"),
    )

    scope_paths: ClassVar[ScopePaths] = ScopePaths(
        township="household__village__township", village="household__village", cadre="household__cadre"
    )

    class Meta:
        verbose_name = _("户信息变更记录")
        verbose_name_plural = _("户信息变更记录")
        ordering = ["-at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(action__in=["create", "update"]), name="change_action_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.household_id} {self.get_action_display()} {timezone.localtime(self.at):%Y-%m-%d %H:%M}"


class UserChange(models.Model):
    """Append-only audit of accounts: who changed whose role, scope, rights or password, old → new.

    Written by `User.save()` and nowhere else, so that every door writes it: the services in
    `households.users` (the admin's door) pass their actor; `createsuperuser`, `changepassword`, a
    shell or a data script leave the actor empty. Passwords are never stored, only "已重置".
    """

    class Action(models.TextChoices):
        CREATE = "create", _("新增")
        UPDATE = "update", _("修改")
        PASSWORD = "password", _("重置密码")

    user = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="account_changes", verbose_name=_("用户")
    )
    actor = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, related_name="+", verbose_name=_("操作人")
    )
    at = models.DateTimeField(_("时间"), default=timezone.now, db_index=True)
    action = models.CharField(_("操作"), max_length=8, choices=Action.choices)
    # {"字段名": [旧值, 新值]} with the field names as the admin shows them.
    changes = models.JSONField(_("变更内容"), default=dict)

    scope_paths: ClassVar[ScopePaths] = ScopePaths(
        township="user__township", village="user__village", cadre="user"
    )

    class Meta:
        verbose_name = _("账号变更记录")
        verbose_name_plural = _("账号变更记录")
        ordering = ["-at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(action__in=["create", "update", "password"]), name="user_change_action_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.get_action_display()} {timezone.localtime(self.at):%Y-%m-%d %H:%M}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ValueError("账号变更记录只能追加，不能修改。")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise ValueError("账号变更记录只能追加，不能删除。")


def _job_kinds() -> dict[str, str]:
    from .jobs import JOB_KINDS

    return JOB_KINDS.labels()


def job_upload_to(instance: Job, filename: str) -> str:
    # One folder per job: the file keeps the name it is downloaded under (no suffix for duplicates).
    return f"jobs/{instance.pk}/{filename}"


class Job(models.Model):
    """A piece of background work (`households.jobs`): a batch print, an export, a large import.

    Who started it and for which area (what its result may show is scoped like any other row), its
    progress as counters the page polls, its heartbeat (so a job whose worker died is seen as such),
    and its outcome: an error in Chinese, a result (e.g. an import's report) and/or a file, served
    only through the scoped download view (`households.files`). The kinds are registered by the apps
    (`households.jobs.JOB_KINDS`), not listed here.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("排队中")
        RUNNING = "running", _("进行中")
        DONE = "done", _("已完成")
        FAILED = "failed", _("失败")

    kind = CodeField(_("类别"), max_length=32, labels=_job_kinds)
    title = models.CharField(_("任务"), max_length=200)
    actor = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", verbose_name=_("发起人"))
    township = models.ForeignKey(
        Township, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("乡镇")
    )
    village = models.ForeignKey(
        Village, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("村委会")
    )
    params = models.JSONField(_("参数"), default=dict)
    status = models.CharField(_("状态"), max_length=12, choices=Status.choices, default=Status.QUEUED)
    # Each (re)try is an attempt; a task carries the attempt it was enqueued for and does nothing when
    # the job has moved on (a retried job's old worker, should it come back, writes nothing).
    attempt = models.PositiveSmallIntegerField(_("第几次执行"), default=1)
    task_id = models.CharField(_("后台任务编号"), max_length=64, blank=True)
    done = models.PositiveIntegerField(_("已完成"), default=0)
    total = models.PositiveIntegerField(_("总数"), default=0)
    step = models.CharField(_("当前步骤"), max_length=100, blank=True)
    error = models.TextField(_("错误"), blank=True)
    result = models.JSONField(_("结果"), default=dict, blank=True)
    file = models.FileField(
        _("结果文件"),
        upload_to=job_upload_to,
        max_length=255,
        blank=True,
        validators=[UploadValidator(OUTPUT, "后台任务结果")],
    )
    created_at = models.DateTimeField(_("发起时间"), default=timezone.now, db_index=True)
    started_at = models.DateTimeField(_("开始时间"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(_("最近心跳"), null=True, blank=True)
    finished_at = models.DateTimeField(_("结束时间"), null=True, blank=True)

    scope_paths: ClassVar[ScopePaths] = ScopePaths(township="township", village="village", cadre="actor")

    class Meta:
        verbose_name = _("后台任务")
        verbose_name_plural = _("后台任务")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["queued", "running", "done", "failed"]), name="job_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(done__lte=F("total")) | Q(total=0), name="job_done_within_total"
            ),
            models.CheckConstraint(condition=Q(attempt__gte=1), name="job_attempt_positive"),
        ]

    def __str__(self) -> str:
        return self.title

    def get_kind_display(self) -> str:
        return _job_kinds().get(self.kind, self.kind)


class FormSubmission(models.Model):
    """A form that may be sent only once (`households.once`): its token, claimed in the same
    transaction as the work it asks for, so a double click or a resent page does the work once."""

    token = models.CharField(_("表单令牌"), max_length=32, unique=True)
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", verbose_name=_("提交人"))
    submitted_at = models.DateTimeField(_("提交时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("表单提交记录")
        verbose_name_plural = _("表单提交记录")

    def __str__(self) -> str:
        return self.token
