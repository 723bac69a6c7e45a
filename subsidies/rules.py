"""The household industry grant, as the plan computes it (rules.md §2–3). Pure: no Django, no ORM.

Input: the policy terms of a programme year and a household's plan, as plain values.
Output: a `Quote` (planting, breeding, total, tranches, and the explanation line by line in
Chinese) or `PlanRefused` with the reason. Money is Decimal yuan rounded to the fen, half up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# The project's one money helper (pure, like this module).
from disbursements.money import FEN, ZERO, to_fen, yuan

HUNDRED = Decimal(100)


def number(value: Decimal) -> str:
    """A quantity as written: 3 → '3', 2.5 → '2.50', 0.8 → '0.80'."""
    if value == value.to_integral_value():
        return str(int(value))
    return f"{value.quantize(FEN, rounding=ROUND_HALF_UP)}"


def _rate(value: Decimal) -> str:
    """A rate as the plan writes it: 500 → '500', 1000 → '1,000', 12.5 → '12.50'."""
    if value == value.to_integral_value():
        return f"{int(value):,}"
    return yuan(value)


def _plain(value: Decimal) -> str:
    """A percentage exactly as entered, without rounding it: 99.999 → '99.999', 90 → '90'."""
    return f"{value.normalize():f}"


class PlanRefused(ValueError):
    """The plan cannot be subsidised; str() is the reason, in Chinese, for the user."""


class RatioInvalid(PlanRefused):
    """The tranche ratios as typed do not work (a typo, not a refusal of the household); str() says why."""


@dataclass(frozen=True)
class Category:
    """A breeding category of the plan (大牲畜, 羊, 猪, 鸡, 蜂, 鱼)."""

    code: str
    name: str
    unit: str  # 头, 只, 羽, 箱, 亩
    rate: Decimal  # yuan per unit
    cap: Decimal  # yuan per household
    fractional: bool = False  # pond area in 亩 may have two decimals; heads are whole


@dataclass(frozen=True)
class Terms:
    """One version of a programme year's policy (rules.md §1): every number the rules use."""

    year: int
    version: int
    planting_rate: Decimal  # yuan per 亩
    planting_area_cap: Decimal  # 亩 counted at most
    household_cap: Decimal
    tranche_ratios: tuple[Decimal, Decimal, Decimal]  # percent, adding to 100
    categories: Mapping[str, Category]
    species: Mapping[str, str]  # species name → category code
    eligible_exit_years: frozenset[int]  # eligible outright (2017)
    consolidation_exit_years: frozenset[int]  # eligible only when marked 巩固提升 (2016)


@dataclass(frozen=True)
class PlanFacts:
    """What the cadre enters: crops and area; breeding as (species, quantity) pairs (at most one allowed)."""

    planting_area: Decimal | None = None
    crops: str = ""
    breeding: Sequence[tuple[str, Decimal]] = ()


@dataclass(frozen=True)
class Quote:
    year: int
    policy_version: int
    planting: Decimal
    breeding: Decimal
    total: Decimal
    tranches: tuple[Decimal, Decimal, Decimal]
    ratios: tuple[Decimal, Decimal, Decimal]
    category: str | None
    lines: tuple[str, ...] = field(default=())

    @property
    def explanation(self) -> str:
        return "\n".join(self.lines)


# --- eligibility -------------------------------------------------------------------------------


def check_eligible(terms: Terms, *, exit_year: int, consolidation: bool) -> str:
    """The cohort reason the household is eligible; raises PlanRefused with the reason if not."""
    if exit_year in terms.eligible_exit_years:
        return f"{exit_year}年度脱贫户，符合扶持条件"
    if exit_year in terms.consolidation_exit_years:
        if consolidation:
            return f"{exit_year}年度脱贫户，已列为巩固提升户，符合扶持条件"
        raise PlanRefused(f"{exit_year}年度脱贫户须经工作队/乡镇列为“巩固提升”后才能享受扶持")
    years = "、".join(str(y) for y in sorted(terms.eligible_exit_years)) or "（未设置）"
    reason = f"脱贫年度为 {exit_year}，本方案只扶持 {years} 年度脱贫户"
    if terms.consolidation_exit_years:
        later = "、".join(str(y) for y in sorted(terms.consolidation_exit_years))
        reason += f"（及列为巩固提升的 {later} 年度脱贫户）"
    raise PlanRefused(reason)


