"""Rounding helpers (risk-model.md, "Rounding").

"round" means round half up.  Floating-point weighted sums are rounded as
``floor(x + 0.5 + 1e-9)``; means of integers are rounded from their exact value with
integer arithmetic (:func:`round_half_up_ratio`).
"""

from __future__ import annotations

import math
from fractions import Fraction

__all__ = ["round_half_up", "round_half_up_ratio", "clamp", "EPSILON"]

EPSILON = 1e-9
_HALF = Fraction(1, 2)


def round_half_up(x, ndigits: int = 0):
    """Round half up.

    * ``int`` / ``Fraction`` input is rounded exactly.
    * ``float`` input is rounded as ``floor(x·10ⁿ + 0.5 + 1e-9) / 10ⁿ`` (the spec's rule for
      floating-point sums).

    Returns an ``int`` when ``ndigits == 0``, else a ``float``.
    """
    if ndigits == 0:
        if isinstance(x, float):
            return math.floor(x + 0.5 + EPSILON)
        if isinstance(x, int):
            return int(x)
        return math.floor(Fraction(x) + _HALF)
    f = 10**ndigits
    if isinstance(x, float):
        return math.floor(x * f + 0.5 + EPSILON) / f
    return math.floor(Fraction(x) * f + _HALF) / f


def round_half_up_ratio(num: int, den: int, ndigits: int = 0):
    """Exactly round the rational ``num / den`` half up (integers only, ``den != 0``).

    Returns an ``int`` when ``ndigits == 0``, else a ``float`` with ``ndigits`` decimals.
    """
    if den < 0:
        num, den = -num, -den
    f = 10**ndigits
    q = (2 * num * f + den) // (2 * den)
    return q if ndigits == 0 else q / f


def clamp(x, lo, hi):
    """``clamp(x, lo, hi)``."""
    return lo if x < lo else hi if x > hi else x
