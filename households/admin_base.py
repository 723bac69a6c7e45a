"""Admin base classes shared by every app: scoping of lists, objects and dropdowns; read-only views."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any, ClassVar

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import ActionLocation, InlineModelAdmin
from django.contrib.admin.views.main import ChangeList
from django.contrib.admin.widgets import AdminFileWidget
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.templatetags.static import static
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html, format_html_join
from django.utils.http import content_disposition_header
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST
from import_export.admin import ImportExportMixin
from import_export.formats.base_formats import XLSX
from import_export.forms import ConfirmImportForm, ImportForm, SelectableFieldsExportForm

from .display import amount, changes_text, lines_text, value_text
from .fields import is_money
from .files import file_name, file_url, is_registered, registered_fields
from .imports import (
    MSG_BAD_XLSX,
    MSG_NOT_XLSX,
    ImportFileError,
    Row,
    import_limits,
    is_upload_name,
    msg_file_too_large,
    read_xlsx,
    sha256_of,
)
from .pagination import MAX_PAGES, EstimatedCountPaginator
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


@cache
def money_display(model: type[models.Model], field_name: str) -> Callable[[models.Model], str]:
    """A read-only admin column for a money field: `1,500.00 元` (`1,500.00` when its label says 元).

    Django writes a DecimalField as `1500.00`; every money field (`households.fields.money_field`)
    shown read-only, on a list or a view-only page, goes through this column instead.
    """
    label = getattr(model._meta.get_field(field_name), "verbose_name", field_name)
    unit = "元" not in str(label)

    def column(obj: models.Model) -> str:
        value = getattr(obj, field_name)
        return "-" if value is None else amount(value, unit=unit)

    column.__name__ = field_name  # keeps the field's CSS class (field-amount, column-amount)
    return admin.display(description=label, ordering=field_name)(column)


def _money_fields(model: type[models.Model]) -> list[str]:
    return [f.name for f in model._meta.concrete_fields if is_money(f)]


YES_NO = {True: ("yes", "是"), False: ("no", "否"), None: ("unknown", "未知")}


def yes_no(value: bool | None) -> str:
    """Django's yes/no icon, its alt text in Chinese (Django writes alt="True")."""
    icon, text = YES_NO[None if value is None else bool(value)]
    return format_html('<img src="{}" alt="{}">', static(f"admin/img/icon-{icon}.svg"), text)


@cache
def yes_no_display(model: type[models.Model], field_name: str) -> Callable[[models.Model], str]:
    """A read-only admin column for a BooleanField: the icon, read as 是/否."""
    label = getattr(model._meta.get_field(field_name), "verbose_name", field_name)

    def column(obj: models.Model) -> str:
        return yes_no(getattr(obj, field_name))

    column.__name__ = field_name
    return admin.display(description=label, ordering=field_name)(column)


@cache
def json_display(model: type[models.Model], field_name: str) -> Callable[[models.Model], str]:
    """A read-only admin column for a JSON field, written for people, never as JSON or a Python repr.

    An audit's {label: [old, new]} reads `户主姓名：扎西 → 扎西次仁` (ID numbers masked); a list of
    lines (an explanation, errors) is shown one line under another.
    """
    label = getattr(model._meta.get_field(field_name), "verbose_name", field_name)

    def column(obj: models.Model) -> str:
        value = getattr(obj, field_name)
        if isinstance(value, dict) and all(isinstance(v, list) and len(v) == 2 for v in value.values()):
            return changes_text(value)
        if isinstance(value, list) and value:
            return format_html_join(mark_safe("<br>"), "{}", ((line,) for line in lines_text(value)))
        return "-" if value in (None, "", [], {}) else value_text(value)

    column.__name__ = field_name
    return admin.display(description=label)(column)


