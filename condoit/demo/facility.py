"""The demo facility record and the traits of a site that its equipment inherits.

Facility types (weights, share of critical loads, outdoor exposure), the site's age, climate,
maintenance diligence and arc flash study, and the facility record in Condoit's shape.
"""

from __future__ import annotations

import random
from datetime import date
from typing import Any

from .clock import DAY, Clock, date_str, sec_of_ord
from .ids import Ids
from .places import BUILDINGS, CITIES, CONTRACTORS, ROOMS, STREET_NAMES, facility_name

# fmt: off
# facility type, weight, share of equipment serving critical loads, exposure weights
# (minimal, moderate, severe)
_FACILITY_TYPES = (
    ("office", 24, 0.04, (60, 32, 8)),
    ("hospital", 16, 0.22, (55, 35, 10)),
    ("datacenter", 14, 0.24, (80, 17, 3)),
    ("warehouse", 18, 0.03, (25, 45, 30)),
    ("school", 14, 0.04, (45, 40, 15)),
    ("retail", 14, 0.03, (40, 42, 18)),
)
_FT_NAMES = tuple(t[0] for t in _FACILITY_TYPES)
_FT_WEIGHTS = tuple(t[1] for t in _FACILITY_TYPES)
_FT_INFO = {t[0]: t for t in _FACILITY_TYPES}
# fmt: on


class Fac:
    """What equipment generation needs to know about its facility."""

    __slots__ = (
        "id",
        "kind",
        "city",
        "lat",
        "lng",
        "std_off",
        "dst",
        "year_built",
        "created",
        "buildings",
        "rooms",
        "diligence",
        "distressed",
        "critical_share",
        "study_ord",
        "bound",
        "interval_months",
        "coastal",
    )


def make_facility(rng: random.Random, ids: Ids, as_of: date, bound: int) -> tuple[Fac, dict]:
    """Draw a facility: its traits for the equipment to come, and its record."""
    f = Fac()
    f.id = ids.next("fac")
    f.bound = bound
    kind = rng.choices(_FT_NAMES, _FT_WEIGHTS)[0]
    f.kind = kind
    city = rng.choice(CITIES)
    f.city = city
    f.std_off, f.dst, f.coastal = city[6], city[7], city[10]
    clock = Clock(rng, f.std_off, f.dst)
    as_of_ord = as_of.toordinal()
    last_ord = as_of_ord - 1  # every date except nextServiceDue is before as_of

    # ~5% of sites are distressed: old, neglected, hot and humid, aluminium wiring (these
    # are the portfolio's High/Critical facilities)
    distressed = rng.random() < 0.05
    f.distressed = distressed

    # yearBuilt: mostly 1958–2015, some recent; never after as_of's year
    r = rng.random()
    if distressed:
        yb = rng.randint(1958, 1972)
    elif r < 0.22:
        yb = rng.randint(1958, 1974)
    elif r < 0.80:
        yb = rng.randint(1975, 2010)
    else:
        yb = rng.randint(2011, max(2011, as_of.year - 1))
    yb = min(yb, as_of.year - 1)
    f.year_built = yb

    # Condoit onboarding: 1–6 years before as_of, after the building exists
    lo = max(sec_of_ord(date(yb, 12, 31).toordinal()), bound - 6 * 365 * DAY)
    hi = max(lo, bound - 45 * DAY)
    created = rng.randint(lo, hi)
    f.created = created
    updated = rng.randint(created, bound) if rng.random() < 0.85 else created

    lat = round(city[2] + rng.uniform(-0.09, 0.09), 6)
    lng = round(city[3] + rng.uniform(-0.11, 0.11), 6)
    f.lat, f.lng = lat, lng

    address: dict[str, Any] = {}
    if rng.random() > 0.02:
        address["street"] = f"{rng.randint(1, 9800)} {rng.choice(STREET_NAMES)}"
    address["city"] = city[0]
    address["state"] = city[1]
    if rng.random() > 0.03:
        address["zip"] = f"{city[4]}{rng.randint(1, 99):02d}"

    n_buildings = 1 if rng.random() < 0.45 else rng.randint(2, 4)
    f.buildings = tuple(rng.sample(BUILDINGS[kind], n_buildings))
    f.rooms = tuple(rng.sample(ROOMS, rng.randint(3, 7)))
    f.diligence = rng.choices(("good", "average", "poor"), (35, 40, 25))[0]
    if distressed:
        f.diligence = "neglected"
    f.critical_share = _FT_INFO[kind][2]
    f.interval_months = 6 if kind in ("hospital", "datacenter") and rng.random() < 0.3 else 12

    # environment (indoor electrical-room averages)
    env: dict[str, Any] = {}
    humidity = rng.gauss(max(city[8], 74.0), 6.0) if distressed else rng.gauss(city[8], 8.0)
    if rng.random() > 0.05:
        env["humidityAvg"] = round(min(98.0, max(12.0, humidity)), 1)
    if rng.random() > 0.05:
        t = rng.gauss(city[9], 4.5) + (4.0 if kind == "warehouse" else 0.0)
        if kind == "datacenter":
            t -= 6.0
        if distressed:
            t = max(t, rng.gauss(92.0, 4.0))
        env["temperatureAvgF"] = round(min(110.0, max(55.0, t)), 1)
    if rng.random() > 0.04:
        w = _FT_INFO[kind][3]
        if f.coastal:
            w = (w[0], w[1], w[2] * 2)
        if distressed:
            w = (5, 30, 65)
        env["outdoorExposure"] = rng.choices(("minimal", "moderate", "severe"), w)[0]

    rec: dict[str, Any] = {
        "id": f.id,
        "name": facility_name(rng, kind, city),
        "address": address,
    }
    if rng.random() > 0.03:
        rec["latitude"] = lat
        rec["longitude"] = lng
    rec["yearBuilt"] = yb
    if rng.random() > 0.05:
        rec["contractor"] = {"name": rng.choice(CONTRACTORS)}
    rec["environment"] = env

    # NFPA 70E study: ~15% never done, ~25% older than five years, the rest current
    r = rng.random()
    if r < 0.15:
        f.study_ord = None
    elif r < 0.42:
        f.study_ord = last_ord - rng.randint(5 * 366 + 1, 12 * 365)
    else:
        f.study_ord = last_ord - rng.randint(0, 5 * 365 - 2)
    if f.study_ord is not None:
        rec["arcFlashStudyDate"] = date_str(f.study_ord)
    if rng.random() > 0.2:
        rec["infraredScanDate"] = date_str(last_ord - rng.randint(0, 4 * 365))
    if rng.random() > 0.1:
        rec["lastInspectionDate"] = clock.ts(bound - rng.randint(3600, 3 * 365 * DAY))
    rec["createdAt"] = clock.ts(created)
    rec["updatedAt"] = clock.ts(updated)
    rec["deletedAt"] = None
    return f, rec
