"""Equipment as the payloads read it: active equipment with its served assessment (for
filters and sorting), maintenance aggregates, both stored assessments and photos prefetched;
which stored assessment serves which figure; and the equipment item (a row of a facility's
equipment list and of a facility's top threats)."""

from __future__ import annotations

from datetime import datetime
from functools import cached_property

from django.db.models import Count, F, FilteredRelation, Max, Prefetch, Q

from equipment.choices import MaintenanceType, PhotoStatus
from equipment.models import Equipment, Photo
from voltmetrics.choices import Source
from voltmetrics.models import EquipmentAssessment

from ..photo_refs import photo_ref
from .formatting import eq_location, factors, iso_date, iso_ts, latest, level, temperature, utc_date

MATERIAL_LABEL = {"copper": "Copper", "aluminum": "Aluminum", "mixed": "Mixed"}
INTERVENTION_TYPES = (MaintenanceType.CORRECTIVE, MaintenanceType.EMERGENCY)


class Context:
    """Per-request lazies: the current model's importance is needed only when a VoltMetrics
    result is served (its critical-threat flag is derived here, as the facility aggregation
    derives it)."""

    @cached_property
    def profiles(self) -> dict:
        from voltmetrics.services import model_current

        return model_current().profiles


def assessments(e) -> tuple[EquipmentAssessment | None, EquipmentAssessment | None]:
    """``(served, local)``: the served row for scores (the local one when none is served),
    the local row for compliance and the descriptive outputs."""
    served = local = None
    for a in getattr(e, "all_assessments", ()):
        if a.served:
            served = a
        if a.source == Source.LOCAL:
            local = a
    return served or local, local


def critical_threat(e, served, ctx: Context) -> bool | None:
    if served is None:
        return None
    if served.source == Source.LOCAL:
        return served.critical_threat
    from voltmetrics.engine.equipment import is_critical_threat

    profile = ctx.profiles.get(e.type) or ctx.profiles.get("other")
    importance = profile.importance if profile is not None else 1.0
    return is_critical_threat(served.rating, served.risk_score, importance, e.serves_critical_load)


def active_equipment(*, photos: str = "newest"):
    """Active equipment with the served assessment (for filters and sorting), the maintenance
    aggregates, both stored assessments and photos prefetched."""
    active_mr = Q(maintenance__deleted_at__isnull=True)
    photo_qs = Photo.objects.order_by(F("taken_at").desc(nulls_last=True), "external_id")
    if photos == "newest":
        photo_qs = photo_qs.filter(status=PhotoStatus.FETCHED)
    return (
        Equipment.objects.filter(deleted_at__isnull=True)
        .annotate(sa=FilteredRelation("assessments", condition=Q(assessments__served=True)))
        .annotate(
            s_score=F("sa__risk_score"),
            s_rating=F("sa__rating"),
            last_service_at=Max("maintenance__performed_at", filter=active_mr),
            intervention_count=Count(
                "maintenance",
                filter=active_mr & Q(maintenance__type__in=INTERVENTION_TYPES),
            ),
        )
        .prefetch_related(
            Prefetch("assessments", to_attr="all_assessments"),
            Prefetch("photos", queryset=photo_qs, to_attr="photo_list"),
        )
    )


def equipment_last_updated(e, served) -> datetime:
    return latest(e.condoit_updated_at, served.computed_at if served else None)


def equipment_item(e, ctx: Context) -> dict:
    served, local = assessments(e)
    desc = local or served
    obs = e.observations or {}
    photo = next(iter(e.photo_list), None) if hasattr(e, "photo_list") else None
    if photo is not None and photo.status != PhotoStatus.FETCHED:
        photo = None
    clearance = obs.get("clearanceIssue")
    return {
        "id": e.external_id,
        "name": e.name,
        "type": e.type,
        "location": eq_location(e),
        "install_date": iso_date(e.install_date),
        "condition": (desc.condition or None) if desc else None,
        "risk_rating": served.rating if served else None,
        "risk_score": served.risk_score if served else None,
        "risk_factors": factors(served.factors) if served else [],
        "temperature": temperature(obs),
        "rust_level": level(obs.get("rust")),
        "corrosion_level": level(obs.get("corrosion")),
        "last_service": utc_date(e.last_service_at),
        "photo_url": photo_ref(photo.external_id) if photo else None,
        "intervention_count": e.intervention_count,
        "conductor_material": MATERIAL_LABEL.get(desc.material) if desc else None,
        "clearance_issue": clearance if isinstance(clearance, bool) else None,
        "data_gaps": list(desc.data_gaps) if desc else [],
        "last_updated": iso_ts(equipment_last_updated(e, served)),
    }


def equipment_items(rows) -> list[dict]:
    """The items of ``rows`` (equipment from ``active_equipment()``), in their order."""
    ctx = Context()
    return [equipment_item(e, ctx) for e in rows]
