"""The 2017 incentive policy from rules.md §7 (seed §三（三）): 5,000 yuan for 10 qualified
households (per-capita industry income ≥ 3,300), +500 for each further one."""

from decimal import Decimal

from django.db import migrations

WAYS = [
    "土地流转",
    "入股分红",
    "资金帮扶",
    "订单种植/养殖",
    "协议收购",
    "技能培训",
    "劳务用工",
    "包购包销",
    "技术服务",
    "管理培训",
    "代种代养代销",
    "承包租赁",
    "合作联营",
    "提供种苗",
    "技术指导",
    "管理服务",
    "保底收购",
    "基地务工",
    "网购网销",
    "物流配送",
]


def seed(apps, schema_editor):
    IncentivePolicy = apps.get_model("enterprises", "IncentivePolicy")
    IncentivePolicy.objects.get_or_create(
        year=2017,
        defaults={
            "version": 1,
            "threshold": Decimal("3300.00"),
            "base": Decimal("5000.00"),
            "step": Decimal("500.00"),
            "minimum": 10,
            "support_ways": WAYS,
        },
    )


class Migration(migrations.Migration):
    dependencies = [("enterprises", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
