from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DisbursementsConfig(AppConfig):
    name = "disbursements"
    verbose_name = _("资金拨付")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from households import events

        from . import grant

        # A household's money follows its cadre within the village.
        events.on_reassignment(grant.follow_reassignment)
