"""The 公示 page plan, without a database or a PDF: rows per page, the footer's room, the sums."""

from __future__ import annotations

from decimal import Decimal

from disbursements import notice_layout as layout

GRANT = ("序号", "户主姓名", "身份证号", "村民小组", "扶持项目", "补助金额", "产前", "产中", "产后")


def grant_row(n: int, project: str = "猪 3头") -> list[str]:
    return [
        str(n),
        "阿旺次仁多吉",
        "533421********123X",
        "尼史村民小组",
        project,
        "1,500.00",
        "900.00",
        "300.00",
        "300.00",
    ]


def test_pages_are_filled_and_the_last_keeps_room_for_the_total_and_seals() -> None:
    budget = layout.Budget(first=36, other=41, footer=11)
    assert [len(p) for p in layout.paginate([1.0] * 90, budget)] == [36, 41, 13]
    assert [len(p) for p in layout.paginate([1.0] * 25, budget)] == [25]  # 25 + footer ≤ 36
    # 36 rows fill the first page, but then the footer has no room: a few rows go with it.
    assert [len(p) for p in layout.paginate([1.0] * 36, budget)] == [31, 5]
    assert [len(p) for p in layout.paginate([1.0] * 77, budget)] == [36, 36, 5]
    pages = layout.paginate([1.0] * 200, budget)
    assert sum(map(len, pages)) == 200 and all(len(p) >= 25 for p in pages[:-1])


def test_only_the_free_text_column_wraps_and_a_wrapped_row_counts_taller() -> None:
    rows = [grant_row(1), grant_row(2, "核桃、花椒、青稞、玛咖 2亩；中蜂 4箱；另有林下养鸡项目")]
    widths = layout.column_widths(rows, GRANT, 4)
    assert abs(sum(widths) - layout.TABLE_EM) < 0.01
    name_width = widths[1] - layout.CELL_PADDING_EM
    assert name_width >= layout.text_em("阿旺次仁多吉")  # the longest name fits on one line
    assert layout.row_heights(rows, widths, 4) == [1.0, 1 + layout.EXTRA_LINE]


def test_page_subtotals_and_the_total_sum_every_money_column_exactly() -> None:
    rows = [grant_row(n) for n in range(1, 61)]
    rows[0][5:] = ["1,111.11", "666.67", "222.22", "222.22"]
    pages = layout.pages_of(
        rows,
        header=GRANT,
        amount_from=5,
        money_columns=(5, 6, 7, 8),
        wrap_column=4,
        budget=layout.DEFAULT_BUDGET,
    )
    assert [len(p.rows) for p in pages] == [36, 24] and pages[-1].last and not pages[0].last
    assert pages[0].subtotals == ["53,611.11", "32,166.67", "10,722.22", "10,722.22"]
    totals = layout.totals_of(rows, header=GRANT, amount_from=5, money_columns=(5, 6, 7, 8))
    assert totals == ["89,611.11", "53,766.67", "17,922.22", "17,922.22"]
    assert layout.amount_of("89,611.11") == Decimal("89611.11") and layout.amount_of("猪 3头") is None
