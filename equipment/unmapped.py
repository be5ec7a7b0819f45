"""What waits for a mapping: Condoit equipment classes typed as *other* and conductor material
codes left unknown for want of a mapping (condoit-source.md §3). One query each, on a partial
index (``equipment_unmapped_class``, ``conductor_unmapped_code``): the rows waiting, never a
scan of every equipment. Read by the admin's "Unmapped Condoit classes" page and the
dashboard."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q

from .models import Conductor, Equipment, normalize_key


@dataclass
class Unmapped:
    """One mapping key (as the mapping tables compare it) and the rows waiting for it."""

    key: str
    spelling: str  # the most common spelling seen
    live: int  # rows of records not deleted in Condoit
    total: int

    @property
    def deleted(self) -> int:
        return self.total - self.live


def _grouped(rows) -> list[Unmapped]:
    """``(spelling, live, total)`` rows grouped by mapping key, most waiting first."""
    grouped: dict[str, Unmapped] = {}
    best: dict[str, int] = {}
    for spelling, live, total in rows:
        key = normalize_key(spelling)
        entry = grouped.setdefault(key, Unmapped(key, spelling, 0, 0))
        entry.live += live
        entry.total += total
        if total > best.get(key, -1):  # show the most common spelling
            entry.spelling, best[key] = spelling, total
    return sorted(grouped.values(), key=lambda e: (-e.live, -e.total, e.key))


def unmapped_classes() -> list[Unmapped]:
    """Condoit classes with equipment typed as *other* for want of a mapping (live: equipment
    not deleted in Condoit)."""
    return _grouped(
        Equipment.objects.filter(class_mapped=False)
        .values_list("equipment_class")
        .annotate(live=Count("pk", filter=Q(deleted_at__isnull=True)), total=Count("pk"))
        .order_by()
    )


def unmapped_material_codes() -> list[Unmapped]:
    """Conductor material codes no mapping knows (the conductor's material left empty; live:
    conductors of equipment not deleted in Condoit). A conductor without a code is not
    waiting for a mapping."""
    return _grouped(
        Conductor.objects.filter(material="")
        .exclude(material_code="")
        .values_list("material_code")
        .annotate(
            live=Count("pk", filter=Q(equipment__deleted_at__isnull=True)), total=Count("pk")
        )
        .order_by()
    )
