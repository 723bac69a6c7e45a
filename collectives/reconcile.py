"""The fund's own reconcile check: per village, the allocation equals what its accounts hold plus
what is lent out and written off; every loan's principal = repaid + outstanding + written off."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from disbursements import ledger
from disbursements.models import Account
from disbursements.money import ZERO, to_fen
from disbursements.registry import ReconcileCheck

from . import accounts
from .models import Loan, VillageFund


def check(year: int) -> list[str]:
    problems: list[str] = []
    village_accounts = list(
        Account.objects.filter(fund=accounts.FUND, village__isnull=False).exclude(kind=accounts.INFLOW)
    )
    balance = ledger.balances(village_accounts, year)
    inflow = ledger.balances(Account.objects.filter(fund=accounts.FUND, kind=accounts.INFLOW), year)
    held: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for account in village_accounts:
        held[account.village_id] += balance[account.pk]  # type: ignore[index]
    brought_in: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for account in Account.objects.filter(fund=accounts.FUND, kind=accounts.INFLOW):
        brought_in[account.village_id] -= inflow[account.pk]  # type: ignore[index]
    for fund in VillageFund.objects.filter(year=year).select_related("village"):
        expected = to_fen(fund.amount) + brought_in[fund.village_id]
        if held[fund.village_id] != expected:
            problems.append(
                f"{fund.village.name}：扶持资金 {fund.amount} 元 + 缴入 {brought_in[fund.village_id]} 元 ≠ "
                f"各专户及借出本金合计 {held[fund.village_id]} 元"
            )
    for loan in (
        Loan.objects.filter(fund__year=year).exclude(status=Loan.Status.PROPOSED).select_related("household")
    ):
        repaid = sum((to_fen(p) for p in loan.repayments.values_list("principal", flat=True)), ZERO)
        written = to_fen(loan.write_off.amount) if hasattr(loan, "write_off") else ZERO
        open_ = sum(
            (
                to_fen(p) - to_fen(q)
                for p, q in loan.instalments.filter(superseded_by__isnull=True).values_list(
                    "principal", "paid_principal"
                )
            ),
            ZERO,
        )
        if loan.status == Loan.Status.WRITTEN_OFF:
            open_ = ZERO
        if to_fen(loan.principal) != repaid + open_ + written:
            problems.append(
                f"贷款 #{loan.pk}（{loan.household.head_name}）：本金 {loan.principal} ≠ "
                f"已还 {repaid} + 未还 {open_} + 核销 {written}"
            )
    return problems


CHECK = ReconcileCheck("village_collective", "村集体经济扶持资金", accounts.FUND, check)
