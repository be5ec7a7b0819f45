"""Storing VoltMetrics results as assessments (voltmetrics.md "Jobs").

One row per (record, source ``voltmetrics``), updated in place, with VoltMetrics' own
``algorithm_version``; a new row is not served until ``risk_recompute`` decides (a VoltMetrics
result newer than the record's last change and < 24 h old wins). ``computed_at`` is
VoltMetrics' ``calculation_timestamp`` (never later than now), so "newer than the last change"
compares when VoltMetrics calculated with when the record changed, and a result older than the
stored one (jobs completing out of order) is not stored. Results of records deleted since the
push are dropped. Facility results are stored for comparison only: facility figures are
always aggregated locally. Runs on the caller's database connection, in its transaction.
"""

from __future__ import annotations

from equipment.models import Equipment
from facilities.models import Facility
from masterbus.changes import EquipmentRiskChange, announce, risk_changed
from voltmetrics.choices import Source
from voltmetrics.models import EquipmentAssessment, FacilityAssessment

from .client import EquipmentResultAnswer, FacilityResultAnswer


def _computed_at(answer, now):
    return min(answer.calculation_timestamp, now)


def _primary_factor(factors: list[dict]) -> str:
    if not factors:
        return ""
    top = min(factors, key=lambda f: (-(f["weight"] * f["score"]), f["factor"]))
    return top["factor"][:32]


def store_equipment(results: list[EquipmentResultAnswer], now) -> set[int]:
    if not results:
        return set()
    rows = {
        ext: (pk, fac_pk)
        for ext, pk, fac_pk in Equipment.objects.filter(
            external_id__in=[r.equipment_id for r in results], deleted_at__isnull=True
        ).values_list("external_id", "pk", "facility_id")
    }
    stored = {
        pk: (computed_at, served, (score, rating, status))
        for pk, computed_at, served, score, rating, status in EquipmentAssessment.objects.filter(
            equipment_id__in=[pk for pk, _ in rows.values()], source=Source.VOLTMETRICS
        ).values_list(
            "equipment_id", "computed_at", "served", "risk_score", "rating", "maintenance_status"
        )
    }
    facility_pks: set[int] = set()
    changed: list[EquipmentRiskChange] = []
    for r in results:
        if r.equipment_id not in rows:
            continue  # deleted (or never mirrored) since the push
        pk, fac_pk = rows[r.equipment_id]
        computed_at = _computed_at(r, now)
        if pk in stored and stored[pk][0] > computed_at:
            continue  # a newer result is stored already (jobs completing out of order)
        nfpa_70b = r.compliance.get("nfpa_70b") or {}
        nfpa_70e = r.compliance.get("nfpa_70e")
        status = nfpa_70b.get("status")
        values = {
            "algorithm_version": r.algorithm_version,
            "as_of": r.calculation_timestamp.date(),
            "risk_score": r.risk_score,
            "rating": r.risk_rating,
            "primary_risk_factor": _primary_factor(r.risk_factors),
            "factors": r.risk_factors,
            "nfpa_70b": nfpa_70b,
            "nfpa_70e": nfpa_70e if isinstance(nfpa_70e, dict) else {},
            "maintenance_status": status[:16] if isinstance(status, str) else "",
            "computed_at": computed_at,
        }
        EquipmentAssessment.objects.update_or_create(
            equipment_id=pk,
            source=Source.VOLTMETRICS,
            defaults=values,
            create_defaults={**values, "served": False},  # risk_recompute decides
        )
        facility_pks.add(fac_pk)
        if pk in stored and stored[pk][1]:  # the served figure changed in place
            old = stored[pk][2]
            new = (r.risk_score, r.risk_rating, values["maintenance_status"])
            if old[1] != new[1] or (old[2] != new[2] and new[2] == "overdue"):
                keys = ("risk_score", "risk_rating", "maintenance_status")
                changed.append(
                    EquipmentRiskChange(
                        pk, fac_pk, dict(zip(keys, old, strict=True)),
                        {**dict(zip(keys, new, strict=True)), "next_due": None},
                        Source.VOLTMETRICS.value,
                    )
                )  # fmt: skip
    if changed:
        announce(risk_changed, facilities=[], equipment=changed, as_of=now.date(), model_version="")
    return facility_pks


def store_facilities(results: list[FacilityResultAnswer], now) -> set[int]:
    """Stored for comparison only: facility figures are always aggregated locally."""
    if not results:
        return set()
    pks = dict(
        Facility.objects.filter(
            external_id__in=[r.facility_id for r in results], deleted_at__isnull=True
        ).values_list("external_id", "pk")
    )
    out: set[int] = set()
    for r in results:
        pk = pks.get(r.facility_id)
        if pk is None:
            continue
        summary = r.raw.get("risk_summary") or {}
        count = summary.get("total_equipment")
        FacilityAssessment.objects.update_or_create(
            facility_id=pk,
            source=Source.VOLTMETRICS,
            defaults={
                "algorithm_version": r.algorithm_version,
                "as_of": r.calculation_timestamp.date(),
                "risk_score": r.risk_score,
                "risk_level": r.risk_level,
                "overall_compliance": r.overall_compliance,
                "equipment_count": count if isinstance(count, int) and count >= 0 else 0,
                "payload": r.raw,
                "computed_at": _computed_at(r, now),
            },
        )
        out.add(pk)
    return out
