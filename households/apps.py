from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class HouseholdsConfig(AppConfig):
    name = "households"
    verbose_name = _("贫困户登记")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The registry's own import (户花名册) is a kind like any programme's: its ImportBatch rows and
        # the 导入记录 filter show its name, not its code.
        from .imports import IMPORT_KINDS
        from .roster import roster_import

        IMPORT_KINDS.register(roster_import)
