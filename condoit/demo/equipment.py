"""The demo equipment record: install date, nameplate, specs, condition, load, arc flash label.

Assembles one record per node of a facility's one-line diagram from the pieces in the sibling
modules, in a fixed order of random draws so that the same seed gives the same record.
"""

from __future__ import annotations

import random
from datetime import date
from typing import Any

from .clock import DAY, Clock, date_str, sec_of_ord
from .condition import make_observations
from .facility import Fac
from .ids import Ids
from .manufacturers import pick_manufacturer
from .photos import make_photos
from .specs import make_conductors, make_specs
from .topology import Node


def _install_ord(rng: random.Random, f: Fac, role: str, last_ord: int) -> int:
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


def equipment_record(
    rng: random.Random,
    ids: Ids,
    node: Node,
    fac: Fac,
    clock: Clock,
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
        created_lo = max(created_lo, sec_of_ord(install) + rng.randint(0, 20) * DAY)
    created_lo = min(created_lo, bound - 3600)
    created = rng.randint(created_lo, min(bound, created_lo + 180 * DAY))
    updated = rng.randint(created, bound) if rng.random() < 0.8 else created

    rec: dict[str, Any] = {
        "id": id_of[node.idx],
        "facilityId": fac.id,
        "equipmentClass": node.cls,
        "name": node.name,
    }
    mfr, model, serial = pick_manufacturer(rng, role)
    if mfr is not None:
        rec["manufacturer"] = mfr
        rec["model"] = model
        if serial is not None:
            rec["serialNumber"] = serial
    if install is not None:
        rec["installDate"] = date_str(install)
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
    rec["specs"] = make_specs(rng, node, fac)
    rec["conductors"] = make_conductors(rng, ids, node, install_year, fac)
    obs = make_observations(rng, age_years, fac)
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
            "labelDate": date_str(label),
        }
    critical_p = fac.critical_share * (2.5 if role in ("ats", "ups", "generator") else 1.0)
    rec["servesCriticalLoad"] = rng.random() < critical_p

    photos = make_photos(rng, ids, clock, fac.id, rec["id"], install, created, bound)
    if photos:
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