# --- amounts -----------------------------------------------------------------------------------


def _quantity(raw: Decimal | int | str | None, what: str) -> Decimal:
    if isinstance(raw, float):
        raise TypeError("quantities must not be floats")
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return Decimal(0)
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        raise PlanRefused(f"{what}应为数字：{raw}") from None
    if not value.is_finite():
        raise PlanRefused(f"{what}应为数字：{raw}")
    if value < 0:
        raise PlanRefused(f"{what}不能为负数：{raw}")
    try:
        exact = value == value.quantize(FEN, rounding=ROUND_HALF_UP)
    except InvalidOperation:  # too many digits to hold at two places
        raise PlanRefused(f"{what}超出范围：{raw}") from None
    if not exact:
        raise PlanRefused(f"{what}最多两位小数：{raw}")
    return value


def planting_subsidy(terms: Terms, area: Decimal) -> tuple[Decimal, str | None]:
    if area < 0:
        raise PlanRefused(f"种植面积不能为负数：{area}")
    if area == 0:
        return ZERO, None
    counted = min(area, terms.planting_area_cap)
    amount = to_fen(counted * terms.planting_rate)
    rate = _rate(terms.planting_rate)
    if area > terms.planting_area_cap:
        cap = number(terms.planting_area_cap)
        line = f"种植 {area:.2f} 亩，按 {cap} 亩封顶 × {rate} 元/亩 = {yuan(amount)} 元"
    else:
        line = f"种植 {area:.2f} 亩 × {rate} 元/亩 = {yuan(amount)} 元"
    return amount, line


def _category_of(terms: Terms, species: str) -> Category:
    code = terms.species.get(species)
    if code is None:
        known = "、".join(terms.species)
        raise PlanRefused(f"养殖品种“{species}”不在扶持目录内（可选：{known}）")
    category = terms.categories.get(code)
    if category is None:
        raise PlanRefused(f"养殖品种“{species}”所属品类“{code}”未在 {terms.year} 年度政策中设置")
    return category


def _priced(species: str, quantity: Decimal, category: Category) -> tuple[Decimal, str]:
    """rate × quantity before the cap, and the line's head: '猪 3 头 × 500 元/头'."""
    if quantity < 0:
        raise PlanRefused(f"{species}数量不能为负数：{quantity}")
    if not category.fractional and quantity != quantity.to_integral_value():
        raise PlanRefused(f"{species}数量应为整数（{category.unit}）：{number(quantity)}")
    label = species if species == category.name else f"{species}（{category.name}类）"
    head = f"{label} {number(quantity)} {category.unit} × {_rate(category.rate)} 元/{category.unit}"
    return quantity * category.rate, head


def breeding_subsidy(terms: Terms, species: str, quantity: Decimal) -> tuple[Decimal, str, Category]:
    category = _category_of(terms, species)
    raw, head = _priced(species, quantity, category)
    amount = to_fen(min(raw, category.cap))
    if raw > category.cap:
        line = f"{head} = {yuan(raw)} 元，按每户 {yuan(category.cap)} 元封顶 = {yuan(amount)} 元"
    else:
        line = f"{head} = {yuan(amount)} 元"
    return amount, line, category


def split_tranches(total: Decimal, ratios: Sequence[Decimal]) -> tuple[Decimal, Decimal, Decimal]:
    """产前/产中/产后: the first two rounded to the fen, the last the remainder, so they add up exactly."""
    check_ratios(ratios)
    grant = to_fen(total)
    if grant != total or grant < 0:
        raise ValueError(f"the grant must be a non-negative amount in fen: {total}")
    shares = [Decimal(r) for r in ratios]
    first = to_fen(grant * shares[0] / HUNDRED)
    second = to_fen(grant * shares[1] / HUNDRED)
    third = grant - first - second
    if third < 0:  # rounding pushed past the total (e.g. 0/50/50 of one fen): take it from the second
        second += third
        third = ZERO
    return first, second, third


