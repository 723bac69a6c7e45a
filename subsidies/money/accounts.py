"""The grant fund and its accounts: the source, the city, each township and its finance office
(乡财政, where recoveries go), each village, each cadre's purse per village, each household, and
each equity partner. Created in bulk on first use."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db.models import OuterRef, Subquery

from disbursements import ledger
from disbursements.models import Account
from disbursements.registry import AccountKind, Counts, EntryKind, Fund, Level, Record
from households.models import Household, Organisation, Township, User, Village

from ..models import HouseholdAccount

FUND = "household_grant"

FUNDING = "funding"
CITY = "city"
TOWNSHIP = "township"
TOWNSHIP_FINANCE = "township_finance"
VILLAGE = "village"
CADRE = "cadre"
HOUSEHOLD = "household"
PARTNER = "partner"

# Entry kinds of the fund.
E_FUNDING = "funding"
E_ALLOCATION = "allocation"
E_RETURN = "allocation_return"
E_REASSIGNMENT = "reassignment"
E_PAYOUT = "payout"
E_RECOVERY = "recovery"
E_EQUITY = "equity"  # the household's grant, taken by the equity route (holder → household)
E_EQUITY_TRANSFER = "equity_transfer"  # household → partner
E_EQUITY_RETURN = "equity_return"

FUND_DEF = Fund(FUND, "到户产业扶持资金")
ACCOUNT_KIND_DEFS = (
    AccountKind(FUNDING, "财政专项资金", FUND, Level.SOURCE, may_go_negative=True),
    AccountKind(CITY, "市指挥部", FUND, Level.CITY),
    AccountKind(TOWNSHIP, "乡镇", FUND, Level.TOWNSHIP),
    AccountKind(TOWNSHIP_FINANCE, "乡财政", FUND, Level.OTHER),
    AccountKind(VILLAGE, "村委会", FUND, Level.VILLAGE),
    AccountKind(CADRE, "挂包干部", FUND, Level.HOLDER),
    AccountKind(HOUSEHOLD, "贫困户", FUND, Level.PAYEE),
    AccountKind(PARTNER, "入股企业/合作社", FUND, Level.OTHER),
)
ENTRY_KIND_DEFS = (
    EntryKind(E_FUNDING, "资金到位", Counts.FUNDING),
    EntryKind(E_ALLOCATION, "下拨", Counts.ALLOCATION),
    EntryKind(E_RETURN, "调减上缴", Counts.RETURN),
    EntryKind(E_REASSIGNMENT, "挂包干部变更调账", Counts.TRANSFER),
    EntryKind(E_PAYOUT, "兑现到户", Counts.PAYMENT, Record("disbursements.Payout", "entry", "amount")),
    EntryKind(
        E_EQUITY, "到户资金入股", Counts.PAYMENT, Record("subsidies.EquityInvestment", "entry", "principal")
    ),
    EntryKind(
        E_EQUITY_TRANSFER,
        "入股本金划转合作方",
        Counts.OTHER,
        Record("subsidies.EquityInvestment", "transfer_entry", "principal"),
    ),
    EntryKind(
        E_EQUITY_RETURN,
        "入股本金退还",
        Counts.OTHER,
        Record("subsidies.EquityInvestment", "returned_entry", "principal"),
    ),
    EntryKind(E_RECOVERY, "收回", Counts.RECOVERY, Record("subsidies.RecoveryRepayment", "entry", "amount")),
)
# Entries that put grant money in a household's hands (cash or bank, or equity held for it).
RECEIPT_KINDS = (E_PAYOUT, E_EQUITY)


def spec(kind: str, key: str, name: str, **place: int | None) -> ledger.Spec:
    return ledger.Spec(FUND, kind, key, name, **place)


def funding_account() -> Account:
    return ledger.account(spec(FUNDING, "funding", "财政专项扶贫资金"))


def city_account() -> Account:
    return ledger.account(spec(CITY, "city", "香格里拉市产业扶贫指挥部"))


def township_accounts(kind: str = TOWNSHIP) -> dict[int, Account]:
    """One account per township (or per township finance office), created in bulk where missing."""
    suffix = "" if kind == TOWNSHIP else "财政所"
    specs = {
        t.pk: spec(kind, f"{kind}:{t.pk}", f"{t.name}{suffix}", township_id=t.pk)
        for t in Township.objects.all()
    }
    found = ledger.accounts(specs.values())
    return {pk: found[(FUND, s.key)] for pk, s in specs.items()}


def village_accounts() -> dict[int, Account]:
    specs = {
        v.pk: spec(VILLAGE, f"village:{v.pk}", v.name, township_id=v.township_id, village_id=v.pk)
        for v in Village.objects.all()
    }
    found = ledger.accounts(specs.values())
    return {pk: found[(FUND, s.key)] for pk, s in specs.items()}


def cadre_accounts(pairs: Iterable[tuple[int, int]]) -> dict[tuple[int, int], Account]:
    """Accounts for (cadre id, village id) pairs: the money a cadre holds for a village's households."""
    wanted = set(pairs)
    if not wanted:
        return {}
    users = dict(User.objects.filter(pk__in={c for c, _ in wanted}).values_list("pk", "name"))
    usernames = dict(
        User.objects.filter(pk__in=[c for c, n in users.items() if not n]).values_list("pk", "username")
    )
    villages = {
        pk: (name, township_id)
        for pk, name, township_id in Village.objects.filter(pk__in={v for _, v in wanted}).values_list(
            "pk", "name", "township_id"
        )
    }
    specs = {
        (c, v): spec(
            CADRE,
            f"cadre:{c}:{v}",
            f"{users[c] or usernames[c]}（{villages[v][0]}）",
            township_id=villages[v][1],
            village_id=v,
            holder_id=c,
        )
        for c, v in wanted
    }
    found = ledger.accounts(specs.values())
    return {pair: found[(FUND, s.key)] for pair, s in specs.items()}


