"""入股分红 and 合作社经营 against their own sub-accounts. Dividends are paid to households only from
the dividend account they came into, never from the lending sub-account (Yunnan's 互助资金 rules)."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from disbursements import ledger
from disbursements.ledger import Move
from disbursements.money import ZERO, to_fen
from households.models import Household, User
from households.uploads import clean_upload, field_policy

from . import accounts
from .models import (
    CooperativeTransaction,
    Counterparty,
    Dividend,
    DividendShare,
    EquityStake,
    FundPlan,
    VillageFund,
)
from .services import MSG_PLAN_NOT_APPROVED, MSG_VILLAGE_ONLY

MSG_SHARES = "分红到户合计 {total} 元，超过本次分红 {amount} 元。"


def _village_actor(actor: User, fund: VillageFund) -> None:
    if not actor.is_superuser and (actor.role != "village" or actor.village_id != fund.village_id):
        raise ValidationError(MSG_VILLAGE_ONLY)
    if not FundPlan.objects.filter(fund=fund, status=FundPlan.Status.APPROVED).exists():
        raise ValidationError(MSG_PLAN_NOT_APPROVED)


@transaction.atomic
def stake_invest(
    *,
    fund: VillageFund,
    counterparty: Counterparty,
    principal: Decimal,
    agreement_scan: UploadedFile,
    invested_on: datetime.date,
    actor: User,
) -> EquityStake:
    _village_actor(actor, fund)
    scan = clean_upload(agreement_scan, *field_policy(EquityStake, "agreement_scan"))
    village = fund.village
    stake = EquityStake(
        fund=fund,
        village=village,
        counterparty=counterparty,
        principal=to_fen(principal),
        invested_on=invested_on,
    )
    partner = accounts.keyed(
        village,
        accounts.PARTNER,
        f"{village.pk}:{counterparty.pk}",
        f"{counterparty.name}（{village.name}入股）",
    )
    (stake.entry,) = ledger.post(
        [
            Move(
                accounts.village_account(village, accounts.EQUITY),
                partner,
                stake.principal,
                accounts.E_EQUITY_IN,
            )
        ],
        year=fund.year,
        actor=actor,
    )
    stake.agreement_scan = scan
    stake.save()
    return stake


@transaction.atomic
def stake_return(*, stake: EquityStake, returned_on: datetime.date, actor: User) -> EquityStake:
    locked = (
        EquityStake.objects.select_for_update()
        .select_related("fund", "village", "counterparty")
        .get(pk=stake.pk)
    )
    _village_actor(actor, locked.fund)
    if locked.returned_entry_id:
        raise ValidationError("本金已退还。")
    village = locked.village
    partner = accounts.keyed(
        village,
        accounts.PARTNER,
        f"{village.pk}:{locked.counterparty_id}",
        f"{locked.counterparty.name}（{village.name}入股）",
    )
    (locked.returned_entry,) = ledger.post(
        [
            Move(
                partner,
                accounts.village_account(village, accounts.EQUITY),
                locked.principal,
                accounts.E_EQUITY_BACK,
            )
        ],
        year=locked.fund.year,
        actor=actor,
    )
    locked.returned_on = returned_on
    locked.save(update_fields=["returned_entry", "returned_on"])
    return locked


@transaction.atomic
def dividend_record(
    *,
    stake: EquityStake,
    year: int,
    amount: Decimal,
    received_on: datetime.date,
    shares: dict[Household, Decimal],
    actor: User,
) -> Dividend:
    """A year's dividend into the fund, and the members' share paid to poor households (recorded
    per household) from the dividend account — never from the lending sub-account."""
    _village_actor(actor, stake.fund)
    amount = to_fen(amount)
    village = stake.village
    total = sum((to_fen(v) for v in shares.values()), ZERO)
    if total > amount:
        raise ValidationError(MSG_SHARES.format(total=f"{total:,.2f}", amount=f"{amount:,.2f}"))
    for household in shares:
        if household.village_id != village.pk:
            raise ValidationError(f"{household.head_name} 不是本村的贫困户。")
    pot = accounts.keyed(village, accounts.DIVIDEND, str(village.pk), f"{village.name}分红收入")
    (entry,) = ledger.post(
        [Move(accounts.village_account(village, accounts.INFLOW), pot, amount, accounts.E_DIVIDEND)],
        year=stake.fund.year,
        actor=actor,
    )
    dividend = Dividend.objects.create(
        stake=stake, year=year, amount=amount, received_on=received_on, entry=entry
    )
    live = [(h, to_fen(v)) for h, v in shares.items() if to_fen(v) > 0]
    entries = ledger.post(
        [
            Move(
                pot,
                accounts.keyed(village, accounts.MEMBER, str(h.pk), f"{h.code} {h.head_name}（分红）"),
                v,
                accounts.E_DIVIDEND_SHARE,
            )
            for h, v in live
        ],
        year=stake.fund.year,
        actor=actor,
    )
    DividendShare.objects.bulk_create(
        [
            DividendShare(dividend=dividend, household=h, amount=v, entry=e)
            for (h, v), e in zip(live, entries, strict=True)
        ]
    )
    return dividend


@transaction.atomic
def cooperative_record(
    *,
    fund: VillageFund,
    kind: str,
    amount: Decimal,
    occurred_on: datetime.date,
    purpose: str,
    voucher_scan: UploadedFile,
    actor: User,
) -> CooperativeTransaction:
    """Spending from, or income into, the cooperative sub-account; each with its voucher."""
    _village_actor(actor, fund)
    if not purpose.strip():
        raise ValidationError("须写明事由。")
    scan = clean_upload(voucher_scan, *field_policy(CooperativeTransaction, "voucher_scan"))
    village = fund.village
    coop = accounts.village_account(village, accounts.COOPERATIVE)
    spent = accounts.keyed(village, accounts.COOP_SPENT, str(village.pk), f"{village.name}合作社经营支出")
    if kind == CooperativeTransaction.Kind.SPENDING:
        move = Move(coop, spent, amount, accounts.E_COOP_SPEND, purpose.strip()[:100])
    elif kind == CooperativeTransaction.Kind.INCOME:
        move = Move(
            accounts.village_account(village, accounts.INFLOW),
            coop,
            amount,
            accounts.E_COOP_INCOME,
            purpose.strip()[:100],
        )
    else:
        raise ValidationError("收支类别无效。")
    (entry,) = ledger.post([move], year=fund.year, actor=actor)
    return CooperativeTransaction.objects.create(
        fund=fund,
        village=village,
        kind=kind,
        amount=to_fen(amount),
        occurred_on=occurred_on,
        purpose=purpose.strip(),
        voucher_scan=scan,
        entry=entry,
        recorded_by=actor,
    )
