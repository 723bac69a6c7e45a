"""A township's batch print of 公示 is now a background job (`households.Job`, kind `notice_print`).

The old print jobs were previews: nothing of record (the notice of record is `Notice`, frozen at
issue). Their rows go with the table; their PDFs stay under MEDIA_ROOT/notices/print/ until removed
by hand. Nothing else is touched.
"""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('disbursements', '0013_payout_reference_unpaid_reason'),
        ('households', '0007_background_jobs'),
    ]

    operations = [
        migrations.DeleteModel(
            name='PrintJob',
        ),
    ]
