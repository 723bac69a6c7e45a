"""The village collective fund in the ledger: one fund (专款专用), per village an unallocated purse and
three sub-accounts kept apart — lending (联保小额贷款), equity (入股分红), cooperative (合作社经营) —
plus each borrower's loan account (its balance is what the borrower still owes), the write-off
account (what may still be recovered) and the reserves the use fee goes into. None of them may go
below zero; `ledger.post` checks it under the accounts' locks in the posting transaction.

The source is the city's budget line for the programme: what arrives (专项资金到位) is held in city
HQ's account of the fund, which may not go below zero, and each poor village's fund is allocated from
it directly (the money does not pass through the townships' purses, which is why the accounts are
not in the grant's city → township → village chain and `reconcile` checks this fund with
`reconcile.CHECK`)."""

from __future__ import annotations

from disbursements import ledger
from disbursements.models import Account
from disbursements.registry import AccountKind, Counts, EntryKind, Fund, Level, Record
from households.models import Household, Village

FUND = "village_collective"

SOURCE = "vc_source"
CITY = "vc_city"
UNALLOCATED = "vc_unallocated"
LENDING = "vc_lending"
EQUITY = "vc_equity"
COOPERATIVE = "vc_cooperative"
BORROWER = "vc_borrower"
WRITTEN_OFF = "vc_written_off"
INFLOW = "vc_inflow"
RESERVE = "vc_reserve"
PARTNER = "vc_partner"
DIVIDEND = "vc_dividend"
MEMBER = "vc_member"
COOP_SPENT = "vc_coop_spent"

E_BUDGET = "vc_budget"
E_FUNDING = "vc_funding"
E_RELEASE_LENDING = "vc_release_lending"
E_RELEASE_EQUITY = "vc_release_equity"
E_RELEASE_COOPERATIVE = "vc_release_coop"
E_LOAN = "vc_loan"
E_REPAYMENT = "vc_repayment"
E_FEE = "vc_fee"
E_WRITE_OFF = "vc_write_off"
E_RECOVERY = "vc_recovery"
E_EQUITY_IN = "vc_equity_in"
E_EQUITY_BACK = "vc_equity_back"
E_DIVIDEND = "vc_dividend"
E_DIVIDEND_SHARE = "vc_dividend_share"
E_COOP_SPEND = "vc_coop_spend"
E_COOP_INCOME = "vc_coop_income"

SUB_ACCOUNTS = {LENDING: "借款资金", EQUITY: "入股资金", COOPERATIVE: "合作社经营资金"}