def household_accounts(households: Iterable[Household]) -> dict[int, Account]:
    """Each household's account in the fund (held by its cadre of today), with its owner link."""
    by_pk = {h.pk: h for h in households}
    if not by_pk:
        return {}
    township_of = dict(
        Village.objects.filter(pk__in={h.village_id for h in by_pk.values()}).values_list("pk", "township_id")
    )
    specs = {
        h.pk: spec(
            HOUSEHOLD,
            f"household:{h.pk}",
            f"{h.code} {h.head_name}",
            township_id=township_of[h.village_id],
            village_id=h.village_id,
            holder_id=h.cadre_id,
        )
        for h in by_pk.values()
    }
    found = ledger.accounts(specs.values())
    result = {pk: found[(FUND, s.key)] for pk, s in specs.items()}
    linked = set(
        HouseholdAccount.objects.filter(household_id__in=list(result)).values_list("household_id", flat=True)
    )
    HouseholdAccount.objects.bulk_create(
        [HouseholdAccount(household_id=pk, account=a) for pk, a in result.items() if pk not in linked],
        ignore_conflicts=True,
    )
    return result


def household_identities(accounts: Sequence[Account]) -> dict[int, tuple[str, str]]:
    """Each household account's (户主姓名, 身份证号), for the bank file (one query)."""
    rows = HouseholdAccount.objects.filter(account__in=list(accounts)).values_list(
        "account_id", "household__head_name", "household__id_number"
    )
    return {account_id: (name, id_number) for account_id, name, id_number in rows}


def partner_key(organisation_id: int) -> str:
    """The equity partner's account key in the fund: one per organisation of the register."""
    return f"org:{organisation_id}"


def partner_account(partner: Organisation) -> Account:
    """The equity partner's (an organisation's) account in the fund, found by its key."""
    return ledger.account(spec(PARTNER, partner_key(partner.pk), partner.name))


def holder_account(household: Household) -> Account:
    """The account that pays the household: its cadre's (for its village), or the village's."""
    if household.cadre_id:
        key = (household.cadre_id, household.village_id)
        return cadre_accounts([key])[key]
    return village_accounts()[household.village_id]


def follow_households(household_ids: Iterable[int]) -> int:
    """Keep the household accounts where their households are now (village, township, cadre): one
    UPDATE whatever the number of households."""
    ids = list(household_ids)
    if not ids:
        return 0
    household = Household.objects.filter(grant_account__account=OuterRef("pk"))
    return Account.objects.filter(fund=FUND, grant_household__household_id__in=ids).update(
        village_id=Subquery(household.values("village_id")[:1]),
        township_id=Subquery(household.values("village__township_id")[:1]),
        holder_id=Subquery(household.values("cadre_id")[:1]),
    )
