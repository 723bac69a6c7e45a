"""The one upload policy: what a scan, a photo or a generated PDF may be, checked by its content.

Every file field carries an `UploadValidator(kind, label)` (so an admin ModelForm shows a refusal beside
the field, not a 500), and every service that stores an upload passes it through
`clean_upload(file, *field_policy(Model, "field"))` first (so the admin, the cadre pages and the
commands refuse the same files with the same words; the field's declaration is the one place its kind
and label are written). `households.files.register` refuses a file field without a policy.

What a file is comes from its bytes, never from its name:
- a PDF starts with `%PDF-` within its first 1,024 bytes and has `%%EOF` within its last 1,024
  (a header-only stub, or a transfer cut short, is refused);
- an image is whatever Pillow decodes completely as JPEG, PNG or WebP (SVG, HTML, a truncated
  JPEG, anything else: refused). Pillow's decompression-bomb guard (`Image.MAX_IMAGE_PIXELS`)
  becomes a refusal too.

Accepted images are always re-encoded: EXIF orientation applied, scaled down to the configured
longest side, metadata dropped (a phone photo's EXIF carries the GPS position of a household), and
nothing appended to the image survives (no HTML/ZIP polyglots). The stored name gets the extension
of what the file really is (a PNG named `.jpg` is stored as `.png`). Sizes are checked from the
declared `size` before anything is read. Limits live in `settings.UPLOAD_LIMITS`.
"""

from __future__ import annotations

import io
import math
import os
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.files.base import File
from django.db import models
from django.db.models.fields.files import FieldFile
from PIL import Image, ImageOps

MB = 1024 * 1024
PDF_WINDOW = 1024  # where a PDF's header and its %%EOF may sit (as PDF readers tolerate)

# Pillow's format → the extension the stored file gets.
IMAGE_FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}

DEFAULT_LIMITS: dict[str, Any] = {
    "max_mb": {"scan": 15, "photo": 15, "pdf": 20, "output": 200},
    "image_max_side": 2400,
    "jpeg_quality": 85,
}

MSG_INVALID = "{prefix}文件不是有效的{expected}，{retry}。"
MSG_TOO_BIG = "{prefix}文件过大（{size} MB），不能超过 {limit} MB。"
MSG_EMPTY = "{prefix}文件是空的，{retry}。"
MSG_TOO_MANY_PIXELS = "{prefix}图片像素过多（超过 {limit} 万像素），无法处理，请缩小后重新上传。"

PDF_CONTENT = "pdf"
IMAGE_CONTENT = "image"
XLSX_CONTENT = "xlsx"


@dataclass(frozen=True)
class UploadKind:
    """A kind of upload: which contents it accepts, and how a refusal tells the user what to send."""

    code: str
    pdf: bool
    image: bool
    expected: str
    retry: str
    xlsx: bool = False  # an Excel workbook the system wrote (background exports)

    @property
    def accept(self) -> str:
        """The file input's `accept` attribute: a hint to the browser, never the check."""
        types = (["application/pdf"] if self.pdf else []) + (
            ["image/jpeg", "image/png", "image/webp"] if self.image else []
        )
        return ",".join(types)

    def accepts(self, content: str) -> bool:
        if content == XLSX_CONTENT:
            return self.xlsx
        return self.pdf if content == PDF_CONTENT else self.image


# A signed paper: scanned to PDF or photographed.
SCAN = UploadKind(
    "scan", pdf=True, image=True, expected="PDF 或图片（JPG/PNG/WebP）", retry="请重新扫描后上传"
)
# A photo of something (a notice on the board, a field, a pen).
PHOTO = UploadKind("photo", pdf=False, image=True, expected="图片（JPG/PNG/WebP）", retry="请重新拍摄后上传")
# A PDF the system generated (公示 sheets, print jobs).
PDF = UploadKind("pdf", pdf=True, image=False, expected="PDF", retry="请重新生成")
# What a background job produced (households.jobs): a PDF or an Excel workbook.
OUTPUT = UploadKind(
    "output", pdf=True, image=False, xlsx=True, expected="PDF 或 Excel 工作簿", retry="请重新生成"
)

KINDS = {kind.code: kind for kind in (SCAN, PHOTO, PDF, OUTPUT)}


