"""Issue 9: the household grant's money records move into the household programme's own app. Here
the new tables; 0006 copies the rows with their ids (so every reference stays true); disbursements
0008 drops the old ones."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

class Migration(migrations.Migration):
    dependencies = [
        ("disbursements", "0007_fill_generic_columns"),
        ("households", "0005_user_change"),
        ("subsidies", "0004_plan_revision_and_signed_letters"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='HouseholdAccount',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('account', models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='grant_household', to='disbursements.account')),
                ('household', models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='grant_account', to='households.household', verbose_name='贫困户')),
            ],
            options={
                'verbose_name': '贫困户资金账户',
                'verbose_name_plural': '贫困户资金账户',
            },
        ),
        migrations.CreateModel(
            name='Partner',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=100, unique=True, verbose_name='名称')),
                ('kind', models.CharField(default='企业', max_length=16, verbose_name='类别')),
                ('contact', models.CharField(blank=True, max_length=64, verbose_name='联系人及电话')),
                ('account', models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='grant_partner', to='disbursements.account')),
            ],
            options={
                'verbose_name': '入股合作方',
                'verbose_name_plural': '入股合作方',
            },
        ),
        migrations.CreateModel(
            name='EquityInvestment',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('reversed_at', models.DateTimeField(blank=True, null=True, verbose_name='冲正时间')),
                ('reversal_reason', models.CharField(blank=True, max_length=200, verbose_name='冲正原因')),
                ('year', models.PositiveSmallIntegerField(verbose_name='年度')),
                ('principal', models.DecimalField(decimal_places=2, max_digits=14, verbose_name='入股本金（元）')),
                ('agreement', models.CharField(max_length=100, verbose_name='协议编号/名称')),
                ('consent_scan', models.FileField(upload_to='equity/', verbose_name='贫困户书面同意书扫描件')),
                ('invested_on', models.DateField(verbose_name='入股日期')),
                ('entry', models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='disbursements.entry')),
                ('household', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='equity', to='households.household', verbose_name='贫困户')),
                ('recorded_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('returned_entry', models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='disbursements.entry')),
                ('reversed_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='冲正人')),
                ('transfer_entry', models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='disbursements.entry')),
                ('partner', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='investments', to='subsidies.partner', verbose_name='入股企业/合作社')),
            ],
            options={
                'verbose_name': '入股分红',
                'verbose_name_plural': '入股分红',
            },
        ),
        migrations.CreateModel(
            name='RecoveryOrder',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('year', models.PositiveSmallIntegerField(verbose_name='年度')),
                ('amount', models.DecimalField(decimal_places=2, max_digits=14, verbose_name='应收回（元）')),
                ('reason', models.CharField(max_length=200, verbose_name='原因')),
                ('status', models.CharField(choices=[('raised', '待乡镇审批'), ('approved', '已批准，待收回'), ('repaid', '已收回')], default='raised', max_length=12, verbose_name='状态')),
                ('raised_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='提出时间')),
                ('approved_at', models.DateTimeField(blank=True, null=True, verbose_name='审批时间')),
                ('approved_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='审批人')),
                ('household', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='recovery_orders', to='households.household', verbose_name='贫困户')),
                ('raised_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='提出人')),
            ],
            options={
                'verbose_name': '收回通知',
                'verbose_name_plural': '收回通知',
                'ordering': ['-raised_at'],
            },
        ),
        migrations.CreateModel(
            name='RecoveryRepayment',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('reversed_at', models.DateTimeField(blank=True, null=True, verbose_name='冲正时间')),
                ('reversal_reason', models.CharField(blank=True, max_length=200, verbose_name='冲正原因')),
                ('amount', models.DecimalField(decimal_places=2, max_digits=14, verbose_name='金额')),
                ('received_on', models.DateField(verbose_name='收回日期')),
                ('entry', models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='disbursements.entry')),
                ('order', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='repayments', to='subsidies.recoveryorder')),
                ('reversed_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='冲正人')),
            ],
            options={
                'verbose_name': '收回记录',
                'verbose_name_plural': '收回记录',
            },
        ),
        migrations.CreateModel(
            name='BenefitAnalysis',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('actual_planting_area', models.DecimalField(decimal_places=2, default=0, max_digits=8, verbose_name='实际种植面积（亩）')),
                ('actual_species', models.CharField(blank=True, max_length=16, verbose_name='实际养殖品种')),
                ('actual_quantity', models.DecimalField(decimal_places=2, default=0, max_digits=10, verbose_name='实际存栏/出栏（头/只/羽/箱/亩）')),
                ('output', models.CharField(blank=True, max_length=64, verbose_name='产量')),
                ('sales_income', models.DecimalField(decimal_places=2, default=0, max_digits=14, verbose_name='销售收入（元）')),
                ('costs', models.DecimalField(decimal_places=2, default=0, max_digits=14, verbose_name='成本（元）')),
                ('net_income', models.DecimalField(decimal_places=2, max_digits=14, verbose_name='纯收入（元）')),
                ('income_per_member', models.DecimalField(decimal_places=2, max_digits=14, verbose_name='人均收入（元）')),
                ('assessment', models.CharField(choices=[('active', '积极发展产业'), ('inactive', '不积极主动进行种养殖产业发展')], max_length=16, verbose_name='评价')),
                ('notes', models.TextField(blank=True, verbose_name='说明')),
                ('photo', models.FileField(blank=True, upload_to='analysis/', verbose_name='照片')),
                ('verified_entitlement', models.DecimalField(decimal_places=2, max_digits=14, verbose_name='核实应享补助（元）')),
                ('paid_before', models.DecimalField(decimal_places=2, max_digits=14, verbose_name='已拨付（元）')),
                ('reward', models.DecimalField(decimal_places=2, max_digits=14, verbose_name='以奖代补（元）')),
                ('shortfall', models.DecimalField(decimal_places=2, max_digits=14, verbose_name='核实应享低于已拨付的差额（元）')),
                ('decision', models.CharField(blank=True, choices=[('', '无需决定'), ('pending', '待乡镇决定'), ('recover', '乡镇决定收回差额'), ('waive', '乡镇决定不收回')], default='', max_length=16, verbose_name='乡镇决定')),
                ('filled_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='填表时间')),
                ('explanation', models.JSONField(default=list, verbose_name='核算说明')),
                ('decided_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('filled_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='填表人')),
                ('plan', models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='analysis', to='subsidies.householdplan')),
            ],
            options={
                'verbose_name': '产业扶持分析表',
                'verbose_name_plural': '产业扶持分析表',
                'constraints': [models.CheckConstraint(condition=models.Q(('reward__gte', 0), ('shortfall__gte', 0)), name='analysis_amounts_not_negative'), models.CheckConstraint(condition=models.Q(('reward', 0), ('shortfall', 0), _connector='OR'), name='reward_or_shortfall_not_both'), models.CheckConstraint(condition=models.Q(('assessment__in', ['active', 'inactive'])), name='analysis_assessment_valid'), models.CheckConstraint(condition=models.Q(models.Q(('assessment', 'inactive'), _negated=True), ('reward', 0), _connector='OR'), name='no_reward_when_inactive')],
            },
        ),
        migrations.CreateModel(
            name='Dividend',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('year', models.PositiveSmallIntegerField(verbose_name='分红年度')),
                ('amount', models.DecimalField(decimal_places=2, max_digits=14, verbose_name='分红金额（元）')),
                ('paid_on', models.DateField(verbose_name='发放日期')),
                ('recorded_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('investment', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='dividends', to='subsidies.equityinvestment')),
            ],
            options={
                'verbose_name': '分红记录',
                'verbose_name_plural': '分红记录',
                'constraints': [models.UniqueConstraint(fields=('investment', 'year'), name='one_dividend_per_year'), models.CheckConstraint(condition=models.Q(('amount__gt', 0)), name='dividend_positive')],
            },
        ),
        migrations.CreateModel(
            name='GrantLine',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('year', models.PositiveSmallIntegerField(verbose_name='年度')),
                ('tranche', models.PositiveSmallIntegerField(choices=[(1, '第一期（产前）'), (2, '第二期（产中）'), (3, '第三期（产后/以奖代补）')], verbose_name='期次')),
                ('cancelled_at', models.DateTimeField(blank=True, null=True, verbose_name='作废时间')),
                ('household', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='grant_lines', to='households.household', verbose_name='贫困户')),
                ('line', models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='grant', to='disbursements.batchline')),
                ('plan', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='subsidies.householdplan')),
            ],
            options={
                'verbose_name': '到户资金明细',
                'verbose_name_plural': '到户资金明细',
                'ordering': ['household__code', 'tranche'],
                'constraints': [models.UniqueConstraint(condition=models.Q(('cancelled_at__isnull', True)), fields=('household', 'year', 'tranche'), name='one_line_per_tranche'), models.CheckConstraint(condition=models.Q(('tranche__gte', 1), ('tranche__lte', 3)), name='grant_tranche_valid')],
            },
        ),
        migrations.AddConstraint(
            model_name='equityinvestment',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('reversed_at__isnull', True), ('reversed_by__isnull', True), ('reversal_reason', '')), models.Q(('reversed_at__isnull', False), ('reversed_by__isnull', False), models.Q(('reversal_reason', ''), _negated=True)), _connector='OR'), name='subsidies_equityinvestment_reversal_complete'),
        ),
        migrations.AddConstraint(
            model_name='equityinvestment',
            constraint=models.UniqueConstraint(condition=models.Q(('reversed_at__isnull', True)), fields=('household', 'year'), name='one_equity_per_household_year'),
        ),
        migrations.AddConstraint(
            model_name='equityinvestment',
            constraint=models.CheckConstraint(condition=models.Q(('principal__gt', 0)), name='equity_principal_positive'),
        ),
        migrations.AddConstraint(
            model_name='recoveryorder',
            constraint=models.CheckConstraint(condition=models.Q(('amount__gt', 0)), name='recovery_amount_positive'),
        ),
        migrations.AddConstraint(
            model_name='recoveryorder',
            constraint=models.CheckConstraint(condition=models.Q(('status__in', ['raised', 'approved', 'repaid'])), name='recovery_status_valid'),
        ),
        migrations.AddConstraint(
            model_name='recoveryorder',
            constraint=models.CheckConstraint(condition=models.Q(('approved_by__isnull', True), models.Q(('approved_by', models.F('raised_by')), _negated=True), _connector='OR'), name='recovery_four_eyes'),
        ),
        migrations.AddConstraint(
            model_name='recoveryrepayment',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('reversed_at__isnull', True), ('reversed_by__isnull', True), ('reversal_reason', '')), models.Q(('reversed_at__isnull', False), ('reversed_by__isnull', False), models.Q(('reversal_reason', ''), _negated=True)), _connector='OR'), name='subsidies_recoveryrepayment_reversal_complete'),
        ),
        migrations.AddConstraint(
            model_name='recoveryrepayment',
            constraint=models.CheckConstraint(condition=models.Q(('amount__gt', 0)), name='repayment_amount_positive'),
        ),
    ]
