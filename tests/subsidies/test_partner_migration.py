"""The equity partner became an organisation of the register (issue 12 §1): the migrations run forward
over a database holding bare partners, their investments and their ledger accounts."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from stdnum.cn import uscc

from disbursements import ledger
from disbursements.models import Account
from households.models import Organisation
from subsidies.models import EquityInvestment

from ..factories import id_number

BEFORE = [
    ("households", "0009_household_name_trigram"),
    ("enterprises", "0002_policy_2017"),
    ("subsidies", "0010_chinese_labels"),
]


def _migrate(targets: list[tuple[str, str]]) -> Any:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def _latest() -> list[tuple[str, str]]:
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_partners_become_organisations_with_their_accounts_and_investments() -> None:
    old = _migrate(BEFORE)
    try:
        township_model = old.get_model("households", "Township")
        assert township_model.objects.filter(name="建塘镇").exists()
        hutiaoxia = township_model.objects.get(name="虎跳峡镇")
        user = old.get_model("households", "User").objects.create(username="city_old", role="city")
        account_model = old.get_model("disbursements", "Account")
        entry_model = old.get_model("disbursements", "Entry")
        organisation_model = old.get_model("enterprises", "Organisation")
        partner_model = old.get_model("subsidies", "Partner")
        # The organisation programme already registered this cooperative: the partner of that name is it.
        registered = organisation_model.objects.create(
            name="香格里拉市高原牦牛养殖专业合作社",
            kind="cooperative",
            operating_model="cooperative",
            credit_code="93533421MA6K00011" + uscc.calc_check_digit("93533421MA6K00011"),
            leader_name="格桑",
            leader_id_number=id_number(),
            township=hutiaoxia,
            industry="牦牛养殖",
        )
        same_name = partner_model.objects.create(name=registered.name, kind="专业合作社")
        bare = partner_model.objects.create(
            name="吉迪村种养殖专业合作社", kind="专业合作社", contact="和经理"
        )
        partner_model.objects.create(name="香格里拉松茸有限公司", kind="企业")
        holder = account_model.objects.create(
            fund="household_grant", kind="cadre", key="cadre:1", name="李明"
        )
        invested = []
        for n, (partner, village_name) in enumerate(
            [(same_name, "红坡村"), (bare, "红坡村"), (bare, "吉迪村")]
        ):
            village = old.get_model("households", "Village").objects.get(name=village_name)
            group = old.get_model("households", "VillageGroup").objects.create(village=village, name=f"组{n}")
            household = old.get_model("households", "Household").objects.create(
                code=f"M{n}",
                head_name="农布次仁",
                id_number=id_number(),
                village=village,
                group=group,
                size=3,
                labour=2,
                exit_year=2018,
            )
            account = account_model.objects.get_or_create(
                fund="household_grant", kind="partner", key=f"partner:{partner.pk}", name=partner.name
            )[0]
            partner_model.objects.filter(pk=partner.pk).update(account=account)
            entry = entry_model.objects.create(
                year=2017,
                fund="household_grant",
                kind="equity",
                source=holder,
                target=account,
                amount=Decimal("2000.00"),
                created_by=user,
            )
            invested.append(
                old.get_model("subsidies", "EquityInvestment").objects.create(
                    household=household,
                    year=2017,
                    partner=partner,
                    principal=Decimal("2000.00"),
                    agreement=f"入股-{n}",
                    consent_scan="equity/c.pdf",
                    invested_on=datetime.date(2017, 5, 8),
                    entry=entry,
                    recorded_by=user,
                )
            )
        accounts = {p.pk: p.account_id for p in partner_model.objects.all()}
    finally:
        _migrate(_latest())

    # The partner of the register's name is that organisation, unchanged and complete.
    matched = Organisation.objects.get(name="香格里拉市高原牦牛养殖专业合作社")
    assert (matched.pk, matched.needs_completion, matched.township.name) == (registered.pk, False, "虎跳峡镇")
    assert EquityInvestment.objects.get(pk=invested[0].pk).partner == matched
    # A bare partner is a new organisation, of the township where its investing households live,
    # marked to be completed before it can be paid anything.
    new = Organisation.objects.get(name="吉迪村种养殖专业合作社")
    assert (new.kind, new.operating_model, new.township.name) == ("cooperative", "cooperative", "建塘镇")
    assert new.needs_completion and new.leader_name == "和经理" and new.credit_code == ""
    assert {
        i.partner_id for i in EquityInvestment.objects.filter(pk__in=[invested[1].pk, invested[2].pk])
    } == {new.pk}
    company = Organisation.objects.get(name="香格里拉松茸有限公司")
    assert (company.kind, company.operating_model, company.needs_completion) == ("company", "leading", True)
    # The ledger account is the same account, now found by the organisation's key, with its balance.
    account = Account.objects.get(pk=accounts[bare.pk])
    assert (account.key, account.name) == (f"org:{new.pk}", new.name)
    assert ledger.balances([account], 2017)[account.pk] == Decimal("4000.00")
    from subsidies.money.accounts import partner_account

    assert partner_account(new) == account
    assert partner_account(matched).pk == accounts[same_name.pk]
