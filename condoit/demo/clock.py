"""Dates and instants of the demo export, and how Condoit writes them.

Instants are epoch seconds and dates are proleptic ordinals; :class:`Clock` formats instants
as Condoit timestamps with the assorted offsets real exports carry (``Z``, ``+00:00`` or the
facility's local offset, daylight saving included).
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

_EPOCH = datetime(1970, 1, 1)
_EPOCH_ORD = date(1970, 1, 1).toordinal()
DAY = 86400


def exported_at(as_of: date) -> str:
    """``exportedAt`` of an export anchored at ``as_of``: the start of that day in UTC.

    Every timestamp in the export is at or before this instant.
    """
    return f"{as_of.isoformat()}T00:00:00Z"


def date_str(ordinal: int) -> str:
    """``YYYY-MM-DD`` of a date ordinal."""
    return date.fromordinal(ordinal).isoformat()


def sec_of_ord(ordinal: int) -> int:
    """Epoch seconds of midnight UTC of a date ordinal."""
    return (ordinal - _EPOCH_ORD) * DAY


def add_months(ordinal: int, months: int) -> int:
    """The ordinal ``months`` later, on the same day or the month's last day."""
    d = date.fromordinal(ordinal)
    y, m = divmod(d.month - 1 + months, 12)
    y += d.year
    m += 1
    for day in (d.day, 30, 29, 28):
        try:
            return date(y, m, day).toordinal()
        except ValueError:
            continue
    raise AssertionError("unreachable")


class Clock:
    """Formats instants (epoch seconds) as Condoit timestamps with assorted offsets."""

    __slots__ = ("rng", "std_off", "dst")

    def __init__(self, rng: random.Random, std_off: int, dst: bool) -> None:
        self.rng = rng
        self.std_off = std_off
        self.dst = dst

    def offset_minutes(self, sec: int) -> int:
        off = self.std_off * 60
        if self.dst:
            month = date.fromordinal(_EPOCH_ORD + sec // DAY).month
            if 4 <= month <= 10:
                off += 60
        return off

    def ts(self, sec: int) -> str:
        r = self.rng.random()
        if r < 0.3:
            return (_EPOCH + timedelta(seconds=sec)).isoformat() + "Z"
        if r < 0.45:
            return (_EPOCH + timedelta(seconds=sec)).isoformat() + "+00:00"
        off = self.offset_minutes(sec)
        local = (_EPOCH + timedelta(seconds=sec + off * 60)).isoformat()
        sign = "-" if off < 0 else "+"
        h, m = divmod(abs(off), 60)
        return f"{local}{sign}{h:02d}:{m:02d}"
