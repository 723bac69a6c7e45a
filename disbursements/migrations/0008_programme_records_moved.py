"""Issue 9, step 3: the household programme's records now live in `subsidies` (copied by its 0006);
drop them here with the owner columns of accounts and the grant columns of batches, and make
the new columns required."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("disbursements", "0007_fill_generic_columns"),
        ("subsidies", "0006_copy_grant_money_records"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveField(
            model_name='dividend',
            name='investment',
        ),
        migrations.RemoveField(
            model_name='dividend',
            name='recorded_by',
        ),
        migrations.RemoveField(
            model_name='equityinvestment',
            name='entry',
        ),
        migrations.RemoveField(
            model_name='equityinvestment',
            name='household',
        ),
        migrations.RemoveField(
            model_name='equityinvestment',
            name='partner',
        ),
        migrations.RemoveField(
            model_name='equityinvestment',
            name='recorded_by',
        ),
        migrations.RemoveField(
            model_name='equityinvestment',
            name='returned_entry',
        ),
        migrations.RemoveField(
            model_name='equityinvestment',
            name='reversed_by',
        ),
        migrations.RemoveField(
            model_name='equityinvestment',
            name='transfer_entry',
        ),
        migrations.RemoveField(
            model_name='recoveryorder',
            name='approved_by',
        ),
        migrations.RemoveField(
            model_name='recoveryorder',
            name='household',
        ),
        migrations.RemoveField(
            model_name='recoveryorder',
            name='raised_by',
        ),
        migrations.RemoveField(
            model_name='recoveryrepayment',
            name='entry',
        ),
        migrations.RemoveField(
            model_name='recoveryrepayment',
            name='order',
        ),
        migrations.RemoveField(
            model_name='recoveryrepayment',
            name='reversed_by',
        ),
        migrations.RemoveField(
            model_name='account',
            name='cadre',
        ),
        migrations.RemoveField(
            model_name='account',
            name='household',
        ),
        migrations.RemoveField(
            model_name='account',
            name='partner',
        ),
        migrations.RemoveField(
            model_name='batch',
            name='tranche',
        ),
        migrations.RemoveField(
            model_name='batchline',
            name='household',
        ),
        migrations.RemoveField(
            model_name='batchline',
            name='plan',
        ),
        migrations.RemoveField(
            model_name='batchline',
            name='tranche',
        ),
        migrations.RemoveField(
            model_name='batchline',
            name='year',
        ),
        migrations.RemoveField(
            model_name='payout',
            name='household',
        ),
        migrations.RemoveField(
            model_name='payout',
            name='tranche',
        ),
        migrations.RemoveField(
            model_name='payout',
            name='year',
        ),
        migrations.DeleteModel(
            name='BenefitAnalysis',
        ),
        migrations.DeleteModel(
            name='Dividend',
        ),
        migrations.DeleteModel(
            name='EquityInvestment',
        ),
        migrations.DeleteModel(
            name='RecoveryOrder',
        ),
        migrations.DeleteModel(
            name='RecoveryRepayment',
        ),
        migrations.DeleteModel(
            name='Partner',
        ),
        migrations.AlterField(
            model_name="account",
            name="fund",
            field=models.CharField(max_length=24, verbose_name="资金"),
        ),
        migrations.AlterField(
            model_name="account",
            name="key",
            field=models.CharField(max_length=64, verbose_name="账户键"),
        ),
        migrations.AlterField(
            model_name="entry",
            name="fund",
            field=models.CharField(max_length=24, verbose_name="资金"),
        ),
        migrations.AlterField(
            model_name="batch",
            name="township",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to="households.township", verbose_name="乡镇"),
        ),
        migrations.AlterField(
            model_name="batchline",
            name="account",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="batch_lines", to="disbursements.account", verbose_name="收款账户"),
        ),
        migrations.AlterField(
            model_name="notice",
            name="township",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to="households.township", verbose_name="乡镇"),
        ),
        migrations.AddIndex(
            model_name='entry',
            index=models.Index(fields=['fund', 'year'], name='disbursemen_fund_b75150_idx'),
        ),
        migrations.AddConstraint(
            model_name='account',
            constraint=models.UniqueConstraint(fields=('fund', 'key'), name='one_account_per_key_in_fund'),
        ),
        migrations.AddConstraint(
            model_name='account',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('key', ''), _negated=True), models.Q(('fund', ''), _negated=True), models.Q(('kind', ''), _negated=True)), name='account_named'),
        ),
        migrations.AddConstraint(
            model_name='batch',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('kind', ''), _negated=True), models.Q(('status', ''), _negated=True)), name='batch_kind_and_status'),
        ),
        migrations.AddConstraint(
            model_name='batchline',
            constraint=models.UniqueConstraint(fields=('batch', 'account'), name='one_line_per_account_in_batch'),
        ),
        migrations.AddConstraint(
            model_name='notice',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('level', 'township'), ('village__isnull', True), ('group__isnull', True)), models.Q(('level', 'village'), ('village__isnull', False), ('group__isnull', True)), models.Q(('level', 'group'), ('village__isnull', False), ('group__isnull', False)), _connector='OR'), name='notice_area_matches_level'),
        ),    ]
