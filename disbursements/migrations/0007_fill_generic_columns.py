"""Issue 9, step 2: fill the new columns of accounts, batches, lines and notices from the old ones."""

from django.db import migrations

FUND = "household_grant"


def fill(apps, schema_editor):
    Account = apps.get_model("disbursements", "Account")
    Household = apps.get_model("households", "Household")
    Batch = apps.get_model("disbursements", "Batch")
    BatchLine = apps.get_model("disbursements", "BatchLine")
    Notice = apps.get_model("disbursements", "Notice")
    Village = apps.get_model("households", "Village")
    township_of = dict(Village.objects.values_list("pk", "township_id"))
    households = {h.pk: h for h in Household.objects.all()}
    for account in Account.objects.all():
        kind = account.kind
        if kind in ("funding", "city"):
            key = kind
        elif kind in ("township", "township_finance"):
            key = f"{kind}:{account.township_id}"
        elif kind == "village":
            key = f"village:{account.village_id}"
        elif kind == "cadre":
            key = f"cadre:{account.cadre_id}:{account.village_id}"
            account.holder_id = account.cadre_id
        elif kind == "household":
            key = f"household:{account.household_id}"
            household = households[account.household_id]
            account.holder_id = household.cadre_id
            account.village_id = household.village_id
            account.township_id = township_of[household.village_id]
        else:
            key = f"partner:{account.partner_id}"
        account.key, account.fund = key, FUND
        account.save(update_fields=["key", "fund", "holder", "village", "township"])
    for batch in Batch.objects.all():
        batch.township_id = township_of[batch.village_id]
        batch.kind = "grant_reward" if batch.kind == "reward" else f"grant_t{batch.tranche}"
        batch.save(update_fields=["township", "kind"])
    account_of = dict(Account.objects.filter(kind="household").values_list("household_id", "pk"))
    for line in BatchLine.objects.all():
        if line.household_id not in account_of:
            household = households[line.household_id]
            account_of[line.household_id] = Account.objects.create(
                fund=FUND,
                kind="household",
                key=f"household:{household.pk}",
                name=f"{household.code} {household.head_name}"[:64],
                household_id=household.pk,
                village_id=household.village_id,
                township_id=township_of[household.village_id],
                holder_id=household.cadre_id,
            ).pk
        line.account_id = account_of[line.household_id]
        line.save(update_fields=["account"])
    for notice in Notice.objects.all():
        notice.township_id = township_of[notice.village_id]
        notice.level = "village"
        notice.save(update_fields=["township", "level"])


class Migration(migrations.Migration):
    dependencies = [("disbursements", "0006_generic_ledger_batches_notices")]

    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
