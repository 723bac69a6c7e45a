"""Admin base classes shared by every app: scoping of lists, objects and dropdowns; read-only views."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import models
from django.http import HttpRequest

from .scoping import scoped, visible


class ScopedAdminMixin:
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


class ReadOnlyAdminMixin:
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
            visible(related, request.user) if hasattr(related, "scope_paths") else related._default_manager
        )
        return [(obj.pk, str(obj)) for obj in queryset.all()]
