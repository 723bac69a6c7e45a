from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SubsidiesConfig(AppConfig):
    """The household industry grant (到户特色产业扶持): plans and letters, and its money on the
    shared machinery, registered here like any programme."""

    name = "subsidies"
    verbose_name = _("到户产业扶持")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from households.roles import ROLES, grant

        from .money import registration

        registration.register()
        from .entitlements import register_jobs

        register_jobs()  # the 补助测算表 of a township or the city, written in the background
        view = {
            f"subsidies.view_{model}"
            for model in (
                *("householdplan", "commitmentletter", "policy", "breedingcategory", "species"),
                *("policyrevision", "grantline", "householdaccount", "benefitanalysis", "recoveryorder"),
                *("recoveryrepayment", "equityinvestment", "dividend"),
            )
        }
        edit_plans = {
            "subsidies.add_householdplan",
            "subsidies.change_householdplan",
            "subsidies.add_commitmentletter",
            "subsidies.change_commitmentletter",
        }
        grant(ROLES, view)
        grant(("cadre", "village", "township", "city"), edit_plans)
        grant(("village", "township", "city", "approver", "auditor"), {"subsidies.export_householdplan"})
        grant(("township", "city"), {"subsidies.import_householdplan"})
        # Those who hand money over record equity investments with the household's consent.
        grant(("cadre", "village"), {"subsidies.add_equityinvestment"})
        grant(
            "city",
            {
                "subsidies.change_policy",
                "subsidies.add_breedingcategory",
                "subsidies.change_breedingcategory",
                "subsidies.add_species",
                "subsidies.change_species",
            },
        )

        # Uploaded scans and photos are served only through the scoped download view.
        from households.files import register

        from .models import BenefitAnalysis, CommitmentLetter, EquityInvestment

        register(CommitmentLetter, "scan")
        register(BenefitAnalysis, "photo")
        register(EquityInvestment, "consent_scan")
