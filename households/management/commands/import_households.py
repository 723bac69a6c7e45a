"""python manage.py import_households FILE.xlsx [--dry-run] — the roster import of the admin, from a shell."""

from households.import_command import ExcelImportCommand
from households.roster import roster_import


class Command(ExcelImportCommand):
    help = "导入户花名册（.xlsx）。全部正确才写入；--dry-run 只检查不写入。"
    importer = staticmethod(roster_import)
