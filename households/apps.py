from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class HouseholdsConfig(AppConfig):
    name = "households"
    verbose_name = _("贫困户登记")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import import_job
        from .files import register
        from .imports import IMPORT_KINDS
        from .models import Job
        from .roles import ROLES, grant
        from .roster import roster_import

        IMPORT_KINDS.register(roster_import)
        import_job.register()
        # Everyone sees the background jobs of their area (scoping decides which); the kinds say who
        # may start them. A job's file is served only through the scoped download view.
        grant(ROLES, {"households.view_job"})
        register(Job, "file")
