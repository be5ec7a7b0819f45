"""One recompute batch's results: the engine's figures (``voltmetrics.figures``) as the
equipment assessment, facility assessment and back-filled snapshot rows to store, and their
write in one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import orjson
from django.db import transaction
from django.db.models import Q

from masterbus.bulk import bulk_upsert
from masterbus.changes import (
    EquipmentRiskChange,
    FacilityRiskChange,
    announce,
    figures_changed,
    risk_changed,
)

from . import engine
from .batch_load import BatchInput
from .choices import Source
from .engine import ModelParams
from .figures import ServedScore, facility_figures
from .models import EquipmentAssessment, FacilityAssessment, FacilitySnapshot
from .snapshots import SNAPSHOT_UPDATE_FIELDS


@dataclass
class BatchOutput:
    facility_pks: list[int]
    facility_ids: list[str]
    facility_names: list[str]
    vm_served: set[int]
    eq_rows: list[dict]
    fac_rows: list[dict]
    new_snapshots: list[dict]
    equipment: int  # equipment whose figures the facilities' figures hold
    reused: int  # of those, equipment whose stored parts were reused
    model_version: str = ""
    eq_facility: dict[int, int] | None = None  # equipment pk → facility pk, of eq_rows
    records: list | None = None  # the batch's FacilityRecords (who is who, for the events)


def compute_batch(inputs: BatchInput, model: ModelParams, as_of: date) -> BatchOutput:
    """The engine's figures for one batch of facilities, as rows to store (no database)."""
    batch, stored, vm_served, now = inputs.batch, inputs.stored, inputs.vm_served, inputs.now
    eq_rows: list[dict] = []
    fac_rows: list[dict] = []
    new_snapshots: list[dict] = []
    eq_facility: dict[int, int] = {}
    equipment = reused = 0
    for rec in batch:
        served = {
            ext: ServedScore(vm.risk_score, vm.rating, vm.factors, vm.algorithm_version)
            for ext, eq_pk in rec.equipment_pks.items()
            if (vm := vm_served.get(eq_pk)) is not None
        }
        figures = facility_figures(
            rec.facility,
            model,
            as_of,
            frozen=stored.get(rec.pk),
            served=served,
            reuse=inputs.reuse.get(rec.pk),
        )
        if len(figures.reused) != len(inputs.reuse.get(rec.pk, ())):
            # Equipment loaded without their records must never be assessed.
            raise RuntimeError(f"facility {rec.facility.id}: stored parts were not all reused")
        fr = figures.result
        for month in figures.backfilled:
            new_snapshots.append(
                {
                    "facility_id": rec.pk, "month": month.month, **month.snapshot,
                    "age_days_sum": month.age_days_sum, "age_known": month.age_known,
                    "algorithm_version": model.version, "backfilled": True, "computed_at": now,
                }
            )  # fmt: skip
        age_days, age_known, payload = figures.age_days_sum, figures.age_known, figures.payload()
        fac_rows.append(
            {
                "facility_id": rec.pk,
                "source": Source.LOCAL,
                "algorithm_version": model.version,
                "as_of": as_of,
                "equipment_count": fr.equipment_count,
                "risk_score": fr.risk_score,
                "risk_level": fr.risk_level or "",
                "critical_equipment_count": fr.critical_equipment_count,
                "high_risk_equipment_count": fr.high_risk_equipment_count,
                "overall_compliance": fr.compliance.overall,
                "compliance_status": fr.compliance.status or "",
                "age_days_sum": age_days,
                "age_known": age_known,
                "payload": payload,
                "computed_at": now,
            }
        )
        for ext, parts in figures.parts.items():
            if ext not in figures.reused:  # a reused equipment's row stays as stored
                eq_pk = rec.equipment_pks[ext]
                eq_rows.append(equipment_row(eq_pk, parts, now, served=eq_pk not in vm_served))
                eq_facility[eq_pk] = rec.pk
        equipment += len(figures.parts)
        reused += len(figures.reused)
    return BatchOutput(
        [r.pk for r in batch],
        [r.facility.id for r in batch],
        [r.facility.name for r in batch],
        set(vm_served),
        eq_rows,
        fac_rows,
        new_snapshots,
        equipment,
        reused,
        model.version,
        eq_facility,
        batch,
    )


