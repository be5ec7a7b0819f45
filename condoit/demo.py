"""Deterministic demo portfolio in Condoit's export shape.

The records follow condoit-source.md §1 (camelCase field names, Condoit ids, ISO 8601
timestamps with offsets, ``YYYY-MM-DD`` dates) and pass the §4 validation rules, except for a
deliberate small share of equipment classes and conductor material codes that no default
mapping knows (valid but unmapped).

The data is shaped to exercise every branch of risk-model.md: equipment beyond its expected
life, aluminium and mixed conductors with crimped connections installed before 1975, missing
install dates, maintenance that is recent, lapsed or absent, high loads, observations from none
to severe (or missing), missing arc flash labels, facilities whose arc flash study is older
than five years or missing, humid/hot/exposed environments and critical loads.

This module is pure: no Django, no ORM, no clock, no global random state. The same arguments
always give the same records and, through :func:`write_export`, byte-identical files. Every
timestamp is at or before ``exportedAt`` (midnight UTC at the start of ``as_of``) and every date
except the informational ``nextServiceDue`` is before ``as_of``.

Records are produced facility by facility, so memory grows with ``equipment_per_facility`` but
not with the number of facilities. Within a facility, equipment is emitted roughly upstream
first, but a few feeders are moved after the equipment they feed, so importers must resolve
``feedsFromId`` forward references.
"""

from __future__ import annotations

import os
import random
import tempfile
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import IO, Any

import orjson

__all__ = ["generate_portfolio", "write_export", "exported_at", "KINDS"]

KINDS = ("facility", "equipment", "maintenanceRecord")

Record = tuple[str, dict[str, Any]]

# --------------------------------------------------------------------------------------------
# Reference data
# --------------------------------------------------------------------------------------------

# fmt: off
# name, state, lat, lng, ZIP prefix, IATA-ish code, standard UTC offset (h), observes DST,
# typical indoor humidity (% RH), typical electrical-room temperature (°F), coastal
_CITIES = (
    ("New York", "NY", 40.7128, -74.0060, "100", "NYC", -5, True, 58, 78, True),
    ("Chicago", "IL", 41.8781, -87.6298, "606", "ORD", -6, True, 55, 76, False),
    ("Houston", "TX", 29.7604, -95.3698, "770", "IAH", -6, True, 72, 84, True),
    ("Phoenix", "AZ", 33.4484, -112.0740, "850", "PHX", -7, False, 30, 88, False),
    ("Philadelphia", "PA", 39.9526, -75.1652, "191", "PHL", -5, True, 58, 77, False),
    ("San Antonio", "TX", 29.4241, -98.4936, "782", "SAT", -6, True, 60, 84, False),
    ("San Diego", "CA", 32.7157, -117.1611, "921", "SAN", -8, True, 62, 76, True),
    ("Dallas", "TX", 32.7767, -96.7970, "752", "DFW", -6, True, 56, 83, False),
    ("San Jose", "CA", 37.3382, -121.8863, "951", "SJC", -8, True, 50, 74, False),
    ("Austin", "TX", 30.2672, -97.7431, "787", "AUS", -6, True, 60, 83, False),
    ("Jacksonville", "FL", 30.3322, -81.6557, "322", "JAX", -5, True, 72, 82, True),
    ("Columbus", "OH", 39.9612, -82.9988, "432", "CMH", -5, True, 56, 75, False),
    ("Charlotte", "NC", 35.2271, -80.8431, "282", "CLT", -5, True, 60, 78, False),
    ("Indianapolis", "IN", 39.7684, -86.1581, "462", "IND", -5, True, 57, 76, False),
    ("Seattle", "WA", 47.6062, -122.3321, "981", "SEA", -8, True, 64, 71, True),
    ("Denver", "CO", 39.7392, -104.9903, "802", "DEN", -7, True, 38, 74, False),
    ("Washington", "DC", 38.9072, -77.0369, "200", "IAD", -5, True, 60, 78, False),
    ("Boston", "MA", 42.3601, -71.0589, "021", "BOS", -5, True, 60, 74, True),
    ("Nashville", "TN", 36.1627, -86.7816, "372", "BNA", -6, True, 62, 79, False),
    ("Detroit", "MI", 42.3314, -83.0458, "482", "DTW", -5, True, 57, 75, False),
    ("Portland", "OR", 45.5152, -122.6784, "972", "PDX", -8, True, 63, 72, False),
    ("Las Vegas", "NV", 36.1699, -115.1398, "891", "LAS", -8, True, 26, 87, False),
    ("Memphis", "TN", 35.1495, -90.0490, "381", "MEM", -6, True, 64, 81, False),
    ("Atlanta", "GA", 33.7490, -84.3880, "303", "ATL", -5, True, 63, 80, False),
    ("Miami", "FL", 25.7617, -80.1918, "331", "MIA", -5, True, 76, 86, True),
    ("Minneapolis", "MN", 44.9778, -93.2650, "554", "MSP", -6, True, 52, 73, False),
    ("Tampa", "FL", 27.9506, -82.4572, "336", "TPA", -5, True, 73, 85, True),
    ("New Orleans", "LA", 29.9511, -90.0715, "701", "MSY", -6, True, 77, 85, True),
    ("Kansas City", "MO", 39.0997, -94.5786, "641", "MCI", -6, True, 58, 78, False),
    ("Salt Lake City", "UT", 40.7608, -111.8910, "841", "SLC", -7, True, 36, 75, False),
    ("Pittsburgh", "PA", 40.4406, -79.9959, "152", "PIT", -5, True, 58, 74, False),
    ("St. Louis", "MO", 38.6270, -90.1994, "631", "STL", -6, True, 60, 79, False),
    ("Sacramento", "CA", 38.5816, -121.4944, "958", "SMF", -8, True, 48, 80, False),
    ("Raleigh", "NC", 35.7796, -78.6382, "276", "RDU", -5, True, 62, 78, False),
    ("Albuquerque", "NM", 35.0844, -106.6504, "871", "ABQ", -7, True, 32, 79, False),
    ("Tucson", "AZ", 32.2226, -110.9747, "857", "TUS", -7, False, 30, 88, False),
    ("Honolulu", "HI", 21.3069, -157.8583, "968", "HNL", -10, False, 70, 84, True),
    ("Anchorage", "AK", 61.2181, -149.9003, "995", "ANC", -9, True, 50, 68, True),
    ("Oklahoma City", "OK", 35.4676, -97.5164, "731", "OKC", -6, True, 58, 81, False),
    ("Milwaukee", "WI", 43.0389, -87.9065, "532", "MKE", -6, True, 55, 73, True),
)

_STREET_NAMES = (
    "Main St", "Market St", "W Madison St", "Commerce St", "Broadway", "Elm St", "Oak Ave",
    "Park Ave", "Industrial Pkwy", "Technology Dr", "Harbor Blvd", "Lakeshore Dr", "Pine St",
    "Washington Ave", "Jefferson Blvd", "Medical Center Dr", "University Ave", "Riverside Dr",
    "Airport Rd", "Distribution Way", "Congress Ave", "Peachtree St NE", "5th Ave", "N 3rd St",
    "Mill Rd", "Franklin St", "Grand Ave", "Center St", "Highland Ave", "Enterprise Blvd",
)

_ADJ = (
    "Meridian", "Harbor", "Summit", "Liberty", "Park", "Riverside", "Capitol", "Commerce",
    "Gateway", "Lakeview", "Union", "Franklin", "Pinnacle", "Heritage", "Madison", "Crescent",
    "Ashford", "Westgate", "Northpoint", "Cedar", "Ironwood", "Bayside", "Stonebridge",
    "Fairview", "Highland", "Sterling", "Pioneer", "Granite", "Oakmont", "Parkway",
)
_SAINTS = (
    "St. Mary's", "St. Joseph's", "St. Luke's", "Mercy", "Good Samaritan", "Providence",
    "Baptist", "Methodist", "Presbyterian", "Sacred Heart",
)
_PRESIDENTS = (
    "Lincoln", "Washington", "Jefferson", "Roosevelt", "Kennedy", "Madison", "Franklin",
    "Hamilton", "Jackson", "Adams", "Monroe", "Grant",
)

