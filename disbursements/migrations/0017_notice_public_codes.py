"""Notices issued before the public page get a public code too (their printed sheet has no QR, but
the code can be given out on request). Random, like every new one."""

import secrets

from django.db import migrations

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"


def fill(apps, schema_editor):
    Notice = apps.get_model("disbursements", "Notice")
    for notice in Notice.objects.filter(public_code__isnull=True).only("pk"):
        code = "".join(secrets.choice(ALPHABET) for _ in range(12))
        Notice.objects.filter(pk=notice.pk).update(public_code=code)


class Migration(migrations.Migration):
    dependencies = [("disbursements", "0016_bank_payments_and_public_notices")]

    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
