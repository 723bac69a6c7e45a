"""The officials' workplace for the registry. Thin: reads through `scoped`, writes through services."""

from __future__ import annotations

import copy
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.forms import AdminPasswordChangeForm as OwnPasswordChangeBase
from django.contrib.admin.utils import unquote
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_post_parameters

from . import services, users
from .admin_base import (
    PermissionLabelsMixin,
    ReadOnlyAdminMixin,
    ScopedAdminMixin,
    ScopedRelatedFilter,
    ServiceImportMixin,
    job_url,
)
from .masking import mask_id_number
from .models import (
    CadreAssignment,
    Household,
    HouseholdChange,
    ImportBatch,
    Job,
    Township,
    User,
    UserChange,
    Village,
    VillageGroup,
)
from .resources import HouseholdResource, RosterXLSX
from .scoping import sees_everything, visible
from .search import code_lookup
from .xlsx import area_name, file_name, issuer_for


class TownshipFilter(admin.SimpleListFilter):
    title = _("乡镇")
    parameter_name = "township"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[Any, str]]:
        return [(t.pk, t.name) for t in visible(Township, request.user)]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        if self.value():
            return queryset.filter(village__township_id=self.value())
        return queryset


class ExitYearFilter(admin.SimpleListFilter):
    """脱贫年度: the years the registry allows, not a DISTINCT over every household (issue 14)."""

    title = _("脱贫年度")
    parameter_name = "exit_year"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[Any, str]]:
        return [(str(y), str(y)) for y in range(2014, 2021)]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        return queryset.filter(exit_year=self.value()) if self.value() else queryset


class VillageFilter(ScopedRelatedFilter):
    """村委会: for whoever sees the whole city, the villages of the township chosen first (1,500
    villages in the sidebar of every page is what made the province's first page slow, issue 14)."""

    def field_choices(self, field: Any, request: HttpRequest, model_admin: Any) -> Any:
        township = request.GET.get(TownshipFilter.parameter_name, "")
        if not sees_everything(request.user):
            return super().field_choices(field, request, model_admin)
        if not township.isdigit():
            return []
        return [(v.pk, str(v)) for v in visible(Village, request.user).filter(township_id=int(township))]


class CadreAssignmentInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = CadreAssignment
    fk_name = "household"
    fields = ("cadre", "started_at", "ended_at", "assigned_by")
    readonly_fields = fields
    extra = 0
    verbose_name_plural = _("挂包关系历史")


class HouseholdChangeInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = HouseholdChange
    fields = ("at", "actor", "action", "changes", "import_batch")
    readonly_fields = fields
    extra = 0
    verbose_name_plural = _("变更记录")


