"""python manage.py seed_demo — a believable city for the quick start, in the middle of its year.

The registry (a few hundred households, cadres, one user per role), then a living 2017: plans,
allocation, batches at every step of the chain, payouts, a settlement with its reward, one
recovery and one equity household — all built through the real services. Safe to run again.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from households.demo import ROSTER_HEADER, roster_rows
from households.models import Household, Role, Township, User, Village
from households.roster import roster_import

# Demo only: documented in the README; never use these on a real server.
DEMO_PASSWORD = "demo2017"
DEMO_USERS = [
    # username, name, role, township, village
    ("admin", "系统管理员", "", None, None),
    ("city", "市指挥部 赵主任", Role.CITY, None, None),
    ("approver", "产业办 钱局长", Role.APPROVER, None, None),
    ("auditor", "纪检 孙审计", Role.AUDITOR, None, None),
    ("jiantang", "建塘镇 周副镇长", Role.TOWNSHIP, "建塘镇", None),
    ("hongpo", "红坡村 吴书记", Role.VILLAGE, "建塘镇", "红坡村"),
    ("cadre", "李明", Role.CADRE, "建塘镇", None),
]

# The 20 poor villages of the collective programme (demo choice; city HQ sets the real ones).
POOR_VILLAGES = [
    "红坡村",
    "吉迪村",
    "尼史村",
    "联合村",
    "红旗村",
    "长胜村",
    "东坡村",
    "松鹤村",
    "格咱村",
    "翁上村",
    "浪都村",
    "洛吉村",
    "九龙村",
    "尼汝村",
    "茨卡通村",
    "吾竹村",
    "士旺村",
    "巴拉村",
    "东旺村",
    "五境村",
]


class Command(BaseCommand):
    help = "生成演示数据：数百户贫困户、挂包干部，以及每个角色一个演示账号（密码 demo2017）。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--households", type=int, default=400)

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        villages = list(Village.objects.select_related("township").order_by("code"))
        poor = [v for v in villages if v.name in POOR_VILLAGES]
        if len(poor) < 20:  # names differ from the list: take the first 20 村 instead
            poor = [v for v in villages if v.kind == "村"][:20]
        Village.objects.filter(pk__in=[v.pk for v in poor[:20]]).update(is_poor_village=True)

        # The 李明 in the roster and the demo cadre login are the same person (same phone).
        report = roster_import(
            header=ROSTER_HEADER,
            rows=roster_rows([(v.township.name, v.name) for v in villages], options["households"]),
            actor=None,
            file_name="演示数据",
            file_sha256="",
            dry_run=False,
        )
        if not report.ok:
            raise RuntimeError("演示数据生成失败：" + "；".join(str(e) for e in report.errors[:5]))

        for username, name, role, township, village in DEMO_USERS:
            user = User.objects.filter(username=username).first()
            if role == Role.CADRE:
                user = User.objects.get(phone="13800000000")
                user.username = username
            if user is None:
                user = User(username=username)
            user.name, user.role = name, role
            user.township = Township.objects.get(name=township) if township else None
            user.village = Village.objects.get(name=village) if village else None
            user.is_staff = True
            user.is_superuser = username == "admin"
            user.set_password(DEMO_PASSWORD)
            user.save()

        from subsidies.money.demo import living_year

        story = living_year(year=2017)
        from django.apps import apps

        for config in apps.get_app_configs():  # the other programmes' part of the demo year
            part = getattr(config, "demo_year", None)
            if part is not None:
                story += part(year=2017)
        self.stdout.write(
            self.style.SUCCESS(
                f"{story}演示数据就绪：{Household.objects.count()} 户，"
                f"{len(DEMO_USERS)} 个演示账号（密码 {DEMO_PASSWORD}）。{report.summary()}"
            )
        )
