"""Values as people read them on every page: audit changes (ID numbers masked), yes/no, money."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from households.display import amount, changes_text
from households.models import Household, Role

from ..factories import make_user, roster_row


def test_an_audit_row_reads_as_a_sentence_with_the_id_number_masked() -> None:
    created = {"户主姓名": ["", "农布次仁"], "身份证号": ["", "533421198001011234"], "巩固提升": ["", False]}
    assert changes_text(created) == "户主姓名：农布次仁；身份证号：533421********1234；巩固提升：否"
    changed = {"家庭人口": [3, 4], "联系电话": ["13912345678", ""]}
    assert changes_text(changed) == "家庭人口：3 → 4；联系电话：13912345678 → （空）"
    assert changes_text({}) == "—"


def test_amounts_carry_their_thousands_and_the_unit_once() -> None:
    assert amount(6000) == "6,000.00 元"
    assert amount(6000, unit=False) == "6,000.00"
    assert amount(None) == ""


@pytest.mark.django_db
def test_the_audit_list_never_shows_a_whole_id_number(import_rows: Any) -> None:
    assert import_rows([roster_row(户编号="M1", 户主姓名="阿旺次仁多吉")]).ok
    household = Household.objects.get(code="M1")
    client = Client()
    client.force_login(make_user(Role.TOWNSHIP))
    page = client.get("/admin/households/householdchange/").content.decode()
    masked = household.id_number[:6] + "********" + household.id_number[-4:]
    assert f"身份证号：{masked}" in page and "户主姓名：阿旺次仁多吉" in page
    assert household.id_number not in page
    assert '{"' not in page  # no JSON
