"""The equity option's partner becomes an organisation of the register (issue 12 §1, rules.md §3):
first the new link, filled by the next migration."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("subsidies", "0010_chinese_labels"),
        ("households", "0010_organisation_register"),
    ]

    operations = [
        migrations.AddField(
            model_name="equityinvestment",
            name="organisation",
            field=models.ForeignKey(
                null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="households.organisation"
            ),
        ),
    ]
