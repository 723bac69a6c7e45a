from decimal import Decimal

from django.db import migrations, models


def bind_existing_letters(apps, schema_editor):
    """Letters signed before this change bind the plan as it stands (revision 1)."""
    CommitmentLetter = apps.get_model("subsidies", "CommitmentLetter")
    for letter in CommitmentLetter.objects.select_related("plan"):
        letter.signed_amount = letter.plan.grant_total
        letter.plan_revision = letter.plan.revision
        letter.save(update_fields=["signed_amount", "plan_revision"])


class Migration(migrations.Migration):
    dependencies = [
        ("subsidies", "0003_policy_notice_days_policy_notice_at_least_7_days"),
    ]

    operations = [
        migrations.AddField(
            model_name="householdplan",
            name="revision",
            field=models.PositiveIntegerField(default=1, verbose_name="修订次数"),
        ),
        migrations.AddField(
            model_name="commitmentletter",
            name="plan_revision",
            field=models.PositiveIntegerField(default=1, verbose_name="签订的计划修订"),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="commitmentletter",
            name="signed_amount",
            field=models.DecimalField(
                decimal_places=2, default=Decimal("0"), max_digits=12, verbose_name="签订的补助金额"
            ),
            preserve_default=False,
        ),
        migrations.RunPython(bind_existing_letters, migrations.RunPython.noop),
    ]
