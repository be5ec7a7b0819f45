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

This package is pure: no Django, no ORM, no clock, no global random state. The same arguments
always give the same records and, through :func:`write_export`, byte-identical files. Every
timestamp is at or before ``exportedAt`` (midnight UTC at the start of ``as_of``) and every date
except the informational ``nextServiceDue`` is before ``as_of``.

Records are produced facility by facility, so memory grows with ``equipment_per_facility`` but
not with the number of facilities. Within a facility, equipment is emitted roughly upstream
first, but a few feeders are moved after the equipment they feed, so importers must resolve
``feedsFromId`` forward references.

Modules, lowest first: ``clock`` (dates, instants, timestamp formatting), ``ids``, ``places``
(cities, name pools), ``facility``, ``topology`` (the one-line diagram), ``manufacturers``,
``specs`` (ratings, enclosure, conductors), ``condition`` (survey observations), ``photos``,
``equipment`` (the equipment record), ``maintenance``, ``portfolio`` (the record stream) and
``writer`` (the export file).
"""

from __future__ import annotations

from .clock import exported_at
from .portfolio import KINDS, generate_portfolio
from .writer import write_export

__all__ = ["generate_portfolio", "write_export", "exported_at", "KINDS"]