def write_batch(out: BatchOutput, as_of: date) -> None:
    """Store one batch's figures in one transaction, announcing what changed in it (the
    consumers' events), then invalidate its cached payloads."""
    batch_pks, vm_served = out.facility_pks, out.vm_served
    with transaction.atomic():
        # What the batch replaces, for the subscribers of risk_changed (the consumers' events).
        told = risk_changed.in_transaction.has_listeners()
        before = _figures_before(out) if told else None
        # Equipment that no longer counts (deleted, or installed after as_of) drops out.
        EquipmentAssessment.objects.filter(equipment__facility_id__in=batch_pks).filter(
            Q(equipment__deleted_at__isnull=False) | Q(equipment__install_date__gt=as_of)
        ).delete()
        bulk_upsert(
            EquipmentAssessment,
            out.eq_rows,
            conflict=["equipment_id", "source"],
            update=EQ_UPDATE_FIELDS,
        )
        if vm_served or _has_voltmetrics_rows(batch_pks):
            vm_rows = EquipmentAssessment.objects.filter(
                equipment__facility_id__in=batch_pks, source=Source.VOLTMETRICS
            )
            vm_rows.exclude(equipment_id__in=list(vm_served)).update(served=False)
            vm_rows.filter(equipment_id__in=list(vm_served)).update(served=True)
        bulk_upsert(
            FacilityAssessment,
            out.fac_rows,
            conflict=["facility_id", "source"],
            update=FAC_UPDATE_FIELDS,
        )
        if out.new_snapshots:
            bulk_upsert(
                FacilitySnapshot,
                out.new_snapshots,
                conflict=["facility_id", "month"],
                update=SNAPSHOT_UPDATE_FIELDS,
            )
        if told:
            announce(risk_changed, **_changes(out, before, as_of))
    announce(figures_changed, facility_ids=tuple(out.facility_ids), portfolio=False)


EQ_UPDATE_FIELDS = [
    "algorithm_version", "as_of", "risk_score", "rating", "critical_threat", "condition",
    "primary_risk_factor", "material", "factors", "data_gaps", "nfpa_70b", "nfpa_70e",
    "maintenance_status", "next_due", "last_service", "served", "computed_at", "parts",
]  # fmt: skip
FAC_UPDATE_FIELDS = [
    "algorithm_version", "as_of", "equipment_count", "risk_score", "risk_level",
    "critical_equipment_count", "high_risk_equipment_count", "overall_compliance",
    "compliance_status", "age_days_sum", "age_known", "payload", "computed_at",
]  # fmt: skip


def equipment_row(eq_pk: int, parts: engine.EquipmentParts, now: datetime, *, served: bool):
    r = parts.result
    return {
        "equipment_id": eq_pk,
        "source": Source.LOCAL,
        "algorithm_version": r.algorithm_version,
        "as_of": r.as_of,
        "risk_score": r.risk_score,
        "rating": r.rating,
        "critical_threat": r.critical_threat,
        "condition": r.condition,
        "primary_risk_factor": r.primary_risk_factor or "",
        "material": r.material,
        "factors": [f.to_dict() for f in r.risk_factors],
        "data_gaps": list(r.data_gaps),
        "nfpa_70b": r.nfpa_70b.to_dict(),
        "nfpa_70e": r.nfpa_70e.to_dict(),
        "maintenance_status": r.nfpa_70b.status,
        "next_due": r.nfpa_70b.next_due,
        "last_service": r.last_service,
        "served": served,
        "computed_at": now,
        "parts": orjson.dumps(parts.to_dict()).decode(),
    }


