"""The household industry grant (rules.md §2–3), checked against the doc's own numbers. No database."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from subsidies.rules import (
    Category,
    PlanFacts,
    PlanRefused,
    Quote,
    RatioInvalid,
    Terms,
    check_eligible,
    check_ratios,
    quote,
    settle,
    split_tranches,
    to_fen,
)

D = Decimal
PROPERTY = settings(max_examples=200, deadline=None)


def terms_2017() -> Terms:
    """The 2017 policy exactly as rules.md writes it (numbers spelled out here, not read from the code)."""
    categories = [
        Category("大牲畜", "大牲畜", "头", D("2000"), D("2000")),
        Category("羊", "羊", "只", D("400"), D("2000")),
        Category("猪", "猪", "头", D("500"), D("2000")),
        Category("鸡", "鸡", "羽", D("20"), D("2000")),
        Category("蜂", "蜂", "箱", D("200"), D("2000")),
        Category("鱼", "鱼", "亩", D("1000"), D("2000"), fractional=True),
    ]
    species = {
        **dict.fromkeys(["牛", "牦牛", "犏牛", "黄牛", "马", "骡", "驴"], "大牲畜"),
        "羊": "羊",
        "猪": "猪",
        "藏香猪": "猪",
        "鸡": "鸡",
        "尼西鸡": "鸡",
        "蜂": "蜂",
        "中蜂": "蜂",
        "鱼": "鱼",
    }
    return Terms(
        year=2017,
        version=1,
        planting_rate=D("500"),
        planting_area_cap=D("2"),
        household_cap=D("3000"),
        tranche_ratios=(D("60"), D("20"), D("20")),
        categories={c.code: c for c in categories},
        species=species,
        eligible_exit_years=frozenset({2017}),
        consolidation_exit_years=frozenset({2016}),
    )


TERMS = terms_2017()


def plan(area: str | None = None, crops: str = "", *breeding: tuple[str, Any]) -> PlanFacts:
    """A plan as the cadre types it: area and quantities as text or Decimal."""
    return PlanFacts(planting_area=D(area) if area is not None else None, crops=crops, breeding=breeding)


def run(facts: PlanFacts, *, terms: Terms = TERMS, exit_year: int = 2017, **kw: Any) -> Quote:
    return quote(terms, facts, exit_year=exit_year, consolidation=kw.pop("consolidation", False), **kw)


def assert_fen(*amounts: Decimal) -> None:
    for amount in amounts:
        assert type(amount) is Decimal, amount
        assert amount.as_tuple().exponent == -2, amount


# --- §2 worked examples ------------------------------------------------------------------------

WORKED = [
    # plan, planting, breeding, grant — the rows of "Worked examples (all must hold)"
    pytest.param(plan("1.5", "青稞"), "750.00", "0", "750.00", id="青稞 1.5 亩"),
    pytest.param(plan("3", "玛咖", ("猪", D(3))), "1000.00", "1500.00", "2500.00", id="玛咖 3 亩 + 猪 3 头"),
    pytest.param(plan(None, "", ("羊", D(6))), "0", "2000.00", "2000.00", id="羊 6 只 (2,400 capped)"),
    pytest.param(plan(None, "", ("鸡", D(55))), "0", "1100.00", "1100.00", id="鸡 55 羽"),
    pytest.param(
        plan("2", "核桃", ("中蜂", D(4))), "1000.00", "800.00", "1800.00", id="中蜂 4 箱 + 核桃 2 亩"
    ),
    pytest.param(plan(None, "", ("鱼", D("0.8"))), "0", "800.00", "800.00", id="鱼塘 0.8 亩"),
    pytest.param(plan(None, "", ("牦牛", D(1))), "0", "2000.00", "2000.00", id="牦牛 1 头"),
]

WORKED_REFUSED = [
    pytest.param(
        plan(None, "", ("猪", D(2)), ("羊", D(3))), "每户只能享受 1 项养殖补助", id="猪 2 头 + 羊 3 只"
    ),
    pytest.param(plan("0", "花椒"), "没有可扶持的内容", id="花椒 0 亩"),
]


@pytest.mark.parametrize(("facts", "planting", "breeding", "grant"), WORKED)
def test_worked_example(facts: PlanFacts, planting: str, breeding: str, grant: str) -> None:
    q = run(facts)
    assert (q.planting, q.breeding, q.total) == (D(planting), D(breeding), D(grant))
    assert_fen(q.planting, q.breeding, q.total, *q.tranches)
    assert sum(q.tranches) == q.total
    assert (q.year, q.policy_version) == (2017, 1)


@pytest.mark.parametrize(("facts", "reason"), WORKED_REFUSED)
def test_worked_example_refused(facts: PlanFacts, reason: str) -> None:
    with pytest.raises(PlanRefused, match=reason):
        run(facts)


def test_explanation_line_of_the_doc() -> None:
    q = run(plan("2.5", "玛咖"))
    assert any(line.endswith("种植 2.50 亩，按 2 亩封顶 × 500 元/亩 = 1,000.00 元") for line in q.lines), (
        q.lines
    )
    assert q.lines[0] == "2017年度脱贫户，符合扶持条件"
    assert q.explanation == "\n".join(q.lines)


def test_explanation_names_a_capped_breeding_line_and_the_tranches() -> None:
    q = run(plan(None, "", ("羊", D(6))))
    assert "羊 6 只 × 400 元/只 = 2,400.00 元，按每户 2,000.00 元封顶 = 2,000.00 元" in q.lines
    assert q.lines[-1] == "分三期拨付（60:20:20）：产前 1,200.00 元，产中 400.00 元，产后 400.00 元"


# --- §3 tranches -------------------------------------------------------------------------------

SIX_TWO_TWO = (D(60), D(20), D(20))


@pytest.mark.parametrize(
    ("grant", "ratios", "expected"),
    [
        ("1750.00", SIX_TWO_TWO, ("1050.00", "350.00", "350.00")),
        ("1111.11", SIX_TWO_TWO, ("666.67", "222.22", "222.22")),
        ("2500.00", SIX_TWO_TWO, ("1500.00", "500.00", "500.00")),
        ("2500.00", (D(50), D(30), D(20)), ("1250.00", "750.00", "500.00")),
        ("1111.11", (D(50), D(30), D(20)), ("555.56", "333.33", "222.22")),
        ("0.01", (D(0), D(50), D(50)), ("0.00", "0.01", "0.00")),
    ],
)
def test_tranches(
    grant: str, ratios: tuple[Decimal, Decimal, Decimal], expected: tuple[str, str, str]
) -> None:
    tranches = split_tranches(D(grant), ratios)
    assert tranches == tuple(D(t) for t in expected)
    assert_fen(*tranches)
    assert sum(tranches) == D(grant)


def test_quote_with_a_custom_ratio() -> None:
    q = run(plan("3", "玛咖", ("猪", D(3))), ratios=(D(50), D(30), D(20)))
    assert q.tranches == (D("1250.00"), D("750.00"), D("500.00"))
    assert q.ratios == (D(50), D(30), D(20))
    assert q.lines[-1].startswith("分三期拨付（50:30:20）")


@pytest.mark.parametrize(
    ("ratios", "reason"),
    [
        ((D(60), D(20), D(10)), "产前、产中、产后比例之和须为 100%，现为 90%"),
        ((D(60), D(20), D("20.01")), "现为 100.01%"),
        ((D(70), D(40), D(-10)), "不能为负数"),
        ((D(50), D(50)), "三期"),
    ],
)
def test_bad_ratios_are_refused(ratios: Sequence[Decimal], reason: str) -> None:
    # A typo in the ratios, not a refusal of the household: the pages word it as something to correct.
    with pytest.raises(RatioInvalid, match=reason):
        check_ratios(ratios)
    with pytest.raises(RatioInvalid, match=reason):
        run(plan("1", "青稞"), ratios=ratios)


def test_float_ratios_and_a_grant_below_the_fen_are_refused() -> None:
    with pytest.raises(TypeError):
        split_tranches(D("100.00"), [60.0, 20.0, 20.0])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="fen"):
        split_tranches(D("1750.005"), SIX_TWO_TWO)
    with pytest.raises(ValueError, match="fen"):
        split_tranches(D("-1.00"), SIX_TWO_TWO)


# --- eligibility -------------------------------------------------------------------------------


def test_2017_is_eligible() -> None:
    assert "2017年度脱贫户" in check_eligible(TERMS, exit_year=2017, consolidation=False)


def test_2016_with_consolidation_is_eligible() -> None:
    assert "巩固提升" in check_eligible(TERMS, exit_year=2016, consolidation=True)
    assert run(plan("1", "青稞"), exit_year=2016, consolidation=True).total == D("500.00")


def test_2016_without_consolidation_is_refused() -> None:
    with pytest.raises(PlanRefused, match="巩固提升"):
        check_eligible(TERMS, exit_year=2016, consolidation=False)
    with pytest.raises(PlanRefused, match="巩固提升"):
        run(plan("1", "青稞"), exit_year=2016)


@pytest.mark.parametrize("consolidation", [False, True])
def test_2015_is_refused_with_the_cohort_reason(consolidation: bool) -> None:
    with pytest.raises(PlanRefused, match=r"脱贫年度为 2015，本方案只扶持 2017 年度脱贫户.*2016"):
        check_eligible(TERMS, exit_year=2015, consolidation=consolidation)


# --- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("facts", "reason"),
    [
        pytest.param(plan(None, "", ("狗", D(2))), "养殖品种“狗”不在扶持目录内", id="unknown species"),
        pytest.param(
            plan(None, "", ("狗", D(1)), ("猫", D(1))), "“狗”不在扶持目录内", id="two unknown species"
        ),
        pytest.param(plan(None, "", ("猪", D(1)), ("狗", D(1))), "“狗”不在扶持目录内", id="known + unknown"),
        pytest.param(
            PlanFacts(planting_area=D("-1"), crops="青稞"), "种植面积不能为负数", id="negative area"
        ),
        pytest.param(PlanFacts(planting_area="1e30", crops="青稞"), "种植面积超出范围", id="absurd area"),  # type: ignore[arg-type]
        pytest.param(plan(None, "", ("羊", "三")), "羊数量应为数字：三", id="quantity 三"),
        pytest.param(plan(None, "", ("羊", D(-2))), "羊数量不能为负数", id="negative quantity"),
        pytest.param(plan(None, "", ("", D(3))), "请同时填写养殖品种", id="quantity without species"),
        pytest.param(plan(None, "", ("猪", D("2.5"))), "猪数量应为整数（头）：2.50", id="2.5 pigs"),
        pytest.param(plan(None, "", ("鱼", D("0.805"))), "鱼数量最多两位小数", id="pond 0.805 亩"),
        pytest.param(plan("1.234", "青稞"), "种植面积最多两位小数", id="area 1.234"),
        pytest.param(plan("1", ""), "请同时填写种植品种", id="area without crop"),
        pytest.param(plan(None, "", ("猪", None)), "请填写猪的数量", id="species without quantity"),
        pytest.param(plan(), "没有可扶持的内容", id="empty plan"),
    ],
)
def test_refused(facts: PlanFacts, reason: str) -> None:
    with pytest.raises(PlanRefused, match=reason):
        run(facts)


def test_to_fen_refuses_float() -> None:
    with pytest.raises(TypeError):
        to_fen(0.1)  # type: ignore[arg-type]
    assert to_fen(D("0.005")) == D("0.01")  # half up, not half even
    assert to_fen(D("2.345")) == D("2.35")
    assert to_fen(7) == D("7.00")


def test_float_quantity_is_refused() -> None:
    with pytest.raises(TypeError):
        run(plan(None, "", ("羊", 2.0)))


def test_special_species_is_paid_and_capped_as_its_category() -> None:
    terms = replace(TERMS, species={**TERMS.species, "林麝": "大牲畜"})
    one = run(plan(None, "", ("林麝", D(1))), terms=terms)
    assert (one.breeding, one.total, one.category) == (D("2000.00"), D("2000.00"), "大牲畜")
    assert any(line.startswith("林麝（大牲畜类） 1 头 × 2,000 元/头") for line in one.lines), one.lines
    three = run(plan("2", "核桃", ("林麝", D(3))), terms=terms)
    assert (three.planting, three.breeding, three.total) == (D("1000.00"), D("2000.00"), D("3000.00"))
    with pytest.raises(PlanRefused, match="每户只能享受 1 项养殖补助"):
        run(plan(None, "", ("林麝", D(1)), ("羊", D(1))), terms=terms)
    with pytest.raises(PlanRefused, match="林麝"):
        run(plan(None, "", ("林麝", D(1))))  # not in the city's mapping: unknown


@pytest.mark.parametrize(
    ("breeding", "amount"),
    [
        pytest.param((("猪", D(2)), ("藏香猪", D(1))), "1500.00", id="猪 + 藏香猪"),
        pytest.param((("牛", D(1)), ("马", D(1))), "2000.00", id="牛 + 马, capped"),
        pytest.param((("鸡", D(30)), ("尼西鸡", D(20))), "1000.00", id="鸡 + 尼西鸡"),
    ],
)
def test_species_of_one_category_count_as_one_item(
    breeding: tuple[tuple[str, Decimal], ...], amount: str
) -> None:
    q = run(plan(None, "", *breeding))
    assert (q.breeding, q.total) == (D(amount), D(amount))
    assert q.category == TERMS.species[breeding[0][0]]


# --- properties --------------------------------------------------------------------------------

AREAS = st.decimals(min_value=0, max_value=20, places=2, allow_nan=False, allow_infinity=False)


def quantities(species: str) -> st.SearchStrategy[Decimal]:
    if TERMS.categories[TERMS.species[species]].fractional:
        return st.decimals(min_value=D("0.01"), max_value=10, places=2, allow_nan=False, allow_infinity=False)
    return st.integers(min_value=1, max_value=500).map(D)


BREEDING = st.none() | st.sampled_from(sorted(TERMS.species)).flatmap(
    lambda s: quantities(s).map(lambda q: (s, q))
)


def total_of(area: Decimal, breeding: tuple[str, Decimal] | None) -> Decimal:
    """The grant, or 0 when the plan has nothing to subsidise."""
    facts = PlanFacts(planting_area=area, crops="青稞", breeding=(breeding,) if breeding else ())
    if area == 0 and breeding is None:
        with pytest.raises(PlanRefused, match="没有可扶持的内容"):
            run(facts)
        return D("0.00")
    return run(facts).total


@PROPERTY
@given(area=AREAS, breeding=BREEDING)
def test_caps_hold(area: Decimal, breeding: tuple[str, Decimal] | None) -> None:
    if area == 0 and breeding is None:
        return
    q = run(PlanFacts(planting_area=area, crops="青稞", breeding=(breeding,) if breeding else ()))
    assert_fen(q.planting, q.breeding, q.total, *q.tranches)
    assert q.total <= D("3000")
    assert q.planting <= D("500") * D("2")
    assert q.planting == (D("500") * min(area, D("2"))).quantize(D("0.01"), ROUND_HALF_UP)
    assert q.total == min(q.planting + q.breeding, D("3000"))
    if breeding is None:
        assert q.breeding == 0 and q.category is None
    else:
        assert q.category == TERMS.species[breeding[0]]
        assert q.breeding <= TERMS.categories[q.category].cap == D("2000")
        assert q.breeding == min(breeding[1] * TERMS.categories[q.category].rate, D("2000"))


@PROPERTY
@given(
    area=AREAS,
    more_area=AREAS,
    breeding=BREEDING,
    more=st.integers(min_value=0, max_value=100),
)
def test_more_never_pays_less(
    area: Decimal, more_area: Decimal, breeding: tuple[str, Decimal] | None, more: int
) -> None:
    base = total_of(area, breeding)
    assert total_of(area + more_area, breeding) >= base
    if breeding is not None:
        species, quantity = breeding
        assert total_of(area, (species, quantity + more)) >= base


@st.composite
def ratio_triples(draw: st.DrawFn) -> tuple[Decimal, Decimal, Decimal]:
    """Three non-negative percentages adding to exactly 100, whole or with two places."""
    scale = draw(st.sampled_from([1, 100]))  # whole percent, or hundredths of a percent
    whole = 100 * scale
    first = draw(st.integers(min_value=0, max_value=whole))
    second = draw(st.integers(min_value=0, max_value=whole - first))
    parts = (first, second, whole - first - second)
    return tuple(D(p) / scale for p in draw(st.permutations(parts)))  # type: ignore[return-value]


GRANTS = st.decimals(min_value=0, max_value=3000, places=2, allow_nan=False, allow_infinity=False)


@PROPERTY
@given(grant=GRANTS, ratios=ratio_triples())
def test_tranches_add_up_exactly(grant: Decimal, ratios: tuple[Decimal, Decimal, Decimal]) -> None:
    tranches = split_tranches(grant, ratios)
    assert_fen(*tranches)
    assert sum(tranches) == grant
    assert all(t >= 0 for t in tranches)
    for tranche, ratio in zip(tranches, ratios, strict=True):
        assert abs(tranche - grant * ratio / 100) <= D("0.01")


@PROPERTY
@given(area=AREAS, breeding=BREEDING, ratios=ratio_triples())
def test_quote_tranches_add_up_for_any_ratio(
    area: Decimal, breeding: tuple[str, Decimal] | None, ratios: tuple[Decimal, Decimal, Decimal]
) -> None:
    if area == 0 and breeding is None:
        return
    q = run(
        PlanFacts(planting_area=area, crops="青稞", breeding=(breeding,) if breeding else ()), ratios=ratios
    )
    assert_fen(*q.tranches)
    assert sum(q.tranches) == q.total
    assert all(t >= 0 for t in q.tranches)


def test_household_cap_is_enforced_when_the_city_lowers_it() -> None:
    """With the 2017 caps 1,000 + 2,000 never exceed 3,000, so the household cap is checked on lower terms."""
    terms = replace(TERMS, household_cap=D("2500"))
    q = run(plan("2", "玛咖", ("羊", D(6))), terms=terms)
    assert (q.planting, q.breeding, q.total) == (D("1000.00"), D("2000.00"), D("2500.00"))
    assert "合计 3,000.00 元，按每户 2,500.00 元封顶 = 2,500.00 元" in q.lines
    assert sum(q.tranches) == D("2500.00")


@PROPERTY
@given(area=AREAS, breeding=BREEDING, cap=st.integers(min_value=0, max_value=3000).map(D))
def test_total_never_exceeds_any_household_cap(
    area: Decimal, breeding: tuple[str, Decimal] | None, cap: Decimal
) -> None:
    if area == 0 and breeding is None:
        return
    facts = PlanFacts(planting_area=area, crops="青稞", breeding=(breeding,) if breeding else ())
    q = run(facts, terms=replace(TERMS, household_cap=cap))
    assert q.total == min(q.planting + q.breeding, cap)
    assert_fen(q.total, *q.tranches)
    assert sum(q.tranches) == q.total


# --- settlement: the 以奖代补 explained as a sentence ---------------------------------------------


def test_the_reward_is_a_sentence_not_a_formula() -> None:
    s = settle(
        grant=D("1800"), received=D("1440"), paid={1: D("1080"), 2: D("360")}, active=True, verified=D("1800")
    )
    assert s.reward == D("360.00") and s.shortfall == D("0.00")
    assert s.lines == (
        "补助总额 1,800.00 元，已兑现第一期 1,080.00 元、第二期 360.00 元；经评估产业运行良好，以奖代补 360.00 元。",
    )


@pytest.mark.parametrize(
    ("verified", "reward", "shortfall", "says"),
    [
        # verified above the plan: the plan's grant caps the reward
        ("2500", "360.00", "0.00", "经评估产业运行良好，以奖代补 360.00 元。"),
        # verified between what was paid and the plan: topped up to the verified entitlement
        ("1600", "160.00", "0.00", "但按核实的实际规模应享补助 1,600.00 元，以奖代补 160.00 元。"),
        # verified equal to what was paid: nothing more, nothing back
        ("1440", "0.00", "0.00", "只应享补助 1,440.00 元，不发放以奖代补。"),
        # verified below what was paid: the difference goes to the township, never recovered silently
        ("1000", "0.00", "440.00", "不发放以奖代补，比已兑现的少 440.00 元，报乡镇决定是否收回。"),
    ],
)
def test_settlement_words_each_case(verified: str, reward: str, shortfall: str, says: str) -> None:
    s = settle(
        grant=D("1800"),
        received=D("1440"),
        paid={1: D("1080"), 2: D("360")},
        active=True,
        verified=D(verified),
    )
    assert (s.reward, s.shortfall) == (D(reward), D(shortfall))
    assert s.lines[0].startswith("补助总额 1,800.00 元，已兑现第一期 1,080.00 元、第二期 360.00 元；")
    assert s.lines[0].endswith(says)
    assert "max" not in s.lines[0] and "=" not in s.lines[0]


def test_an_inactive_household_gets_nothing_more_and_what_it_received_is_recovered() -> None:
    s = settle(grant=D("1800"), received=D("1080"), paid={1: D("1080")}, active=False, verified=D("1800"))
    assert (s.reward, s.shortfall) == (D("0.00"), D("0.00"))
    assert s.lines == (
        "补助总额 1,800.00 元，已兑现第一期 1,080.00 元；经评估未积极主动发展种养殖产业，停止后续扶持，"
        "已兑现的 1,080.00 元由村工作队提出收回。",
    )


def test_when_the_tranches_do_not_add_up_to_what_was_received_the_total_is_named() -> None:
    s = settle(grant=D("1000"), received=D("700"), paid={1: D("600")}, active=True, verified=D("1000"))
    assert s.lines[0].startswith("补助总额 1,000.00 元，已兑现 700.00 元；")
    assert s.reward == D("300.00")