class FileLinksMixin:
    """Registered file fields (`households.files`) link to the scoped download view, never to MEDIA_URL.

    An editable one gets `ScopedFileWidget`. Django shows a read-only model field through
    `display_for_field`, which links to `MEDIA_URL + name` (a 404, and no scope check); so wherever a
    registered file field is shown read-only (in `readonly_fields`, on a view-only page or inline, in
    `list_display`) its name is swapped for `file_link`'s column. The names stay in `readonly_fields`,
    which keeps them out of the form. Left as Django shows it: an inline that may add rows but not
    change them shows its existing rows' files with Django's link (the same fieldsets serve the
    new rows, which need the upload input).

    Money, JSON and yes/no fields are swapped the same way wherever they are shown read-only, for
    columns written for people (`money_display`, `json_display`, `yes_no_display`): no page writes
    `1500.00`, a JSON dump or an icon read out as "True".
    """

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if isinstance(db_field, models.FileField) and is_registered(db_field.model, db_field.name):
            kwargs["widget"] = ScopedFileWidget
        return super().formfield_for_dbfield(db_field, request, **kwargs)  # type: ignore[misc]

    def _display_columns(self) -> dict[str, Callable[[models.Model], str]]:
        """Fields shown read-only through a column of ours: files (scoped links), money (1,500.00 元),
        JSON (written for people) and yes/no (the icon read as 是/否)."""
        model = self.model  # type: ignore[attr-defined]
        columns = {name: money_display(model, name) for name in _money_fields(model)}
        for f in model._meta.concrete_fields:
            if isinstance(f, models.JSONField):
                columns[f.name] = json_display(model, f.name)
            elif isinstance(f, models.BooleanField):
                columns[f.name] = yes_no_display(model, f.name)
        columns.update({name: file_link(model, name) for name in registered_fields(model)})
        return columns

    def get_list_display(self, request: HttpRequest) -> Any:
        columns = self._display_columns()
        return [
            columns[name] if isinstance(name, str) and name in columns else name
            for name in super().get_list_display(request)  # type: ignore[misc]
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # Every column is listed, so that the form leaves its field out wherever `get_fieldsets` puts
        # it; it is shown only where its field's name was.
        return [*super().get_readonly_fields(request, obj), *self._display_columns().values()]  # type: ignore[misc]

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)  # type: ignore[misc]
        by_name = self._display_columns()
        if not by_name:
            return fieldsets
        if self._view_only(request, obj):
            shown_readonly = set(by_name)
        else:
            readonly = self.get_readonly_fields(request, obj)
            shown_readonly = {name for name in by_name if name in readonly}
        columns = set(by_name.values())

        def swap(entry: Any) -> Any:
            if isinstance(entry, list | tuple):
                line = tuple(e for e in map(swap, entry) if e is not None)
                return line or None
            if entry in columns:
                return None  # added by `get_readonly_fields` (via Django's default `get_fields`)
            if isinstance(entry, str) and entry in shown_readonly:
                return by_name[entry]
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


def msg_narrow_the_list(count: int) -> str:
    return (
        f"列表约有 {count:,} 条，只能翻到前 {MAX_PAGES} 页；请用搜索（身份证号、户编号、姓名）"
        "或右侧的筛选缩小范围。"
    )


class LongListChangeList(ChangeList):
    """Django's changelist, honest about an estimated count (issue 14).

    When the paginator numbers the list from the planner's estimate: the page says "约 N 条"
    (templates `admin/pagination.html`, `search_form.html`, `actions.html`), the facet counts
    ("显示计数": one `COUNT(*)` per filter choice over the whole list) are not offered, and a page
    past the last one offered shows that last page with a request to narrow the list.
    """

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        paginator = self.paginator
        if not getattr(paginator, "estimated", False):
            return
        self.add_facets = False
        self.is_facets_optional = False
        if getattr(paginator, "capped", False):
            self.page_num = paginator.num_pages
            messages.warning(request, msg_narrow_the_list(self.result_count))


