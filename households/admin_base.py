"""Admin base classes shared by every app: scoping of lists, objects and dropdowns; read-only views."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.options import ActionLocation, InlineModelAdmin
from django.contrib.admin.widgets import AdminFileWidget
from django.core.exceptions import ValidationError
from django.db import models
from django.http import HttpRequest
from django.utils.html import format_html
from import_export.admin import ImportExportMixin
from import_export.formats.base_formats import XLSX

from .files import file_name, file_url, is_registered, registered_fields
from .imports import sha256_of
from .scoping import scoped, visible


@dataclass(frozen=True)
class _FileLink:
    """What the admin's file input shows for the current file: the scoped URL and the file's own name."""

    url: str
    name: str

    def __str__(self) -> str:
        return self.name


class ScopedFileWidget(AdminFileWidget):
    """The admin's file input, its "目前" link going to the scoped download view, not to MEDIA_URL.

    The current value is the model's FieldFile, which knows its instance and field: no need to hand
    the object to the widget.
    """

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        widget = context["widget"]
        if widget["is_initial"]:
            url = file_url(value.instance, value.field.name)
            widget["is_initial"] = url is not None
            widget["value"] = _FileLink(url or "", file_name(value))
        return context


@cache
def file_link(model: type[models.Model], field_name: str) -> Callable[[models.Model], str]:
    """A read-only admin column for a registered file field: its file's name, linked to the scoped view.

    One callable per field (cached), so that the admin finds the same object in fieldsets and
    `readonly_fields`.
    """

    def link(obj: models.Model) -> str:
        url = file_url(obj, field_name)
        if url is None:
            return "-"  # Django's empty_value_display
        return format_html('<a href="{}">{}</a>', url, file_name(getattr(obj, field_name)))

    link.__name__ = field_name  # the page keeps the field's CSS class (field-scan, column-scan)
    field = model._meta.get_field(field_name)
    assert isinstance(field, models.FileField)
    return admin.display(description=field.verbose_name, ordering=field_name)(link)


class FileLinksMixin:
    """Registered file fields (`households.files`) link to the scoped download view, never to MEDIA_URL.

    An editable one gets `ScopedFileWidget`. Django shows a read-only model field through
    `display_for_field`, which links to `MEDIA_URL + name` (a 404, and no scope check); so wherever a
    registered file field is shown read-only (in `readonly_fields`, on a view-only page or inline, in
    `list_display`) its name is swapped for `file_link`'s column. The names stay in `readonly_fields`,
    which keeps them out of the form. Left as Django shows it: an inline that may add rows but not
    change them shows its existing rows' files with Django's link (the same fieldsets serve the
    new rows, which need the upload input).
    """

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if isinstance(db_field, models.FileField) and is_registered(db_field.model, db_field.name):
            kwargs["widget"] = ScopedFileWidget
        return super().formfield_for_dbfield(db_field, request, **kwargs)  # type: ignore[misc]

    def get_list_display(self, request: HttpRequest) -> Any:
        files = registered_fields(self.model)  # type: ignore[attr-defined]
        return [
            file_link(self.model, name) if name in files else name  # type: ignore[attr-defined]
            for name in super().get_list_display(request)  # type: ignore[misc]
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # Every file column is listed, so that the form leaves it out wherever `get_fieldsets` puts
        # it; it is shown only where its field's name was.
        columns = [file_link(self.model, name) for name in registered_fields(self.model)]  # type: ignore[attr-defined]
        return [*super().get_readonly_fields(request, obj), *columns]  # type: ignore[misc]

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)  # type: ignore[misc]
        files = registered_fields(self.model)  # type: ignore[attr-defined]
        if not files:
            return fieldsets
        if self._view_only(request, obj):
            shown_readonly = set(files)
        else:
            readonly = self.get_readonly_fields(request, obj)
            shown_readonly = {name for name in files if name in readonly}
        columns = {file_link(self.model, name) for name in files}  # type: ignore[attr-defined]

        def swap(entry: Any) -> Any:
            if isinstance(entry, list | tuple):
                line = tuple(e for e in map(swap, entry) if e is not None)
                return line or None
            if entry in columns:
                return None  # added by `get_readonly_fields` (via Django's default `get_fields`)
            if isinstance(entry, str) and entry in shown_readonly:
                return file_link(self.model, entry)  # type: ignore[attr-defined]
            return entry

        return [
            (title, {**options, "fields": [e for e in map(swap, options["fields"]) if e is not None]})
            for title, options in fieldsets
        ]

    def _view_only(self, request: HttpRequest, obj: Any) -> bool:
        """True when Django will show every field of this page (or inline) read-only."""
        if not isinstance(self, InlineModelAdmin):
            return obj is not None and not self.has_change_permission(request, obj)  # type: ignore[attr-defined]
        parent = self.admin_site.get_model_admin(self.parent_model)
        can_edit_parent = (
            parent.has_change_permission(request, obj)
            if obj is not None
            else parent.has_add_permission(request)
        )
        return not can_edit_parent or not (
            self.has_change_permission(request, obj) or self.has_add_permission(request, obj)
        )


class ScopedAdminMixin(FileLinksMixin):
    """Lists, change pages (and so URL-edited ids), actions, exports and FK dropdowns go through `scoped`.

    Django resolves a change/history/delete URL through `get_queryset`, so an object outside the
    user's area is "not found" rather than shown.
    """

    def get_queryset(self, request: HttpRequest) -> models.QuerySet[Any]:
        return scoped(super().get_queryset(request), request.user)  # type: ignore[misc]

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        related = db_field.related_model
        if "queryset" not in kwargs and hasattr(related, "scope_paths"):
            kwargs["queryset"] = visible(related, request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]


class ReadOnlyAdminMixin(FileLinksMixin):
    """Records that are only ever appended by services (audit, imports): nobody edits them here."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ScopedRelatedFilter(admin.RelatedOnlyFieldListFilter):
    """A related-field filter whose choices are only the related rows the user may see."""

    def field_choices(self, field: Any, request: HttpRequest, model_admin: Any) -> Any:
        related = field.related_model
        queryset = (
            visible(related, request.user)
            if hasattr(related, "scope_paths")
            else related._default_manager.all()
        )
        # Only the related rows that occur in the (already scoped) list, like RelatedOnlyFieldListFilter.
        used = model_admin.get_queryset(request).values(f"{field.name}__pk")
        return [(obj.pk, str(obj)) for obj in queryset.filter(pk__in=used)]