def _figures_before(out: BatchOutput) -> tuple[dict, dict, dict]:
    """The stored figures the batch replaces: three queries, whatever the batch's size."""
    facilities = {
        pk: {"risk_score": score, "risk_level": level or None, "overall": overall,
             "status": status or None}
        for pk, score, level, overall, status in FacilityAssessment.objects.filter(
            facility_id__in=out.facility_pks, source=Source.LOCAL
        ).values_list(
            "facility_id", "risk_score", "risk_level", "overall_compliance", "compliance_status"
        )
    }  # fmt: skip
    local = {
        pk: (score, rating, status, served)
        for pk, score, rating, status, served in EquipmentAssessment.objects.filter(
            equipment__facility_id__in=out.facility_pks, source=Source.LOCAL
        ).values_list("equipment_id", "risk_score", "rating", "maintenance_status", "served")
    }
    vm = {}
    if out.vm_served or any(not row[3] for row in local.values()):
        vm = {
            pk: rest
            for pk, *rest in EquipmentAssessment.objects.filter(
                equipment__facility_id__in=out.facility_pks, source=Source.VOLTMETRICS
            ).values_list(
                "equipment_id", "risk_score", "rating", "maintenance_status", "served",
                "equipment__facility_id",
            )
        }  # fmt: skip
    return facilities, local, vm


def _changes(out: BatchOutput, before: tuple[dict, dict, dict], as_of: date) -> dict:
    """Facilities and equipment whose served figures the batch changed (none when unchanged).

    An equipment's served figure is its VoltMetrics result when that is served, else the
    built-in one; a change of VoltMetrics' own figures is told when it is stored."""
    fac_before, local, vm = before
    facilities = []
    for pk, ext, name, row in zip(
        out.facility_pks, out.facility_ids, out.facility_names, out.fac_rows, strict=True
    ):
        after = {
            "risk_score": row["risk_score"],
            "risk_level": row["risk_level"] or None,
            "overall": row["overall_compliance"],
            "status": row["compliance_status"] or None,
        }
        if fac_before.get(pk) != after:
            facilities.append(FacilityRiskChange(pk, ext, name, fac_before.get(pk), after))
    facility_of = out.eq_facility or {}
    moved: list[tuple] = []  # (pk, facility pk, old, new, next_due, source)

    def served_before(pk):
        old = local.get(pk)
        if old is not None and old[3]:
            return old
        old_vm = vm.get(pk)
        return old_vm if old_vm is not None and old_vm[3] else old

    def add(pk, fac_pk, old, new, next_due, source):
        if old is None or old[1] != new[1] or (old[2] != new[2] and new[2] == "overdue"):
            moved.append((pk, fac_pk, old, new, next_due, source))

    for row in out.eq_rows:
        pk = row["equipment_id"]
        if row["served"]:
            new = (row["risk_score"], row["rating"], row["maintenance_status"])
            add(pk, facility_of[pk], served_before(pk), new, row["next_due"], Source.LOCAL.value)
    for pk in out.vm_served:
        old = served_before(pk)
        if old is not None and old is not vm.get(pk) and pk in vm:  # built-in → VoltMetrics
            add(pk, vm[pk][4], old, vm[pk], None, Source.VOLTMETRICS.value)
    who = {}
    if moved and out.records:
        who = {
            rec.equipment_pks[e.id]: (e.id, rec.facility.id, e.name, e.type)
            for rec in out.records
            for e in rec.facility.equipment
            if e.id in rec.equipment_pks
        }
    equipment = [
        EquipmentRiskChange(
            pk,
            fac_pk,
            None if old is None else {"risk_score": old[0], "risk_rating": old[1],
                                      "maintenance_status": old[2]},
            {"risk_score": new[0], "risk_rating": new[1], "maintenance_status": new[2],
             "next_due": next_due},
            source,
            who.get(pk),
        )
        for pk, fac_pk, old, new, next_due, source in moved
    ]  # fmt: skip
    return {"facilities": facilities, "equipment": equipment, "as_of": as_of,
            "model_version": out.model_version}  # fmt: skip


def _has_voltmetrics_rows(facility_pks: list[int]) -> bool:
    return EquipmentAssessment.objects.filter(
        equipment__facility_id__in=facility_pks, source=Source.VOLTMETRICS
    ).exists()
