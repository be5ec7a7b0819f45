"""Rounding rule and calendar helpers (risk-model.md "Rounding", "Ages", §8)."""

from datetime import date
from fractions import Fraction

import pytest

from voltmetrics.engine import (
    add_months,
    add_years,
    forecast_points,
    history_points,
    month_end,
    month_label,
    round_half_up,
    round_half_up_ratio,
)


@pytest.mark.parametrize(
    "x, expected",
    [
        (72.5, 73),  # Python round(72.5) == 72 (banker's rounding); the spec wants 73
        (0.5, 1),  # round(0.5) == 0
        (1.5, 2),  # same as round()
        (2.5, 3),  # round(2.5) == 2
        (72.4, 72),
        (0.0, 0),
        (99.49, 99),
    ],
)
def test_round_half_up_floats(x, expected):
    assert round_half_up(x) == expected
    assert isinstance(round_half_up(x), int)


def test_round_half_up_float_sum_uses_epsilon():
    # 0.35*50 + 0.2*... style sums can land a hair under .5: 0.1*3 = 0.30000000000000004 is the
    # classic; here 1.1 + 1.4 = 2.5 exactly in decimal, 2.4999999999999996 is its float
    # neighbour — floor(x + 0.5 + 1e-9) still rounds it up to 3 as exact arithmetic would.
    assert round_half_up(2.4999999999999996) == 3


def test_round_half_up_decimals():
    # 2.675 is 2.67499999999999982236431605997495353221893310546875 in binary; the spec's
    # floor(x·100 + 0.5 + 1e-9)/100 gives 2.68 (the decimal reading)
    assert round_half_up(2.675, 2) == 2.68
    assert round_half_up(66.65, 1) == 66.7
    assert round_half_up(0.125, 2) == 0.13


def test_round_half_up_exact_inputs():
    assert round_half_up(Fraction(145, 2)) == 73  # 72.5
    assert round_half_up(Fraction(1, 2)) == 1
    assert round_half_up(Fraction(5, 2)) == 3
    assert round_half_up(7) == 7
    assert round_half_up(Fraction(1, 8), 2) == 0.13  # 0.125 → 0.13


@pytest.mark.parametrize(
    "num, den, nd, expected",
    [
        (145, 2, 0, 73),  # 72.5 → 73
        (1, 2, 0, 1),  # 0.5 → 1
        (3, 2, 0, 2),  # 1.5 → 2
        (5, 2, 0, 3),  # 2.5 → 3
        (200, 3, 0, 67),  # 66.67 → 67
        (100, 3, 0, 33),  # 33.33 → 33
        (200, 3, 1, 66.7),  # 66.666… → 66.7
        (1, 8, 2, 0.13),  # 0.125 → 0.13
        (151, 300, 2, 0.50),  # 0.50333 → 0.50
    ],
)
def test_round_half_up_ratio(num, den, nd, expected):
    assert round_half_up_ratio(num, den, nd) == expected


@pytest.mark.parametrize(
    "d, n, expected",
    [
        (date(2024, 1, 31), 1, date(2024, 2, 29)),  # leap year: clamp to Feb 29
        (date(2023, 1, 31), 1, date(2023, 2, 28)),  # common year: Feb 28
        (date(2024, 3, 31), 1, date(2024, 4, 30)),
        (date(2024, 3, 31), -1, date(2024, 2, 29)),
        (date(2024, 12, 15), 1, date(2025, 1, 15)),  # year roll-over
        (date(2025, 1, 15), -1, date(2024, 12, 15)),
        (date(2024, 2, 29), 12, date(2025, 2, 28)),  # +1 year from a leap day clamps
        (date(2024, 2, 29), 48, date(2028, 2, 29)),
        (date(2024, 8, 31), 6, date(2025, 2, 28)),
        (date(2000, 1, 31), 1, date(2000, 2, 29)),  # 2000 divisible by 400: leap
        (date(1900, 1, 31), 1, date(1900, 2, 28)),  # 1900 divisible by 100: not leap
    ],
)
def test_add_months(d, n, expected):
    assert add_months(d, n) == expected


def test_add_years_clamps_leap_day():
    assert add_years(date(2020, 2, 29), 5) == date(2025, 2, 28)
    assert add_years(date(2019, 6, 1), 5) == date(2024, 6, 1)


@pytest.mark.parametrize(
    "d, expected",
    [
        (date(2024, 2, 10), date(2024, 2, 29)),
        (date(2023, 2, 1), date(2023, 2, 28)),
        (date(2025, 12, 31), date(2025, 12, 31)),
        (date(2025, 4, 1), date(2025, 4, 30)),
    ],
)
def test_month_end(d, expected):
    assert month_end(d) == expected


def test_month_label():
    assert month_label(date(2026, 1, 15)) == "Jan 2026"
    assert month_label(date(2025, 9, 30)) == "Sep 2025"
    assert month_label(date(2025, 12, 1)) == "Dec 2025"


def test_history_points_six_months_ending_with_as_of():
    # as_of 2026-01-15: Aug–Dec 2025 at their last days, then Jan 2026 at as_of
    assert history_points(date(2026, 1, 15)) == [
        date(2025, 8, 31),
        date(2025, 9, 30),
        date(2025, 10, 31),
        date(2025, 11, 30),
        date(2025, 12, 31),
        date(2026, 1, 15),
    ]


def test_history_points_leap_february_and_month_end_as_of():
    # as_of 2024-07-31: Feb 2024 ends on the 29th; the current month point is as_of itself
    assert history_points(date(2024, 7, 31)) == [
        date(2024, 2, 29),
        date(2024, 3, 31),
        date(2024, 4, 30),
        date(2024, 5, 31),
        date(2024, 6, 30),
        date(2024, 7, 31),
    ]


def test_forecast_points():
    # the last days of the 3 months after Jan 2026
    assert forecast_points(date(2026, 1, 15)) == [
        date(2026, 2, 28),
        date(2026, 3, 31),
        date(2026, 4, 30),
    ]
    # after Nov 2023: Dec 2023, Jan 2024, Feb 2024 (leap)
    assert forecast_points(date(2023, 11, 30)) == [
        date(2023, 12, 31),
        date(2024, 1, 31),
        date(2024, 2, 29),
    ]