@admin.register(Household)
class HouseholdAdmin(ScopedAdminMixin, ServiceImportMixin, admin.ModelAdmin):
    list_display = (
        "code",
        "head_name",
        "masked_id_number",
        "township_name",
        "village",
        "group",
        "size",
        "labour",
        "exit_year",
        "consolidation",
        "cadre",
    )
    list_filter = (
        TownshipFilter,
        ("village", VillageFilter),
        ExitYearFilter,
        "consolidation",
    )
    search_fields = ("code", "head_name", "=id_number")
    list_select_related = ("village__township", "group__village", "cadre")
    list_per_page = 50
    autocomplete_fields = ()
    readonly_fields = ("created_at", "updated_at")
    inlines = (CadreAssignmentInline, HouseholdChangeInline)
    fieldsets = (
        (None, {"fields": ("code", "head_name", "id_number", "phone", "ethnicity")}),
        (_("所在地"), {"fields": ("village", "group")}),
        (_("家庭"), {"fields": ("size", "labour", "exit_year", "consolidation")}),
        (_("挂包与账户"), {"fields": ("cadre", "bank_name", "bank_account")}),
        (_("记录"), {"fields": ("created_at", "updated_at")}),
    )

    resource_classes = [HouseholdResource]

    def get_search_results(self, request: HttpRequest, queryset: Any, search_term: str) -> Any:
        by_code = code_lookup(queryset, search_term)
        if by_code is not None:
            return by_code, False
        return super().get_search_results(request, queryset, search_term)

    @admin.display(description=_("身份证号"), ordering="id_number")
    def masked_id_number(self, obj: Household) -> str:
        return mask_id_number(obj.id_number)

    @admin.display(description=_("乡镇"), ordering="village__township__code")
    def township_name(self, obj: Household) -> str:
        return obj.village.township.name

    def save_model(self, request: HttpRequest, obj: Household, form: Any, change: bool) -> None:
        # Errors are raised in the form's clean (below); here the service writes and audits.
        if change:
            services.household_update(household=obj, actor=request.user)  # type: ignore[arg-type]
        else:
            services.household_create(household=obj, actor=request.user)  # type: ignore[arg-type]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = tuple(super().get_readonly_fields(request, obj))
        if not users.may_reassign_cadre(request.user):  # type: ignore[arg-type]
            # Not in the form, so neither an empty dropdown nor a forged POST can change the cadre.
            return (*fields, "cadre")
        return fields

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change, **kwargs)

        class ServiceCheckedForm(form):  # type: ignore[valid-type, misc]
            def _post_clean(self) -> None:
                super()._post_clean()
                try:
                    services.check_household(self.instance)
                except ValidationError as exc:
                    self._update_errors(exc)

        if "cadre" in ServiceCheckedForm.base_fields:
            cadre_field: Any = ServiceCheckedForm.base_fields["cadre"]
            cadre_field.queryset = users.cadre_choices(
                actor=request.user,  # type: ignore[arg-type]
                current=obj.cadre_id if obj is not None else None,
            )
        return ServiceCheckedForm

    # --- import / export -----------------------------------------------------------------------

    import_title = "户花名册"
    import_command = "import_households"
    import_help = (
        "必填列：户编号、户主姓名、身份证号、乡镇、村委会、村民小组、家庭人口、劳动力、脱贫年度；"
        "选填：巩固提升、联系电话、挂包干部、挂包干部电话。身份证号列请设为“文本”。"
    )

    def get_export_resource_kwargs(self, request: HttpRequest, **kwargs: Any) -> dict[str, Any]:
        # Whole ID numbers only for those who import (and so need a re-importable file).
        return {
            "user": request.user,
            "whole_id_numbers": request.user.has_perm("households.import_household"),
        }

    # The export is written by the project's xlsx writer (names never become formulas, and come back
    # unchanged on re-import); ServiceImportMixin sends its name as RFC 6266 `filename*=`.
    export_formats = [RosterXLSX]

    def get_export_data(self, file_format: Any, request: HttpRequest, queryset: Any, **kwargs: Any) -> Any:
        if isinstance(file_format, RosterXLSX):
            file_format.title = f"户花名册（{area_name(request.user)}）"
            file_format.issuer = issuer_for(request.user)
        return super().get_export_data(file_format, request, queryset, **kwargs)

    def get_export_filename(self, request: HttpRequest, queryset: Any, file_format: Any) -> str:
        """户花名册-建塘镇.xlsx: the area the user may see."""
        return file_name("户花名册", area_name(request.user), extension=file_format.get_extension())


@admin.register(Township)
class TownshipAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("code", "name", "kind")
    search_fields = ("name", "code")


@admin.register(Village)
class VillageAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("code", "name", "kind", "township", "is_poor_village", "contact")
    list_filter = (("township", ScopedRelatedFilter), "kind", "is_poor_village")
    list_select_related = ("township",)
    search_fields = ("name", "code")
    readonly_fields = ("code", "name", "kind", "township")
    list_editable = ()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # the geography comes from the statistical codes (data migration)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(VillageGroup)
class VillageGroupAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("name", "village")
    list_filter = (("village", ScopedRelatedFilter),)
    list_select_related = ("village",)
    search_fields = ("name", "village__name")


@admin.register(HouseholdChange)
class HouseholdChangeAdmin(ScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("at", "household", "action", "actor", "changes", "import_batch")
    list_filter = ("action",)
    list_select_related = ("household", "actor", "import_batch")
    search_fields = ("household__code", "household__head_name")
    date_hierarchy = "at"


class ImportKindFilter(admin.SimpleListFilter):
    title = _("类别")
    parameter_name = "kind"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[Any, str]]:
        from .imports import IMPORT_KINDS

        return IMPORT_KINDS.choices()

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        return queryset.filter(kind=self.value()) if self.value() else queryset


@admin.register(ImportBatch)
class ImportBatchAdmin(ScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "started_at",
        "kind",
        "file_name",
        "actor",
        "status",
        "dry_run",
        "rows_total",
        "rows_new",
        "rows_updated",
        "rows_unchanged",
    )
    list_filter = (ImportKindFilter, "status", "dry_run")
    list_select_related = ("actor",)


@admin.register(UserChange)
class UserChangeAdmin(ScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("at", "user", "action", "actor", "changes")
    list_filter = ("action",)
    list_select_related = ("user", "actor")
    search_fields = ("user__username", "user__name", "actor__username", "actor__name")
    date_hierarchy = "at"


class UserChangeInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = UserChange
    fk_name = "user"
    fields = ("at", "actor", "action", "changes")
    readonly_fields = fields
    extra = 0
    verbose_name_plural = _("账号变更记录")


class UserPasswordForm(AdminPasswordChangeForm):
    """Django's 修改密码 page for another user; its help text in Chinese (Django appends an English
    warning to it) and without the single sign-on and LDAP this system does not have."""

    def __init__(self, user: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(user, *args, **kwargs)
        if "usable_password" in self.fields:
            self.fields["usable_password"].help_text = mark_safe(
                "是否允许该用户用密码登录本系统。"
                '<ul id="id_unusable_warning" class="messagelist"><li class="warning">'
                "停用后，该用户现有的密码即失效，不能再登录。</li></ul>"
            )


@admin.register(User)
class UserAdmin(ScopedAdminMixin, PermissionLabelsMixin, DjangoUserAdmin):
    """Accounts. Every write goes through `households.users` (add, change and the password page), which
    decides who may manage whom; this class only shapes the pages to match."""

    change_password_form = UserPasswordForm

    list_display = ("username", "name", "phone", "role", "township", "village", "is_active")
    list_filter = ("role", "is_active", ("township", ScopedRelatedFilter))
    list_select_related = ("township", "village")
    search_fields = ("username", "name", "phone")
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (_("身份与管辖范围"), {"fields": ("name", "phone", "role", "township", "village", "is_active")}),
        (_("时间"), {"fields": ("last_login", "date_joined")}),
    )
    superuser_fieldsets = (
        (_("系统权限"), {"fields": ("is_staff", "is_superuser", "groups", "user_permissions")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "password1", "password2")}),
        (_("身份与管辖范围"), {"fields": ("name", "phone", "role", "township", "village")}),
    )
    readonly_fields = ("last_login", "date_joined")
    inlines = (UserChangeInline,)

    def get_queryset(self, request: HttpRequest) -> Any:
        queryset = super().get_queryset(request)
        actor = request.user
        if actor.is_superuser or not actor.has_perm("households.change_user"):
            return queryset  # view-only roles read the accounts of their area
        # Those who manage accounts (the city) open only the ones they manage, and their own (read-only).
        return queryset.filter(
            Q(pk__in=users.manageable_users(actor).values("pk")) | Q(pk=actor.pk)  # type: ignore[arg-type]
        )

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or users.can_manage(request.user, obj))  # type: ignore[arg-type]

    def get_inlines(self, request: HttpRequest, obj: Any) -> Any:
        return self.inlines if obj is not None else ()

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if obj is not None and request.user.is_superuser:
            return (*fieldsets, *self.superuser_fieldsets)
        return fieldsets

    def formfield_for_choice_field(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_choice_field(db_field, request, **kwargs)
        if db_field.name == "role" and field is not None:
            allowed = users.assignable_roles(request.user)  # type: ignore[arg-type]
            if allowed:  # (an empty list: the page is read-only anyway)
                choices: Any = field.choices
                field.choices = [(value, label) for value, label in choices if value in allowed]
                field.required = "" not in allowed
        return field

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        actor: User = request.user  # type: ignore[assignment]
        stored_pk = obj.pk if obj is not None else None

        class ServiceCheckedForm(form):  # type: ignore[valid-type, misc]
            """Shows the services' refusals beside the form; the services check again when saving."""

            def _post_clean(self) -> None:
                stored = User.objects.filter(pk=stored_pk).first() if stored_pk is not None else None
                data = {f: v for f, v in self.cleaned_data.items() if f in users.EDITABLE_FIELDS}
                candidate = copy.copy(self.instance)  # the account as it would be saved
                for field, value in data.items():
                    if field not in ("groups", "user_permissions"):
                        setattr(candidate, field, value)
                changed = set(self.changed_data) if stored is not None else {"phone"}
                try:
                    users.check_user(actor=actor, user=stored, data=data)
                    users.check_account(candidate, phone_changed=bool(changed & {"phone", "role"}))
                except ValidationError as exc:
                    # The reason in the users' words only; the model's own checks (whose messages
                    # name database constraints) run on the next try, once these are met.
                    self.add_error(None, exc)
                    return
                super()._post_clean()

        return ServiceCheckedForm

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        data = {f: v for f, v in form.cleaned_data.items() if f in users.EDITABLE_FIELDS}
        actor: User = request.user  # type: ignore[assignment]
        try:
            if change:
                users.user_update(actor=actor, user=obj, data=data)
            else:
                usable = form.cleaned_data.get("set_usable_password", True)
                password = form.cleaned_data["password1"] if usable else None
                created = users.user_create(actor=actor, password=password, **data)
                obj.pk = created.pk  # the admin's messages and redirect use the form's instance
                obj._state.adding = False
        except ValidationError as exc:  # the form checked the same rules: this is a forged or raced POST
            raise PermissionDenied(exc.messages[0]) from exc

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # Not `form.save_m2m()`: the service wrote (and audited) groups and permissions.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    @method_decorator(sensitive_post_parameters())
    def user_change_password(self, request: HttpRequest, id: str, form_url: str = "") -> HttpResponse:
        """Django's page, with the password set by `users.user_set_password` instead of the form."""
        user = self.get_object(request, unquote(id))
        if user is None:
            raise Http404
        if not self.has_change_permission(request, user):
            raise PermissionDenied
        if request.method == "POST":
            form = self.change_password_form(user, request.POST)
            if form.is_valid() and (
                form.cleaned_data["set_usable_password"] or "unset-password" in request.POST
            ):
                password = (
                    form.cleaned_data["password1"] if form.cleaned_data["set_usable_password"] else None
                )
                try:
                    users.user_set_password(actor=request.user, user=user, password=password)  # type: ignore[arg-type]
                except ValidationError as exc:
                    raise PermissionDenied(exc.messages[0]) from exc
                self.log_change(request, user, self.construct_change_message(request, form, []))
                messages.success(request, "密码已修改。" if password else "已停用该用户的密码登录。")
                update_session_auth_hash(request, user)  # keeps one's own session when it is one's own
                return HttpResponseRedirect(reverse("admin:households_user_change", args=[user.pk]))
        # GET, and forms with errors (which Django shows again): Django's page, which saves nothing.
        return super().user_change_password(request, id, form_url)


class OwnPasswordChangeForm(OwnPasswordChangeBase):
    """修改密码 in the admin's header: the old password, then `users.user_set_password` (audited)."""

    def save(self, commit: bool = True) -> Any:
        return users.user_set_password(
            actor=self.user,
            user=self.user,
            password=self.cleaned_data["new_password1"],
            old_password=self.cleaned_data["old_password"],
        )


admin.site.password_change_form = OwnPasswordChangeForm


# --- background jobs (households.jobs) ----------------------------------------------------------------


class JobKindFilter(admin.SimpleListFilter):
    title = _("类别")
    parameter_name = "kind"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[Any, str]]:
        from .jobs import JOB_KINDS

        return JOB_KINDS.choices()

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        return queryset.filter(kind=self.value()) if self.value() else queryset


