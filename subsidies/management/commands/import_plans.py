"""python manage.py import_plans FILE.xlsx [--dry-run] — the admin's plan import, from a shell."""

from households.import_command import ExcelImportCommand
from subsidies.plan_import import plan_import


class Command(ExcelImportCommand):
    help = "导入产业计划汇总表（.xlsx）。全部正确才写入；--dry-run 只检查不写入。"
    importer = staticmethod(plan_import)
