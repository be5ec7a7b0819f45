"""Micro-benchmark of the pure engine: ``run(n)`` returns assess_equipment throughput
(equipment per second, one core).  ``python benchmarks/bench_engine_pure.py [n]``."""

from __future__ import annotations

import random
import sys
import time
from datetime import date, timedelta
from pathlib import Path

if __name__ == "__main__":  # allow `python benchmarks/bench_engine_pure.py` from anywhere
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from voltmetrics.engine import (  # noqa: E402
    ConductorIn,
    EquipmentIn,
    FacilityIn,
    MaintenanceIn,
    ObservationsIn,
    assess_equipment,
    default_model,
    facility_context,
)

TYPES = [
    "panel",
    "switchboard",
    "switchgear",
    "transformer",
    "breaker",
    "disconnect",
    "mcc",
    "busway",
    "raceway",
    "ats",
    "ups",
    "generator",
    "meter",
    "other",
]
LEVELS = [None, "none", "minimal", "moderate", "severe"]


def synthetic(n: int, seed: int = 1) -> tuple[FacilityIn, list[EquipmentIn]]:
    rnd = random.Random(seed)
    eqs = []
    for i in range(n):
        inst = (
            None if rnd.random() < 0.1 else date(1960, 1, 1) + timedelta(days=rnd.randrange(23000))
        )
        cond = tuple(
            ConductorIn(
                rnd.choice(["copper", "aluminum", None]),
                rnd.choice(["lug", "bolted", "crimped", None]),
                rnd.random() < 0.05,
            )
            for _ in range(rnd.randrange(4))
        )
        obs = (
            None
            if rnd.random() < 0.2
            else ObservationsIn(
                rnd.choice(LEVELS),
                rnd.choice(LEVELS),
                rnd.choice(LEVELS),
                rnd.random() < 0.1,
                rnd.random() < 0.1,
                rnd.choice([None, 40.0, 65.0]),
                None,
            )
        )
        mnt = tuple(
            MaintenanceIn(
                f"m{i}-{k}", "preventive", date(2015, 1, 1) + timedelta(days=rnd.randrange(4000))
            )
            for k in range(rnd.randrange(5))
        )
        eqs.append(
            EquipmentIn(
                f"eq{i}",
                f"Item {i}",
                rnd.choice(TYPES),
                inst,
                cond,
                obs,
                rnd.choice([None, 30.0, 75.0, 110.0]),
                rnd.random() < 0.7,
                rnd.random() < 0.1,
                mnt,
            )
        )
    fac = FacilityIn("fac1", "Bench", 1970, 62.0, 78.0, "moderate", date(2022, 5, 1), tuple(eqs))
    return fac, eqs


def run(n: int = 20000) -> float:
    fac, eqs = synthetic(n)
    model = default_model()
    as_of = date(2026, 1, 15)
    t0 = time.perf_counter()
    for e in eqs:
        assess_equipment(e, fac, model, as_of)
    dt = time.perf_counter() - t0
    return n / dt


def run_with_context(n: int = 20000) -> float:
    fac, eqs = synthetic(n)
    model = default_model()
    as_of = date(2026, 1, 15)
    ctx = facility_context(fac, as_of)
    t0 = time.perf_counter()
    for e in eqs:
        assess_equipment(e, fac, model, as_of, ctx)
    return n / (time.perf_counter() - t0)


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    print(f"assess_equipment: {run(n):,.0f} equipment/s")
    print(f"assess_equipment (shared facility context): {run_with_context(n):,.0f} equipment/s")