@admin.register(Job)
class JobAdmin(ScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """后台任务: the jobs of one's area; a job's page shows its progress (polled), then its outcome —
    the file to download, the import preview to confirm, or the error and 重试."""

    list_display = ("created_at", "title", "kind_label", "actor", "status", "progress", "file")
    list_display_links = ("created_at", "title")
    list_filter = (JobKindFilter, "status")
    list_select_related = ("actor",)
    search_fields = ("title",)

    @admin.display(description=_("类别"), ordering="kind")
    def kind_label(self, job: Job) -> str:
        return job.get_kind_display()

    @admin.display(description=_("进度"))
    def progress(self, job: Job) -> str:
        return f"{job.done}/{job.total}" if job.total else "-"

    def get_urls(self) -> list[Any]:
        from django.urls import path

        view = self.admin_site.admin_view
        return [
            path("<int:pk>/status/", view(self.status_view), name="households_job_status"),
            path("<int:pk>/retry/", view(self.retry_view), name="households_job_retry"),
            path("<int:pk>/confirm/", view(self.confirm_view), name="households_job_confirm"),
            *super().get_urls(),
        ]

    def _job(self, request: HttpRequest, pk: Any) -> Job:
        job = self.get_queryset(request).select_related("actor").filter(pk=pk).first()
        if job is None or not self.has_view_permission(request, job):
            raise Http404("没有这个任务，或不在您的管辖范围内。")
        return job

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        from django.template.response import TemplateResponse

        from .files import file_name
        from .jobs import JOB_KINDS, job_state

        job = self._job(request, unquote(object_id))
        kind = JOB_KINDS.get(job.kind)
        presented = kind.present(job) if kind is not None and kind.present is not None else {}
        return TemplateResponse(
            request,
            "admin/households/job/progress.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": job.title,
                "job": job,
                "state": job_state(job, request.user),
                "file_name": file_name(job.file) if job.file else "",
                "result_template": kind.result_template if kind is not None else "",
                **presented,
            },
        )

    def status_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        from django.http import JsonResponse

        from .jobs import job_state

        response = JsonResponse(job_state(self._job(request, pk), request.user))
        response["Cache-Control"] = "no-store"
        return response

    def retry_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        from .jobs import job_retry

        if request.method != "POST":
            return HttpResponseRedirect(job_url(self._job(request, pk)))
        job = self._job(request, pk)
        try:
            job = job_retry(job=job, actor=request.user)  # type: ignore[arg-type]
        except ValidationError as exc:
            messages.error(request, exc.messages[0])
        else:
            messages.success(request, "已重新排队执行。")
        return HttpResponseRedirect(job_url(job))

    def confirm_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        from .import_job import import_job_confirm

        preview = self._job(request, pk)
        if request.method != "POST":
            return HttpResponseRedirect(job_url(preview))
        try:
            job = import_job_confirm(preview=preview, actor=request.user)  # type: ignore[arg-type]
        except ValidationError as exc:
            messages.error(request, exc.messages[0])
            return HttpResponseRedirect(job_url(preview))
        return HttpResponseRedirect(job_url(job))


from . import admin_system  # noqa: E402, F401  (the superuser's pages of Django and django-axes)