# facility type, weight, share of equipment serving critical loads, exposure weights
# (minimal, moderate, severe), buildings
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

_BUILDINGS = {
    "office": ("Tower", "Building 1", "Building 2", "Parking Garage", "North Wing"),
    "hospital": ("Main Hospital", "North Tower", "Central Plant", "Medical Office Building",
                 "Building 1", "Emergency Department"),
    "datacenter": ("Data Hall 1", "Data Hall 2", "Building 1", "Building 2", "Central Plant"),
    "warehouse": ("Building 1", "Building 2", "Building 3", "Cold Storage", "Office Annex"),
    "school": ("Main Building", "Gymnasium", "Building A", "Building B", "Science Wing"),
    "retail": ("Main Building", "Anchor Store", "Building 1", "Building 2", "Food Court"),
}
_ROOMS = (
    "Main Electrical Room", "Electrical Room 1", "Electrical Room 2", "Electrical Room 3",
    "Switchgear Room", "Basement Electrical Room", "IDF 2", "Mechanical Room", "Roof",
    "Level 2 Electrical Closet", "Level 4 Electrical Closet", "Generator Yard",
    "UPS Room", "Loading Dock", "Boiler Room", "Electrical Room B-104",
)

_CONTRACTORS = (
    "Rosendin Electric", "Cupertino Electric", "Faith Technologies", "IES Commercial",
    "Helix Electric", "Dynalectric", "Sachs Electric", "Mass Electric Construction",
    "Power Design Inc.", "Cache Valley Electric", "Morrow-Meadows Corporation",
    "Miller Electric Company", "Newkirk Electric Associates", "Bergelectric",
    "Walker Engineering", "Interstate Electrical Services", "Summit Electric Co.",
    "Apex Power Services LLC",
)

_TECHNICIANS = (
    "Mike Alvarez", "Sarah Chen", "J. Thompson", "Raj Patel", "Luis Hernandez",
    "Dana Kowalski", "Marcus Johnson", "Emily Nguyen", "Tom O'Brien", "Ana Ruiz",
    "Kevin Park", "Brittany Cole", "D. Washington", "Greg Sorensen", "Priya Raman",
    "Carlos Mendoza", "Jill Abrams", "Omar Haddad", "Steve Ricci", "Heather Lindqvist",
    "NETA Tech - P. Gomez", "R. Fischer (Shermco)", "A. Moreau", "Walt Brzezinski",
)

# manufacturer → (serial prefix, product lines by equipment category)
_MFR_LINES = {
    "Square D": ("SQD", {
        "board": ("QED-2", "QED-6", "Power-Zone 4", "I-Line Switchboard"),
        "panel": ("NQOD", "NQ", "NF", "I-Line Panelboard", "QO Load Center"),
        "breaker": ("QO", "QOB", "EDB", "HDA", "PowerPact H", "PowerPact J", "LA"),
        "disconnect": ("HD Safety Switch", "GD Safety Switch", "HU362"),
        "mcc": ("Model 6", "Model 6 MCC"),
        "busway": ("I-LINE II Busway", "Powerlink"),
        "transformer": ("EE75T3H", "Watchdog EXN", "EX45T3H"),
        "unknown": ("Altivar 630", "VarSet", "AccuSine PCS+"),
    }),
    "Eaton": ("EAT", {
        "board": ("Pow-R-Line C", "Magnum DS", "PRL-C"),
        "panel": ("Pow-R-Line 1a", "PRL1a", "PRL2a", "PRL4"),
        "breaker": ("BAB", "EHD", "FD", "HFD", "JD", "Series C"),
        "disconnect": ("DH Safety Switch", "DG Safety Switch"),
        "mcc": ("Freedom 2100", "Advantage"),
        "busway": ("Pow-R-Way III",),
        "transformer": ("V48M28T75", "EP", "DT-3"),
        "unknown": ("SVX9000", "UNIPAK", "Harmonic Correction Unit"),
    }),
    "Siemens": ("SIE", {
        "board": ("SB1", "SB3", "WL Switchgear"),
        "panel": ("P1", "P2", "P4", "S1"),
        "breaker": ("BQD", "ED", "FD6", "QP", "BL"),
        "disconnect": ("GF Safety Switch", "HF Safety Switch"),
        "mcc": ("tiastar", "TIASTAR"),
        "busway": ("Sentron Busway", "XLU"),
        "transformer": ("3F3Y075", "DG3", "3F3Y045K"),
        "unknown": ("SINAMICS G120", "4RF Capacitor Bank"),
    }),
    "GE": ("GE", {
        "board": ("Spectra", "AV-Line", "Entellisys"),
        "panel": ("A-Series", "AQ", "AE"),
        "breaker": ("THQL", "TEY", "SE150", "Record Plus"),
        "disconnect": ("TG Safety Switch", "TH Safety Switch"),
        "mcc": ("8000 Line", "Evolution Series E9000"),
        "busway": ("Spectra Series Busway",),
        "transformer": ("QMB", "9T83B"),
        "unknown": ("AF-600 FP",),
    }),
    "ABB": ("ABB", {
        "board": ("ReliaGear SB", "SafeGear", "Emax 2"),
        "panel": ("ReliaGear neXT", "ReliaGear LP"),
        "breaker": ("Tmax XT", "Emax 2", "Record Plus"),
        "disconnect": ("TG", "OT Switch-disconnector"),
        "mcc": ("MNS", "Evolution"),
        "busway": ("Spectra Series",),
        "transformer": ("QL", "TriShield"),
        "unknown": ("ACH580", "ACS880", "CLMD"),
    }),
    "Cutler-Hammer": ("CH", {
        "board": ("Pow-R-Line C", "Pow-R-Line 4", "DS II"),
        "panel": ("Pow-R-Line 1", "Pow-R-Line 2", "Pow-R-Line 4"),
        "breaker": ("Type CH", "BR", "HFD", "KD"),
        "disconnect": ("DH", "DG"),
        "mcc": ("Unitrol", "F10"),
        "busway": ("Pow-R-Way",),
        "transformer": ("DT-3", "V48M28T45"),
        "unknown": ("SV9000",),
    }),
}
_MFR_CATEGORY = {
    "main": "board", "switchboard": "board", "panel": "panel", "breaker": "breaker",
    "disconnect": "disconnect", "mcc": "mcc", "busway": "busway",
    "transformer": "transformer", "unknown": "unknown",
}
_MFRS = tuple(_MFR_LINES)
_MFR_WEIGHTS = (30, 26, 20, 12, 6, 6)

_SPECIAL_MFRS = {
    "generator": (("Caterpillar", ("C15", "C18", "3512C", "XQ500")),
                  ("Cummins", ("QSK50", "C1000D6", "DQCA")),
                  ("Kohler", ("KD1000", "125REOZJ", "500REOZJ")),
                  ("Generac", ("SD500", "MD350"))),
    "ups": (("Liebert", ("EXL S1", "NXL", "APM")), ("APC", ("Symmetra PX", "Galaxy VS")),
            ("Eaton", ("93PM", "9395")), ("Vertiv", ("Liebert EXM", "Trinergy"))),
    "ats": (("ASCO", ("7000 Series", "300 Series", "4000 Series")),
            ("Russelectric", ("RTS-03", "RMTD")), ("Eaton", ("ATC-300+", "ATC-900")),
            ("Kohler", ("KCS", "KEP"))),
    "meter": (("Itron", ("CENTRON", "SENTINEL")), ("Landis+Gyr", ("E650", "FOCUS AX")),
              ("Schneider Electric", ("ION8650",))),
    "raceway": (("Cooper B-Line", ("Series 2", "Flextray")), ("Legrand Cablofil", ("CF54",)),
                ("MP Husky", ("Ladder 9",))),
}