class ScopedAdminMixin(FileLinksMixin):
    """Lists, change pages (and so URL-edited ids), actions, exports and FK dropdowns go through `scoped`.

    Django resolves a change/history/delete URL through `get_queryset`, so an object outside the
    user's area is "not found" rather than shown.
    """

    # Long lists (issue 14): one count per page, estimated on PostgreSQL past ESTIMATE_FROM rows.
    paginator: ClassVar[type] = EstimatedCountPaginator
    show_full_result_count = False

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return LongListChangeList

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
        used = model_admin.get_queryset(request).values(f"{self.field_path}__pk")  # a path may be nested
        return [(obj.pk, str(obj)) for obj in queryset.filter(pk__in=used)]


_PERMISSION_ACTIONS = {"add": "可新增", "change": "可修改", "delete": "可删除", "view": "可查看"}


def permission_label(permission: Any) -> str:
    """`资金拨付 | 资金账户 | 可查看` for Django's stored `Can view 资金账户` (its default permissions are
    named in English whatever the language); a permission of ours keeps its own Chinese name."""
    action, _, rest = permission.codename.partition("_")
    name = permission.name
    if name.startswith("Can ") and action in _PERMISSION_ACTIONS and rest == permission.content_type.model:
        name = _PERMISSION_ACTIONS[action]
    return f"{permission.content_type} | {name}"


class PermissionLabelsMixin:
    """The permission pickers of the user and group pages, in Chinese."""

    def formfield_for_manytomany(
        self, db_field: Any, request: HttpRequest | None = None, **kwargs: Any
    ) -> Any:
        field = super().formfield_for_manytomany(db_field, request, **kwargs)  # type: ignore[misc]
        if field is not None and db_field.name in ("permissions", "user_permissions"):
            field.label_from_instance = permission_label
        return field


def money_column(field: str, label: str) -> Any:
    """An admin list column that writes an amount as the sheets do: 2,500.00."""

    def column(model_admin: Any, obj: Any) -> str:
        value = getattr(obj, field)
        return "" if value is None else f"{value:,.2f}"

    column.__name__ = f"{field}_yuan"
    return admin.display(description=label, ordering=field)(column)


# --- Excel import and export (django-import-export) ----------------------------------------------

XLSX_LABEL = "Excel 工作簿（.xlsx）"
MSG_UNREADABLE = f"{MSG_BAD_XLSX}请在 Excel 中“另存为 .xlsx”后再导入。"
MSG_UPLOAD_GONE = "找不到这次上传的文件：它可能已经导入、已过期被清理，或者页面内容被改动过。请重新上传文件。"


class StreamedSheet:
    """What the resource gets instead of a tablib Dataset: the header and the rows of `read_xlsx`,
    streamed (so the admin reads a file exactly as `import_*` commands do, within the same limits)."""

    def __init__(self, header: Row, rows: Iterator[Row]) -> None:
        self.headers = list(header)
        self._rows = rows

    def __iter__(self) -> Iterator[Row]:
        return self._rows

    def __bool__(self) -> bool:
        return True  # a header without rows is for the import service to report


class StreamedXLSX(XLSX):
    """.xlsx read by `households.imports.read_xlsx` (limits, zip checks, streamed rows), written as before."""

    def create_dataset(self, in_stream: bytes) -> StreamedSheet:  # type: ignore[override]
        header, rows = read_xlsx(io.BytesIO(in_stream))
        return StreamedSheet(header, rows)


class _ChineseFormatsMixin:
    """The file format is shown by name (`Excel 工作簿（.xlsx）`), not by tablib's `xlsx`."""

    fields: dict[str, Any]

    def _init_formats(self, formats: list[Any]) -> None:
        super()._init_formats(formats)  # type: ignore[misc]
        field = self.fields["format"]
        field.choices = [(value, XLSX_LABEL if label == "xlsx" else label) for value, label in field.choices]
        if len(formats) == 1:
            field.value = XLSX_LABEL


