"""The one way an uploaded scan or photo reaches a browser: a scoped download view.

Every file field that users upload to (承诺书扫描件, 回执, 入户核实照片, 公示 PDF and 张贴照片, …) is
registered here from its app's `AppConfig.ready()`, the way models are registered with the admin
(and must declare its upload policy, `households.uploads.UploadValidator`, or registration refuses it):

    from households.files import register
    register(Payout, "receipt")

`download` serves a registered field's file only to a logged-in user who holds the model's view
permission and whose scope (`households.scoping.scoped`, the one scoping mechanism) covers the row;
anything else is the same 404, so a URL never tells whether a row exists outside one's area.
`file_url(obj, field)` is the link to it; the admin's file links use it (`households.admin_base`).

Production: MEDIA_ROOT must not be served by the web server (it holds ID numbers and signatures);
the only way to a file is this view. It streams the file through Django, which is fine at this
scale (a few thousand scans a year). To let nginx send the bytes instead, set
`FILES_X_ACCEL_REDIRECT_PREFIX` (e.g. "/protected/", default empty = stream): the view then checks
as before and answers with an empty response carrying `X-Accel-Redirect: <prefix><name>`, for an
`internal` nginx location aliased to MEDIA_ROOT. nginx keeps this response's Content-Type,
Content-Disposition and Cache-Control but not the other headers, so that location must add
`X-Content-Type-Options: nosniff` and the Content-Security-Policy below itself.
"""

from __future__ import annotations

import mimetypes
from pathlib import PurePosixPath
from urllib.parse import quote

from django.conf import settings
from django.contrib.auth import get_permission_codename
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.db.models.fields.files import FieldFile
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseBase, HttpResponseNotFound
from django.urls import reverse
from django.utils.http import content_disposition_header

from .scoping import scoped
from .uploads import field_policy

NOT_FOUND = "没有这个文件，或不在您的管辖范围内。"

# Shown in the browser; anything else (HTML, SVG, office files, …) is only ever downloaded.
INLINE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp", "application/pdf"})

# Defence in depth should a file ever be rendered: no scripts, no requests out, a sandboxed origin.
CONTENT_SECURITY_POLICY = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"

# (app_label, model_name, field name) → model.
FILE_FIELDS: dict[tuple[str, str, str], type[models.Model]] = {}


def register(model: type[models.Model], field_name: str) -> None:
    """Make `model.field_name` downloadable through `download` (call from `AppConfig.ready()`)."""
    field = model._meta.get_field(field_name)
    if not isinstance(field, models.FileField):
        raise ImproperlyConfigured(f"{model._meta.label}.{field_name} is not a FileField")
    field_policy(model, field_name)  # every upload is checked by content (households.uploads)
    FILE_FIELDS[_key(model, field_name)] = model


def is_registered(model: type[models.Model], field_name: str) -> bool:
    return _key(model, field_name) in FILE_FIELDS


def registered_fields(model: type[models.Model]) -> list[str]:
    """The registered file fields of `model`, by name."""
    return [name for (_, _, name), registered in FILE_FIELDS.items() if registered is model]


def file_url(obj: models.Model, field_name: str) -> str | None:
    """The scoped download URL of `obj`'s file, or None when the field is empty (or `obj` unsaved)."""
    if not is_registered(type(obj), field_name):
        raise ImproperlyConfigured(f"{obj._meta.label}.{field_name} is not registered in households.files")
    if obj.pk is None or not getattr(obj, field_name):
        return None
    opts = obj._meta
    return reverse("file", args=[opts.app_label, opts.model_name, obj.pk, field_name])


def file_name(file: FieldFile) -> str:
    """The file's own name, without the folders it is stored in."""
    return PurePosixPath(file.name or "").name


@login_required
def download(request: HttpRequest, app_label: str, model_name: str, pk: int, field: str) -> HttpResponseBase:
    model = FILE_FIELDS.get((app_label, model_name, field))
    if model is None:
        return _not_found()
    opts = model._meta
    if not request.user.has_perm(f"{opts.app_label}.{get_permission_codename('view', opts)}"):
        return _not_found()
    obj = scoped(model._default_manager.all(), request.user).filter(pk=pk).first()
    file: FieldFile | None = getattr(obj, field) if obj is not None else None
    if not file:
        return _not_found()
    return _serve(file)


def _serve(file: FieldFile) -> HttpResponseBase:
    name = file.name or ""
    content_type, encoding = mimetypes.guess_type(name)
    if content_type is None or encoding is not None:
        content_type = "application/octet-stream"  # e.g. .gz: never let a browser unpack and show it
    prefix: str = getattr(settings, "FILES_X_ACCEL_REDIRECT_PREFIX", "")
    response: HttpResponseBase
    if prefix:
        response = HttpResponse(content_type=content_type)
        response["X-Accel-Redirect"] = quote(prefix + name)
    else:
        try:
            stream = file.storage.open(name, "rb")
        except FileNotFoundError:
            return _not_found()
        response = FileResponse(stream, content_type=content_type)
    disposition = content_disposition_header(content_type not in INLINE_TYPES, file_name(file))
    response["Content-Disposition"] = disposition or "attachment"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response["Cache-Control"] = "private, no-store"
    return response


def _not_found() -> HttpResponse:
    return HttpResponseNotFound(NOT_FOUND, content_type="text/plain; charset=utf-8")


def _key(model: type[models.Model], field_name: str) -> tuple[str, str, str]:
    return (model._meta.app_label, str(model._meta.model_name), field_name)
