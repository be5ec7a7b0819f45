"""One recompute batch's input: the facilities' records (``voltmetrics.inputs``) and the stored
figures read back with them — the VoltMetrics results that win (voltmetrics.md), the monthly
task's snapshots (risk-model.md §8) and, in a recompute after changes, the stored
per-equipment parts of unchanged equipment that can be reused."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import orjson
from django.db.models import Max
from django.utils import timezone

from equipment.models import Equipment, MaintenanceRecord
from masterbus.bulk import where_in

from . import engine
from .choices import Source
from .figures import backfill_months
from .inputs import FacilityRecords, fetch_rows, load_batch
from .models import EquipmentAssessment, FacilitySnapshot

# A VoltMetrics result is served only while younger than this (voltmetrics.md).
VOLTMETRICS_FRESHNESS = timedelta(hours=24)


@dataclass(frozen=True)
class ChangedRecords:
    """What changed since the stored figures were computed: whole facilities (pks; their
    own fields feed every equipment's figures) and single equipment (external ids; their
    records, conductors or maintenance)."""

    facilities: frozenset[int] = frozenset()
    equipment: frozenset[str] = frozenset()


@dataclass
class BatchInput:
    batch: list[FacilityRecords]
    stored: dict[int, dict]  # the monthly task's snapshots by facility pk and month
    vm_served: dict[int, EquipmentAssessment]  # VoltMetrics results that win, by equipment pk
    now: datetime
    # Stored parts to reuse, by facility pk then equipment external id
    reuse: dict[int, dict[str, engine.EquipmentParts]] = field(default_factory=dict)


def batch_load(
    batch_pks: list[int],
    *,
    as_of: date,
    version: str,
    months: list[date],
    history_from: date,
    changed: ChangedRecords | None,
) -> BatchInput:
    """Everything the engine needs for one batch of facilities (``months``: the history's
    ended months; ``history_from``: the earliest date any figure is computed at).

    With ``changed``, equipment whose stored parts are reused are loaded without records.
    """
    now = timezone.now()
    frozen = stored_snapshots(batch_pks, months)
    vm_served = voltmetrics_served(batch_pks, now)
    reuse: dict[int, dict[str, engine.EquipmentParts]] = {}

    def records_needed(bare: list[FacilityRecords]) -> set[int]:
        # Equipment with reusable parts need no records: their figures are in the parts.
        reuse.update(stored_parts(bare, as_of, version, changed, vm_served, frozen))
        return {
            eq_pk
            for rec in bare
            for ext, eq_pk in rec.equipment_pks.items()
            if ext not in reuse.get(rec.pk, ())
        }

    batch = load_batch(
        batch_pks, history_from, records_needed=None if changed is None else records_needed
    )
    return BatchInput(batch, frozen, vm_served, now, reuse)


def voltmetrics_served(facility_pks: list[int], now: datetime) -> dict[int, EquipmentAssessment]:
    """VoltMetrics results that win: newer than the record's last change, < 24 h old."""
    fresh = {
        a.equipment_id: a
        for a in EquipmentAssessment.objects.filter(
            equipment__facility_id__in=facility_pks,
            equipment__deleted_at__isnull=True,
            source=Source.VOLTMETRICS,
            computed_at__gt=now - VOLTMETRICS_FRESHNESS,
        )
    }
    if not fresh:
        return {}
    changed = dict(Equipment.objects.filter(pk__in=list(fresh)).values_list("pk", "changed_at"))
    for eq_pk, last in (
        MaintenanceRecord.objects.filter(equipment_id__in=list(fresh))
        .values("equipment_id")
        .annotate(last=Max("changed_at"))
        .values_list("equipment_id", "last")
    ):
        if last and (changed.get(eq_pk) is None or last > changed[eq_pk]):
            changed[eq_pk] = last
    return {
        pk: a for pk, a in fresh.items() if changed.get(pk) is None or a.computed_at > changed[pk]
    }


def stored_snapshots(facility_pks: list[int], months: list[date]) -> dict[int, dict]:
    """The monthly task's snapshots (not back-filled ones) by facility and month."""
    out: dict[int, dict] = {}
    for s in FacilitySnapshot.objects.filter(
        facility_id__in=facility_pks, month__in=months, backfilled=False
    ):
        out.setdefault(s.facility_id, {})[s.month] = {
            "risk_score": s.risk_score,
            "equipment_count": s.equipment_count,
            "equipment_age": s.equipment_age,
        }
    return out


def stored_parts(
    batch: list[FacilityRecords],
    as_of: date,
    version: str,
    changed: ChangedRecords,
    vm_served: Mapping[int, object],
    frozen: Mapping[int, dict],
) -> dict[int, dict[str, engine.EquipmentParts]]:
    """Stored parts of the batch's unchanged equipment, computed at ``as_of`` by model
    ``version`` (published versions are immutable), that hold every back-filled month the
    facility's history needs now (``frozen``: the stored monthly snapshots by facility).

    Not reused, so computed again: equipment whose served result is VoltMetrics' or whose
    row's served flag is no longer right (their rows are rewritten, and a reused result
    lacks the factor descriptions a row holds).
    """
    wanted = {
        eq_pk: (rec.pk, eq)
        for rec in batch
        if rec.pk not in changed.facilities
        for eq in rec.facility.equipment
        if eq.id not in changed.equipment
        and engine.is_counted(eq, as_of)  # as facility_figures decides, so all are used
        and (eq_pk := rec.equipment_pks.get(eq.id))
        and eq_pk not in vm_served
    }
    if not wanted:
        return {}
    rows = fetch_rows(
        where_in(EquipmentAssessment.objects, "equipment_id", list(wanted))
        .filter(
            source=Source.LOCAL,
            as_of=as_of,
            algorithm_version=version,
            served=True,
        )
        .exclude(parts="")
        .values_list("equipment_id", "parts")
    )
    out: dict[int, dict[str, engine.EquipmentParts]] = {}
    months = {rec.pk: backfill_months(as_of, frozen.get(rec.pk)) for rec in batch}
    for eq_pk, parts in rows:
        hit = wanted.get(eq_pk)
        parts = orjson.loads(parts)
        if hit is not None and parts.get("format") == engine.PARTS_FORMAT:
            fac_pk, eq = hit
            p = engine.EquipmentParts.from_dict(parts, eq, as_of, version)
            if p.covers(eq, months[fac_pk]):
                out.setdefault(fac_pk, {})[eq.id] = p
    return out
