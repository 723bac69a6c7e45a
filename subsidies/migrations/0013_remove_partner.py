"""The equity partner is the organisation now: the old link and the bare Partner table go."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("subsidies", "0012_partners_become_organisations")]

    operations = [
        migrations.RemoveField(model_name="equityinvestment", name="partner"),
        migrations.RenameField(model_name="equityinvestment", old_name="organisation", new_name="partner"),
        migrations.AlterField(
            model_name="equityinvestment",
            name="partner",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="equity_investments",
                to="households.organisation",
                verbose_name="入股企业/合作社",
            ),
        ),
        migrations.DeleteModel(name="Partner"),
    ]
