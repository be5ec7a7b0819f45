"""The camelCase export for ThreatMap's TypeScript interfaces (threatmap-api.md §Export).

``build_export()`` reads the STORED assessments (bounded queries, no engine run): it serves
``GET /api/v1/export/threatmap`` and ``manage.py export_threatmap``.
``build_export(as_of=date)`` (the command only, risk-model.md §11) runs the engine at that
date from the records as known now, so a report for a past date can be reproduced.

Both paths gather the same facts — the facility as mirrored, its figures in the shape of
``FacilityResult.to_dict()`` plus ``historical_risk``, and its top threats as
:class:`ThreatFacts` — and one mapping (:func:`facility_entry`) turns them into the
``Facility`` / ``Equipment`` objects. Optional keys are omitted rather than null; a
required string with no value is ``""``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date

from django.db.models import Count, F, Q

from equipment.choices import EquipmentType, MaintenanceType, PhotoStatus
from equipment.models import Equipment, Photo
from facilities.models import Facility
from voltmetrics import engine
from voltmetrics.choices import Source
from voltmetrics.inputs import facility_records
from voltmetrics.models import EquipmentAssessment, FacilityAssessment

__all__ = [
    "FacilityFacts",
    "ThreatFacts",
    "Skipped",
    "build_export",
    "facility_entry",
    "equipment_entry",
]

# Maps a photo's Condoit id to the absolute signed URL of its thumbnail, or None when no
# absolute URL can be made (then ``photo`` is omitted).
PhotoUrl = Callable[[str], "str | None"]

INTERVENTION_TYPES = (MaintenanceType.CORRECTIVE, MaintenanceType.EMERGENCY)
REASON_NO_COORDINATES = "no coordinates"
REASON_NO_EQUIPMENT = "no counted equipment"
REASON_NOT_ASSESSED = "not assessed yet (run recompute_risk)"

_TYPE_LABELS = dict(EquipmentType.choices)
_LEVEL_LABELS = {"none": "None", "minimal": "Minimal", "moderate": "Moderate", "severe": "Severe"}


@dataclass(frozen=True, slots=True)
class Skipped:
    """A facility left out of the export, and why."""

    id: str
    name: str
    reason: str

    def to_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class FacilityFacts:
    """What the export shows of the mirrored facility record."""

    id: str
    name: str
    location: str
    lat: float | None
    lng: float | None
    contractor: str
    last_inspection: date | None
    last_arc_flash_analysis: date | None
    last_infrared_scan: date | None

    @classmethod
    def of(cls, f: Facility, as_of: date | None = None) -> FacilityFacts:
        inspected = f.last_inspection_at.astimezone(UTC).date() if f.last_inspection_at else None
        return cls(
            id=f.external_id,
            name=f.name,
            location=f.location,
            lat=f.latitude,
            lng=f.longitude,
            contractor=f.contractor,
            # For a past date, a date after it was not known then.
            last_inspection=_known_at(inspected, as_of),
            last_arc_flash_analysis=_known_at(f.arc_flash_study_date, as_of),
            last_infrared_scan=_known_at(f.infrared_scan_date, as_of),
        )


@dataclass(frozen=True, slots=True)
class ThreatFacts:
    """One top-threat equipment: its record and its (stored or computed) figures."""

    id: str
    name: str
    type: str  # MasterBus type code
    building: str
    room: str
    install_date: date | None
    observations: Mapping | None
    condition: str
    rating: str
    material: str  # copper | aluminum | mixed | unknown | ""
    last_service: date | None
    intervention_count: int
    photo_id: str | None  # Condoit id of the newest fetched photo


def _known_at(d: date | None, as_of: date | None) -> date | None:
    if d is None or as_of is None or d <= as_of:
        return d
    return None


def _iso(d: date | None) -> str:
    return d.isoformat() if d is not None else ""


def _temperature(obs: Mapping) -> str | None:
    t = obs.get("operatingTempC")
    if t is None or isinstance(t, bool) or not isinstance(t, int | float) or t != t:
        return None
    r = engine.round_half_up(float(t), 1)
    return f"{int(r) if r == int(r) else r}°C"


def _level(obs: Mapping, key: str) -> str | None:
    v = obs.get(key)
    return _LEVEL_LABELS.get(v.lower()) if isinstance(v, str) else None


# --- the one mapping ----------------------------------------------------------------------


def equipment_entry(t: ThreatFacts, photo_url: PhotoUrl | None = None) -> dict:
    """An ``Equipment`` object of ThreatMap's interface."""
    obs = t.observations or {}
    out: dict = {
        "id": t.id,
        "name": t.name,
        "type": _TYPE_LABELS.get(t.type, t.type or ""),
        "location": ", ".join(p for p in (t.building, t.room) if p),
        "installDate": _iso(t.install_date),
        "condition": t.condition or "",
        "riskRating": t.rating,
    }
    optional = {
        "temperature": _temperature(obs),
        "rustLevel": _level(obs, "rust"),
    }
    out.update({k: v for k, v in optional.items() if v is not None})
    out["lastService"] = _iso(t.last_service)
    url = photo_url(t.photo_id) if (photo_url is not None and t.photo_id) else None
    clearance = obs.get("clearanceIssue")
    optional = {
        "photo": url,
        "interventionCount": t.intervention_count,
        "conductorMaterial": {"copper": "Copper", "aluminum": "Aluminum", "mixed": "Aluminum"}.get(
            t.material
        ),
        "clearanceIssue": clearance if isinstance(clearance, bool) else None,
        "corrosionLevel": _level(obs, "corrosion"),
    }
    out.update({k: v for k, v in optional.items() if v is not None})
    return out


