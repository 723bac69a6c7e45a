from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EnterprisesConfig(AppConfig):
    """Organisations that lift households (rules.md §7): agreements, the yearly assessment and the
    incentive, registered with the shared machinery like any programme."""

    name = "enterprises"
    verbose_name = _("带贫组织")
    default_auto_field = "django.db.models.BigAutoField"

    def demo_year(self, *, year: int) -> str:
        """Called by `seed_demo`: this programme's part of the demo year."""
        from .demo import organisations_year

        return organisations_year(year=year)

    def ready(self) -> None:
        from households.files import register as register_file
        from households.roles import ROLES, grant

        from . import registration
        from .models import Agreement, Assessment

        registration.register()
        models = (
            "organisation",
            "agreement",
            "assessment",
            "incentive",
            "incentivepolicy",
            "incentivepolicyrevision",
        )
        grant(ROLES, {f"enterprises.view_{m}" for m in models})
        # The supervising township (and city HQ) registers organisations, agreements and assessments.
        edit = {
            "enterprises.add_organisation",
            "enterprises.change_organisation",
            "enterprises.add_agreement",
            "enterprises.change_agreement",
            "enterprises.add_assessment",
            "enterprises.change_assessment",
            "enterprises.import_agreement",
            "enterprises.import_assessment",
        }
        grant(("township", "city"), edit)
        grant("city", {"enterprises.change_incentivepolicy"})
        register_file(Agreement, "scan")
        register_file(Assessment, "evidence")