def check_ratios(ratios: Sequence[Decimal]) -> None:
    """Three percentages (Decimal or int), each ≥ 0, adding to exactly 100; raises PlanRefused if not."""
    if len(ratios) != 3:
        raise RatioInvalid("拨付比例应为三期：产前、产中、产后")
    if any(isinstance(r, float | bool) or not isinstance(r, Decimal | int) for r in ratios):
        raise TypeError("ratios must be Decimal or int percentages, never float")
    shares = [Decimal(r) for r in ratios]
    if not all(r.is_finite() for r in shares):
        raise RatioInvalid("拨付比例应为数字")
    if any(r < 0 for r in shares):
        raise RatioInvalid("拨付比例每期不能为负数")
    if sum(shares) != HUNDRED:
        raise RatioInvalid(f"产前、产中、产后比例之和须为 100%，现为 {_plain(sum(shares, Decimal(0)))}%")


def quote(
    terms: Terms,
    plan: PlanFacts,
    *,
    exit_year: int,
    consolidation: bool,
    ratios: Sequence[Decimal] | None = None,
) -> Quote:
    """What the household is entitled to under `terms`, and why; raises PlanRefused with the reason."""
    eligibility = check_eligible(terms, exit_year=exit_year, consolidation=consolidation)
    area = _quantity(plan.planting_area, "种植面积")
    if area > 0 and not plan.crops.strip():
        raise PlanRefused("填写了种植面积，请同时填写种植品种")

    entries = [(s.strip(), _quantity(q, f"{s.strip()}数量")) for s, q in plan.breeding if s.strip() or q]
    for species, quantity in entries:
        if not species and quantity > 0:
            raise PlanRefused("填写了养殖数量，请同时填写养殖品种")
    entries = [(s, q) for s, q in entries if s]
    categories = [_category_of(terms, s) for s, _ in entries]  # an unknown species is refused by name
    if len({c.code for c in categories}) > 1:
        names = "、".join(s for s, _ in entries)
        raise PlanRefused(f"每户只能享受 1 项养殖补助，不能同时扶持{names}")
    for species, quantity in entries:
        if quantity == 0:
            raise PlanRefused(f"请填写{species}的数量")

    lines = [eligibility]
    planting, line = planting_subsidy(terms, area)
    if line:
        lines.append(f"{plan.crops.strip()}：{line}" if plan.crops.strip() else line)
    breeding = ZERO
    category: Category | None = None
    if len(entries) == 1:
        species, quantity = entries[0]
        breeding, line, category = breeding_subsidy(terms, species, quantity)
        lines.append(line)
    elif entries:  # several species of ONE category (牛 + 马 are both 大牲畜): one item, one cap
        category = categories[0]
        raw = Decimal(0)
        for species, quantity in entries:
            part, head = _priced(species, quantity, category)
            raw += part
            lines.append(f"{head} = {yuan(part)} 元")
        breeding = to_fen(min(raw, category.cap))
        if raw > category.cap:
            capped = f"按每户 {yuan(category.cap)} 元封顶 = {yuan(breeding)} 元"
            lines.append(f"{category.name}类合计 {yuan(raw)} 元，{capped}")
        else:
            lines.append(f"{category.name}类合计 {yuan(breeding)} 元")
    if planting == 0 and breeding == 0:
        raise PlanRefused("种植面积和养殖数量都为零，没有可扶持的内容")

    raw_total = planting + breeding
    total = to_fen(min(raw_total, terms.household_cap))
    if raw_total > terms.household_cap:
        capped = f"按每户 {yuan(terms.household_cap)} 元封顶 = {yuan(total)} 元"
        lines.append(f"合计 {yuan(raw_total)} 元，{capped}")
    else:
        lines.append(f"合计 {yuan(total)} 元")

    used = tuple(ratios) if ratios is not None else terms.tranche_ratios
    tranches = split_tranches(total, used)
    lines.append(
        "分三期拨付（{}）：产前 {} 元，产中 {} 元，产后 {} 元".format(
            ":".join(number(Decimal(r)) for r in used), *(yuan(t) for t in tranches)
        )
    )
    return Quote(
        year=terms.year,
        policy_version=terms.version,
        planting=planting,
        breeding=breeding,
        total=total,
        tranches=tranches,
        ratios=(Decimal(used[0]), Decimal(used[1]), Decimal(used[2])),
        category=category.code if category else None,
        lines=tuple(lines),
    )


