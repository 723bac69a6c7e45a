"""An organisation's account in the incentive fund is found by its key (``org:<pk>``), like every
other account of the ledger: the link column goes, before the register moves to `households` (which
stands below the ledger and must not point at it)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("enterprises", "0002_policy_2017")]

    operations = [migrations.RemoveField(model_name="organisation", name="account")]
