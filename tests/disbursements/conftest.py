from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from households.models import Household, Role, User, Village
from subsidies import services as plan_services

from ..factories import city_year_rows, make_user, sign


@pytest.fixture
def city_year(import_rows) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Six eligible households in 红坡村 and 吉迪村 (建塘镇) held by two cadres, one in 红旗村 (虎跳峡镇),
    one ineligible (2015), each with a plan; and one official per role."""
    rows = city_year_rows()
    assert import_rows(rows).ok
    cadres = {u.name: u for u in User.objects.filter(role=Role.CADRE)}
    for user in cadres.values():
        user.set_password("pw-for-tests-only")
        user.save()
    plans = {}
    for code, species, qty in (
        ("H1", "猪", 3),
        ("H2", "羊", 6),
        ("H3", "鸡", 55),
        ("J1", "中蜂", 4),
        ("J2", "猪", 2),
        ("T1", "羊", 2),
    ):
        household = Household.objects.get(code=code)
        plans[code] = plan_services.plan_save(
            household=household,
            year=2017,
            species=species,
            quantity=Decimal(qty),
            actor=household.cadre,  # type: ignore[arg-type]
        )
        sign(plans[code])
    return {
        "cadres": cadres,
        "plans": plans,
        "hongpo": Village.objects.get(name="红坡村"),
        "jidi": Village.objects.get(name="吉迪村"),
        "village_user": make_user(Role.VILLAGE, "hongpo_official"),
        "township_user": make_user(Role.TOWNSHIP, "jiantang_official"),
        "city_user": make_user(Role.CITY, "city_official"),
        "approver": make_user(Role.APPROVER, "leader"),
    }