class UploadForm(_ChineseFormatsMixin, ImportForm):  # type: ignore[misc]
    """The upload: one format (so no choice shown), the file refused by size before it is stored."""

    def __init__(self, formats: list[Any], resources: list[Any], **kwargs: Any) -> None:
        super().__init__(formats, resources, **kwargs)
        limits = import_limits()
        upload = self.fields["import_file"]
        upload.label = "Excel 文件"
        upload.help_text = (
            f"不超过 {limits.max_file_bytes // (1024 * 1024)} MB；最多 {limits.max_rows:,} 行数据、"
            f"{limits.max_columns} 列。"
        )
        upload.widget.attrs["accept"] = ".xlsx"
        if len(formats) == 1:
            self.fields["format"].widget = forms.HiddenInput()

    def clean_import_file(self) -> Any:
        upload = self.cleaned_data["import_file"]
        limits = import_limits()
        if upload.size > limits.max_file_bytes:
            raise ValidationError(msg_file_too_large(upload.size, limits))
        return upload


class UploadConfirmForm(ConfirmImportForm):  # type: ignore[misc]
    """The confirm step's hidden fields, taken as they come back from the browser: only an upload's own
    name (32 hex digits, as MediaStorage names it) is accepted; a path, `..` or anything else is refused
    (the library would take the basename of whatever it is given)."""

    def clean_import_file_name(self) -> str:
        name = self.cleaned_data["import_file_name"]
        if not is_upload_name(name):
            raise ValidationError(MSG_UPLOAD_GONE)
        return str(name)

    def clean_format(self) -> int:
        value = self.cleaned_data["format"]
        if not str(value).isdigit():
            raise ValidationError(MSG_UPLOAD_GONE)
        return int(value)

    def clean_resource(self) -> str:
        value = self.cleaned_data.get("resource") or ""
        if value and not str(value).isdigit():
            raise ValidationError(MSG_UPLOAD_GONE)
        return str(value)


class ExportFieldsForm(_ChineseFormatsMixin, SelectableFieldsExportForm):  # type: ignore[misc]
    """The export page's column checkboxes are labelled with the column headers (户编号), not with
    the resource's English attribute names (`Code (户编号)`)."""

    def _get_field_label(self, resource: Any, field_name: str) -> str:
        field = resource.fields.get(field_name)
        return str(field.column_name) if field is not None and field.column_name else field_name


