"""Calendar helpers (risk-model.md, "Ages" and §8)."""

from __future__ import annotations

from datetime import date

__all__ = [
    "add_months",
    "add_years",
    "month_end",
    "month_label",
    "history_points",
    "forecast_points",
    "days_in_month",
    "DAYS_PER_YEAR",
    "DAYS_PER_MONTH",
]

DAYS_PER_YEAR = 365.25
DAYS_PER_MONTH = 30.4375

_DIM = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_MONTH_ABBR = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def days_in_month(year: int, month: int) -> int:
    if month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
        return 29
    return _DIM[month - 1]


def add_months(d: date, n: int) -> date:
    """Calendar arithmetic, clamping the day to the end of a shorter month
    (2024-01-31 + 1 month = 2024-02-29)."""
    y, m0 = divmod(d.month - 1 + n, 12)
    y += d.year
    day = d.day
    if day > 28:
        dim = days_in_month(y, m0 + 1)
        if day > dim:
            day = dim
    return date(y, m0 + 1, day)


def add_years(d: date, n: int) -> date:
    """Add calendar years (2024-02-29 + 1 year = 2025-02-28)."""
    return add_months(d, 12 * n)


def month_end(d: date) -> date:
    """The last day of ``d``'s month."""
    return date(d.year, d.month, days_in_month(d.year, d.month))


def month_label(d: date) -> str:
    """Short month name and year: ``Jan 2026``."""
    return f"{_MONTH_ABBR[d.month - 1]} {d.year}"


def history_points(as_of: date, months: int = 6) -> list[date]:
    """The dates of the ``months`` history entries, oldest first: the last days of the
    earlier months, then ``as_of`` itself for the current month."""
    first = as_of.replace(day=1)
    pts = [month_end(add_months(first, -k)) for k in range(months - 1, 0, -1)]
    pts.append(as_of)
    return pts


def forecast_points(as_of: date, months: int = 3) -> list[date]:
    """The last days of the ``months`` months after ``as_of``'s month."""
    first = as_of.replace(day=1)
    return [month_end(add_months(first, k)) for k in range(1, months + 1)]