# role → (class spellings, weights)
_CLASSES = {
    "meter": (("Utility Meter",), (1,)),
    "main": (("Main Switchboard", "Switchboard", "Switchgear", "SWITCHGEAR"), (40, 20, 32, 8)),
    "switchboard": (("Switchboard", "Main Switchboard", "switchboard"), (85, 5, 10)),
    "transformer": (("Dry Type Transformer", "Pad-Mount Transformer",
                     "DRY TYPE TRANSFORMER"), (82, 8, 10)),
    "panel": (("Panelboard", "PANELBOARD", "Panel Board", "Lighting Panel"), (55, 10, 10, 25)),
    "breaker": (("Molded Case Breaker", "Circuit Breaker", "circuit breaker"), (58, 38, 4)),
    "disconnect": (("Safety Switch", "Fused Disconnect"), (55, 45)),
    "mcc": (("Motor Control Center", "MCC"), (60, 40)),
    "busway": (("Busway", "Bus Duct"), (60, 40)),
    "raceway": (("Cable Tray",), (1,)),
    "ats": (("Automatic Transfer Switch", "ATS"), (55, 45)),
    "ups": (("UPS",), (1,)),
    "generator": (("Emergency Generator",), (1,)),
    "unknown": (("Capacitor Bank", "VFD", "Harmonic Filter"), (35, 45, 20)),
}

# Roles after the fixed head of each facility's one-line diagram. The level orders them so
# that feeders normally come before what they feed.
_ROLE_LEVEL = {
    "meter": 0, "main": 1, "generator": 1, "switchboard": 2, "busway": 2, "ats": 2,
    "transformer": 3, "mcc": 3, "ups": 3, "panel": 4, "raceway": 5, "disconnect": 5,
    "breaker": 6, "unknown": 6,
}
_FREE_ROLES = ("switchboard", "transformer", "panel", "breaker", "disconnect", "mcc",
               "busway", "raceway", "ats", "ups", "generator")
_FREE_WEIGHTS = (2.0, 7.0, 22.0, 48.0, 8.0, 3.0, 3.0, 3.5, 1.0, 1.0, 0.3)

_NAME_PREFIX = {
    "meter": "M-", "switchboard": "DSB-", "transformer": "TX-", "disconnect": "DS-",
    "mcc": "MCC-", "busway": "BD-", "raceway": "CT-", "ats": "ATS-", "ups": "UPS-",
    "generator": "GEN-", "breaker": "CB-",
}
_UNKNOWN_PREFIX = {"capacitor bank": "CAP-", "vfd": "VFD-", "harmonic filter": "HF-"}

_ENCLOSURES = ("NEMA 1", "NEMA 1", "NEMA 1", "NEMA 3R", "NEMA 12", "NEMA 4X")
_MOUNTS = {
    "main": ("floor",), "switchboard": ("floor",), "transformer": ("floor", "wall", "pad"),
    "panel": ("surface", "flush", "surface"), "disconnect": ("surface", "wall"),
    "mcc": ("floor",), "ats": ("floor", "wall"), "ups": ("floor",), "generator": ("pad",),
    "meter": ("wall", "socket"), "breaker": ("plug-in", "bolt-on", "drawout"),
    "busway": ("ceiling", "riser"), "raceway": ("ceiling", "trapeze"),
    "unknown": ("floor", "wall"),
}

_COPPER_CODES = ("CU", "CU", "CU", "CU", "CU", "Cu", "Cu", "Copper", "Copper", "Copper")
_ALUMINUM_CODES = ("AL", "AL", "AL", "AL", "ALUM", "ALUM", "ALUM", "Aluminum", "Aluminum",
                   "Aluminum")
_UNKNOWN_CODES = ("CUAL", "CUAL", "CU/AL", "TCA")
_CONNECTIONS = ("lug", "bolted", "crimped", "compression")
_CONNECTION_WEIGHTS = (40, 24, 16, 20)

# ampacity → conductor size (copper, 75 °C column, roughly)
_SIZES = (
    (20, "12 AWG"), (30, "10 AWG"), (50, "8 AWG"), (65, "6 AWG"), (85, "4 AWG"),
    (115, "2 AWG"), (150, "1/0 AWG"), (200, "3/0 AWG"), (230, "4/0 AWG"), (255, "250 kcmil"),
    (310, "350 kcmil"), (380, "500 kcmil"), (475, "750 kcmil"),
)

_LEVELS = ("none", "minimal", "moderate", "severe")
_CONDITIONS = ("Excellent", "Good", "Fair", "Poor", "Critical")

_MR_TYPES = ("preventive", "inspection", "infrared_scan", "corrective", "emergency")
_MR_WEIGHTS = (45, 25, 15, 12, 3)

_PHOTO_CAPTIONS = (
    "Nameplate", "Front view", "Dead front removed", "Arc flash label", "Thermal image",
    "Interior, bus and terminations", "Breaker schedule", "Corrosion at base",
    "Clearance in front of equipment", "Terminations close-up",
)

_PHOTO_HOST = "https://photos.condoit.example"

# fmt: on

_EPOCH = datetime(1970, 1, 1)
_EPOCH_ORD = date(1970, 1, 1).toordinal()
_DAY = 86400
_MASK64 = (1 << 64) - 1
_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def exported_at(as_of: date) -> str:
    """``exportedAt`` of an export anchored at ``as_of``: the start of that day in UTC.

    Every timestamp in the export is at or before this instant.
    """
    return f"{as_of.isoformat()}T00:00:00Z"


class _Ids:
    """Opaque, unique, deterministic ids: a seeded bijection of a per-kind sequence number."""

    __slots__ = ("salts", "seq")

    def __init__(self, seed: int) -> None:
        r = random.Random(f"masterbus-demo-ids/{seed}")
        self.salts = {k: r.getrandbits(64) for k in ("fac", "eq", "mr", "ph", "cd")}
        self.seq = dict.fromkeys(self.salts, 0)

    def next(self, kind: str) -> str:
        n = self.seq[kind]
        self.seq[kind] = n + 1
        x = (n + self.salts[kind]) & _MASK64
        x = (x * 0x9E3779B97F4A7C15) & _MASK64
        x ^= x >> 31
        x = (x * 0xBF58476D1CE4E5B9) & _MASK64
        x ^= x >> 29
        chars = []
        for _ in range(13):
            x, d = divmod(x, 36)
            chars.append(_B36[d])
        return f"{kind}_{''.join(chars)}"


def _date_str(ordinal: int) -> str:
    return date.fromordinal(ordinal).isoformat()


def _sec_of_ord(ordinal: int) -> int:
    """Epoch seconds of midnight UTC of a date ordinal."""
    return (ordinal - _EPOCH_ORD) * _DAY


def _add_months(ordinal: int, months: int) -> int:
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


