"""The ratings, enclosure and conductors of a piece of demo equipment."""

from __future__ import annotations

import random
from typing import Any

from .facility import Fac
from .ids import Ids
from .topology import Node

# fmt: off
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
# fmt: on


def _size_for(amps: float) -> str:
    for limit, size in _SIZES:
        if amps <= limit:
            return size
    sets = min(8, int(amps // 380) + 1)
    return f"({sets}) 500 kcmil"


def make_conductors(
    rng: random.Random, ids: Ids, node: Node, install_year: int | None, fac: Fac
) -> list:
    """The ``conductors`` list: aluminium more likely on old and distressed sites."""
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


def make_specs(rng: random.Random, node: Node, fac: Fac) -> dict:
    """The ``specs`` object: the node's ratings plus role-specific and unknown keys."""
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
