"""The officials' workplace for the registry. Thin: reads through `scoped`, writes through services."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from . import services
from .admin_base import ReadOnlyAdminMixin, ScopedAdminMixin, ScopedRelatedFilter, ServiceImportMixin
from .masking import mask_id_number
from .models import (
    CadreAssignment,
    Household,
    HouseholdChange,
    ImportBatch,
    Township,
    User,
    Village,
    VillageGroup,
)
from .resources import HouseholdResource
from .scoping import visible


class TownshipFilter(admin.SimpleListFilter):
    title = _("乡镇")
    parameter_name = "township"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[Any, str]]:
        return [(t.pk, t.name) for t in visible(Township, request.user)]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        if self.value():
            return queryset.filter(village__township_id=self.value())
        return queryset


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
        ("village", ScopedRelatedFilter),
        "exit_year",
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

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change, **kwargs)

        class ServiceCheckedForm(form):  # type: ignore[valid-type, misc]
            def _post_clean(self) -> None:
                super()._post_clean()
                try:
                    services.check_household(self.instance)
                except ValidationError as exc:
                    self._update_errors(exc)

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

    def get_export_filename(self, request: HttpRequest, queryset: Any, file_format: Any) -> str:
        return f"户花名册.{file_format.get_extension()}"


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
    list_filter = ("kind", "status", "dry_run")
    list_select_related = ("actor",)


@admin.register(User)
class UserAdmin(ScopedAdminMixin, DjangoUserAdmin):
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

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if obj is not None and request.user.is_superuser:
            return (*fieldsets, *self.superuser_fieldsets)
        return fieldsets

    def formfield_for_choice_field(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_choice_field(db_field, request, **kwargs)
        if db_field.name == "role" and field is not None:
            field.required = not request.user.is_superuser
        return field
