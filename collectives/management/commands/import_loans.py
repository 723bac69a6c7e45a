"""python manage.py import_loans FILE.xlsx --user VILLAGE_USER [--dry-run] — the village's loan register
(贷款台账导入表) as proposed loans, the admin's import from a shell."""

from collectives.loan_import import loan_import
from households.import_command import ExcelImportCommand


class Command(ExcelImportCommand):
    help = "导入村贷款台账（.xlsx），作为待审批的贷款申报。全部正确才写入；--dry-run 只检查不写入。"
    importer = staticmethod(loan_import)
    needs_user = True