class CheckedUpload(File):  # type: ignore[type-arg]
    """A file that passed `clean_upload`, knowing what it is; the model validator need not decode it again."""

    def __init__(self, file: Any, name: str, content: str) -> None:
        super().__init__(file, name)
        self.content = content


def clean_upload(file: File[bytes], kind: UploadKind, label: str) -> File[bytes]:
    """`file` checked against `kind`'s policy, as the file to store; refused with a message naming `label`.

    A PDF is returned as it came (renamed `.pdf`); an image re-encoded (see the module's docstring).
    """
    content, image = _inspect(file, kind, label)
    if image is None:
        file.seek(0)
        return CheckedUpload(file, _renamed(file.name, content), content)
    try:
        fmt = str(image.format)
        data = _reencode(image, fmt)
    finally:
        image.close()
    return CheckedUpload(io.BytesIO(data), _renamed(file.name, IMAGE_FORMATS[fmt]), content)


class UploadValidator:
    """The policy on a model FileField: `validators=[UploadValidator(SCAN, "回执扫描件")]`.

    Checks a new upload (an admin form's, or a model's `full_clean()`); a file already stored passed
    its door when it was uploaded and is not read again on every later save. Deconstructs to the kind's
    code, so migrations serialise it.
    """

    def __init__(self, kind: UploadKind | str, label: str = "") -> None:
        self.kind = KINDS[kind] if isinstance(kind, str) else kind
        self.label = label

    def __call__(self, value: Any) -> None:
        if not value:
            return
        if isinstance(value, FieldFile):
            if getattr(value, "_committed", False):
                return
            value = value.file
        if isinstance(value, CheckedUpload) and self.kind.accepts(value.content):
            return
        _, image = _inspect(value, self.kind, self.label)
        if image is not None:
            image.close()
        value.seek(0)

    def deconstruct(self) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
        kwargs = {"label": self.label} if self.label else {}
        return ("households.uploads.UploadValidator", (self.kind.code,), kwargs)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, UploadValidator) and self.kind == other.kind and self.label == other.label

    def __hash__(self) -> int:
        return hash((self.kind.code, self.label))


def field_policy(model: type[models.Model], field_name: str) -> tuple[UploadKind, str]:
    """The kind and label a model's file field declares (its `UploadValidator`), for `clean_upload`."""
    field = model._meta.get_field(field_name)
    for validator in getattr(field, "validators", []):
        if isinstance(validator, UploadValidator):
            return validator.kind, validator.label
    raise ImproperlyConfigured(
        f"{model._meta.label}.{field_name} has no upload policy (validators=[UploadValidator(kind, label)])"
    )


def limits() -> dict[str, Any]:
    configured: dict[str, Any] = getattr(settings, "UPLOAD_LIMITS", {})
    return {
        **DEFAULT_LIMITS,
        **configured,
        "max_mb": {**DEFAULT_LIMITS["max_mb"], **configured.get("max_mb", {})},
    }


def _inspect(file: Any, kind: UploadKind, label: str) -> tuple[str, Image.Image | None]:
    """What `file` really is, or a refusal: `(PDF_CONTENT, None)` or `(IMAGE_CONTENT, decoded image)`."""
    expected = f" {kind.expected}" if kind.expected[0].isascii() else kind.expected  # 有效的 PDF / 有效的图片
    words = {"prefix": f"{label}：" if label else "", "expected": expected, "retry": kind.retry}
    limit = limits()["max_mb"][kind.code] * MB
    size = _declared_size(file)
    if size is not None and size > limit:
        raise ValidationError(
            MSG_TOO_BIG.format(size=_megabytes(size), limit=f"{limit / MB:g}", **words), code="upload_size"
        )
    file.seek(0)
    head = file.read(PDF_WINDOW)
    if not head:
        raise ValidationError(MSG_EMPTY.format(**words), code="upload_empty")
    if kind.pdf and b"%PDF-" in head and _ends_like_pdf(file):
        return PDF_CONTENT, None
    if kind.xlsx and head.startswith(b"PK\x03\x04") and _is_workbook(file):
        return XLSX_CONTENT, None
    if kind.image:
        file.seek(0)
        data = file.read(limit + 1)  # bounded, should the declared size have been missing or wrong
        if len(data) > limit:
            raise ValidationError(
                MSG_TOO_BIG.format(size=f"> {limit / MB:g}", limit=f"{limit / MB:g}", **words),
                code="upload_size",
            )
        return IMAGE_CONTENT, _decode_image(data, words)
    raise ValidationError(MSG_INVALID.format(**words), code="upload_invalid")


