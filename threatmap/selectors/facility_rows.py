"""Facilities as the payloads read them: active facilities with their local assessment's
figures and last change annotated, the lookup by id, and the facility item (the facility
list's row, and the base of the facility detail)."""

from __future__ import annotations

from django.db.models import F, FilteredRelation, Max, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce, Greatest
from django.http import Http404

from equipment.models import Equipment
from facilities.models import Facility
from voltmetrics.choices import Source

from .formatting import coordinates, iso_ts, utc_date

EMPTY_DISTRIBUTION = {"low": 0, "medium": 0, "high": 0, "critical": 0}


def active_facilities():
    eq_updated = (
        Equipment.objects.filter(facility=OuterRef("pk"))
        .order_by()
        .values("facility")
        .annotate(m=Max("condoit_updated_at"))
        .values("m")
    )
    return (
        Facility.objects.filter(deleted_at__isnull=True)
        .annotate(fa=FilteredRelation("assessments", condition=Q(assessments__source=Source.LOCAL)))
        .annotate(
            a_risk_score=F("fa__risk_score"),
            a_risk_level=F("fa__risk_level"),
            a_compliance_status=F("fa__compliance_status"),
            a_equipment_count=F("fa__equipment_count"),
            a_critical=F("fa__critical_equipment_count"),
            a_high=F("fa__high_risk_equipment_count"),
            a_computed_at=F("fa__computed_at"),
            a_as_of=F("fa__as_of"),
            last_updated=Greatest(
                F("condoit_updated_at"),
                Coalesce(F("fa__computed_at"), F("condoit_updated_at")),
                Coalesce(Subquery(eq_updated), F("condoit_updated_at")),
            ),
        )
    )


def get_facility(facility_id: str, *, payload: bool = False):
    """The active facility ``facility_id`` (with its assessment's payload as ``a_payload``
    when asked); else 404."""
    qs = active_facilities()
    if payload:
        qs = qs.annotate(a_payload=F("fa__payload"))
    f = qs.filter(external_id=facility_id).first()
    if f is None:
        raise Http404
    return f


def facility_exists(facility_id: str) -> bool:
    return Facility.objects.filter(external_id=facility_id, deleted_at__isnull=True).exists()


def facility_item(f) -> dict:
    return {
        "id": f.external_id,
        "name": f.name,
        "location": f.location,
        "coordinates": coordinates(f.latitude, f.longitude),
        "risk_score": f.a_risk_score,
        "risk_level": f.a_risk_level or None,
        "compliance_status": f.a_compliance_status or None,
        "last_inspection": utc_date(f.last_inspection_at),
        "contractor": f.contractor or None,
        "equipment_count": f.a_equipment_count or 0,
        "critical_equipment_count": f.a_critical or 0,
        "high_risk_equipment_count": f.a_high or 0,
        "risk_distribution": {**EMPTY_DISTRIBUTION, **(getattr(f, "a_distribution", None) or {})},
        "last_updated": iso_ts(f.last_updated),
    }