def _history_entries(history: Iterable[Mapping]) -> list[dict]:
    # ThreatMap's entries have every field required: a month with no counted equipment (no
    # score) or no known install date (no mean age) cannot be drawn, so it is left out.
    out = []
    for h in history:
        if h.get("risk_score") is None or h.get("equipment_age") is None:
            continue
        out.append(
            {
                "month": h["month"],
                "riskScore": h["risk_score"],
                "equipmentCount": h.get("equipment_count") or 0,
                "equipmentAge": h["equipment_age"],
            }
        )
    return out


def facility_entry(
    facility: FacilityFacts,
    figures: Mapping,
    threats: Sequence[ThreatFacts],
    photo_url: PhotoUrl | None = None,
) -> dict:
    """A ``Facility`` object of ThreatMap's interface.

    ``figures`` has the shape of ``FacilityResult.to_dict()`` plus ``historical_risk``;
    ``threats`` are its ``top_threats`` in that order. The caller has already left out a
    facility without coordinates or counted equipment.
    """
    comp = figures.get("compliance") or {}
    out: dict = {
        "id": facility.id,
        "name": facility.name,
        "location": facility.location,
        "coordinates": {"lat": facility.lat, "lng": facility.lng},
        "riskScore": figures["risk_score"],
        "complianceStatus": comp.get("status") or "",
        "lastInspection": _iso(facility.last_inspection),
        "contractor": facility.contractor or "",
    }
    history = _history_entries(figures.get("historical_risk") or ())
    optional = {
        "lastArcFlashAnalysis": facility.last_arc_flash_analysis
        and facility.last_arc_flash_analysis.isoformat(),
        "lastInfraredScan": facility.last_infrared_scan and facility.last_infrared_scan.isoformat(),
        "systemAge": figures.get("system_age"),
        "facilityAge": figures.get("facility_age"),
        "equipmentCount": figures.get("equipment_count"),
        "criticalEquipmentCount": figures.get("critical_equipment_count"),
        "highRiskEquipmentCount": figures.get("high_risk_equipment_count"),
        "averageEquipmentRisk": figures.get("average_equipment_risk"),
        "humidityRisk": figures.get("humidity_risk"),
        "conductorTypeBreakdown": _pick(
            figures.get("conductor_type_breakdown"), "copper", "aluminum"
        ),
        "equipmentRiskDistribution": _pick(
            figures.get("risk_distribution"), "low", "medium", "high", "critical"
        ),
        "historicalRisk": history or None,
    }
    out.update({k: v for k, v in optional.items() if v is not None})
    out["topThreats"] = [equipment_entry(t, photo_url) for t in threats]
    return out


def _pick(d: Mapping | None, *keys: str) -> dict | None:
    if not d:
        return None
    return {k: int(d.get(k) or 0) for k in keys}


