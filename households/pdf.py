"""The one PDF renderer: a Django template → A4 PDF through WeasyPrint, with Chinese fonts.

Fonts: Noto Sans CJK SC, set on `html` in templates/pdf/base.html so that page-number margin boxes
use it too. WeasyPrint subsets fonts with HarfBuzz when `libharfbuzz-subset0` is installed and
falls back to slow pure-Python subsetting otherwise (library-notes §2): tests assert the fast path.
WeasyPrint may fetch only files under our static folders: no network, no user-supplied URLs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string

STATIC_DIRS = [Path(settings.BASE_DIR) / "templates" / "pdf"]


def _local_only(url: str, timeout: int = 10, ssl_context: Any = None) -> dict[str, Any]:
    from weasyprint.urls import URLFetchingError, default_url_fetcher

    if url.startswith("file://"):
        path = Path(url.removeprefix("file://")).resolve()
        if any(path.is_relative_to(root) for root in STATIC_DIRS):
            return default_url_fetcher(url, timeout=timeout, ssl_context=ssl_context)  # type: ignore[no-any-return]
    raise URLFetchingError(f"refused to fetch {url!r} while rendering a PDF")


def harfbuzz_subset_available() -> bool:
    from weasyprint.text.ffi import harfbuzz_subset  # type: ignore[attr-defined]

    return harfbuzz_subset is not None


def render_pdf(template: str, context: dict[str, Any]) -> bytes:
    return render_document(template, context).write_pdf()  # type: ignore[no-any-return]


def render_document(template: str, context: dict[str, Any]) -> Any:
    """The laid-out document (a `weasyprint.Document`), for callers that check its pages before
    writing it, or join several (`write_documents`)."""
    from weasyprint import HTML

    html = render_to_string(template, context)
    return HTML(string=html, base_url=str(STATIC_DIRS[0]) + "/", url_fetcher=_local_only).render()


def write_documents(documents: list[Any]) -> bytes:
    """Several laid-out documents as one PDF, each keeping its own page numbers (第 N 页 / 共 M 页)."""
    pages = [page for document in documents for page in document.pages]
    return documents[0].copy(pages).write_pdf()  # type: ignore[no-any-return]
