"""Maintenance history of a piece of demo equipment, shaped by its facility's diligence."""

from __future__ import annotations

import random
from datetime import date
from typing import Any

from .clock import DAY, Clock, add_months, date_str, sec_of_ord
from .facility import Fac
from .ids import Ids
from .topology import Node

# fmt: off
_MR_TYPES = ("preventive", "inspection", "infrared_scan", "corrective", "emergency")
_MR_WEIGHTS = (45, 25, 15, 12, 3)
_TECHNICIANS = (
    "Mike Alvarez", "Sarah Chen", "J. Thompson", "Raj Patel", "Luis Hernandez",
    "Dana Kowalski", "Marcus Johnson", "Emily Nguyen", "Tom O'Brien", "Ana Ruiz",
    "Kevin Park", "Brittany Cole", "D. Washington", "Greg Sorensen", "Priya Raman",
    "Carlos Mendoza", "Jill Abrams", "Omar Haddad", "Steve Ricci", "Heather Lindqvist",
    "NETA Tech - P. Gomez", "R. Fischer (Shermco)", "A. Moreau", "Walt Brzezinski",
)
# fmt: on

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


def maintenance_records(
    rng: random.Random,
    ids: Ids,
    eq_id: str,
    node: Node,
    fac: Fac,
    clock: Clock,
    as_of: date,
    install: int | None,
    eq_created: int,
) -> list[dict]:
    """The equipment's maintenance records, oldest first; none for some, per diligence."""
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
        local_sec = sec_of_ord(perf_ord) + rng.randint(7 * 3600, 17 * 3600) // 900 * 900
        perf = local_sec - clock.offset_minutes(local_sec) * 60
        perf = min(perf, fac.bound - 3600)
        created = max(perf + rng.randint(1800, 3 * DAY), eq_created)
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
            rec["nextServiceDue"] = date_str(add_months(perf_ord, interval))
        rec["createdAt"] = clock.ts(created)
        rec["updatedAt"] = clock.ts(updated)
        rec["deletedAt"] = None
        out.append(rec)
    return out
