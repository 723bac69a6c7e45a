"""The programme's Organisation becomes a proxy of the register's (`households.Organisation`): the
same table, the same content type and permissions (so the roles keep theirs), the admin pages stay
here. State only: nothing changes in the database."""

import django.db.models.deletion
from django.db import migrations, models


def _points_at(target: str) -> list[migrations.AlterField]:
    return [
        migrations.AlterField(
            model_name="agreement",
            name="organisation",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="agreements", to=target, verbose_name="带贫组织"),
        ),
        migrations.AlterField(
            model_name="incentive",
            name="organisation",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="incentives", to=target, verbose_name="带贫组织"),
        ),
    ]


class Migration(migrations.Migration):
    dependencies = [
        ("enterprises", "0003_organisation_account_by_key"),
        ("households", "0010_organisation_register"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                *_points_at("households.organisation"),
                migrations.DeleteModel(name="Organisation"),
                migrations.CreateModel(
                    name="Organisation",
                    fields=[],
                    options={
                        "verbose_name": "带贫组织",
                        "verbose_name_plural": "带贫组织",
                        "permissions": [("import_agreement", "导入帮扶协议"), ("import_assessment", "导入考核记录")],
                        "proxy": True,
                        "indexes": [],
                        "constraints": [],
                    },
                    bases=("households.organisation",),
                ),
                *_points_at("enterprises.organisation"),
            ],
            database_operations=[],
        ),
    ]