# --- after the cycle: the 以奖代补 reward (rules.md §3, our reading) --------------------------------

TRANCHE_NAMES = {1: "第一期", 2: "第二期", 3: "第三期"}


@dataclass(frozen=True)
class Settlement:
    """What the benefit analysis means for the money, and why, in sentences (never a formula)."""

    reward: Decimal  # 以奖代补 now: min(grant, verified) less what was received, never below 0
    shortfall: Decimal  # received beyond the verified entitlement: for the township to decide
    lines: tuple[str, ...]


def _received_clause(received: Decimal, paid: Mapping[int, Decimal]) -> str:
    """'已兑现第一期 1,080.00 元、第二期 360.00 元' (or the total when the tranches do not add up to it)."""
    if received == 0:
        return "尚未兑现"
    if paid and sum(paid.values(), Decimal(0)) == received:
        return "已兑现" + "、".join(
            f"{TRANCHE_NAMES.get(t, f'第{t}期')} {yuan(amount)} 元" for t, amount in sorted(paid.items())
        )
    return f"已兑现 {yuan(received)} 元"


def settle(
    *,
    grant: Decimal,
    received: Decimal,
    paid: Mapping[int, Decimal],
    active: bool,
    verified: Decimal = ZERO,
) -> Settlement:
    """The household's settlement after one production cycle, explained as a sentence.

    `grant` is the plan's grant of record, `received` what the household has received (from the
    ledger), `paid` the same by tranche (for the wording), `verified` the rules applied to what the
    cadre verified on site. Active: the reward tops the household up to min(grant, verified);
    what was received beyond the verified entitlement is a shortfall for the township to decide.
    Inactive: nothing more, everything received is to be recovered.

    E.g. grant 1,800, tranches of 1,080 and 360 paid, verified at the plan: "补助总额 1,800.00 元，已兑现
    第一期 1,080.00 元、第二期 360.00 元；经评估产业运行良好，以奖代补 360.00 元。"
    """
    grant, received, verified = to_fen(grant), to_fen(received), to_fen(verified)
    head = f"补助总额 {yuan(grant)} 元，{_received_clause(received, paid)}"
    if not active:
        recover = f"已兑现的 {yuan(received)} 元由村工作队提出收回" if received else "无需收回"
        line = f"{head}；经评估未积极主动发展种养殖产业，停止后续扶持，{recover}。"
        return Settlement(ZERO, ZERO, (line,))
    reward = max(ZERO, min(grant, verified) - received)
    shortfall = max(ZERO, received - verified)
    if verified >= grant:
        if reward:
            line = f"{head}；经评估产业运行良好，以奖代补 {yuan(reward)} 元。"
        else:
            line = f"{head}；经评估产业运行良好，补助已全部兑现，不再发放以奖代补。"
    elif verified > received:
        line = (
            f"{head}；经评估产业运行良好，但按核实的实际规模应享补助 {yuan(verified)} 元，"
            f"以奖代补 {yuan(reward)} 元。"
        )
    else:
        line = f"{head}；按核实的实际规模只应享补助 {yuan(verified)} 元，不发放以奖代补"
        line += f"，比已兑现的少 {yuan(shortfall)} 元，报乡镇决定是否收回。" if shortfall else "。"
    return Settlement(reward, shortfall, (line,))