class ServiceImportMixin(ImportExportMixin):
    """django-import-export's upload → preview → confirm, with our services doing the import.

    The resource's `import_data` hands the rows to an import service (see `resources.ServiceResource`);
    this mixin reads the file with `read_xlsx` (`StreamedXLSX`: the command's reader and limits), passes
    the user and the file's SHA-256, and renders our report instead of the library's.

    The upload waits in the import storage (`MEDIA_ROOT/imports`) only while it can still be confirmed:
    it is removed when the preview refuses it (unreadable, over a limit, any error), when it is
    confirmed, and by `manage.py purge_imports` when its preview is abandoned. The confirm step accepts
    only an upload's own name; anything else, or an upload already gone, gives `MSG_UPLOAD_GONE`.
    """

    formats = [StreamedXLSX]
    import_template_name = "admin/import_report.html"
    import_form_class = UploadForm
    confirm_form_class = UploadConfirmForm
    export_form_class = ExportFieldsForm
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
        """SHA-256 of the uploaded file: from the upload on preview, from the bytes read on confirm."""
        digest = getattr(form, "file_sha256", None)
        if digest is not None:
            return str(digest)
        upload = form.cleaned_data.get("import_file")
        return sha256_of(upload) if upload is not None else ""

    def _tmp_storage(self, name: str | None = None) -> Any:
        return self.get_tmp_storage_class()(name=name, read_mode="rb", **self.get_tmp_storage_class_kwargs())

    def write_to_tmp_storage(self, import_file: Any, input_format: Any) -> Any:
        # The library concatenates the chunks one by one (quadratic); the size was checked by UploadForm.
        storage = self._tmp_storage()
        storage.save(b"".join(import_file.chunks()))
        return storage

    def import_action(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        if request.method == "POST":
            background = self._import_in_background(request)
            if background is not None:
                return background
        response: HttpResponse | None = None
        try:
            response = super().import_action(request, **kwargs)
        finally:
            upload = request.FILES.get("import_file") if request.method == "POST" else None
            name = getattr(upload, "tmp_storage_name", None)
            context = getattr(response, "context_data", None) or {}
            if name and "confirm_form" not in context:
                # Refused (unreadable, over a limit, errors in the preview): nothing can be confirmed.
                self._tmp_storage(name).remove()
        assert response is not None
        return response

    def _import_in_background(self, request: HttpRequest) -> HttpResponse | None:
        """A file of at least `BACKGROUND_FROM_BYTES`: stored, then checked and (once confirmed on its
        job's page) imported by the worker (`households.import_job`). None: the in-request flow."""
        if not self.has_import_permission(request):
            raise PermissionDenied
        upload = request.FILES.get("import_file")
        if upload is None or upload.size is None or upload.size < import_limits().background_from_bytes:
            return None
        form = self.create_import_form(request)
        if not form.is_valid():
            return None  # the usual page shows the form's errors
        from .import_job import import_job_start

        importer = self.choose_import_resource_class(form, request).importer
        storage = self.write_to_tmp_storage(form.cleaned_data["import_file"], None)
        try:
            job = import_job_start(
                importer=importer.kind,
                upload=storage.name,
                file_name=upload.name or "",
                actor=request.user,  # type: ignore[arg-type]
            )
        except ValidationError as exc:
            storage.remove()
            messages.error(request, exc.messages[0])
            return HttpResponseRedirect(request.path)
        return HttpResponseRedirect(job_url(job))

    @method_decorator(require_POST)
    def process_import(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        """The confirm step: the upload named by the (browser-held) confirm form, imported, then removed."""
        if not self.has_import_permission(request):
            raise PermissionDenied
        form = self.create_confirm_form(request)
        formats = self.get_import_formats()
        if not form.is_valid() or form.cleaned_data["format"] >= len(formats):
            return self._upload_again(request, MSG_UPLOAD_GONE)
        storage = self._tmp_storage(form.cleaned_data["import_file_name"])
        try:
            data = storage.read()
        except OSError:
            data = None
        if not data:
            return self._upload_again(request, MSG_UPLOAD_GONE)
        try:
            form.file_sha256 = hashlib.sha256(data).hexdigest()
            dataset = formats[form.cleaned_data["format"]](encoding=self.from_encoding).create_dataset(data)
            result = self.process_dataset(dataset, form, request, **kwargs)
        except ImportFileError as exc:
            return self._upload_again(request, exc.messages[0])
        finally:
            storage.remove()
        return self.process_result(result, request)

    def _upload_again(self, request: HttpRequest, message: str) -> HttpResponse:
        messages.error(request, message)
        opts = self.model._meta  # type: ignore[attr-defined]
        return HttpResponseRedirect(reverse(f"admin:{opts.app_label}_{opts.model_name}_import"))

    def add_data_read_fail_error_to_form(self, form: Any, e: Exception) -> None:
        refused = isinstance(e, ImportFileError) and e.messages[0] != MSG_NOT_XLSX
        form.add_error("import_file", e.messages[0] if refused else MSG_UNREADABLE)  # type: ignore[attr-defined]

    def add_success_message(self, result: Any, request: HttpRequest) -> None:
        report = result.report
        if report.ok:
            messages.success(request, report.summary())
        else:
            messages.error(request, report.summary() + " " + "；".join(str(e) for e in report.errors[:20]))

    def _do_file_export(self, file_format: Any, request: HttpRequest, queryset: Any, **kwargs: Any) -> Any:
        # A Chinese file name is sent as RFC 6266's filename*= (a raw UTF-8 filename="…" makes browsers
        # save "download.xlsx").
        response = super()._do_file_export(file_format, request, queryset, **kwargs)
        name = self.get_export_filename(request, queryset, file_format)
        response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=name)
        return response


def job_url(job: Any) -> str:
    """The page of a background job (`households.jobs`): its progress, then its outcome."""
    return reverse("admin:households_job_change", args=[job.pk])


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
