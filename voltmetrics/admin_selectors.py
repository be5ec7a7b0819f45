"""Risk as the facility and equipment admin pages show it: plain reads of the stored
assessments, with no admin or HTTP in them (``voltmetrics/admin_risk.py`` renders them).

The figures are the served ones, read as the ThreatMap API reads them
(``threatmap.selectors``), so staff see on a page exactly what ThreatMap is served:

- a facility's figures are its built-in (``local``) assessment, always aggregated locally
  from the served equipment results; a VoltMetrics facility result is stored for comparison
  only (voltmetrics.md "Which result is served");
- an equipment's score, rating and factors are its served assessment (the built-in one when
  none is flagged served); its condition, data gaps and NFPA 70B / 70E figures are the
  built-in engine's, which VoltMetrics does not send.

The lists' figures: ``voltmetrics/admin_list_selectors.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from django.db.models import F, FilteredRelation, Q

from equipment.models import Equipment

from .choices import Source
from .models import EquipmentAssessment, FacilityAssessment

# What each data gap the engine reports means (risk-model.md §3).
GAP_LABELS = {
    "install_date": "install date unknown (age factor taken as 50)",
    "conductors": "no conductor material known (material factor taken as unknown)",
    "maintenance_history": "no maintenance record and no install date (maintenance factor 100)",
    "humidity": "facility humidity unknown",
    "temperature": "facility temperature unknown",
    "exposure": "facility outdoor exposure unknown",
    "loading": "load percentage unknown (loading factor 0)",
    "observations": "no observations recorded (condition factor 0)",
}

STATUS_70B_LABELS = {
    "up_to_date": "Up to date",
    "due_soon": "Due soon",
    "overdue": "Overdue",
}


def _int(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _num(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


def _date(value) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


# --- a facility -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Threat:
    pk: int
    external_id: str
    name: str
    type: str
    risk_score: int | None
    rating: str
    primary_risk_factor: str


@dataclass(frozen=True)
class Recommendation:
    action: str
    urgency: str
    estimated_cost: str
    risk_reduction: int | None
    compliance_gain: int | None
    affected_equipment: tuple[str, ...]

    @property
    def affected_count(self) -> int:
        return len(self.affected_equipment)


@dataclass(frozen=True)
class Compliance:
    nfpa_70b: int | None
    nfpa_70e: int | None
    overall: int | None
    status: str
    inspection_status: dict  # {up_to_date, due_soon, overdue}
    label_status: dict  # {present, missing}
    study_status: str  # current | expired | missing
    study_last: date | None
    study_next_due: date | None


@dataclass(frozen=True)
class FacilityRisk:
    """A facility's served figures (its built-in assessment)."""

    risk_score: int | None
    risk_level: str
    equipment_count: int
    critical_equipment_count: int
    high_risk_equipment_count: int
    distribution: dict  # {low, medium, high, critical}
    compliance: Compliance
    history: list[tuple[str, int | None]]  # (month label, score), oldest first
    forecast: list[tuple[str, int | None]]
    categories: list[dict]  # {category, score, affected_equipment_count, percentage, description}
    top_threats: list[Threat]
    recommendations: list[Recommendation]
    algorithm_version: str
    as_of: date
    computed_at: datetime
    # VoltMetrics' own facility result, stored for comparison only (never served).
    comparison: FacilityAssessment | None = None


def _compliance(c: dict) -> Compliance:
    study = c.get("study") if isinstance(c.get("study"), dict) else {}
    counts = {"up_to_date": 0, "due_soon": 0, "overdue": 0}
    labels = {"present": 0, "missing": 0}
    return Compliance(
        nfpa_70b=_int(c.get("nfpa_70b")),
        nfpa_70e=_int(c.get("nfpa_70e")),
        overall=_int(c.get("overall")),
        status=c.get("status") or "",
        inspection_status={**counts, **(c.get("inspection_status") or {})},
        label_status={**labels, **(c.get("label_status") or {})},
        study_status=study.get("status") or "",
        study_last=_date(study.get("last_study_date")),
        study_next_due=_date(study.get("next_study_due")),
    )


def _series(rows) -> list[tuple[str, int | None]]:
    return [
        (str(r.get("month", "")), _int(r.get("risk_score")))
        for r in rows or ()
        if isinstance(r, dict)
    ]


