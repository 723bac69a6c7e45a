"""python manage.py import_agreements FILE.xlsx [--dry-run] — the admin's agreement import, from a shell."""

from enterprises.agreement_import import agreement_import
from households.import_command import ExcelImportCommand


class Command(ExcelImportCommand):
    help = "导入帮扶协议（.xlsx）。全部正确才写入；--dry-run 只检查不写入。"
    importer = staticmethod(agreement_import)
