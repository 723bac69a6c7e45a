"""python manage.py import_assessments FILE.xlsx --user USERNAME [--dry-run] — the admin's assessment
import, from a shell (the user is whose entry and confirmation it is, and whose scope applies)."""

from enterprises.assessment_import import assessment_import
from households.import_command import ExcelImportCommand


class Command(ExcelImportCommand):
    help = (
        "导入考核记录（.xlsx），须用 --user 指明录入的乡镇或市指挥部用户。"
        "全部正确才写入；--dry-run 只检查不写入。"
    )
    importer = staticmethod(assessment_import)
