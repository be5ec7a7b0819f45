"""A facility's equipment list and an equipment's detail (threatmap-api.md "Lists",
"Equipment detail")."""

from __future__ import annotations

from datetime import datetime

from django.db.models import F, Prefetch
from django.http import Http404

from equipment.choices import PhotoStatus
from equipment.models import Equipment, MaintenanceRecord

from ..params import EquipmentListParams
from ..photo_refs import photo_ref
from .equipment_rows import (
    Context,
    active_equipment,
    assessments,
    critical_threat,
    equipment_items,
    equipment_last_updated,
)
from .facility_rows import get_facility
from .formatting import (
    coordinates,
    factors,
    iso_date,
    iso_ts,
    latest,
    level,
    max_ts,
    snake_case,
    temperature,
    utc_date,
)
from .paging import LEVEL_LABEL, codepoint, page, search, severity

SEARCH_FIELDS = ("name", "building", "room", "manufacturer")


def _sort_key(sort: str):
    return {
        "name": codepoint("name"),
        "type": F("type"),
        "risk_rating": severity("sa__rating"),
        "risk_score": F("s_score"),
        "install_date": F("install_date"),
        "last_service": F("last_service_at"),
    }[sort]


def facility_equipment_list(
    *, facility_id: str, params: EquipmentListParams
) -> tuple[dict, datetime | None]:
    f = get_facility(facility_id)
    qs = search(active_equipment().filter(facility=f), params.search, SEARCH_FIELDS)
    if params.type:
        qs = qs.filter(type=params.type)
    if params.risk_level:
        qs = qs.filter(sa__rating=LEVEL_LABEL[params.risk_level])
    body = page(qs, params, rows_key="equipment", sort_key=_sort_key, items=equipment_items)
    return body, latest(f.last_updated, max_ts(i["last_updated"] for i in body["equipment"]))


def equipment_facility_id(equipment_id: str) -> str:
    """The facility (external id) of active equipment under an active facility; else 404."""
    ext = (
        Equipment.objects.filter(
            external_id=equipment_id, deleted_at__isnull=True, facility__deleted_at__isnull=True
        )
        .values_list("facility__external_id", flat=True)
        .first()
    )
    if ext is None:
        raise Http404
    return ext


def _notes(r: MaintenanceRecord) -> str | None:
    """Service-history notes: the findings, then the actions taken, one per line."""
    parts = []
    if r.findings.strip():
        parts.append(f"Findings: {r.findings.strip()}")
    if r.actions_taken.strip():
        parts.append(f"Actions taken: {r.actions_taken.strip()}")
    return "\n".join(parts) or None


def equipment_detail(*, equipment_id: str) -> tuple[dict, datetime | None]:
    active_links = Equipment.objects.filter(deleted_at__isnull=True).order_by(
        codepoint("name"), codepoint("external_id")
    )
    e = (
        active_equipment(photos="all")
        .select_related("facility", "feeds_from")
        .prefetch_related(
            Prefetch(
                "feeds",
                queryset=active_links.only("external_id", "name", "feeds_from"),
                to_attr="feed_list",
            ),
            Prefetch(
                "maintenance",
                queryset=MaintenanceRecord.objects.filter(deleted_at__isnull=True).order_by(
                    "-performed_at", "external_id"
                ),
                to_attr="history",
            ),
        )
        .filter(external_id=equipment_id, facility__deleted_at__isnull=True)
        .first()
    )
    if e is None:
        raise Http404
    ctx = Context()
    served, local = assessments(e)
    desc = local or served
    obs = e.observations or {}
    fac = e.facility
    up = e.feeds_from if e.feeds_from and e.feeds_from.deleted_at is None else None
    b70 = (local.nfpa_70b if local else None) or {}
    e70 = (local.nfpa_70e if local else None) or {}
    risk = None
    if served is not None:
        risk = {
            "risk_rating": served.rating,
            "risk_score": served.risk_score,
            "condition": (desc.condition or None) if desc else None,
            "critical_threat": critical_threat(e, served, ctx),
            "primary_risk_factor": served.primary_risk_factor or None,
            "risk_factors": factors(served.factors),
            "data_gaps": list(desc.data_gaps) if desc else [],
            "temperature": temperature(obs),
            "rust_level": level(obs.get("rust")),
            "corrosion_level": level(obs.get("corrosion")),
            "source": served.source,
            "algorithm_version": served.algorithm_version,
            "assessed_at": iso_ts(served.computed_at),
        }
    body = {
        "id": e.external_id,
        "name": e.name,
        "type": e.type,
        "manufacturer": e.manufacturer or None,
        "model": e.model or None,
        "serial_number": e.serial_number or None,
        "install_date": iso_date(e.install_date),
        "location": {
            "facility_id": fac.external_id,
            "facility_name": fac.name,
            "building": e.building or None,
            "room": e.room or None,
            "coordinates": coordinates(e.latitude, e.longitude),
        },
        "specifications": {snake_case(k): v for k, v in (e.specs or {}).items()},
        "fed_from": {"id": up.external_id, "name": up.name} if up else None,
        "feeds": [{"id": d.external_id, "name": d.name} for d in e.feed_list],
        "photos": [
            {
                "id": ph.external_id,
                "url": photo_ref(ph.external_id, "image")
                if ph.status == PhotoStatus.FETCHED
                else None,
                "thumbnail_url": photo_ref(ph.external_id)
                if ph.status == PhotoStatus.FETCHED
                else None,
                "caption": ph.caption or None,
                "taken_at": iso_ts(ph.taken_at),
            }
            for ph in e.photo_list
        ],
        "risk_assessment": risk,
        "service_history": [
            {
                "id": r.external_id,
                "type": r.type,
                "date": utc_date(r.performed_at),
                "technician": r.technician or None,
                "notes": _notes(r),
            }
            for r in e.history
        ],
        "compliance": {
            "nfpa_70b": {
                "compliant": b70.get("compliant"),
                "compliance_percentage": b70.get("compliance_percentage"),
                "next_inspection_due": b70.get("next_due"),
                "maintenance_status": b70.get("status"),
                "last_inspection": iso_date(local.last_service) if local else None,
            },
            "nfpa_70e": {
                "compliant": e70.get("compliant"),
                "compliance_percentage": e70.get("compliance_percentage"),
                "arc_flash_label_present": e.label_present,
                "ppe_requirements": (
                    None if e.ppe_category is None else f"Category {e.ppe_category}"
                ),
                "incident_energy": e.incident_energy_cal_cm2,
                "last_assessment": iso_date(fac.arc_flash_study_date),
            },
        },
        "last_updated": iso_ts(equipment_last_updated(e, served)),
        "created_at": iso_ts(e.condoit_created_at),
    }
    return body, equipment_last_updated(e, served)
