"""Who made a piece of demo equipment: manufacturers, product lines and serial numbers."""

from __future__ import annotations

import random

# fmt: off
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
# fmt: on


def pick_manufacturer(rng: random.Random, role: str) -> tuple[str | None, str | None, str | None]:
    """``(manufacturer, model, serial number)``; a few are unknown (``None``)."""
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
