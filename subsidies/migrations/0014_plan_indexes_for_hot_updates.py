"""Approving a batch's plans (submitted → approved) writes as little as it can (issue 14).

The partial unique indexes test the generated `live` column instead of `status`, so a change between
two live statuses touches no indexed column and PostgreSQL can update the row in place (HOT: no index
entry written) when its page has room; on PostgreSQL the table leaves half of each page free for that
(fillfactor 50: one new version of every row fits in its page; the dead one is pruned before the next).
Adding the stored `live` column rewrites the table (a lock on it for the time of the rewrite: run
the migration at a quiet hour), which lays the rows already stored out at that fillfactor too.

When an update cannot be HOT it writes an entry in every index whose condition the new version meets:
the indexes on `policy` (one per year, never deleted) and `created_by` (looked up by nothing) go, and
the `amends` indexes cover only amendments (the unique one means the same: NULLs never collide).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

FILLFACTOR = 50


def set_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE subsidies_householdplan SET (fillfactor = {FILLFACTOR})")


def reset_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE subsidies_householdplan RESET (fillfactor)")


class Migration(migrations.Migration):

    dependencies = [
        ('households', '0011_form_submission'),
        ('subsidies', '0013_remove_partner'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # First, so that the rewrite of the table that adding `live` causes lays the stored rows out
        # at this fillfactor too.
        migrations.RunPython(set_fillfactor, reset_fillfactor),
        migrations.RemoveConstraint(
            model_name='householdplan',
            name='one_original_plan_per_household_year',
        ),
        migrations.RemoveConstraint(
            model_name='householdplan',
            name='one_live_amendment_per_plan',
        ),
        migrations.AddField(
            model_name='householdplan',
            name='live',
            field=models.GeneratedField(db_persist=True, expression=models.Q(('status', 'superseded'), _negated=True), output_field=models.BooleanField(), verbose_name='有效'),
        ),
        migrations.AlterField(
            model_name='householdplan',
            name='amends',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='amendments', to='subsidies.householdplan', verbose_name='变更自'),
        ),
        migrations.AlterField(
            model_name='householdplan',
            name='created_by',
            field=models.ForeignKey(db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='填报人'),
        ),
        migrations.AlterField(
            model_name='householdplan',
            name='policy',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='subsidies.policy', verbose_name='政策'),
        ),
        migrations.AddIndex(
            model_name='householdplan',
            index=models.Index(condition=models.Q(('amends__isnull', False)), fields=['amends'], name='plan_amends_set'),
        ),
        migrations.AddConstraint(
            model_name='householdplan',
            constraint=models.UniqueConstraint(condition=models.Q(('live', True), ('amends__isnull', True)), fields=('household', 'year'), name='one_original_plan_per_household_year'),
        ),
        migrations.AddConstraint(
            model_name='householdplan',
            constraint=models.UniqueConstraint(condition=models.Q(('live', True), ('amends__isnull', False)), fields=('amends',), name='one_live_amendment_per_plan'),
        ),
    ]