def _size_for(amps: float) -> str:
    for limit, size in _SIZES:
        if amps <= limit:
            return size
    sets = min(8, int(amps // 380) + 1)
    return f"({sets}) 500 kcmil"


class _Fac:
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


class _Clock:
    """Formats instants (epoch seconds) as Condoit timestamps with assorted offsets."""

    __slots__ = ("rng", "std_off", "dst")

    def __init__(self, rng: random.Random, std_off: int, dst: bool) -> None:
        self.rng = rng
        self.std_off = std_off
        self.dst = dst

    def offset_minutes(self, sec: int) -> int:
        off = self.std_off * 60
        if self.dst:
            month = date.fromordinal(_EPOCH_ORD + sec // _DAY).month
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


# --------------------------------------------------------------------------------------------
# Facility
# --------------------------------------------------------------------------------------------


def _facility_name(rng: random.Random, kind: str, city: tuple) -> str:
    a = rng.choice(_ADJ)
    cname = city[0]
    if kind == "office":
        return rng.choice(
            (
                f"{a} Tower",
                f"{a} Plaza",
                f"One {a} Center",
                f"{a} Corporate Center",
                f"{rng.randint(100, 2400)} {rng.choice(_STREET_NAMES)}",
                f"{cname} {a} Office Park",
            )
        )
    if kind == "hospital":
        return rng.choice(
            (
                f"{rng.choice(_SAINTS)} Medical Center",
                f"{a} General Hospital",
                f"{cname} Regional Medical Center",
                f"{a} Children's Hospital",
                f"{rng.choice(_SAINTS)} Hospital - {cname}",
                f"{a} Memorial Hospital",
            )
        )
    if kind == "datacenter":
        return rng.choice(
            (
                f"{a} Data Center {city[5]}-{rng.randint(1, 9)}",
                f"{a} Colocation Campus",
                f"{cname} Data Center {rng.randint(1, 4)}",
                f"{city[5]}{rng.randint(1, 12)} - {a} Cloud",
            )
        )
    if kind == "warehouse":
        return rng.choice(
            (
                f"{a} Distribution Center",
                f"{a} Logistics Warehouse {rng.randint(1, 12)}",
                f"{cname} Fulfillment Center {city[5]}{rng.randint(1, 9)}",
                f"{a} Cold Storage",
                f"{a} Industrial Park Bldg {rng.randint(1, 8)}",
            )
        )
    if kind == "school":
        return rng.choice(
            (
                f"{rng.choice(_PRESIDENTS)} High School",
                f"{rng.choice(_PRESIDENTS)} Elementary School",
                f"{rng.choice(_PRESIDENTS)} Middle School",
                f"{cname} Community College",
                f"{a} Academy",
            )
        )
    return rng.choice(
        (
            f"{a} Mall",
            f"{a} Shopping Center",
            f"{a} Town Center",
            f"{a} Marketplace",
            f"{a} Commons",
            f"{cname} Premium Outlets",
        )
    )


def _make_facility(rng: random.Random, ids: _Ids, as_of: date, bound: int) -> tuple[_Fac, dict]:
    f = _Fac()
    f.id = ids.next("fac")
    f.bound = bound
    kind = rng.choices(_FT_NAMES, _FT_WEIGHTS)[0]
    f.kind = kind
    city = rng.choice(_CITIES)
    f.city = city
    f.std_off, f.dst, f.coastal = city[6], city[7], city[10]
    clock = _Clock(rng, f.std_off, f.dst)
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
    lo = max(_sec_of_ord(date(yb, 12, 31).toordinal()), bound - 6 * 365 * _DAY)
    hi = max(lo, bound - 45 * _DAY)
    created = rng.randint(lo, hi)
    f.created = created
    updated = rng.randint(created, bound) if rng.random() < 0.85 else created

    lat = round(city[2] + rng.uniform(-0.09, 0.09), 6)
    lng = round(city[3] + rng.uniform(-0.11, 0.11), 6)
    f.lat, f.lng = lat, lng

    address: dict[str, Any] = {}
    if rng.random() > 0.02:
        address["street"] = f"{rng.randint(1, 9800)} {rng.choice(_STREET_NAMES)}"
    address["city"] = city[0]
    address["state"] = city[1]
    if rng.random() > 0.03:
        address["zip"] = f"{city[4]}{rng.randint(1, 99):02d}"

    n_buildings = 1 if rng.random() < 0.45 else rng.randint(2, 4)
    f.buildings = tuple(rng.sample(_BUILDINGS[kind], n_buildings))
    f.rooms = tuple(rng.sample(_ROOMS, rng.randint(3, 7)))
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
        "name": _facility_name(rng, kind, city),
        "address": address,
    }
    if rng.random() > 0.03:
        rec["latitude"] = lat
        rec["longitude"] = lng
    rec["yearBuilt"] = yb
    if rng.random() > 0.05:
        rec["contractor"] = {"name": rng.choice(_CONTRACTORS)}
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
        rec["arcFlashStudyDate"] = _date_str(f.study_ord)
    if rng.random() > 0.2:
        rec["infraredScanDate"] = _date_str(last_ord - rng.randint(0, 4 * 365))
    if rng.random() > 0.1:
        rec["lastInspectionDate"] = clock.ts(bound - rng.randint(3600, 3 * 365 * _DAY))
    rec["createdAt"] = clock.ts(created)
    rec["updatedAt"] = clock.ts(updated)
    rec["deletedAt"] = None
    return f, rec


# --------------------------------------------------------------------------------------------
# Equipment
# --------------------------------------------------------------------------------------------


class _Node:
    __slots__ = (
        "role",
        "cls",
        "name",
        "parent",
        "children",
        "amps",
        "voltage",
        "phases",
        "rec",
        "idx",
    )

    def __init__(self, role: str) -> None:
        self.role = role
        self.parent: _Node | None = None
        self.children = 0


def _plan(rng: random.Random, m: int) -> list[_Node]:
    """One-line diagram of a facility: roles, parents, names, ratings (no ids yet)."""
    if m <= 0:
        return []
    roles = ["meter", "main"][:m]
    if m >= 10:
        roles += ["generator", "ats"]
    while len(roles) < m:
        if rng.random() < 0.005:
            roles.append("unknown")
        else:
            roles.append(rng.choices(_FREE_ROLES, _FREE_WEIGHTS)[0])
    head = roles[:2]
    tail = sorted(roles[2:], key=_ROLE_LEVEL.__getitem__)
    nodes = [_Node(r) for r in head + tail]

    # service voltage
    service = rng.choices(("480Y/277V", "208Y/120V", "240/120V"), (70, 22, 8))[0]
    by_role: dict[str, list[_Node]] = {}
    counters: dict[str, int] = {}
    panel_no = 0
    for node in nodes:
        role = node.role
        classes, weights = _CLASSES[role]
        node.cls = classes[0] if len(classes) == 1 else rng.choices(classes, weights)[0]
        # rare case variants of any spelling (mappings are case-insensitive)
        if rng.random() < 0.02:
            node.cls = node.cls.upper() if rng.random() < 0.6 else node.cls.lower()

        def pick(*cands: str) -> _Node | None:
            pool = [n for c in cands for n in by_role.get(c, ())]
            return rng.choice(pool) if pool else None

        parent = None
        if role == "main":
            parent = pick("meter")
        elif role == "switchboard" or role == "busway" or role == "mcc":
            parent = pick("main", "switchboard") if role != "switchboard" else pick("main")
        elif role == "ats":
            parent = pick("main", "switchboard")
        elif role == "transformer":
            parent = pick("main", "main", "switchboard", "busway")
        elif role == "ups":
            parent = pick("ats") or pick("main")
        elif role == "panel":
            r = rng.random()
            if r < 0.55:
                parent = pick("transformer")
            elif r < 0.62:
                parent = pick("ups", "ats")
            elif r < 0.7:
                parent = pick("busway")
            parent = parent or pick("main", "switchboard")
        elif role == "disconnect":
            parent = pick("panel", "panel", "mcc", "switchboard") or pick("main")
        elif role == "breaker":
            parent = pick("panel") if rng.random() < 0.85 else pick("switchboard", "main")
            parent = parent or pick("main")
        elif role == "unknown":
            parent = pick("main", "mcc", "panel")
        elif role == "raceway":
            parent = pick("main") if rng.random() < 0.3 else None
        # meter and generator have no feeder (the generator is a standby source)
        node.parent = parent
        if parent is not None:
            parent.children += 1

        # name
        if role == "main":
            node.name = rng.choice(("MSB", "MSB-1", "SWGR-1", "Main Switchboard", "MDP"))
        elif role == "panel":
            panel_no += 1
            floor = (panel_no - 1) // 4 + 1
            letter = "ABCD"[(panel_no - 1) % 4]
            node.name = rng.choice(
                (
                    f"Panel {floor}H{letter}",
                    f"Panel {floor}L{letter}",
                    f"LP-{floor}{letter}",
                    f"Panel {letter}{floor}",
                    f"PP-{floor}{letter}",
                )
            )
            if node.name in (n.name for n in by_role.get("panel", ())):
                node.name = f"{node.name}-{panel_no}"
        elif role == "unknown":
            c = counters.get(node.cls, 0) + 1
            counters[node.cls] = c
            node.name = f"{_UNKNOWN_PREFIX.get(node.cls.lower(), 'X-')}{c}"
        else:
            c = counters.get(role, 0) + 1
            counters[role] = c
            if role == "breaker" and parent is not None and parent.role == "panel":
                node.name = f"{parent.name.replace('Panel ', '')} CKT {2 * parent.children - 1}"
            else:
                node.name = f"{_NAME_PREFIX[role]}{c}"

        # voltage / amperage
        if role in ("meter", "main"):
            node.voltage = service
            node.amps = rng.choice((800, 1200, 1600, 2000, 2500, 3000, 4000))
            if service == "240/120V":
                node.amps = rng.choice((400, 600, 800))
        elif role == "switchboard":
            node.voltage = service
            node.amps = rng.choice((400, 600, 800, 1200, 1600))
        elif role == "transformer":
            node.voltage = "208Y/120V"
            node.amps = rng.choice((42, 83, 125, 208, 313, 416, 625, 833))
        elif role == "panel":
            src = parent.voltage if parent is not None else service
            node.voltage = src if src != "480Y/277V" or rng.random() < 0.7 else "208Y/120V"
            node.amps = rng.choice((100, 125, 225, 225, 225, 400, 600))
        elif role == "breaker":
            node.voltage = parent.voltage if parent is not None else service
            node.amps = rng.choice((15, 20, 20, 20, 30, 40, 50, 60, 70, 100, 125, 150, 225, 400))
        elif role == "disconnect":
            node.voltage = parent.voltage if parent is not None else service
            node.amps = rng.choice((30, 60, 100, 200, 400))
        elif role == "mcc":
            node.voltage = "480Y/277V" if service == "480Y/277V" else service
            node.amps = rng.choice((600, 800, 1200))
        elif role == "busway":
            node.voltage = service
            node.amps = rng.choice((800, 1000, 1350, 1600, 2000))
        elif role == "raceway":
            node.voltage = service
            node.amps = None
        elif role == "ats":
            node.voltage = service
            node.amps = rng.choice((100, 260, 400, 600, 800, 1200))
        elif role == "ups":
            node.voltage = service
            node.amps = rng.choice((100, 150, 225, 400, 600))
        elif role == "generator":
            node.voltage = service
            node.amps = rng.choice((300, 600, 1000, 1500, 2500))
        else:
            node.voltage = parent.voltage if parent is not None else service
            node.amps = rng.choice((50, 100, 200, 400))
        if node.voltage == "240/120V":
            node.phases = 1
        elif role == "breaker" and node.amps <= 30 and rng.random() < 0.5:
            node.phases = 1
        else:
            node.phases = 3
        by_role.setdefault(role, []).append(node)
    return nodes


def _emission_order(rng: random.Random, nodes: list[_Node], force: bool) -> list[_Node]:
    """Mostly upstream-first, with a few feeders moved after what they feed."""
    order = list(nodes)
    feeders = [n for n in order if n.children > 0]
    if not feeders:
        return order
    k = rng.choices((0, 1, 2, 3), (45, 30, 15, 10))[0]
    if force:
        k = max(k, 1)
    for n in rng.sample(feeders, min(k, len(feeders))):
        order.remove(n)
        order.append(n)
    return order


def _install_ord(rng: random.Random, f: _Fac, role: str, last_ord: int) -> int:
    yb = f.year_built
    replace_p = {
        "breaker": 0.5,
        "ups": 0.75,
        "ats": 0.45,
        "generator": 0.4,
        "meter": 0.5,
        "transformer": 0.35,
    }.get(role, 0.3)
    if f.distressed:
        replace_p *= 0.3
    last_year = date.fromordinal(last_ord).year
    if rng.random() < replace_p and yb < last_year:
        y = rng.randint(yb + 1, last_year)
    else:
        y = min(yb, last_year)
    first = date(y, 1, 1).toordinal()
    return first + rng.randint(0, min(364, last_ord - first))


def _conductors(
    rng: random.Random, ids: _Ids, node: _Node, install_year: int | None, fac: _Fac
) -> list:
    role = node.role
    if role in ("main", "switchboard", "ats"):
        n = rng.randint(2, 3)
    elif role in ("transformer", "ups", "mcc"):
        n = 2
    elif role in ("panel", "disconnect"):
        n = rng.randint(1, 2)
    elif role == "raceway":
        n = rng.randint(0, 4)
    else:
        n = 1
    if rng.random() < 0.04:
        n = 0
    # aluminium feeders were common in the late 1960s and early 1970s
    al_p = 0.45 if install_year is not None and 1965 <= install_year < 1975 else 0.16
    if fac.distressed:
        al_p = 0.65
    if node.amps is not None and node.amps <= 30:
        al_p *= 0.5
    mixed = rng.random() < 0.08
    out = []
    amps = node.amps or 400
    for i in range(n):
        material_is_al = rng.random() < al_p
        if mixed and i == 1:
            material_is_al = not out[0]["_al"]
        r = rng.random()
        if r < 0.003:
            code = rng.choice(_UNKNOWN_CODES)
        elif material_is_al:
            code = rng.choice(_ALUMINUM_CODES)
        else:
            code = rng.choice(_COPPER_CODES)
        conn = rng.choices(_CONNECTIONS, _CONNECTION_WEIGHTS)[0]
        if material_is_al and conn == "lug" and rng.random() < 0.25:
            conn = "crimped"
        c: dict[str, Any] = {
            "id": ids.next("cd"),
            "material": code,
            "size": _size_for(amps if role != "transformer" or i else amps * 0.48),
            "connectionType": conn,
            "_al": material_is_al,
        }
        if material_is_al and rng.random() < 0.14:
            c["alCuTransition"] = True
        elif rng.random() < 0.2:
            c["alCuTransition"] = False
        out.append(c)
    for c in out:
        del c["_al"]
    return out


def _specs(rng: random.Random, node: _Node, fac: _Fac) -> dict:
    role = node.role
    s: dict[str, Any] = {"voltage": node.voltage}
    if node.amps is not None:
        s["amperage"] = node.amps
    s["phases"] = node.phases
    if rng.random() < 0.03:
        del s["voltage"]
    s["mountType"] = rng.choice(_MOUNTS[role])
    outdoor = role == "generator" or (role == "transformer" and node.cls.lower().startswith("pad"))
    s["enclosureType"] = rng.choice(("NEMA 3R", "NEMA 4X")) if outdoor else rng.choice(_ENCLOSURES)
    if role == "panel":
        s["slots"] = rng.choice((24, 30, 42, 42, 42, 54, 84))
        main = rng.random() < 0.55
        s["mainDisconnect"] = main
        if main:
            s["mainDisconnectRating"] = node.amps
    elif role in ("main", "switchboard"):
        s["mainDisconnect"] = True
        s["mainDisconnectRating"] = node.amps
    elif role == "transformer":
        s["kva"] = rng.choice((15, 30, 45, 75, 112.5, 150, 225, 300))
        s["primaryVoltage"] = "480V"
        s["impedancePercent"] = round(rng.uniform(3.0, 6.5), 1)
    elif role == "generator":
        s["kw"] = rng.choice((100, 250, 500, 750, 1000, 1500))
        s["fuelType"] = rng.choice(("diesel", "diesel", "natural gas"))
    elif role == "ups":
        s["kva"] = rng.choice((20, 40, 80, 160, 300, 500))
        s["batteryType"] = rng.choice(("VRLA", "Li-ion"))
    elif role == "breaker":
        s["frameSize"] = max(node.amps, rng.choice((100, 150, 250, 400)))
        s["poles"] = 1 if node.phases == 1 else 3
        if rng.random() < 0.3:
            s["tripUnit"] = rng.choice(("thermal-magnetic", "electronic LSI", "electronic LSIG"))
    elif role == "disconnect":
        s["fused"] = node.cls.startswith("Fused") or rng.random() < 0.4
    elif role == "ats":
        s["transitionType"] = rng.choice(("open", "closed", "delayed"))
    elif role == "raceway":
        s["widthIn"] = rng.choice((12, 18, 24, 30))
        s["trayType"] = rng.choice(("ladder", "solid bottom", "wire mesh"))
    # unknown keys Condoit adds that MasterBus must keep
    if role in ("main", "switchboard", "panel", "busway", "mcc") and rng.random() < 0.6:
        s["busMaterial"] = rng.choice(("copper", "copper", "aluminum", "tin-plated aluminum"))
    if (
        role in ("main", "switchboard", "panel", "breaker", "mcc", "disconnect")
        and rng.random() < 0.5
    ):
        s["aicRating"] = rng.choice((10000, 14000, 22000, 25000, 35000, 42000, 65000, 100000))
    if rng.random() < 0.05:
        s["notes"] = rng.choice(
            (
                "Spare breakers available",
                "Directory incomplete",
                "Shared neutral on circuits 3/5",
                "Fed from utility vault",
                "Field-verified 2021",
            )
        )
    return s


def _observations(rng: random.Random, age_years: float | None, fac: _Fac) -> dict | None:
    if rng.random() < 0.18:
        return None
    a = 20.0 if age_years is None else age_years
    # older equipment and poorly maintained sites show more distress
    shift = min(1.0, a / 45.0) + {"poor": 0.25, "neglected": 0.5}.get(fac.diligence, 0.0)
    w = (max(5.0, 60 - 45 * shift), 25.0, 8 + 22 * shift, 2 + 14 * shift)
    o: dict[str, Any] = {
        "corrosion": rng.choices(_LEVELS, w)[0],
        "rust": rng.choices(_LEVELS, w)[0],
        "wear": rng.choices(_LEVELS, w)[0],
        "heatDiscoloration": rng.random() < 0.04 + 0.06 * shift,
        "clearanceIssue": rng.random() < 0.07,
    }
    if rng.random() < 0.85:
        o["operatingTempC"] = round(rng.triangular(22.0, 78.0, 35.0 + 8 * shift), 1)
    if rng.random() < 0.6:
        score = sum(_LEVELS.index(o[k]) for k in ("corrosion", "rust", "wear"))
        idx = min(4, score // 2 + (1 if o["heatDiscoloration"] else 0))
        if rng.random() < 0.15:
            idx = max(0, min(4, idx + rng.choice((-1, 1))))
        o["overallCondition"] = _CONDITIONS[idx]
    if rng.random() < 0.2:
        # everything fine: the 'none' branch of every level
        o.update(corrosion="none", rust="none", wear="none", heatDiscoloration=False)
        o.pop("overallCondition", None)
    return o


def _manufacturer(rng: random.Random, role: str) -> tuple[str | None, str | None, str | None]:
    if rng.random() < 0.03:
        return None, None, None
    special = _SPECIAL_MFRS.get(role)
    if special is not None:
        name, models = rng.choice(special)
        prefix = "".join(ch for ch in name.upper() if ch.isalpha())[:3]
    else:
        name = rng.choices(_MFRS, _MFR_WEIGHTS)[0]
        prefix, lines = _MFR_LINES[name]
        models = lines[_MFR_CATEGORY[role]]
    model = rng.choice(models)
    if rng.random() < 0.08:
        return name, model, None
    serial = f"{prefix}{rng.randint(10, 99)}{rng.choice('ABCDEFGHJKLMNPRSTUVWXYZ')}{rng.randint(100000, 9999999)}"
    return name, model, serial


def _equipment_record(
    rng: random.Random,
    ids: _Ids,
    node: _Node,
    fac: _Fac,
    clock: _Clock,
    as_of: date,
    id_of: dict[int, str],
) -> tuple[dict, int | None, int]:
    """Build the equipment record; returns (record, install ordinal or None, createdAt sec)."""
    as_of_ord = as_of.toordinal()
    last_ord = as_of_ord - 1
    bound = fac.bound
    role = node.role

    install = None if rng.random() < 0.05 else _install_ord(rng, fac, role, last_ord)
    install_year = date.fromordinal(install).year if install is not None else None
    age_years = (as_of_ord - install) / 365.25 if install is not None else None

    created_lo = fac.created
    if install is not None:
        created_lo = max(created_lo, _sec_of_ord(install) + rng.randint(0, 20) * _DAY)
    created_lo = min(created_lo, bound - 3600)
    created = rng.randint(created_lo, min(bound, created_lo + 180 * _DAY))
    updated = rng.randint(created, bound) if rng.random() < 0.8 else created

    rec: dict[str, Any] = {
        "id": id_of[node.idx],
        "facilityId": fac.id,
        "equipmentClass": node.cls,
        "name": node.name,
    }
    mfr, model, serial = _manufacturer(rng, role)
    if mfr is not None:
        rec["manufacturer"] = mfr
        rec["model"] = model
        if serial is not None:
            rec["serialNumber"] = serial
    if install is not None:
        rec["installDate"] = _date_str(install)
    rec["building"] = rng.choice(fac.buildings)
    if role == "generator":
        rec["room"] = "Generator Yard"
    elif role != "raceway" or rng.random() < 0.5:
        rec["room"] = rng.choice(fac.rooms)
    if rng.random() < 0.3:
        rec["latitude"] = round(fac.lat + rng.uniform(-0.0006, 0.0006), 6)
        rec["longitude"] = round(fac.lng + rng.uniform(-0.0006, 0.0006), 6)
    if node.parent is not None:
        rec["feedsFromId"] = id_of[node.parent.idx]
    rec["specs"] = _specs(rng, node, fac)
    rec["conductors"] = _conductors(rng, ids, node, install_year, fac)
    obs = _observations(rng, age_years, fac)
    if obs is not None:
        rec["observations"] = obs
    if rng.random() < 0.9:
        r = rng.random()
        if fac.distressed:
            r *= 0.4
        if r < 0.06:
            load = rng.uniform(100.0, 120.0)
        elif r < 0.2:
            load = rng.uniform(75.0, 100.0)
        else:
            load = rng.triangular(10.0, 80.0, 40.0)
        rec["loadPercent"] = round(load, 1)

    # arc flash label: ~10% present=false, ~5% no label object at all
    r = rng.random()
    if r < 0.05:
        pass
    elif r < 0.15:
        rec["arcFlashLabel"] = {"present": False}
    else:
        big = role in ("main", "switchboard", "mcc", "busway", "transformer")
        energy = rng.uniform(4.0, 40.0) if big and rng.random() < 0.7 else rng.uniform(0.3, 8.0)
        energy = round(energy, 1)
        ppe = (
            0
            if energy < 1.2
            else 1
            if energy <= 4
            else 2
            if energy <= 8
            else 3
            if energy <= 25
            else 4
        )
        base = fac.study_ord if fac.study_ord is not None else last_ord - rng.randint(200, 3000)
        label = base + rng.randint(0, 60)
        if install is not None:
            label = max(label, install + rng.randint(0, 30))
        label = min(label, last_ord)
        rec["arcFlashLabel"] = {
            "present": True,
            "incidentEnergyCalCm2": energy,
            "ppeCategory": ppe,
            "labelDate": _date_str(label),
        }
    critical_p = fac.critical_share * (2.5 if role in ("ats", "ups", "generator") else 1.0)
    rec["servesCriticalLoad"] = rng.random() < critical_p

    n_photos = rng.choices((0, 1, 2, 3), (30, 30, 25, 15))[0]
    if n_photos:
        photo_lo = created - 30 * _DAY
        if install is not None:
            photo_lo = min(created, max(photo_lo, _sec_of_ord(install) + 9 * 3600))
        photos = []
        for _ in range(n_photos):
            pid = ids.next("ph")
            photos.append(
                {
                    "id": pid,
                    "url": f"{_PHOTO_HOST}/{fac.id}/{rec['id']}/{pid}.jpg",
                    "caption": rng.choice(_PHOTO_CAPTIONS),
                    "takenAt": clock.ts(
                        rng.randint(photo_lo, created)
                        if rng.random() < 0.7
                        else rng.randint(created, bound)
                    ),
                }
            )
        rec["photos"] = photos
    rec["createdAt"] = clock.ts(created)
    if rng.random() < 0.002:
        deleted = rng.randint(updated, bound)
        rec["updatedAt"] = clock.ts(deleted)
        rec["deletedAt"] = clock.ts(deleted)
    else:
        rec["updatedAt"] = clock.ts(updated)
        rec["deletedAt"] = None
    return rec, install, created


# --------------------------------------------------------------------------------------------
# Maintenance
# --------------------------------------------------------------------------------------------

# maintenance type → (findings, actions taken) pairs
_NOTES = {
    "preventive": (
        (
            "Torqued all terminations to manufacturer specification. Cleaned and vacuumed "
            "enclosure. No deficiencies found.",
            "Completed PM checklist. Next PM scheduled.",
        ),
        (
            "Exercised breakers and verified trip settings. Minor dust accumulation removed.",
            "Cleaned, exercised and tested. Returned to service.",
        ),
        (
            "Insulation resistance test passed on all phases ({ir} MΩ minimum). Two loose "
            "neutral connections found.",
            "Re-torqued neutral connections; test results recorded.",
        ),
        (
            "Cleaned bus, checked torque on lugs; {n} connections below spec. Enclosure gaskets "
            "worn.",
            "Re-torqued {n} connections. Gasket replacement quoted.",
        ),
        (
            "Annual PM per NFPA 70B. Panel directory out of date.",
            "Updated panel directory. Completed PM checklist.",
        ),
    ),
    "inspection": (
        (
            "Visual inspection: {lvl} corrosion at the bottom of the enclosure; labels legible.",
            "Documented findings; corrosion to be addressed at next PM.",
        ),
        (
            "Working clearance obstructed by stored material.",
            "Advised facility staff; clearance restored during visit.",
        ),
        (
            "No visible damage. Arc flash label faded and hard to read.",
            "Recommended replacement of arc flash label.",
        ),
        (
            "Missing knockout seal on the left side; dust ingress noted.",
            "Work order opened to install knockout seal.",
        ),
        (
            "Enclosure intact. Operating temperature {t} °C at time of inspection.",
            "No immediate action required.",
        ),
    ),
    "infrared_scan": (
        (
            "IR scan at {load}% load: max ΔT {dt} °C at phase {ph} lug of {ckt}. Priority {prio}.",
            "Report issued to facility manager; re-scan after repair.",
        ),
        ("IR scan at {load}% load: no thermal anomalies above 10 °C ΔT.", "No action required."),
        (
            "IR scan: neutral bar hot spot, ΔT {dt} °C over ambient.",
            "Scheduled shutdown to re-terminate affected conductor.",
        ),
    ),
    "corrective": (
        (
            "Cracked {part}; evidence of overheating at the terminations.",
            "Replaced {part}, torqued to spec, verified under load.",
        ),
        (
            "Loose connection on phase {ph} caused nuisance tripping of {ckt}.",
            "Re-terminated conductor with new compression lug.",
        ),
        (
            "Failed {part} found during troubleshooting.",
            "Replaced {part}; system restored and tested.",
        ),
        (
            "Damaged enclosure door and missing dead-front screws.",
            "Repaired door and replaced dead-front screws; recommend monitoring.",
        ),
    ),
    "emergency": (
        (
            "Responded to burning odor reported by building engineer; {part} charred on "
            "phase {ph}.",
            "Isolated circuit, replaced {part}, restored power after testing.",
        ),
        (
            "Main breaker tripped during peak load.",
            "Transferred load to alternate source; investigated and reset.",
        ),
        (
            "Water intrusion from roof leak into enclosure.",
            "De-energized and dried out; temporary repairs made, permanent repair scheduled.",
        ),
    ),
}
_PARTS = (
    "lug",
    "breaker",
    "bus bar insulator",
    "fuse holder",
    "neutral bar",
    "contactor",
    "surge protective device",
    "control transformer",
    "terminal block",
)


def _maintenance(
    rng: random.Random,
    ids: _Ids,
    eq_id: str,
    node: _Node,
    fac: _Fac,
    clock: _Clock,
    as_of: date,
    install: int | None,
    eq_created: int,
) -> list[dict]:
    never_p = {"good": 0.04, "average": 0.09, "poor": 0.19, "neglected": 0.3}[fac.diligence]
    if rng.random() < never_p:
        return []
    as_of_ord = as_of.toordinal()
    last_ord = as_of_ord - 2
    # days since the latest service
    d = fac.diligence
    r = rng.random()
    if d == "good":
        ago = rng.randint(5, 330) if r < 0.88 else rng.randint(330, 900)
    elif d == "average":
        ago = rng.randint(5, 360) if r < 0.6 else rng.randint(360, 1100)
    elif d == "poor":
        ago = rng.randint(10, 360) if r < 0.25 else rng.randint(360, 2200)
    else:
        ago = rng.randint(200, 900) if r < 0.2 else rng.randint(900, 3300)
    if rng.random() < 0.05:
        ago = rng.randint(0, 20)  # serviced in the last few weeks
    n = rng.choices((1, 2, 3, 4, 5, 6, 7, 8), (12, 17, 21, 20, 14, 9, 5, 2))[0]
    earliest = install if install is not None else None
    dates = []
    o = last_ord - ago
    for _ in range(n):
        if earliest is not None and o < earliest:
            break
        dates.append(o)
        o -= rng.randint(150, 430)
    if not dates and earliest is not None and earliest <= last_ord:
        dates.append(min(last_ord, earliest + rng.randint(0, 60)))
    dates.reverse()
    out = []
    interval = fac.interval_months if node.role not in ("raceway", "meter") else 36
    for perf_ord in dates:
        typ = rng.choices(_MR_TYPES, _MR_WEIGHTS)[0]
        # a working-hours instant in local time on that day
        local_sec = _sec_of_ord(perf_ord) + rng.randint(7 * 3600, 17 * 3600) // 900 * 900
        perf = local_sec - clock.offset_minutes(local_sec) * 60
        perf = min(perf, fac.bound - 3600)
        created = max(perf + rng.randint(1800, 3 * _DAY), eq_created)
        created = min(created, fac.bound)
        updated = rng.randint(created, fac.bound) if rng.random() < 0.2 else created
        fill = {
            "lvl": rng.choice(("minimal", "moderate", "severe")),
            "t": rng.randint(28, 72),
            "load": rng.randint(25, 95),
            "dt": round(rng.uniform(4.0, 45.0), 1),
            "ph": rng.choice("ABC"),
            "ckt": node.name,
            "prio": rng.randint(1, 4),
            "part": rng.choice(_PARTS),
            "ir": rng.choice((50, 100, 200, 500, 1000)),
            "n": rng.randint(1, 6),
        }
        rec: dict[str, Any] = {
            "id": ids.next("mr"),
            "equipmentId": eq_id,
            "type": typ,
            "performedAt": clock.ts(perf),
        }
        if rng.random() > 0.03:
            rec["technician"] = rng.choice(_TECHNICIANS)
        findings, actions = rng.choice(_NOTES[typ])
        if rng.random() > 0.04:
            rec["findings"] = findings.format(**fill)
        if rng.random() > 0.08:
            rec["actionsTaken"] = actions.format(**fill)
        if typ in ("preventive", "inspection", "infrared_scan") or rng.random() < 0.5:
            rec["nextServiceDue"] = _date_str(_add_months(perf_ord, interval))
        rec["createdAt"] = clock.ts(created)
        rec["updatedAt"] = clock.ts(updated)
        rec["deletedAt"] = None
        out.append(rec)
    return out


# --------------------------------------------------------------------------------------------
# Portfolio
# --------------------------------------------------------------------------------------------


def _check_args(facilities: int, equipment_per_facility: int, as_of: date) -> None:
    if not isinstance(facilities, int) or facilities < 0:
        raise ValueError("facilities must be a non-negative integer")
    if not isinstance(equipment_per_facility, int) or equipment_per_facility < 0:
        raise ValueError("equipment_per_facility must be a non-negative integer")
    if not isinstance(as_of, date) or isinstance(as_of, datetime):
        raise TypeError("as_of must be a datetime.date")
    if as_of.year < 1990:
        raise ValueError("as_of must be 1990 or later")


def generate_portfolio(
    *, facilities: int, equipment_per_facility: int, seed: int, as_of: date
) -> Iterator[Record]:
    """Yield ``(kind, record)`` pairs lazily, one record at a time.

    For each facility: the facility, then each of its equipment followed by that equipment's
    maintenance records. Feeders mostly come before what they feed, but a few come after
    (forward ``feedsFromId`` references). ``kind`` is ``"facility"``, ``"equipment"`` or
    ``"maintenanceRecord"``; records are in Condoit's camelCase shape (condoit-source.md §1).
    Only one facility's one-line-diagram plan is held in memory at a time.
    """
    _check_args(facilities, equipment_per_facility, as_of)
    return _generate(facilities, equipment_per_facility, seed, as_of)


def _generate(facilities: int, per: int, seed: int, as_of: date) -> Iterator[Record]:
    ids = _Ids(seed)
    bound = _sec_of_ord(as_of.toordinal())
    for fi in range(facilities):
        rng = random.Random(f"masterbus-demo/{seed}/{fi}")
        fac, fac_rec = _make_facility(rng, ids, as_of, bound)
        yield "facility", fac_rec
        clock = _Clock(rng, fac.std_off, fac.dst)
        nodes = _plan(rng, per)
        order = _emission_order(rng, nodes, force=fi == 0)
        # ids follow output order, so they carry no hint of the diagram
        for i, node in enumerate(nodes):
            node.idx = i
        id_of = {node.idx: ids.next("eq") for node in order}
        for node in order:
            rec, install, created = _equipment_record(rng, ids, node, fac, clock, as_of, id_of)
            yield "equipment", rec
            for mr in _maintenance(rng, ids, rec["id"], node, fac, clock, as_of, install, created):
                yield "maintenanceRecord", mr


_NDJSON_PREFIX = {k: b'{"kind":"' + k.encode() + b'","record":' for k in KINDS}
_BUFFER = 1 << 17


def write_export(
    out: str | os.PathLike | IO[bytes],
    *,
    facilities: int,
    equipment_per_facility: int,
    seed: int,
    as_of: date,
    fmt: str = "json",
    progress: Callable[[int], Any] | None = None,
) -> dict[str, int]:
    """Write a Condoit export file with bounded memory (independent of ``facilities``).

    ``out`` is a path (written to ``<path>.part`` and renamed when complete) or a binary file
    object. ``fmt="json"`` writes ``{"exportedAt", "facilities", "equipment",
    "maintenanceRecords"}``, one record per line: facilities go straight to the output while
    equipment and maintenance records are spooled to two temporary files (beside the output
    when ``out`` is a path) and appended at the end. ``fmt="ndjson"`` writes one
    ``{"kind": ..., "record": {...}}`` object per line in generation order. ``progress`` is
    called after each facility with the number of equipment records it added (e.g.
    ``tqdm.update``). ``exportedAt`` is midnight UTC at the start of ``as_of``.

    Returns the counts: ``facilities``, ``equipment``, ``maintenanceRecords`` and ``bytes``.
    """
    if fmt not in ("json", "ndjson"):
        raise ValueError("fmt must be 'json' or 'ndjson'")
    records = generate_portfolio(
        facilities=facilities, equipment_per_facility=equipment_per_facility, seed=seed, as_of=as_of
    )
    write = _write_ndjson if fmt == "ndjson" else _write_json
    if isinstance(out, (str, os.PathLike)):
        path = os.fspath(out)
        part = path + ".part"
        tmp_dir = os.path.dirname(os.path.abspath(path))
        try:
            with open(part, "wb", buffering=_BUFFER) as fh:
                counts = write(fh, records, as_of, tmp_dir, progress)
            os.replace(part, path)
        except BaseException:
            try:
                os.unlink(part)
            except OSError:
                pass
            raise
        return counts
    return write(out, records, as_of, None, progress)


def _write_ndjson(
    fh: IO[bytes],
    records: Iterator[Record],
    as_of: date,
    tmp_dir: str | None,
    progress: Callable[[int], Any] | None,
) -> dict[str, int]:
    dumps = orjson.dumps
    prefix = _NDJSON_PREFIX
    n = dict.fromkeys(KINDS, 0)
    written = 0
    reported = 0
    for kind, rec in records:
        if kind == "facility" and progress is not None and n["equipment"] > reported:
            progress(n["equipment"] - reported)
            reported = n["equipment"]
        line = prefix[kind] + dumps(rec) + b"}\n"
        fh.write(line)
        written += len(line)
        n[kind] += 1
    if progress is not None and n["equipment"] > reported:
        progress(n["equipment"] - reported)
    return {
        "facilities": n["facility"],
        "equipment": n["equipment"],
        "maintenanceRecords": n["maintenanceRecord"],
        "bytes": written,
    }


def _write_json(
    fh: IO[bytes],
    records: Iterator[Record],
    as_of: date,
    tmp_dir: str | None,
    progress: Callable[[int], Any] | None,
) -> dict[str, int]:
    dumps = orjson.dumps
    n = dict.fromkeys(KINDS, 0)
    written = 0
    reported = 0
    with (
        tempfile.TemporaryFile(dir=tmp_dir, prefix="demo-eq-", buffering=_BUFFER) as teq,
        tempfile.TemporaryFile(dir=tmp_dir, prefix="demo-mr-", buffering=_BUFFER) as tmr,
    ):
        head = b'{"exportedAt":' + dumps(exported_at(as_of)) + b',"facilities":['
        fh.write(head)
        written += len(head)
        sinks = {"equipment": teq, "maintenanceRecord": tmr}
        for kind, rec in records:
            data = (b",\n" if n[kind] else b"\n") + dumps(rec)
            if kind == "facility":
                if progress is not None and n["equipment"] > reported:
                    progress(n["equipment"] - reported)
                    reported = n["equipment"]
                fh.write(data)
                written += len(data)
            else:
                sinks[kind].write(data)
            n[kind] += 1
        if progress is not None and n["equipment"] > reported:
            progress(n["equipment"] - reported)
        for closing, opener, spool in (
            ("facility", b',"equipment":[', teq),
            ("equipment", b',"maintenanceRecords":[', tmr),
        ):
            data = (b"\n]" if n[closing] else b"]") + opener
            fh.write(data)
            written += len(data)
            spool.flush()
            spool.seek(0)
            while block := spool.read(_BUFFER):
                fh.write(block)
                written += len(block)
        data = (b"\n]" if n["maintenanceRecord"] else b"]") + b"}\n"
        fh.write(data)
        written += len(data)
    return {
        "facilities": n["facility"],
        "equipment": n["equipment"],
        "maintenanceRecords": n["maintenanceRecord"],
        "bytes": written,
    }