def money_column(field: str, label: str) -> Any:
    """An admin list column that writes an amount as the sheets do: 2,500.00."""

    def column(model_admin: Any, obj: Any) -> str:
        value = getattr(obj, field)
        return "" if value is None else f"{value:,.2f}"

    column.__name__ = f"{field}_yuan"
    return admin.display(description=label, ordering=field)(column)


class ServiceImportMixin(ImportExportMixin):
    """django-import-export's upload → preview → confirm, with our services doing the import.

    The resource's `import_data` hands the rows to an import service (see `resources.ServiceResource`);
    this mixin passes the user and the file's SHA-256, and renders our report instead of the library's.
    """

    formats = [XLSX]
    import_template_name = "admin/import_report.html"
    skip_admin_log = True
    import_title = ""
    import_help = ""
    import_command = ""

    def get_import_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {
            "import_title": self.import_title,
            "import_help": self.import_help,
            "import_command": self.import_command,
            **kwargs,
        }

    def get_import_resource_kwargs(self, request: HttpRequest, **kwargs: Any) -> dict[str, Any]:
        return {"user": request.user}

    def get_import_data_kwargs(self, **kwargs: Any) -> dict[str, Any]:
        form = kwargs.pop("form", None)
        kwargs.pop("request", None)
        kwargs.pop("user", None)
        kwargs["file_sha256"] = self._uploaded_sha256(form) if form is not None else ""
        return kwargs

    def _uploaded_sha256(self, form: Any) -> str:
        """SHA-256 of the uploaded file: from the upload on preview, from temp storage on confirm."""
        data = form.cleaned_data
        upload = data.get("import_file")
        if upload is not None:
            return sha256_of(upload)
        name = data.get("import_file_name")
        if not name:
            return ""
        storage = self.get_tmp_storage_class()(
            name=name, read_mode="rb", **self.get_tmp_storage_class_kwargs()
        )
        return sha256_of(io.BytesIO(storage.read()))

    def add_data_read_fail_error_to_form(self, form: Any, e: Exception) -> None:
        form.add_error(
            "import_file",
            "文件不是有效的 Excel 工作簿（.xlsx），无法读取。请在 Excel 中“另存为 .xlsx”后再导入。",
        )

    def add_success_message(self, result: Any, request: HttpRequest) -> None:
        report = result.report
        if report.ok:
            messages.success(request, report.summary())
        else:
            messages.error(request, report.summary() + " " + "；".join(str(e) for e in report.errors[:20]))


class RoleActionsMixin:
    """Admin actions offered by role, as data: `action_roles = {"action_name": {"role", …}}`.

    Hiding a button is only convenience; every action calls a service that checks role, scope
    and state again. `each` runs a service per selected row and reports refusals row by row.
    """

    action_roles: dict[str, frozenset[str]] = {}

    def get_actions(self, request: HttpRequest, action_location: Any = ActionLocation.CHANGE_LIST) -> Any:
        actions = super().get_actions(request, action_location)  # type: ignore[misc]
        role = getattr(request.user, "role", "")
        return {
            name: action
            for name, action in actions.items()
            if name not in self.action_roles or role in self.action_roles[name]
        }

    def each(self, request: HttpRequest, queryset: Iterable[Any], run: Callable[[Any], Any]) -> int:
        """`run(obj)` for every selected row; a refused row is named with its reason. Returns how many ran."""
        done = 0
        for obj in queryset:
            try:
                run(obj)
                done += 1
            except ValidationError as exc:
                self.message_user(request, f"{obj}：{exc.messages[0]}", messages.ERROR)  # type: ignore[attr-defined]
        return done
