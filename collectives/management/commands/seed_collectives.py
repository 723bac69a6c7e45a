from typing import Any

from django.core.management.base import BaseCommand

from collectives.demo import seed


class Command(BaseCommand):
    help = "村集体经济演示数据（seed_demo 之后运行）"

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(seed())
