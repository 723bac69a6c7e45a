"""Each equity partner becomes an organisation of the register — the one of the same name where the
register has it, else a new one marked `needs_completion` (the old partner had only a name, a kind
and a contact: the township or city completes credit code, leader and bank before anything is paid to
it). Its township is the one most of its investing households live in. Its ledger account in the
household grant fund is carried over: the same account, re-keyed from ``partner:<partner>`` to
``org:<organisation>``, so balances and entries stay as they were."""

from collections import Counter

from django.db import migrations

FUND = "household_grant"


def kind_of(text: str) -> tuple[str, str]:
    """(kind, operating model) from the partner's free-text kind (企业 / 专业合作社 / …)."""
    if "合作社" in text:
        return "cooperative", "cooperative"
    if "协会" in text:
        return "association", "association"
    if "大户" in text:
        return "grower", "grower"
    if "带头人" in text:
        return "leader", "grower"
    return "company", "leading"


def forward(apps, schema_editor):  # type: ignore[no-untyped-def]
    Partner = apps.get_model("subsidies", "Partner")
    EquityInvestment = apps.get_model("subsidies", "EquityInvestment")
    Organisation = apps.get_model("households", "Organisation")
    Township = apps.get_model("households", "Township")
    Account = apps.get_model("disbursements", "Account")
    fallback = Township.objects.order_by("code").first()
    for partner in Partner.objects.order_by("pk"):
        organisation = Organisation.objects.filter(name=partner.name).first()
        if organisation is None:
            townships = Counter(
                EquityInvestment.objects.filter(partner=partner).values_list(
                    "household__village__township_id", flat=True
                )
            )
            township_id = townships.most_common(1)[0][0] if townships else getattr(fallback, "pk", None)
            if township_id is None:
                raise RuntimeError("没有乡镇数据，无法迁移入股合作方。")
            kind, model = kind_of(partner.kind)
            organisation = Organisation.objects.create(
                name=partner.name,
                kind=kind,
                operating_model=model,
                leader_name=partner.contact[:32],
                township_id=township_id,
                industry="",
                needs_completion=True,
            )
        EquityInvestment.objects.filter(partner=partner).update(organisation=organisation)
        account = Account.objects.filter(pk=partner.account_id).first() if partner.account_id else None
        if account is None:
            account = Account.objects.filter(fund=FUND, key=f"partner:{partner.pk}").first()
        if account is not None:
            account.key = f"org:{organisation.pk}"
            account.name = organisation.name[:64]
            account.save(update_fields=["key", "name"])


def backward(apps, schema_editor):  # type: ignore[no-untyped-def]
    """Back to bare partner names (for a rollback): one partner per organisation with investments."""
    Partner = apps.get_model("subsidies", "Partner")
    EquityInvestment = apps.get_model("subsidies", "EquityInvestment")
    Account = apps.get_model("disbursements", "Account")
    for organisation_id in (
        EquityInvestment.objects.values_list("organisation_id", flat=True).distinct().order_by("organisation_id")
    ):
        investment = EquityInvestment.objects.filter(organisation_id=organisation_id).first()
        account = Account.objects.filter(fund=FUND, key=f"org:{organisation_id}").first()
        partner, _ = Partner.objects.get_or_create(name=investment.organisation.name)
        EquityInvestment.objects.filter(organisation_id=organisation_id).update(partner=partner)
        if account is not None:
            account.key = f"partner:{partner.pk}"
            account.save(update_fields=["key"])
            Partner.objects.filter(pk=partner.pk).update(account=account)


class Migration(migrations.Migration):
    dependencies = [
        ("subsidies", "0011_equity_partner_organisation_field"),
        ("disbursements", "0015_chinese_labels"),
    ]

    operations = [migrations.RunPython(forward, backward)]
