"""Issue 11, step 2: posted notices get their posting date (the day it was recorded, as before).

A notice recorded as posted whose photo was cleared afterwards (the admin allowed that) cannot meet
the new rule "posted means photographed": it goes back to 已印发，待张贴 so that 登记张贴 records it
again with a photo. Each one is named on the console; none is changed silently.
"""

from django.db import migrations
from django.utils import timezone


def fill(apps, schema_editor):
    Notice = apps.get_model("disbursements", "Notice")
    for notice in Notice.objects.exclude(status="issued"):
        if not notice.posted_photo:
            print(f"\n  公示 #{notice.pk}“{notice.title}”：张贴照片已被清除，退回“已印发，待张贴”，请重新登记张贴。")
            Notice.objects.filter(pk=notice.pk).update(status="issued", posted_at=None, posted_on=None)
            continue
        posted = notice.posted_at or notice.issued_at
        Notice.objects.filter(pk=notice.pk).update(posted_on=timezone.localdate(posted))


class Migration(migrations.Migration):
    dependencies = [("disbursements", "0010_notice_posting_and_objection_payee")]

    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
