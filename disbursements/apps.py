from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DisbursementsConfig(AppConfig):
    """The shared money machinery. Programmes extend it by registration (`disbursements.registry`);
    it registers nothing of theirs and imports none of them."""

    name = "disbursements"
    verbose_name = _("资金拨付")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from households.roles import ROLES, grant

        # Everyone reads the money of their area (scoping decides which); who pays a batch, steps
        # it or works a notice is the batch kind's and the services' business, checked there.
        grant(
            ROLES,
            {
                f"disbursements.view_{model}"
                for model in (
                    *("batch", "batchline", "transition", "payout", "entry", "account"),
                    *("notice", "objection", "bankaccount"),
                )
            },
        )
        grant(
            ("village", "township"),
            {"disbursements.change_notice", "disbursements.add_objection", "disbursements.change_objection"},
        )
        # Who registers a payee's bank account (一卡通): whoever knows the household.
        grant(("cadre", "village", "township"), {"disbursements.add_bankaccount"})

        from . import worklist

        worklist.register()

        # Uploaded scans and photos are served only through the scoped download view.
        from households.files import register

        from .models import Notice, Payout, Transition

        register(Payout, "receipt")
        register(Transition, "attachment")
        register(Notice, "pdf")
        register(Notice, "posted_photo")

        from .notices import register_jobs

        register_jobs()  # the township's batch print of 公示, in the background
