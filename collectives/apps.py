from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CollectivesConfig(AppConfig):
    """村集体经济: the 20 poor villages' revolving funds, on the shared machinery by registration."""

    name = "collectives"
    verbose_name = _("村集体经济")
    default_auto_field = "django.db.models.BigAutoField"

    def demo_year(self, *, year: int) -> str:
        """Called by `seed_demo`: this programme's part of the demo year."""
        from .demo import seed

        return seed(year=year)

    def ready(self) -> None:
        from households.files import register as register_file
        from households.roles import ROLES, grant

        from . import registration
        from .models import (
            CooperativeTransaction,
            CorrectionItem,
            EquityStake,
            FundPlan,
            Loan,
            SupervisionVisit,
            YearEndReport,
        )

        registration.register()
        models = (
            "lendingpolicy",
            "counterparty",
            "villagefund",
            "fundplan",
            "jointgroup",
            "groupmember",
            "loan",
            "reschedule",
            "instalment",
            "repayment",
            "reserveallocation",
            "guarantordebt",
            "writeoff",
            "writeoffrecovery",
            "loanevent",
            "supervisionvisit",
            "correctionitem",
            "yearendreport",
            "equitystake",
            "dividend",
            "dividendshare",
            "cooperativetransaction",
            "memberincome",
        )
        grant(ROLES, {f"collectives.view_{m}" for m in models})
        grant("city", {"collectives.change_lendingpolicy"})
        grant("village", {"collectives.import_loan", "collectives.import_repayment"})
        grant("township", {"collectives.import_repayment"})
        grant("village", {"collectives.add_memberincome"})
        register_file(FundPlan, "minutes_scan")
        register_file(FundPlan, "implementation_scan")
        register_file(Loan, "contract_scan")
        register_file(SupervisionVisit, "photo")
        register_file(SupervisionVisit, "notice_pdf")
        register_file(CorrectionItem, "evidence")
        register_file(YearEndReport, "pdf")
        register_file(EquityStake, "agreement_scan")
        register_file(CooperativeTransaction, "voucher_scan")
