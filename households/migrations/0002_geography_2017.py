"""Load the 2017 statistical division codes of Shangri-La: 11 townships, 58 villages, 6 communities."""

import csv
from pathlib import Path

from django.db import migrations

CSV = Path(__file__).resolve().parent.parent / "data" / "shangri-la-geography-2017.csv"


def load(apps, schema_editor):
    Township = apps.get_model("households", "Township")
    Village = apps.get_model("households", "Village")
    with CSV.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    townships = {}
    for row in rows:
        if row["township_code"] not in townships:
            townships[row["township_code"]] = Township.objects.create(
                code=row["township_code"], name=row["township"], kind=row["township_kind"]
            )
    Village.objects.bulk_create(
        Village(
            code=row["village_code"],
            township=townships[row["township_code"]],
            name=row["village"],
            kind=row["village_kind"],
        )
        for row in rows
    )


def unload(apps, schema_editor):
    apps.get_model("households", "Village").objects.all().delete()
    apps.get_model("households", "Township").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("households", "0001_initial")]
    operations = [migrations.RunPython(load, unload)]
