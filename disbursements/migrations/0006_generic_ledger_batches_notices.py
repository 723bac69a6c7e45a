"""The ledger, batches and notices become programme-generic (issue 9), step 1: the new columns.
Step 2 (0007) fills them from the old ones; subsidies 0005 and 0006 create the household programme's
own tables and copy its records; step 3 (0008) drops what moved and tightens the new columns.

Schema and data are separate migrations: PostgreSQL refuses to create the deferred indexes of a
migration once its rows changed in the same transaction ("pending trigger events")."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

class Migration(migrations.Migration):
    dependencies = [
        ("disbursements", "0005_reversals_and_grant_guards"),
        ("households", "0005_user_change"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='benefitanalysis',
            name='analysis_amounts_not_negative',
        ),
        migrations.RemoveConstraint(
            model_name='benefitanalysis',
            name='reward_or_shortfall_not_both',
        ),
        migrations.RemoveConstraint(
            model_name='benefitanalysis',
            name='analysis_assessment_valid',
        ),
        migrations.RemoveConstraint(
            model_name='benefitanalysis',
            name='no_reward_when_inactive',
        ),
        migrations.RemoveConstraint(
            model_name='dividend',
            name='one_dividend_per_year',
        ),
        migrations.RemoveConstraint(
            model_name='dividend',
            name='dividend_positive',
        ),
        migrations.RemoveConstraint(
            model_name='equityinvestment',
            name='equity_principal_positive',
        ),
        migrations.RemoveConstraint(
            model_name='equityinvestment',
            name='disbursements_equityinvestment_reversal_complete',
        ),
        migrations.RemoveConstraint(
            model_name='equityinvestment',
            name='one_equity_per_household_year',
        ),
        migrations.RemoveConstraint(
            model_name='recoveryorder',
            name='recovery_amount_positive',
        ),
        migrations.RemoveConstraint(
            model_name='recoveryorder',
            name='recovery_status_valid',
        ),
        migrations.RemoveConstraint(
            model_name='recoveryorder',
            name='recovery_four_eyes',
        ),
        migrations.RemoveConstraint(
            model_name='recoveryrepayment',
            name='disbursements_recoveryrepayment_reversal_complete',
        ),
        migrations.RemoveConstraint(
            model_name='recoveryrepayment',
            name='repayment_amount_positive',
        ),
        migrations.AlterModelOptions(
            name='account',
            options={'ordering': ['fund', 'kind', 'township', 'village', 'pk'], 'verbose_name': '资金账户', 'verbose_name_plural': '资金账户'},
        ),
        migrations.AlterModelOptions(
            name='batchline',
            options={'ordering': ['batch', 'account__name'], 'verbose_name': '批次明细', 'verbose_name_plural': '批次明细'},
        ),
        migrations.RemoveConstraint(
            model_name='account',
            name='account_kind_valid',
        ),
        migrations.RemoveConstraint(
            model_name='account',
            name='one_city_account',
        ),
        migrations.RemoveConstraint(
            model_name='account',
            name='one_account_per_township',
        ),
        migrations.RemoveConstraint(
            model_name='account',
            name='one_account_per_village',
        ),
        migrations.RemoveConstraint(
            model_name='account',
            name='one_account_per_cadre_village',
        ),
        migrations.RemoveConstraint(
            model_name='account',
            name='one_account_per_household',
        ),
        migrations.RemoveConstraint(
            model_name='account',
            name='one_account_per_partner',
        ),
        migrations.RemoveConstraint(
            model_name='batch',
            name='batch_status_valid',
        ),
        migrations.RemoveConstraint(
            model_name='batch',
            name='batch_tranche_valid',
        ),
        migrations.RemoveConstraint(
            model_name='batchline',
            name='one_line_per_tranche',
        ),
        migrations.RemoveConstraint(
            model_name='entry',
            name='entry_kind_valid',
        ),
        migrations.RemoveConstraint(
            model_name='notice',
            name='notice_kind_valid',
        ),
        migrations.RemoveConstraint(
            model_name='payout',
            name='one_payout_per_tranche',
        ),
        migrations.AddField(
            model_name='account',
            name='fund',
            field=models.CharField(default='household_grant', max_length=24, verbose_name='资金'),
        ),
        migrations.AddField(
            model_name='account',
            name='holder',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='经手人'),
        ),
        migrations.AddField(
            model_name='account',
            name='key',
            field=models.CharField(default='', max_length=64, verbose_name='账户键'),
        ),
        migrations.AddField(
            model_name='batch',
            name='township',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='households.township', verbose_name='乡镇'),
        ),
        migrations.AddField(
            model_name='batchline',
            name='account',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='batch_lines', to='disbursements.account', verbose_name='收款账户'),
        ),
        migrations.AddField(
            model_name='entry',
            name='fund',
            field=models.CharField(default='household_grant', max_length=24, verbose_name='资金'),
        ),
        migrations.AddField(
            model_name='notice',
            name='group',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='households.villagegroup', verbose_name='村民小组'),
        ),
        migrations.AddField(
            model_name='notice',
            name='level',
            field=models.CharField(choices=[('township', '乡镇'), ('village', '村'), ('group', '村民小组')], default='village', max_length=12, verbose_name='公示层级'),
        ),
        migrations.AddField(
            model_name='notice',
            name='township',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='households.township', verbose_name='乡镇'),
        ),
        migrations.AlterField(
            model_name='account',
            name='kind',
            field=models.CharField(max_length=24, verbose_name='类别'),
        ),
        migrations.AlterField(
            model_name='account',
            name='township',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='households.township', verbose_name='乡镇'),
        ),
        migrations.AlterField(
            model_name='account',
            name='village',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='households.village', verbose_name='村委会'),
        ),
        migrations.AlterField(
            model_name='batch',
            name='kind',
            field=models.CharField(max_length=24, verbose_name='类别'),
        ),
        migrations.AlterField(
            model_name='batch',
            name='line_count',
            field=models.PositiveIntegerField(default=0, verbose_name='笔数'),
        ),
        migrations.AlterField(
            model_name='batch',
            name='status',
            field=models.CharField(default='draft', max_length=24, verbose_name='状态'),
        ),
        migrations.AlterField(
            model_name='batch',
            name='village',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='households.village', verbose_name='村委会'),
        ),
        migrations.AlterField(
            model_name='entry',
            name='kind',
            field=models.CharField(max_length=24, verbose_name='类别'),
        ),
        migrations.AlterField(
            model_name='notice',
            name='kind',
            field=models.CharField(max_length=24, verbose_name='类别'),
        ),
        migrations.AlterField(
            model_name='notice',
            name='village',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='households.village', verbose_name='村委会'),
        ),
        migrations.AlterField(
            model_name='printjob',
            name='kind',
            field=models.CharField(max_length=24, verbose_name='类别'),
        ),
        migrations.AlterField(
            model_name='transition',
            name='action',
            field=models.CharField(max_length=24, verbose_name='操作'),
        ),
        migrations.AlterField(
            model_name='transition',
            name='from_status',
            field=models.CharField(max_length=24, verbose_name='原状态'),
        ),
        migrations.AlterField(
            model_name='transition',
            name='to_status',
            field=models.CharField(max_length=24, verbose_name='新状态'),
        ),
    ]