def _skip_reason(facility: Facility, equipment_count: int | None, risk_score) -> str | None:
    if facility.latitude is None or facility.longitude is None:
        return REASON_NO_COORDINATES
    if equipment_count is None:
        return REASON_NOT_ASSESSED
    if equipment_count == 0 or risk_score is None:
        return REASON_NO_EQUIPMENT
    return None


def _sort_key(entry_or_skip) -> tuple:
    # Code-point order of names, then id (the engine's tie order).
    if isinstance(entry_or_skip, Skipped):
        return (entry_or_skip.name, entry_or_skip.id)
    return (entry_or_skip["name"], entry_or_skip["id"])


# --- loading threats (shared) -----------------------------------------------------------------


def _threat_records(
    ext_ids: Iterable[str], as_of: date | None
) -> tuple[dict[str, dict], dict[int, int], dict[int, str]]:
    """Records of the given equipment: rows by Condoit id, intervention counts and newest
    fetched photo (Condoit id) by pk. Three queries whatever the number of ids."""
    ids = list(dict.fromkeys(ext_ids))
    if not ids:
        return {}, {}, {}
    rows = {
        r["external_id"]: r
        for r in Equipment.objects.filter(external_id__in=ids).values(
            "pk", "external_id", "name", "type", "building", "room", "install_date", "observations"
        )
    }
    pks = [r["pk"] for r in rows.values()]
    maint = Q(maintenance__type__in=INTERVENTION_TYPES, maintenance__deleted_at__isnull=True)
    photos = Photo.objects.filter(equipment_id__in=pks, status=PhotoStatus.FETCHED).exclude(
        thumbnail=""
    )
    if as_of is not None:
        maint &= Q(maintenance__performed_at__date__lte=as_of)
        photos = photos.filter(Q(taken_at__isnull=True) | Q(taken_at__date__lte=as_of))
    counts = dict(
        Equipment.objects.filter(pk__in=pks)
        .annotate(n=Count("maintenance", filter=maint))
        .values_list("pk", "n")
    )
    newest: dict[int, str] = {}
    # Newest first: by taken_at (unknown last), then Condoit id.
    order = ("equipment_id", F("taken_at").desc(nulls_last=True), "external_id")
    for eq_pk, ext in photos.order_by(*order).values_list("equipment_id", "external_id"):
        newest.setdefault(eq_pk, ext)
    return rows, counts, newest


def _threat(row: dict, counts, newest, **figures) -> ThreatFacts:
    return ThreatFacts(
        id=row["external_id"],
        name=row["name"],
        type=row["type"],
        building=row["building"],
        room=row["room"],
        install_date=row["install_date"],
        observations=row["observations"],
        intervention_count=counts.get(row["pk"], 0),
        photo_id=newest.get(row["pk"]),
        **figures,
    )


# --- stored path ------------------------------------------------------------------------------


