"""Seed the 2017 policy from rules.md §2–4 (the plan's numbers; "our reading" where the plan is silent)."""

import datetime
from decimal import Decimal

from django.db import migrations

CATEGORIES = [
    # code, name, unit, rate, cap, fractional, species
    ("livestock", "大牲畜", "头", "2000", "2000", False, ["牛", "牦牛", "犏牛", "黄牛", "马", "骡", "驴"]),
    ("sheep", "羊", "只", "400", "2000", False, ["羊"]),
    ("pig", "猪", "头", "500", "2000", False, ["猪", "藏香猪"]),
    ("chicken", "鸡", "羽", "20", "2000", False, ["鸡", "尼西鸡"]),
    ("bee", "蜂", "箱", "200", "2000", False, ["蜂", "中蜂"]),
    ("fish", "鱼", "亩", "1000", "2000", True, ["鱼"]),
]


def seed(apps, schema_editor):
    Policy = apps.get_model("subsidies", "Policy")
    BreedingCategory = apps.get_model("subsidies", "BreedingCategory")
    Species = apps.get_model("subsidies", "Species")
    PolicyRevision = apps.get_model("subsidies", "PolicyRevision")
    policy = Policy.objects.create(
        year=2017,
        version=1,
        planting_rate=Decimal("500.00"),
        planting_area_cap=Decimal("2.00"),
        household_cap=Decimal("3000.00"),
        tranche1_percent=Decimal("60.00"),
        tranche2_percent=Decimal("20.00"),
        tranche3_percent=Decimal("20.00"),
        commitment_deadline=datetime.date(2017, 4, 15),
        eligible_exit_year=2017,
        consolidation_exit_year=2016,
    )
    snapshot = {
        "planting_rate": "500.00", "planting_area_cap": "2.00", "household_cap": "3000.00",
        "tranche_percent": ["60.00", "20.00", "20.00"], "commitment_deadline": "2017-04-15",
        "eligible_exit_year": 2017, "consolidation_exit_year": 2016, "categories": {}, "species": {},
    }
    for code, name, unit, rate, cap, fractional, species in CATEGORIES:
        category = BreedingCategory.objects.create(
            policy=policy, code=code, name=name, unit=unit, rate=Decimal(rate), cap=Decimal(cap), fractional=fractional
        )
        snapshot["categories"][code] = {"name": name, "unit": unit, "rate": f"{rate}.00", "cap": f"{cap}.00",
                                        "fractional": fractional}
        for species_name in species:
            Species.objects.create(policy=policy, name=species_name, category=category)
            snapshot["species"][species_name] = code
    PolicyRevision.objects.create(policy=policy, version=1, snapshot=snapshot, reason="按方案初始设定")


class Migration(migrations.Migration):
    dependencies = [("subsidies", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
