"""Seeds the 2017 lending policy from rules.md §8 (editable by city HQ afterwards)."""

from django.db import migrations


def seed(apps, schema_editor):  # type: ignore[no-untyped-def]
    apps.get_model("collectives", "LendingPolicy").objects.get_or_create(year=2017)


class Migration(migrations.Migration):
    dependencies = [("collectives", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
