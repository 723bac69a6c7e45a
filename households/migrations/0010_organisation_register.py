"""The organisation register becomes registry data (issue 12 §1): the model moves here from
`enterprises` so that every programme can point at it (the household programme's equity partner, the
organisation programme's agreements). The table stays where it is (``enterprises_organisation``): the
move is a change of the migration state only. Then the register learns `needs_completion` for the
organisations carried over from the old bare equity-partner names."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

import households.idcard
import households.models

LEGAL = ["company", "cooperative", "association"]


class Migration(migrations.Migration):
    dependencies = [
        ("households", "0009_household_name_trigram"),
        ("enterprises", "0003_organisation_account_by_key"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Organisation",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("name", models.CharField(max_length=100, unique=True, verbose_name="名称")),
                        ("kind", models.CharField(choices=[("company", "企业（公司）"), ("cooperative", "农民专业合作社"), ("association", "协会"), ("grower", "种养殖大户"), ("leader", "致富带头人")], max_length=16, verbose_name="类别")),
                        ("operating_model", models.CharField(choices=[("leading", "龙头企业+贫困户"), ("cooperative", "合作社+贫困户"), ("association", "协会+贫困户"), ("grower", "专业大户/致富带头人+贫困户"), ("ecommerce", "农村电商平台+贫困户")], max_length=16, verbose_name="带贫模式")),
                        ("credit_code", models.CharField(blank=True, max_length=18, validators=[households.models.validate_uscc], verbose_name="统一社会信用代码")),
                        ("leader_name", models.CharField(max_length=32, verbose_name="法定代表人/负责人")),
                        ("leader_id_number", models.CharField(max_length=18, validators=[households.idcard.validate_id_number], verbose_name="负责人身份证号")),
                        ("phone", models.CharField(blank=True, max_length=20, verbose_name="联系电话")),
                        ("industry", models.CharField(max_length=64, verbose_name="主导产业")),
                        ("bank_name", models.CharField(blank=True, max_length=64, verbose_name="开户银行")),
                        ("bank_account", models.CharField(blank=True, max_length=32, verbose_name="银行账号")),
                        ("recommended_at", models.DateTimeField(blank=True, editable=False, null=True, verbose_name="列为推荐申报时间")),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now, editable=False, verbose_name="登记时间")),
                        ("created_by", models.ForeignKey(editable=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL)),
                        ("township", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="organisations", to="households.township", verbose_name="监管乡镇")),
                    ],
                    options={
                        "verbose_name": "带贫组织",
                        "verbose_name_plural": "带贫组织",
                        "db_table": "enterprises_organisation",
                        "ordering": ["township", "name"],
                        "constraints": [
                            models.CheckConstraint(condition=models.Q(("kind__in", ["company", "cooperative", "association", "grower", "leader"])), name="organisation_kind_valid"),
                            models.CheckConstraint(condition=models.Q(("operating_model__in", ["leading", "cooperative", "association", "grower", "ecommerce"])), name="organisation_model_valid"),
                            models.CheckConstraint(condition=models.Q(models.Q(("kind__in", LEGAL), _negated=True), models.Q(("credit_code", ""), _negated=True), _connector="OR"), name="legal_entity_has_credit_code"),
                            models.UniqueConstraint(condition=models.Q(("credit_code", ""), _negated=True), fields=("credit_code",), name="one_organisation_per_credit_code"),
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.AddField(
            model_name="organisation",
            name="needs_completion",
            field=models.BooleanField(default=False, editable=False, verbose_name="待补全登记信息"),
        ),
        migrations.RemoveConstraint(model_name="organisation", name="legal_entity_has_credit_code"),
        migrations.AddConstraint(
            model_name="organisation",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("kind__in", LEGAL), _negated=True),
                    models.Q(("credit_code", ""), _negated=True),
                    ("needs_completion", True),
                    _connector="OR",
                ),
                name="legal_entity_has_credit_code",
            ),
        ),
    ]
