from __future__ import annotations

import io
from typing import Any

import pytest

from households.imports import ImportReport, sha256_of
from households.models import Role, User
from households.roster import roster_import

from .factories import make_user, xlsx_bytes


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Any, tmp_path: Any) -> None:
    """Uploaded scans, photos and issued notices go to the test's tmp dir, not the project's media/."""
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def city_user(db: Any) -> User:
    return make_user(Role.CITY, "city")


@pytest.fixture
def township_user(db: Any) -> User:
    return make_user(Role.TOWNSHIP, "jiantang")  # 建塘镇


@pytest.fixture
def other_township_user(db: Any) -> User:
    from households.models import Township

    return make_user(Role.TOWNSHIP, "huxiaxia", township=Township.objects.get(name="虎跳峡镇"))


@pytest.fixture
def village_user(db: Any) -> User:
    return make_user(Role.VILLAGE, "hongpo")  # 红坡村


@pytest.fixture
def auditor_user(db: Any) -> User:
    return make_user(Role.AUDITOR, "auditor")


@pytest.fixture
def import_rows(db: Any):  # type: ignore[no-untyped-def]
    """Import rows as a roster file through the real service; returns the report."""

    def run(
        rows: list[list[Any]], *, actor: User | None = None, dry_run: bool = False, header: Any = None
    ) -> ImportReport:
        from openpyxl import load_workbook

        data = xlsx_bytes(rows, header) if header is not None else xlsx_bytes(rows)
        book = load_workbook(io.BytesIO(data), read_only=True)
        sheet = book.worksheets[0]
        values = sheet.iter_rows(values_only=True)
        head = next(values)
        return roster_import(
            header=head,
            rows=values,
            actor=actor,
            file_name="test.xlsx",
            file_sha256=sha256_of(io.BytesIO(data)),
            dry_run=dry_run,
        )

    return run


# The small city of tests/disbursements/conftest.py, for every test folder.
from .disbursements.conftest import city_year as city_year  # noqa: E402


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The browser journeys last. Their flushes re-create content types after each journey; a later
    test that restores the serialized database (the PostgreSQL concurrency tests) would insert them
    again and fail on their unique key. pytest-django's own ordering (a stable sort by database use)
    keeps this order within each group."""
    # Tests on the real worker flush the same way (tests/worker.py): last too.
    items.sort(
        key=lambda item: "tests/e2e/" in item.nodeid or "db_worker" in getattr(item, "fixturenames", ())
    )