def _declared_size(file: Any) -> int | None:
    try:
        size = file.size
    except (AttributeError, OSError):
        return None
    return int(size) if size is not None else None


def _is_workbook(file: Any) -> bool:
    file.seek(0)
    try:
        with zipfile.ZipFile(file) as archive:
            return "xl/workbook.xml" in archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return False


def _ends_like_pdf(file: Any) -> bool:
    end = file.seek(0, os.SEEK_END)
    file.seek(max(0, end - PDF_WINDOW))
    return b"%%EOF" in file.read(PDF_WINDOW)


class _Watched(io.BytesIO):
    """The bytes Pillow decodes (a copy: Pillow closes the file it decoded), noting a read past the end.

    A JPEG cut short reaches the end before its decoder finishes. Pillow refuses that unless
    `ImageFile.LOAD_TRUNCATED_IMAGES` is set — and WeasyPrint sets it for the whole process on import.
    """

    ran_out = False

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        if not data and size != 0:
            self.ran_out = True
        return data


def _decode_image(data: bytes, words: dict[str, str]) -> Image.Image:
    """The completely decoded image, or a refusal. Opened twice: `verify()` leaves the image unusable."""
    invalid = ValidationError(MSG_INVALID.format(**words), code="upload_invalid")
    max_pixels = Image.MAX_IMAGE_PIXELS
    too_many = ValidationError(
        MSG_TOO_MANY_PIXELS.format(limit=(max_pixels or 0) // 10_000, **words), code="upload_pixels"
    )
    formats = list(IMAGE_FORMATS)
    max_side = int(limits()["image_max_side"])
    try:
        with warnings.catch_warnings():
            # Between 1× and 2× the limit Pillow only warns; the explicit check below refuses it.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=formats) as probe:
                probe.verify()
            file = _Watched(data)
            image = Image.open(file, formats=formats)
        if max_pixels and image.width * image.height > max_pixels:
            image.close()
            raise too_many
        try:
            image.draft(image.mode, (max_side, max_side))  # JPEG: decode at a reduced scale when huge
            file.ran_out = False
            image.load()
        except BaseException:
            image.close()
            raise
        if file.ran_out:
            image.close()
            raise invalid
    except Image.DecompressionBombError:
        raise too_many from None
    except ValidationError:
        raise
    except Exception:  # whatever Pillow raises on hostile bytes (OSError, SyntaxError, struct.error, …)
        raise invalid from None
    return image


def _reencode(image: Image.Image, fmt: str) -> bytes:
    """The image upright, at most `image_max_side` on its longest side, without metadata."""
    settings_ = limits()
    max_side = int(settings_["image_max_side"])
    upright = ImageOps.exif_transpose(image)
    if max(upright.size) > max_side:
        if upright.mode not in ("L", "RGB", "RGBA", "CMYK"):
            upright = upright.convert("RGBA" if upright.has_transparency_data else "RGB")
        upright.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    options: dict[str, Any] = {}
    if icc := upright.info.get("icc_profile"):
        options["icc_profile"] = icc  # colours, not a secret (phones shoot in Display P3)
    if fmt == "PNG" and "transparency" in upright.info:
        options["transparency"] = upright.info["transparency"]
    if fmt == "JPEG":
        options.update(quality=int(settings_["jpeg_quality"]), optimize=True)
        if upright.mode not in ("L", "RGB", "CMYK"):
            upright = upright.convert("RGB")
    elif fmt == "WEBP":
        options["quality"] = int(settings_["jpeg_quality"])
        if upright.mode not in ("RGB", "RGBA"):
            upright = upright.convert("RGBA" if upright.has_transparency_data else "RGB")
    upright.info = {}  # EXIF (GPS, device), XMP, comments: none of it is written back
    out = io.BytesIO()
    upright.save(out, fmt, **options)
    return out.getvalue()


def _renamed(name: str | None, extension: str) -> str:
    stem = PurePosixPath((name or "").replace("\\", "/")).stem or "upload"
    return f"{stem}.{extension}"


def _megabytes(size: int) -> str:
    return f"{math.ceil(size * 10 / MB) / 10:.1f}"