def _threats(facility_pk: int, ids: list[str]) -> list[Threat]:
    """The stored top threats, in their stored order, as the API lists them: active
    equipment of the facility, with its served figures (the built-in ones when none is
    flagged served)."""
    if not ids:
        return []
    rows = (
        Equipment.objects.filter(
            facility_id=facility_pk, deleted_at__isnull=True, external_id__in=ids
        )
        .annotate(
            sa=FilteredRelation("assessments", condition=Q(assessments__served=True)),
            la=FilteredRelation("assessments", condition=Q(assessments__source=Source.LOCAL)),
        )
        .values(
            "pk", "external_id", "name", "type",
            s_score=F("sa__risk_score"), s_rating=F("sa__rating"),
            s_primary=F("sa__primary_risk_factor"),
            l_score=F("la__risk_score"), l_rating=F("la__rating"),
            l_primary=F("la__primary_risk_factor"),
        )
    )  # fmt: skip
    found = {r["external_id"]: r for r in rows}
    out = []
    for ext in ids:
        r = found.get(ext)
        if r is None:
            continue
        p = "s" if r["s_rating"] is not None else "l"
        out.append(
            Threat(
                pk=r["pk"],
                external_id=ext,
                name=r["name"],
                type=r["type"],
                risk_score=r[f"{p}_score"],
                rating=r[f"{p}_rating"] or "",
                primary_risk_factor=r[f"{p}_primary"] or "",
            )
        )
    return out


def _recommendations(rows) -> list[Recommendation]:
    out = []
    for a in rows or ():
        if not isinstance(a, dict) or not a.get("action"):
            continue
        affected = a.get("affected_equipment") or ()
        out.append(
            Recommendation(
                action=str(a["action"]),
                urgency=str(a.get("urgency") or ""),
                estimated_cost=str(a.get("estimated_cost") or ""),
                risk_reduction=_int(a.get("risk_reduction")),
                compliance_gain=_int(a.get("compliance_gain")),
                affected_equipment=tuple(str(x) for x in affected),
            )
        )
    return out


def _categories(rows) -> list[dict]:
    return [
        {
            "category": str(c.get("category", "")),
            "score": _int(c.get("score")),
            "affected_equipment_count": _int(c.get("affected_equipment_count")) or 0,
            "percentage": _num(c.get("percentage_of_facility")),
            "description": str(c.get("description") or ""),
        }
        for c in rows or ()
        if isinstance(c, dict)
    ]


def facility_risk(facility_pk: int) -> FacilityRisk | None:
    """The facility's served figures; None when nothing is computed for it yet."""
    by_source = {a.source: a for a in FacilityAssessment.objects.filter(facility_id=facility_pk)}
    a = by_source.get(Source.LOCAL)
    if a is None:
        return None
    p = a.payload if isinstance(a.payload, dict) else {}
    ids = [i for i in p.get("top_threats") or () if isinstance(i, str)]
    dist = {"low": 0, "medium": 0, "high": 0, "critical": 0}
    dist.update(p.get("risk_distribution") or {})
    return FacilityRisk(
        risk_score=a.risk_score,
        risk_level=a.risk_level,
        equipment_count=a.equipment_count,
        critical_equipment_count=a.critical_equipment_count,
        high_risk_equipment_count=a.high_risk_equipment_count,
        distribution=dist,
        compliance=_compliance(p.get("compliance") or {}),
        history=_series(p.get("historical_risk")),
        forecast=_series(p.get("forecast")),
        categories=_categories(p.get("risk_categories")),
        top_threats=_threats(facility_pk, ids),
        recommendations=_recommendations(p.get("recommendations")),
        algorithm_version=a.algorithm_version,
        as_of=a.as_of,
        computed_at=a.computed_at,
        comparison=by_source.get(Source.VOLTMETRICS),
    )


# --- an equipment -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Factor:
    factor: str
    score: int
    weight: float
    description: str
    contribution: float  # weight × the unrounded factor (its points in the score)


@dataclass(frozen=True)
class Nfpa70B:
    status: str  # up_to_date | due_soon | overdue ("" when unknown)
    next_due: date | None
    compliant: bool | None
    compliance_percentage: int | None
    days_overdue: int | None
    interval_months: int | None
    last_service: date | None

    @property
    def status_label(self) -> str:
        return STATUS_70B_LABELS.get(self.status, self.status)


@dataclass(frozen=True)
class Nfpa70E:
    compliant: bool | None
    compliance_percentage: int | None
    label_present: bool | None
    study_current: bool | None


@dataclass(frozen=True)
class SourceResult:
    """One source's stored result, for the side-by-side comparison."""

    source: str
    source_label: str
    served: bool
    risk_score: int
    rating: str
    primary_risk_factor: str
    factor_scores: dict[str, int]
    maintenance_status: str
    algorithm_version: str
    as_of: date
    computed_at: datetime

    @property
    def maintenance_status_label(self) -> str:
        return STATUS_70B_LABELS.get(self.maintenance_status, self.maintenance_status)


