"""Money as every programme writes it: Decimal yuan to the fen, rounded half up. Pure: no Django.

The one `to_fen` of the project; the rules modules of the programmes use it too.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

FEN = Decimal("0.01")
ZERO = Decimal("0.00")


def to_fen(value: Decimal | int | str) -> Decimal:
    """Yuan to two places, ROUND_HALF_UP. Floats are refused: they cannot hold money exactly."""
    if isinstance(value, float):
        raise TypeError("money must not be a float")
    amount = Decimal(value)
    if not amount.is_finite():
        raise ValueError(f"money must be a finite number: {value}")
    return amount.quantize(FEN, rounding=ROUND_HALF_UP)


def yuan(value: Decimal) -> str:
    """1000 → '1,000.00' (how amounts are written on the sheets)."""
    return f"{to_fen(value):,.2f}"
