"""Engine outputs.  Slots dataclasses; every result has ``to_dict()`` giving JSON-safe values
(dates as ISO strings).  ``EquipmentResult.from_dict`` rebuilds a stored result so facility
figures can be aggregated from stored/served per-equipment results alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

__all__ = [
    "FactorResult",
    "Nfpa70BResult",
    "Nfpa70EResult",
    "EquipmentResult",
    "CategoryResult",
    "StudyResult",
    "InspectionDue",
    "ComplianceResult",
    "FacilityResult",
    "PortfolioResult",
    "Action",
]


def _iso(d: date | None) -> str | None:
    return None if d is None else d.isoformat()


def _date(s) -> date | None:
    if s is None or isinstance(s, date):
        return s
    return date.fromisoformat(s)


@dataclass(slots=True)
class FactorResult:
    factor: str  # age | material | maintenance | environmental | loading | condition
    value: float  # unrounded factor, 0–100
    score: int  # round(value)
    weight: float
    description: str

    def to_dict(self) -> dict:
        return {
            "factor": self.factor,
            "score": self.score,
            "weight": self.weight,
            "description": self.description,
            "value": self.value,
        }

    @classmethod
    def from_dict(cls, d: dict) -> FactorResult:
        score = int(d["score"])
        value = d.get("value")
        return cls(
            d["factor"],
            float(score if value is None else value),
            score,
            float(d.get("weight") or 0.0),
            d.get("description") or "",
        )


@dataclass(slots=True)
class Nfpa70BResult:
    baseline: date | None  # latest maintenance ≤ as_of, else install date, else None
    next_due: date | None  # baseline + interval (calendar months); None when no baseline
    status: str  # up_to_date | due_soon | overdue
    compliant: bool  # not overdue
    compliance_percentage: int
    days_overdue: int | None  # 0 when not overdue; None when next_due is None
    interval_months: int

    def to_dict(self) -> dict:
        return {
            "baseline": _iso(self.baseline),
            "next_due": _iso(self.next_due),
            "status": self.status,
            "compliant": self.compliant,
            "compliance_percentage": self.compliance_percentage,
            "days_overdue": self.days_overdue,
            "interval_months": self.interval_months,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Nfpa70BResult:
        return cls(
            _date(d.get("baseline")),
            _date(d.get("next_due")),
            d["status"],
            bool(d["compliant"]),
            int(d["compliance_percentage"]),
            d.get("days_overdue"),
            int(d.get("interval_months") or 12),
        )


@dataclass(slots=True)
class Nfpa70EResult:
    compliant: bool  # label present and study current
    compliance_percentage: int  # round(0.7·StudyCompliance + 0.3·label)
    label_present: bool
    study_current: bool
    incident_energy: float | None = None
    ppe_category: int | None = None

    def to_dict(self) -> dict:
        return {
            "compliant": self.compliant,
            "compliance_percentage": self.compliance_percentage,
            "label_present": self.label_present,
            "study_current": self.study_current,
            "incident_energy": self.incident_energy,
            "ppe_category": self.ppe_category,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Nfpa70EResult:
        return cls(
            bool(d["compliant"]),
            int(d["compliance_percentage"]),
            bool(d["label_present"]),
            bool(d.get("study_current", False)),
            d.get("incident_energy"),
            d.get("ppe_category"),
        )


@dataclass(slots=True)
class EquipmentResult:
    equipment_id: str
    name: str
    type: str
    as_of: date
    risk_score: int  # round(Σ weight·factor), 0–100
    rating: str  # Low | Medium | High | Critical
    risk_factors: list[FactorResult]  # all six, by weight·value desc, ties by factor name
    primary_risk_factor: str
    data_gaps: list[str]  # stable order: install_date, conductors, maintenance_history,
    #                        humidity, temperature, exposure, loading, observations
    critical_threat: bool
    condition: str  # overallCondition when recorded, else from the condition factor
    material: str  # copper | aluminum | mixed | unknown
    age_years: float | None  # days/365.25, unrounded; None when install date unknown
    last_service: date | None  # latest maintenance performed ≤ as_of
    nfpa_70b: Nfpa70BResult
    nfpa_70e: Nfpa70EResult
    importance: float  # type-profile importance (used by facility aggregation)
    serves_critical_load: bool
    algorithm_version: str
    source: str = "local"

    # aliases
    @property
    def risk_rating(self) -> str:
        return self.rating

    @property
    def factors(self) -> list[FactorResult]:
        return self.risk_factors

    def factor(self, name: str) -> FactorResult | None:
        for f in self.risk_factors:
            if f.factor == name:
                return f
        return None

    def factor_value(self, name: str) -> float | None:
        f = self.factor(name)
        return None if f is None else f.value

    def to_dict(self) -> dict:
        return {
            "equipment_id": self.equipment_id,
            "name": self.name,
            "type": self.type,
            "as_of": self.as_of.isoformat(),
            "risk_score": self.risk_score,
            "rating": self.rating,
            "risk_factors": [f.to_dict() for f in self.risk_factors],
            "primary_risk_factor": self.primary_risk_factor,
            "data_gaps": list(self.data_gaps),
            "critical_threat": self.critical_threat,
            "condition": self.condition,
            "material": self.material,
            "age_years": self.age_years,
            "last_service": _iso(self.last_service),
            "nfpa_70b": self.nfpa_70b.to_dict(),
            "nfpa_70e": self.nfpa_70e.to_dict(),
            "importance": self.importance,
            "serves_critical_load": self.serves_critical_load,
            "algorithm_version": self.algorithm_version,
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, d: dict) -> EquipmentResult:
        return cls(
            equipment_id=d["equipment_id"],
            name=d.get("name", ""),
            type=d.get("type", "other"),
            as_of=_date(d["as_of"]),
            risk_score=int(d["risk_score"]),
            rating=d["rating"],
            risk_factors=[FactorResult.from_dict(f) for f in d.get("risk_factors", ())],
            primary_risk_factor=d.get("primary_risk_factor", ""),
            data_gaps=list(d.get("data_gaps", ())),
            critical_threat=bool(d["critical_threat"]),
            condition=d.get("condition", ""),
            material=d.get("material", "unknown"),
            age_years=d.get("age_years"),
            last_service=_date(d.get("last_service")),
            nfpa_70b=Nfpa70BResult.from_dict(d["nfpa_70b"]),
            nfpa_70e=Nfpa70EResult.from_dict(d["nfpa_70e"]),
            importance=float(d.get("importance", 1.0)),
            serves_critical_load=bool(d.get("serves_critical_load", False)),
            algorithm_version=d.get("algorithm_version", ""),
            source=d.get("source", "local"),
        )


@dataclass(slots=True)
class CategoryResult:
    category: str  # factor name, §3 order
    score: int | None  # round(mean factor); None when N = 0
    description: str
    affected_equipment_count: int  # equipment whose (unrounded) factor ≥ 50
    percentage_of_facility: float | None  # 100·affected/N, 1 decimal; None when N = 0

    def to_dict(self) -> dict:
        return {
            "category": self.category,
            "score": self.score,
            "description": self.description,
            "affected_equipment_count": self.affected_equipment_count,
            "percentage_of_facility": self.percentage_of_facility,
        }


@dataclass(slots=True)
class StudyResult:
    last_study_date: date | None
    next_study_due: date | None  # last_study_date + 5 calendar years
    status: str  # current | expired | missing

    @property
    def current(self) -> bool:
        return self.status == "current"

    def to_dict(self) -> dict:
        return {
            "last_study_date": _iso(self.last_study_date),
            "next_study_due": _iso(self.next_study_due),
            "status": self.status,
        }


@dataclass(slots=True)
class InspectionDue:
    equipment_id: str
    equipment_name: str
    equipment_type: str
    due_date: date | None  # None: no baseline (never maintained, install date unknown)
    days_overdue: int | None  # 0 when not yet due; None when due_date is None

    def to_dict(self) -> dict:
        return {
            "equipment_id": self.equipment_id,
            "equipment_name": self.equipment_name,
            "equipment_type": self.equipment_type,
            "due_date": _iso(self.due_date),
            "days_overdue": self.days_overdue,
        }


@dataclass(slots=True)
class ComplianceResult:
    nfpa_70b: int | None  # round(100 − 100·overdue/N); None when N = 0
    labeling: float | None  # 100·labeled/N, unrounded
    nfpa_70e: int | None  # round(0.7·StudyCompliance + 0.3·labeling)
    overall: int | None  # round((nfpa_70b + nfpa_70e)/2)
    status: str | None  # Compliant | Warning | Out of Compliance
    study: StudyResult
    inspection_status: dict  # {up_to_date, due_soon, overdue}
    nfpa_70b_counts: dict  # {total, compliant, non_compliant}
    nfpa_70e_counts: dict  # {total, compliant, non_compliant}
    label_status: dict  # {present, missing}
    next_inspections_due: list[InspectionDue]  # ≤ 20

    def to_dict(self) -> dict:
        return {
            "nfpa_70b": self.nfpa_70b,
            "labeling": self.labeling,
            "nfpa_70e": self.nfpa_70e,
            "overall": self.overall,
            "status": self.status,
            "study": self.study.to_dict(),
            "inspection_status": dict(self.inspection_status),
            "nfpa_70b_counts": dict(self.nfpa_70b_counts),
            "nfpa_70e_counts": dict(self.nfpa_70e_counts),
            "label_status": dict(self.label_status),
            "next_inspections_due": [i.to_dict() for i in self.next_inspections_due],
        }


@dataclass(slots=True)
class FacilityResult:
    facility_id: str
    facility_name: str
    as_of: date
    algorithm_version: str
    equipment_count: int  # N, counted equipment (risk-model.md §1)
    risk_score: int | None  # None when N = 0
    risk_level: str | None
    risk_distribution: dict  # {low, medium, high, critical} rating counts
    critical_equipment_count: int  # critical threats (§4 flag)
    high_risk_equipment_count: int  # rating High
    average_equipment_risk: float | None  # mean score / 100, 2 decimals
    conductor_type_breakdown: dict  # {copper, aluminum(+mixed)} equipment counts
    humidity_risk: str | None  # Low | Medium | High
    facility_age: int | None  # as_of.year − year_built
    system_age: str | None  # "N years"
    equipment_age: float | None  # mean age of equipment with known install date, 1 decimal
    top_threats: list[str]  # ≤ 5 equipment ids (§6 type-diversity rule)
    high_risk_items: list[str]  # ids rated High or Critical, score desc, name, id
    risk_categories: list[CategoryResult]
    compliance: ComplianceResult
    equipment_results: dict[str, EquipmentResult] = field(default_factory=dict)

    def to_dict(self, include_equipment: bool = True) -> dict:
        d = {
            "facility_id": self.facility_id,
            "facility_name": self.facility_name,
            "as_of": self.as_of.isoformat(),
            "algorithm_version": self.algorithm_version,
            "equipment_count": self.equipment_count,
            "risk_score": self.risk_score,
            "risk_level": self.risk_level,
            "risk_distribution": dict(self.risk_distribution),
            "critical_equipment_count": self.critical_equipment_count,
            "high_risk_equipment_count": self.high_risk_equipment_count,
            "average_equipment_risk": self.average_equipment_risk,
            "conductor_type_breakdown": dict(self.conductor_type_breakdown),
            "humidity_risk": self.humidity_risk,
            "facility_age": self.facility_age,
            "system_age": self.system_age,
            "equipment_age": self.equipment_age,
            "top_threats": list(self.top_threats),
            "high_risk_items": list(self.high_risk_items),
            "risk_categories": [c.to_dict() for c in self.risk_categories],
            "compliance": self.compliance.to_dict(),
        }
        if include_equipment:
            d["equipment_results"] = {k: v.to_dict() for k, v in self.equipment_results.items()}
        return d


@dataclass(slots=True)
class PortfolioResult:
    total_facilities: int
    total_equipment: int
    average_risk_score: int | None
    high_risk_facilities: int  # facilities whose risk_level is High or Critical
    critical_risk_equipment: int  # Σ critical_equipment_count (critical threats)
    high_risk_equipment: int  # Σ equipment rated High
    nfpa_70b_compliance: int | None
    nfpa_70e_compliance: int | None
    overall_compliance: int | None
    highest_risk_facilities: list[dict]  # [{facility_id, facility_name, risk_score,
    #                                         critical_equipment_count}] ≤ 5

    def to_dict(self) -> dict:
        return {
            "total_facilities": self.total_facilities,
            "total_equipment": self.total_equipment,
            "risk_overview": {
                "average_risk_score": self.average_risk_score,
                "high_risk_facilities": self.high_risk_facilities,
                "critical_risk_equipment": self.critical_risk_equipment,
                "high_risk_equipment": self.high_risk_equipment,
            },
            "compliance_overview": {
                "nfpa_70b_compliance": self.nfpa_70b_compliance,
                "nfpa_70e_compliance": self.nfpa_70e_compliance,
                "overall_compliance": self.overall_compliance,
            },
            "highest_risk_facilities": [dict(h) for h in self.highest_risk_facilities],
        }


@dataclass(slots=True)
class Action:
    action: str
    affected_equipment: list[str]
    risk_reduction: int  # facility risk_score before − after
    compliance_gain: int  # overall compliance after − before
    estimated_cost: str  # Low | Medium | High
    urgency: str  # Low | Medium | High | Critical
    kind: str  # replace | maintenance | retrofit | labels | study

    def to_dict(self) -> dict:
        return {
            "action": self.action,
            "affected_equipment": list(self.affected_equipment),
            "risk_reduction": self.risk_reduction,
            "compliance_gain": self.compliance_gain,
            "estimated_cost": self.estimated_cost,
            "urgency": self.urgency,
        }
