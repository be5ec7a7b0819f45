"""The demo portfolio as a lazy stream of ``(kind, record)`` pairs, facility by facility."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

from .clock import Clock, sec_of_ord
from .equipment import equipment_record
from .facility import make_facility
from .ids import Ids
from .maintenance import maintenance_records
from .topology import emission_order, plan_diagram

KINDS = ("facility", "equipment", "maintenanceRecord")

Record = tuple[str, dict[str, Any]]


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
    ids = Ids(seed)
    bound = sec_of_ord(as_of.toordinal())
    for fi in range(facilities):
        rng = random.Random(f"masterbus-demo/{seed}/{fi}")
        fac, fac_rec = make_facility(rng, ids, as_of, bound)
        yield "facility", fac_rec
        clock = Clock(rng, fac.std_off, fac.dst)
        nodes = plan_diagram(rng, per)
        order = emission_order(rng, nodes, force=fi == 0)
        # ids follow output order, so they carry no hint of the diagram
        for i, node in enumerate(nodes):
            node.idx = i
        id_of = {node.idx: ids.next("eq") for node in order}
        for node in order:
            rec, install, created = equipment_record(rng, ids, node, fac, clock, as_of, id_of)
            yield "equipment", rec
            for mr in maintenance_records(
                rng, ids, rec["id"], node, fac, clock, as_of, install, created
            ):
                yield "maintenanceRecord", mr