@dataclass(frozen=True)
class EquipmentRisk:
    served: SourceResult
    served_flagged: bool  # False: no row is flagged served, the built-in one stands in
    critical_threat: bool | None  # the built-in flag (None when VoltMetrics is served)
    condition: str
    factors: list[Factor]
    data_gaps: list[tuple[str, str]]  # (gap, what it means)
    nfpa_70b: Nfpa70B | None
    nfpa_70e: Nfpa70E | None
    results: list[SourceResult] = field(default_factory=list)  # every stored source

    @property
    def side_by_side(self) -> bool:
        return len(self.results) > 1

    @property
    def factor_rows(self) -> list[tuple[str, list[int | None]]]:
        """Each factor any source scored, with every source's score (None: not scored)."""
        names: list[str] = []
        for r in self.results:
            names += [n for n in r.factor_scores if n not in names]
        return [(n, [r.factor_scores.get(n) for r in self.results]) for n in names]


def _factors(rows) -> list[Factor]:
    out = []
    for f in rows or ():
        if not isinstance(f, dict) or "factor" not in f:
            continue
        score = _num(f.get("score")) or 0
        weight = _num(f.get("weight")) or 0.0
        value = _num(f.get("value"))
        out.append(
            Factor(
                factor=str(f["factor"]),
                score=int(score),
                weight=float(weight),
                description=str(f.get("description") or ""),
                contribution=round(weight * (value if value is not None else score), 1),
            )
        )
    return out


def _source_result(a: EquipmentAssessment) -> SourceResult:
    return SourceResult(
        source=a.source,
        source_label=Source(a.source).label if a.source in Source.values else a.source,
        served=a.served,
        risk_score=a.risk_score,
        rating=a.rating,
        primary_risk_factor=a.primary_risk_factor,
        factor_scores={f.factor: f.score for f in _factors(a.factors)},
        maintenance_status=a.maintenance_status,
        algorithm_version=a.algorithm_version,
        as_of=a.as_of,
        computed_at=a.computed_at,
    )


def _nfpa_70b(a: EquipmentAssessment) -> Nfpa70B:
    b = a.nfpa_70b if isinstance(a.nfpa_70b, dict) else {}
    compliant = b.get("compliant")
    return Nfpa70B(
        status=str(b.get("status") or a.maintenance_status or ""),
        next_due=a.next_due or _date(b.get("next_due")),
        compliant=compliant if isinstance(compliant, bool) else None,
        compliance_percentage=_int(b.get("compliance_percentage")),
        days_overdue=_int(b.get("days_overdue")),
        interval_months=_int(b.get("interval_months")),
        last_service=a.last_service,
    )


def _nfpa_70e(a: EquipmentAssessment) -> Nfpa70E:
    e = a.nfpa_70e if isinstance(a.nfpa_70e, dict) else {}

    def flag(key):
        v = e.get(key)
        return v if isinstance(v, bool) else None

    return Nfpa70E(
        compliant=flag("compliant"),
        compliance_percentage=_int(e.get("compliance_percentage")),
        label_present=flag("label_present"),
        study_current=flag("study_current"),
    )


def equipment_risk(equipment_pk: int) -> EquipmentRisk | None:
    """The equipment's served result and every stored one; None when nothing is computed
    for it yet."""
    rows = list(
        EquipmentAssessment.objects.filter(equipment_id=equipment_pk)
        .defer("parts")
        .order_by("source")
    )
    if not rows:
        return None
    local = next((a for a in rows if a.source == Source.LOCAL), None)
    flagged = next((a for a in rows if a.served), None)
    served = flagged or local or rows[0]
    desc = local or served  # the descriptive outputs are the built-in engine's
    gaps = [g for g in desc.data_gaps or () if isinstance(g, str)]
    # The built-in result first, then VoltMetrics'.
    ordered = sorted(rows, key=lambda a: (a.source != Source.LOCAL, a.source))
    return EquipmentRisk(
        served=_source_result(served),
        served_flagged=flagged is not None,
        critical_threat=served.critical_threat if served.source == Source.LOCAL else None,
        condition=desc.condition,
        factors=_factors(served.factors),
        data_gaps=[(g, GAP_LABELS.get(g, g.replace("_", " "))) for g in gaps],
        nfpa_70b=_nfpa_70b(local) if local is not None else None,
        nfpa_70e=_nfpa_70e(local) if local is not None else None,
        results=[_source_result(a) for a in ordered],
    )
