"""Issue 9: copy the household grant's money records into this app's tables, with their ids. Each
household's and each partner's account is now pointed to by its owner; each grant batch line gets its
household, plan, year and tranche."""

from django.core.management.color import no_style
from django.db import migrations

MOVED = ["Partner", "RecoveryOrder", "EquityInvestment", "RecoveryRepayment", "BenefitAnalysis", "Dividend"]


def copy(apps, schema_editor):
    for name in MOVED:
        old = apps.get_model("disbursements", name)
        new = apps.get_model("subsidies", name)
        fields = [f.attname for f in new._meta.concrete_fields if f.attname != "account_id"]
        new.objects.bulk_create([new(**{f: getattr(row, f) for f in fields}) for row in old.objects.all()])
    Account = apps.get_model("disbursements", "Account")
    HouseholdAccount = apps.get_model("subsidies", "HouseholdAccount")
    Partner = apps.get_model("subsidies", "Partner")
    HouseholdAccount.objects.bulk_create(
        [
            HouseholdAccount(household_id=household_id, account_id=pk)
            for pk, household_id in Account.objects.filter(kind="household").values_list("pk", "household_id")
        ]
    )
    for pk, partner_id in Account.objects.filter(kind="partner").values_list("pk", "partner_id"):
        Partner.objects.filter(pk=partner_id).update(account_id=pk)
    BatchLine = apps.get_model("disbursements", "BatchLine")
    GrantLine = apps.get_model("subsidies", "GrantLine")
    GrantLine.objects.bulk_create(
        [
            GrantLine(
                line_id=line.pk,
                household_id=line.household_id,
                plan_id=line.plan_id,
                year=line.year,
                tranche=line.tranche,
                cancelled_at=line.cancelled_at,
            )
            for line in BatchLine.objects.all()
        ]
    )
    # Rows were inserted with their ids: move PostgreSQL's sequences past them.
    connection = schema_editor.connection
    statements = connection.ops.sequence_reset_sql(no_style(), [apps.get_model("subsidies", n) for n in MOVED])
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("subsidies", "0005_grant_money_records")]

    operations = [migrations.RunPython(copy, migrations.RunPython.noop)]