FUND_DEF = Fund(FUND, "村集体经济扶持资金")
ACCOUNT_KIND_DEFS = (
    AccountKind(SOURCE, "市指挥部（村集体经济专项）", FUND, Level.SOURCE, may_go_negative=True),
    AccountKind(INFLOW, "村集体缴入款", FUND, Level.SOURCE, may_go_negative=True),
    AccountKind(CITY, "市指挥部村集体经济专户", FUND, Level.OTHER),
    AccountKind(UNALLOCATED, "村集体资金（未分配）", FUND, Level.OTHER),
    AccountKind(LENDING, "借款资金专户", FUND, Level.OTHER),
    AccountKind(EQUITY, "入股资金专户", FUND, Level.OTHER),
    AccountKind(COOPERATIVE, "合作社经营资金专户", FUND, Level.OTHER),
    AccountKind(BORROWER, "借款户（未还本金）", FUND, Level.OTHER),
    AccountKind(WRITTEN_OFF, "已核销待收回", FUND, Level.OTHER),
    AccountKind(RESERVE, "公积公益金", FUND, Level.OTHER),
    AccountKind(PARTNER, "入股组织（保值本金）", FUND, Level.OTHER),
    AccountKind(DIVIDEND, "分红收入", FUND, Level.OTHER),
    AccountKind(MEMBER, "贫困户分红", FUND, Level.OTHER),
    AccountKind(COOP_SPENT, "合作社经营支出", FUND, Level.OTHER),
)
ENTRY_KIND_DEFS = (
    EntryKind(
        E_BUDGET,
        "村集体经济专项资金到位",
        Counts.FUNDING,
        Record("collectives.ProgrammeFunding", "entry", "amount"),
    ),
    EntryKind(
        E_FUNDING, "村集体资金下拨", Counts.FUNDING, Record("collectives.VillageFund", "entry", "amount")
    ),
    EntryKind(
        E_RELEASE_LENDING,
        "方案批准：借款资金",
        Counts.OTHER,
        Record("collectives.FundPlan", "lending_entry", "lending"),
    ),
    EntryKind(
        E_RELEASE_EQUITY,
        "方案批准：入股资金",
        Counts.OTHER,
        Record("collectives.FundPlan", "equity_entry", "equity"),
    ),
    EntryKind(
        E_RELEASE_COOPERATIVE,
        "方案批准：合作社经营资金",
        Counts.OTHER,
        Record("collectives.FundPlan", "cooperative_entry", "cooperative"),
    ),
    # A loan is paid as a line of its `collective_loan` batch: the payout is the entry's record.
    EntryKind(E_LOAN, "联保贷款放款", Counts.OTHER, Record("disbursements.Payout", "entry", "amount")),
    EntryKind(
        E_REPAYMENT, "贷款还本", Counts.OTHER, Record("collectives.Repayment", "principal_entry", "principal")
    ),
    EntryKind(
        E_FEE, "占用费入公积公益金", Counts.OTHER, Record("collectives.ReserveAllocation", "entry", "amount")
    ),
    EntryKind(E_WRITE_OFF, "贷款核销", Counts.OTHER, Record("collectives.WriteOff", "entry", "amount")),
    EntryKind(
        E_RECOVERY, "核销后收回", Counts.OTHER, Record("collectives.WriteOffRecovery", "entry", "amount")
    ),
    EntryKind(
        E_EQUITY_IN, "村集体入股", Counts.OTHER, Record("collectives.EquityStake", "entry", "principal")
    ),
    EntryKind(
        E_EQUITY_BACK,
        "入股本金退还",
        Counts.OTHER,
        Record("collectives.EquityStake", "returned_entry", "principal"),
    ),
    EntryKind(E_DIVIDEND, "入股分红到账", Counts.OTHER, Record("collectives.Dividend", "entry", "amount")),
    EntryKind(
        E_DIVIDEND_SHARE, "分红到户", Counts.OTHER, Record("collectives.DividendShare", "entry", "amount")
    ),
    EntryKind(
        E_COOP_SPEND,
        "合作社经营支出",
        Counts.OTHER,
        Record("collectives.CooperativeTransaction", "entry", "amount"),
    ),
    EntryKind(
        E_COOP_INCOME,
        "合作社经营收入",
        Counts.OTHER,
        Record("collectives.CooperativeTransaction", "entry", "amount"),
    ),
)


def _spec(kind: str, key: str, name: str, village: Village | None = None) -> ledger.Spec:
    return ledger.Spec(
        FUND,
        kind,
        key,
        name,
        township_id=village.township_id if village else None,
        village_id=village.pk if village else None,
    )


def source() -> Account:
    return ledger.account(_spec(SOURCE, "source", "市指挥部村集体经济专项资金"))


def city_account() -> Account:
    """City HQ's account of the fund: what has arrived and is not yet allocated to a village."""
    return ledger.account(_spec(CITY, "city", "市指挥部村集体经济专户"))


def village_account(village: Village, kind: str) -> Account:
    label = {
        UNALLOCATED: "集体资金（未分配）",
        INFLOW: "缴入款",
        WRITTEN_OFF: "已核销待收回",
        **SUB_ACCOUNTS,
    }[kind]
    return ledger.account(_spec(kind, f"{kind}:{village.pk}", f"{village.name}{label}", village))


def unallocated_accounts(villages: list[Village]) -> dict[int, Account]:
    """Each village's unallocated purse (by village pk), created in bulk where missing."""
    specs = {
        v.pk: _spec(UNALLOCATED, f"{UNALLOCATED}:{v.pk}", f"{v.name}集体资金（未分配）", v) for v in villages
    }
    found = ledger.accounts(specs.values())
    return {pk: found[(FUND, s.key)] for pk, s in specs.items()}


def sub_accounts(village: Village) -> dict[str, Account]:
    specs = {
        kind: _spec(kind, f"{kind}:{village.pk}", f"{village.name}{label}", village)
        for kind, label in {UNALLOCATED: "集体资金（未分配）", **SUB_ACCOUNTS}.items()
    }
    found = ledger.accounts(specs.values())
    return {kind: found[(FUND, s.key)] for kind, s in specs.items()}


def keyed(village: Village, kind: str, key: str, name: str) -> Account:
    """An account of the village's fund found by its own key (a stake's partner, a member's share)."""
    return ledger.account(_spec(kind, f"{kind}:{key}", name, village))


def reserve_account(village: Village, reserve: str, label: str) -> Account:
    return ledger.account(
        _spec(RESERVE, f"{RESERVE}:{reserve}:{village.pk}", f"{village.name}{label}", village)
    )


def borrower_account(household: Household) -> Account:
    village = household.village
    return ledger.account(
        _spec(
            BORROWER, f"{BORROWER}:{household.pk}", f"{household.code} {household.head_name}（借款）", village
        )
    )