def _build_stored(
    photo_url: PhotoUrl | None, facility_pks=None
) -> tuple[list[dict], list[Skipped]]:
    facilities_qs = Facility.objects.filter(deleted_at__isnull=True)
    assessments_qs = FacilityAssessment.objects.filter(
        source=Source.LOCAL, facility__deleted_at__isnull=True
    )
    if facility_pks is not None:
        facilities_qs = facilities_qs.filter(pk__in=facility_pks)
        assessments_qs = assessments_qs.filter(facility_id__in=facility_pks)
    facilities = list(facilities_qs)
    assessments = {
        a.facility_id: a
        for a in assessments_qs.only(
            "facility_id", "equipment_count", "risk_score", "compliance_status", "payload"
        )
    }
    drawn: list[tuple[Facility, FacilityAssessment]] = []
    skipped: list[Skipped] = []
    for f in facilities:
        a = assessments.get(f.pk)
        reason = _skip_reason(f, a.equipment_count if a else None, a.risk_score if a else None)
        if reason:
            skipped.append(Skipped(f.external_id, f.name, reason))
        else:
            drawn.append((f, a))

    threat_ids = [t for _, a in drawn for t in (a.payload.get("top_threats") or ())]
    rows, counts, newest = _threat_records(threat_ids, None)
    pks = [r["pk"] for r in rows.values()]
    local: dict[int, EquipmentAssessment] = {}
    served: dict[int, EquipmentAssessment] = {}
    for ea in EquipmentAssessment.objects.filter(
        Q(source=Source.LOCAL) | Q(served=True), equipment_id__in=pks
    ).only("equipment_id", "source", "served", "rating", "condition", "material", "last_service"):
        if ea.source == Source.LOCAL:
            local[ea.equipment_id] = ea
        if ea.served:
            served[ea.equipment_id] = ea

    entries = []
    for f, a in drawn:
        threats = []
        for ext in a.payload.get("top_threats") or ():
            row = rows.get(ext)
            if row is None:
                continue
            base = local.get(row["pk"])
            score = served.get(row["pk"]) or base
            if score is None:
                continue
            # The served result (VoltMetrics or local) gives the rating; condition, material
            # and last service are the local engine's, as in the facility aggregation.
            base = base or score
            threats.append(
                _threat(
                    row, counts, newest,
                    condition=base.condition,
                    rating=score.rating,
                    material=base.material,
                    last_service=base.last_service,
                )
            )  # fmt: skip
        figures = dict(a.payload)
        figures.setdefault("risk_score", a.risk_score)
        figures.setdefault("equipment_count", a.equipment_count)
        entries.append(facility_entry(FacilityFacts.of(f), figures, threats, photo_url))
    return entries, skipped


# --- as-of path (engine) ----------------------------------------------------------------------


def _build_as_of(as_of: date, photo_url: PhotoUrl | None) -> tuple[list[dict], list[Skipped]]:
    from voltmetrics.services import model_current

    model = model_current()
    facilities = {f.pk: f for f in Facility.objects.filter(deleted_at__isnull=True)}
    computed: list[tuple[Facility, dict, list[engine.EquipmentResult]]] = []
    skipped: list[Skipped] = []
    for batch in facility_records(facility_pks=list(facilities)):
        for rec in batch:
            f = facilities[rec.pk]
            if f.latitude is None or f.longitude is None:
                skipped.append(Skipped(f.external_id, f.name, REASON_NO_COORDINATES))
                continue
            fr = engine.assess_facility(rec.facility, model, as_of)
            if fr.equipment_count == 0 or fr.risk_score is None:
                skipped.append(Skipped(f.external_id, f.name, REASON_NO_EQUIPMENT))
                continue
            figures = fr.to_dict(include_equipment=False)
            figures["historical_risk"] = engine.facility_history(rec.facility, model, as_of)
            threats = [fr.equipment_results[ext] for ext in fr.top_threats]
            computed.append((f, figures, threats))

    rows, counts, newest = _threat_records(
        (r.equipment_id for _, _, results in computed for r in results), as_of
    )
    entries = []
    for f, figures, results in computed:
        threats = [
            _threat(
                rows[r.equipment_id], counts, newest,
                condition=r.condition,
                rating=r.rating,
                material=r.material,
                last_service=r.last_service,
            )
            for r in results
            if r.equipment_id in rows
        ]  # fmt: skip
        entries.append(facility_entry(FacilityFacts.of(f, as_of), figures, threats, photo_url))
    return entries, skipped


def build_export(
    *, as_of: date | None = None, photo_url: PhotoUrl | None = None, facility_pks=None
) -> tuple[list[dict], list[Skipped]]:
    """``(facilities, skipped)``: the ``Facility`` objects ThreatMap can draw, by name then
    id, and the facilities left out with their reasons.

    Without ``as_of``: from the stored assessments. With ``as_of``: computed by the engine at
    that date from the records known now (commands only — never in a request).
    ``photo_url`` makes the signed absolute thumbnail URL of a photo; without it (or when it
    returns None) ``photo`` is omitted. ``facility_pks`` (pks or a subquery of them) limits
    the stored export to those facilities (a bound consumer's).
    """
    if as_of is None:
        entries, skipped = _build_stored(photo_url, facility_pks)
    else:
        if facility_pks is not None:
            raise ValueError("facility_pks limits the stored export only")
        entries, skipped = _build_as_of(as_of, photo_url)
    entries.sort(key=_sort_key)
    skipped.sort(key=_sort_key)
    return entries, skipped
