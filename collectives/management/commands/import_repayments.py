"""python manage.py import_repayments FILE.xlsx --user USER [--dry-run] — a bank or cash repayment list
(还款清单导入表), applied in date order and in the policy's order, the admin's import from a shell."""

from collectives.loan_import import repayment_import
from households.import_command import ExcelImportCommand


class Command(ExcelImportCommand):
    help = "导入银行/现金还款清单（.xlsx）。全部正确才写入；同一凭证号不重复登记；--dry-run 只检查不写入。"
    importer = staticmethod(repayment_import)
    needs_user = True
