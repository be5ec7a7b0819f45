"""Read payloads of the ThreatMap API (threatmap-api.md), built from stored assessments.

No engine runs here: every figure comes from the rows ``voltmetrics.services`` stored
(EquipmentAssessment — the *served* row for scores, the *local* row for compliance and the
descriptive outputs —, FacilityAssessment(local) and PortfolioAssessment(local)). Every
selector runs a fixed number of queries, whatever the page size or a facility's equipment
count (pinned in tests/threatmap/test_queries.py).

Each selector returns ``(payload, last_modified)``; payloads hold only JSON-ready values
(dates ``YYYY-MM-DD``, timestamps ISO 8601 UTC with ``Z``). Photo URLs are placeholders that
``threatmap.photo_refs.finalize`` signs per response.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from functools import cached_property

from django.db import connection
from django.db.models import (
    Case,
    Count,
    F,
    FilteredRelation,
    IntegerField,
    Max,
    OuterRef,
    Prefetch,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.fields.json import KeyTransform
from django.db.models.functions import Coalesce, Collate, Greatest
from django.http import Http404

from equipment.choices import MaintenanceType, PhotoStatus
from equipment.models import Equipment, MaintenanceRecord, Photo
from facilities.models import Facility
from voltmetrics.choices import Rating, Source
from voltmetrics.engine.dates import add_months
from voltmetrics.models import EquipmentAssessment, PortfolioAssessment

from .params import EquipmentListParams, FacilityListParams
from .photo_refs import photo_ref

NEXT_INSPECTIONS_MAX = 20
SEVERITY = {Rating.LOW: 1, Rating.MEDIUM: 2, Rating.HIGH: 3, Rating.CRITICAL: 4}
LEVEL_LABEL = {"low": "Low", "medium": "Medium", "high": "High", "critical": "Critical"}
COMPLIANCE_LABEL = {
    "compliant": "Compliant",
    "warning": "Warning",
    "out_of_compliance": "Out of Compliance",
}
MATERIAL_LABEL = {"copper": "Copper", "aluminum": "Aluminum", "mixed": "Mixed"}
INTERVENTION_TYPES = (MaintenanceType.CORRECTIVE, MaintenanceType.EMERGENCY)
EMPTY_DISTRIBUTION = {"low": 0, "medium": 0, "high": 0, "critical": 0}
CATEGORY_ORDER = ("age", "material", "maintenance", "environmental", "loading", "condition")


# --- formatting -------------------------------------------------------------------------------


def iso_date(d: date | None) -> str | None:
    return None if d is None else d.isoformat()


def utc_date(ts: datetime | None) -> str | None:
    """A timestamp counts on its UTC date (risk-model.md)."""
    return None if ts is None else ts.astimezone(UTC).date().isoformat()


def iso_ts(ts: datetime | None) -> str | None:
    if ts is None:
        return None
    ts = ts.astimezone(UTC)
    # strftime's %Y does not pad years before 1000 to four digits.
    return f"{ts.year:04d}-{ts:%m-%dT%H:%M:%S}Z"


def latest(*stamps: datetime | None) -> datetime | None:
    known = [s for s in stamps if s is not None]
    return max(known) if known else None


def codepoint(name: str):
    """Order by code point: PostgreSQL's COLLATE "C"; SQLite's default BINARY already is."""
    return Collate(F(name), "C") if connection.vendor == "postgresql" else F(name)


def _coordinates(lat, lng) -> dict | None:
    return None if lat is None or lng is None else {"lat": lat, "lng": lng}


def _eq_location(e) -> str:
    return ", ".join(p for p in (e.building, e.room) if p)


def _level(value: str | None) -> str | None:
    """Observation levels as ThreatMap shows them: none → "None", … (null when unknown)."""
    return value.capitalize() if isinstance(value, str) and value else None


def _temperature(obs: dict) -> str | None:
    t = obs.get("operatingTempC")
    if t is None or isinstance(t, bool):
        return None
    return f"{t:g}°C"


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def snake_case(key: str) -> str:
    """``mainDisconnectRating`` → ``main_disconnect_rating``; snake keys stay as they are."""
    return _CAMEL.sub("_", key).replace("-", "_").replace(" ", "_").lower()


def _factors(rows) -> list[dict]:
    """Stored factors as the API shows them (the unrounded ``value`` stays internal)."""
    out = []
    for f in rows or ():
        if not isinstance(f, dict) or "factor" not in f:
            continue
        out.append(
            {
                "factor": str(f["factor"]),
                "score": int(f.get("score") or 0),
                "weight": float(f.get("weight") or 0.0),
                "description": str(f.get("description") or ""),
            }
        )
    return out


def _notes(r: MaintenanceRecord) -> str | None:
    """Service-history notes: the findings, then the actions taken, one per line."""
    parts = []
    if r.findings.strip():
        parts.append(f"Findings: {r.findings.strip()}")
    if r.actions_taken.strip():
        parts.append(f"Actions taken: {r.actions_taken.strip()}")
    return "\n".join(parts) or None


# --- assessments per equipment ------------------------------------------------------------------


class _Context:
    """Per-request lazies: the current model's importance is needed only when a VoltMetrics
    result is served (its critical-threat flag is derived here, as the facility aggregation
    derives it)."""

    @cached_property
    def profiles(self) -> dict:
        from voltmetrics.services import model_current

        return model_current().profiles


def _assessments(e) -> tuple[EquipmentAssessment | None, EquipmentAssessment | None]:
    served = local = None
    for a in getattr(e, "all_assessments", ()):
        if a.served:
            served = a
        if a.source == Source.LOCAL:
            local = a
    return served or local, local


def _critical_threat(e, served, ctx: _Context) -> bool | None:
    if served is None:
        return None
    if served.source == Source.LOCAL:
        return served.critical_threat
    from voltmetrics.engine.equipment import is_critical_threat

    profile = ctx.profiles.get(e.type) or ctx.profiles.get("other")
    importance = profile.importance if profile is not None else 1.0
    return is_critical_threat(served.rating, served.risk_score, importance, e.serves_critical_load)


# --- querysets --------------------------------------------------------------------------------


def _facilities():
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


def _severity(field_name: str):
    return Case(
        *(When(**{field_name: label}, then=Value(n)) for label, n in SEVERITY.items()),
        default=None,
        output_field=IntegerField(),
    )


def _equipment(*, photos: str = "newest"):
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


# --- items ------------------------------------------------------------------------------------


def _facility_item(f) -> dict:
    return {
        "id": f.external_id,
        "name": f.name,
        "location": f.location,
        "coordinates": _coordinates(f.latitude, f.longitude),
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


def _equipment_last_updated(e, served) -> datetime:
    return latest(e.condoit_updated_at, served.computed_at if served else None)


def _equipment_item(e, ctx: _Context) -> dict:
    served, local = _assessments(e)
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
        "location": _eq_location(e),
        "install_date": iso_date(e.install_date),
        "condition": (desc.condition or None) if desc else None,
        "risk_rating": served.rating if served else None,
        "risk_score": served.risk_score if served else None,
        "risk_factors": _factors(served.factors) if served else [],
        "temperature": _temperature(obs),
        "rust_level": _level(obs.get("rust")),
        "corrosion_level": _level(obs.get("corrosion")),
        "last_service": utc_date(e.last_service_at),
        "photo_url": photo_ref(photo.external_id) if photo else None,
        "intervention_count": e.intervention_count,
        "conductor_material": MATERIAL_LABEL.get(desc.material) if desc else None,
        "clearance_issue": clearance if isinstance(clearance, bool) else None,
        "data_gaps": list(desc.data_gaps) if desc else [],
        "last_updated": iso_ts(_equipment_last_updated(e, served)),
    }


# --- facilities -------------------------------------------------------------------------------


def facility_list(*, params: FacilityListParams) -> tuple[dict, datetime | None]:
    qs = _facilities()
    if "\x00" in params.search:
        qs = qs.none()  # no stored text holds NUL (and PostgreSQL cannot compare one)
    elif params.search:
        s = params.search
        qs = qs.filter(
            Q(name__icontains=s)
            | Q(street__icontains=s)
            | Q(city__icontains=s)
            | Q(state__icontains=s)
            | Q(zip__icontains=s)
            | Q(contractor__icontains=s)
        )
    if params.risk_level:
        qs = qs.filter(fa__risk_level=LEVEL_LABEL[params.risk_level])
    if params.compliance_status:
        qs = qs.filter(fa__compliance_status=COMPLIANCE_LABEL[params.compliance_status])
    total = qs.count()
    items: list[dict] = []
    offset = (params.page - 1) * params.limit
    if offset < total:
        key = {
            "name": codepoint("name"),
            "risk_score": F("a_risk_score"),
            "risk_rating": _severity("fa__risk_level"),
            "last_updated": F("last_updated"),
        }[params.sort]
        ordering = _ordering(key, params.order)
        page = qs.annotate(
            a_distribution=KeyTransform("risk_distribution", "fa__payload")
        ).order_by(*ordering)[offset : offset + params.limit]
        items = [_facility_item(f) for f in page]
    body = {"total": total, "page": params.page, "limit": params.limit, "facilities": items}
    return body, _max_ts(i["last_updated"] for i in items)


def _ordering(key, order: str) -> list:
    """Sort by ``key`` in ``order``, nulls last either way; ties by name, then id (code point
    order)."""
    return [
        key.desc(nulls_last=True) if order == "desc" else key.asc(nulls_last=True),
        codepoint("name").asc(),
        codepoint("external_id").asc(),
    ]


def _max_ts(values) -> datetime | None:
    known = [v for v in values if v]
    if not known:
        return None
    return max(datetime.fromisoformat(v) for v in known)


def _facility(facility_id: str, *, payload: bool = False):
    qs = _facilities()
    if payload:
        qs = qs.annotate(a_payload=F("fa__payload"))
    f = qs.filter(external_id=facility_id).first()
    if f is None:
        raise Http404
    return f


def facility_exists(facility_id: str) -> bool:
    return Facility.objects.filter(external_id=facility_id, deleted_at__isnull=True).exists()


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


def facility_detail(*, facility_id: str) -> tuple[dict, datetime | None]:
    f = _facility(facility_id, payload=True)
    p = f.a_payload or {}
    f.a_distribution = p.get("risk_distribution")
    item = _facility_item(f)
    ctx = _Context()
    ids = [i for i in p.get("top_threats") or () if isinstance(i, str)]
    threats = []
    if ids:
        found = {e.external_id: e for e in _equipment().filter(facility=f, external_id__in=ids)}
        threats = [_equipment_item(found[i], ctx) for i in ids if i in found]
    item.update(
        last_arc_flash_analysis=iso_date(f.arc_flash_study_date),
        last_infrared_scan=iso_date(f.infrared_scan_date),
        system_age=p.get("system_age"),
        facility_age=p.get("facility_age"),
        average_equipment_risk=p.get("average_equipment_risk"),
        humidity_risk=p.get("humidity_risk"),
        conductor_type_breakdown={
            "copper": 0,
            "aluminum": 0,
            **(p.get("conductor_type_breakdown") or {}),
        },
        risk_factors=[
            {"factor": c["category"], "score": c["score"], "description": c["description"]}
            for c in p.get("risk_categories") or ()
        ],
        historical_risk=list(p.get("historical_risk") or ()),
        forecast=list(p.get("forecast") or ()),
        top_threats=threats,
    )
    return item, f.last_updated


def facility_equipment_list(
    *, facility_id: str, params: EquipmentListParams
) -> tuple[dict, datetime | None]:
    f = _facility(facility_id)
    qs = _equipment().filter(facility=f)
    if "\x00" in params.search:
        qs = qs.none()  # no stored text holds NUL (and PostgreSQL cannot compare one)
    elif params.search:
        s = params.search
        qs = qs.filter(
            Q(name__icontains=s)
            | Q(building__icontains=s)
            | Q(room__icontains=s)
            | Q(manufacturer__icontains=s)
        )
    if params.type:
        qs = qs.filter(type=params.type)
    if params.risk_level:
        qs = qs.filter(sa__rating=LEVEL_LABEL[params.risk_level])
    total = qs.count()
    items: list[dict] = []
    offset = (params.page - 1) * params.limit
    if offset < total:
        key = {
            "name": codepoint("name"),
            "type": F("type"),
            "risk_rating": _severity("sa__rating"),
            "risk_score": F("s_score"),
            "install_date": F("install_date"),
            "last_service": F("last_service_at"),
        }[params.sort]
        ordering = _ordering(key, params.order)
        ctx = _Context()
        page = qs.order_by(*ordering)[offset : offset + params.limit]
        items = [_equipment_item(e, ctx) for e in page]
    body = {"total": total, "page": params.page, "limit": params.limit, "equipment": items}
    return body, latest(f.last_updated, _max_ts(i["last_updated"] for i in items))


# --- equipment detail -------------------------------------------------------------------------


def equipment_detail(*, equipment_id: str) -> tuple[dict, datetime | None]:
    active_links = Equipment.objects.filter(deleted_at__isnull=True).order_by(
        codepoint("name"), codepoint("external_id")
    )
    e = (
        _equipment(photos="all")
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
    ctx = _Context()
    served, local = _assessments(e)
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
            "critical_threat": _critical_threat(e, served, ctx),
            "primary_risk_factor": served.primary_risk_factor or None,
            "risk_factors": _factors(served.factors),
            "data_gaps": list(desc.data_gaps) if desc else [],
            "temperature": _temperature(obs),
            "rust_level": _level(obs.get("rust")),
            "corrosion_level": _level(obs.get("corrosion")),
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
            "coordinates": _coordinates(e.latitude, e.longitude),
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
        "last_updated": iso_ts(_equipment_last_updated(e, served)),
        "created_at": iso_ts(e.condoit_created_at),
    }
    return body, _equipment_last_updated(e, served)


# --- compliance and risks ---------------------------------------------------------------------


def facility_compliance(*, facility_id: str) -> tuple[dict, datetime | None]:
    f = _facility(facility_id, payload=True)
    c = (f.a_payload or {}).get("compliance") or {}
    as_of = f.a_as_of
    due = []
    if as_of is not None:
        # Overdue first by days overdue (descending), then due soonest: one ascending order
        # of the due date. Never maintained with an unknown install date (the engine's null
        # due date) counts as due on the assessment date: due now, 0 days overdue.
        rows = (
            EquipmentAssessment.objects.filter(
                source=Source.LOCAL,
                equipment__facility=f,
                equipment__deleted_at__isnull=True,
            )
            .annotate(due=Coalesce(F("next_due"), Value(as_of)))
            .order_by("due", codepoint("equipment__name"), codepoint("equipment__external_id"))
            .values_list("equipment__external_id", "equipment__name", "equipment__type", "due")
        )[:NEXT_INSPECTIONS_MAX]
        due = [
            {
                "equipment_id": ext,
                "equipment_name": name,
                "equipment_type": typ,
                "due_date": d.isoformat(),
                "days_overdue": max(0, (as_of - d).days),
            }
            for ext, name, typ, d in rows
        ]
    counts = {"total": 0, "compliant": 0, "non_compliant": 0}
    body = {
        "facility_id": f.external_id,
        "facility_name": f.name,
        "compliance_summary": {
            "overall_compliance": c.get("overall"),
            "nfpa_70b_compliance": c.get("nfpa_70b"),
            "nfpa_70e_compliance": c.get("nfpa_70e"),
            "compliance_status": c.get("status"),
        },
        "nfpa_70b": {
            "compliance_percentage": c.get("nfpa_70b"),
            "equipment_counts": {**counts, **(c.get("nfpa_70b_counts") or {})},
            "inspection_status": {
                "up_to_date": 0,
                "due_soon": 0,
                "overdue": 0,
                **(c.get("inspection_status") or {}),
            },
            "next_inspections_due": due,
        },
        "nfpa_70e": {
            "compliance_percentage": c.get("nfpa_70e"),
            "arc_flash_study": c.get("study") or _study(f.arc_flash_study_date),
            "equipment_counts": {**counts, **(c.get("nfpa_70e_counts") or {})},
            "arc_flash_label_status": {
                "present": 0,
                "missing": 0,
                **(c.get("label_status") or {}),
            },
        },
        "last_updated": iso_ts(f.last_updated),
    }
    return body, f.last_updated


def _study(last: date | None) -> dict:
    """The arc flash study of a facility never assessed (risk-model.md §5: current while the
    study date + 5 years is on or after today)."""
    if last is None:
        return {"last_study_date": None, "next_study_due": None, "status": "missing"}
    due = add_months(last, 60)
    status = "current" if due >= datetime.now(UTC).date() else "expired"
    return {
        "last_study_date": last.isoformat(),
        "next_study_due": due.isoformat(),
        "status": status,
    }


def facility_risks(*, facility_id: str) -> tuple[dict, datetime | None]:
    f = _facility(facility_id, payload=True)
    p = f.a_payload or {}
    dist = {**EMPTY_DISTRIBUTION, **(p.get("risk_distribution") or {})}
    rows = (
        EquipmentAssessment.objects.filter(
            served=True,
            rating__in=(Rating.HIGH, Rating.CRITICAL),
            equipment__facility=f,
            equipment__deleted_at__isnull=True,
        )
        .order_by("-risk_score", codepoint("equipment__name"), codepoint("equipment__external_id"))
        .values_list(
            "equipment__external_id", "equipment__name", "equipment__type", "rating",
            "risk_score", "primary_risk_factor", "equipment__building", "equipment__room",
        )
    )  # fmt: skip
    body = {
        "facility_id": f.external_id,
        "facility_name": f.name,
        "risk_summary": {
            "risk_score": f.a_risk_score,
            "risk_level": f.a_risk_level or None,
            "critical_risk_equipment_count": dist["critical"],
            "high_risk_equipment_count": dist["high"],
            "medium_risk_equipment_count": dist["medium"],
            "low_risk_equipment_count": dist["low"],
        },
        "risk_categories": list(p.get("risk_categories") or ()),
        "historical_trend": list(p.get("historical_risk") or ()),
        "forecast": list(p.get("forecast") or ()),
        "high_risk_items": [
            {
                "equipment_id": ext,
                "equipment_name": name,
                "equipment_type": typ,
                "risk_level": rating,
                "risk_score": score,
                "primary_risk_factor": primary or None,
                "location": ", ".join(x for x in (building, room) if x),
            }
            for ext, name, typ, rating, score, primary, building, room in rows
        ],
        "risk_recommendation": {
            "priority_actions": [
                {
                    "action": a["action"],
                    "affected_equipment": list(a.get("affected_equipment") or ()),
                    "risk_reduction": a.get("risk_reduction"),
                    "compliance_gain": a.get("compliance_gain"),
                    "estimated_cost": a.get("estimated_cost"),
                    "urgency": a.get("urgency"),
                }
                for a in p.get("recommendations") or ()
            ]
        },
        "last_updated": iso_ts(f.last_updated),
    }
    return body, f.last_updated


# --- portfolio --------------------------------------------------------------------------------


def portfolio_summary() -> tuple[dict, datetime | None]:
    pa = PortfolioAssessment.objects.filter(source=Source.LOCAL).first()
    last = latest(
        pa.computed_at if pa else None,
        Facility.objects.aggregate(m=Max("condoit_updated_at"))["m"],
        Equipment.objects.aggregate(m=Max("condoit_updated_at"))["m"],
    )
    p = pa.payload if pa else {}
    total = p.get("total_facilities")
    if total is None:
        total = Facility.objects.filter(deleted_at__isnull=True).count()
    body = {
        "total_facilities": total,
        "total_equipment": p.get("total_equipment", 0),
        "risk_overview": {
            "average_risk_score": None,
            "high_risk_facilities": 0,
            "critical_risk_equipment": 0,
            "high_risk_equipment": 0,
            **(p.get("risk_overview") or {}),
        },
        "compliance_overview": {
            "nfpa_70b_compliance": None,
            "nfpa_70e_compliance": None,
            "overall_compliance": None,
            **(p.get("compliance_overview") or {}),
        },
        "risk_trends": list(p.get("risk_trends") or ()),
        "highest_risk_facilities": [
            {
                "facility_id": h["facility_id"],
                "facility_name": h["facility_name"],
                "risk_score": h.get("risk_score"),
                "location": h.get("location") or "",
                "critical_equipment_count": h.get("critical_equipment_count", 0),
            }
            for h in p.get("highest_risk_facilities") or ()
        ],
        "last_updated": iso_ts(last),
    }
    return body, last
