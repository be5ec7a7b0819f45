"""VoltMetrics' answers, validated into small typed objects (voltmetrics.md "The service's API").

Each ``parse_*`` takes the decoded JSON of one answer and returns its answer object or raises
:class:`Invalid` naming the first problem. ``Invalid.retry`` tells a malformed answer (not an
object, a field missing or of the wrong type, another record's id) — what a proxy or an
overloaded service makes of a good answer, worth asking again — from an answer that is well
formed but out of range (a score outside 0–100, an unknown rating or job status).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime

from voltmetrics.choices import JobStatus, Rating

RATINGS = frozenset(Rating.values)
JOB_STATUSES = frozenset(JobStatus.values)


@dataclass(frozen=True)
class IngestAnswer:
    job_id: str
    status: str
    count: int | None = None
    estimated_completion_time: str | None = None


@dataclass(frozen=True)
class JobAnswer:
    job_id: str
    status: str
    started_at: datetime | None = None
    completed_at: datetime | None = None
    calculation_type: str = ""
    items_processed: int | None = None
    algorithm_version: str = ""
    results_available: bool | None = None
    error: str = ""


@dataclass(frozen=True)
class EquipmentResultAnswer:
    equipment_id: str
    calculation_timestamp: datetime
    algorithm_version: str
    risk_score: int
    risk_rating: str
    risk_factors: list[dict] = field(default_factory=list)
    compliance: dict = field(default_factory=dict)
    raw: dict = field(default_factory=dict)


@dataclass(frozen=True)
class FacilityResultAnswer:
    facility_id: str
    calculation_timestamp: datetime
    algorithm_version: str
    risk_score: int | None
    risk_level: str
    overall_compliance: int | None
    raw: dict = field(default_factory=dict)


@dataclass(frozen=True)
class AlgorithmsAnswer:
    current_version: str
    available_versions: list[dict]


class Invalid(Exception):
    """The answer is not valid; ``retry``: malformed (ask again) rather than out of range."""

    def __init__(self, message: str, *, retry: bool = True):
        super().__init__(message)
        self.message = message
        self.retry = retry


def _need(obj: dict, key: str, where: str):
    if key not in obj:
        raise Invalid(f"{where}{key} is missing")
    return obj[key]


def _obj(value, where: str) -> dict:
    if not isinstance(value, dict):
        raise Invalid(f"{where} must be an object")
    return value


def _str(value, where: str, *, empty: bool = False) -> str:
    if not isinstance(value, str) or (not empty and not value.strip()):
        raise Invalid(f"{where} must be a {'' if empty else 'non-empty '}string")
    return value


def _int(value, where: str, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise Invalid(f"{where} must be an integer ≥ {minimum}")
    return value


def _number(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise Invalid(f"{where} must be a number")
    return float(value)


def _score(value, where: str) -> int:
    num = _number(value, where)
    if not 0 <= num <= 100:
        raise Invalid(f"{where} {value!r} is outside 0–100", retry=False)
    return int(round(num))


def _rating(value, where: str) -> str:
    if not isinstance(value, str) or value not in RATINGS:
        raise Invalid(
            f"{where} {value!r} is not one of {', '.join(Rating.values)}",
            retry=not isinstance(value, str),
        )
    return value


def _timestamp(value, where: str, *, nullable: bool = False) -> datetime | None:
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        raise Invalid(f"{where} must be an ISO 8601 timestamp")
    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    except ValueError:
        raise Invalid(f"{where} {value[:60]!r} is not an ISO 8601 timestamp") from None
    if ts.tzinfo is None:
        raise Invalid(f"{where} must carry a UTC offset")
    return ts.astimezone(UTC)


def _job_status(value, where: str) -> str:
    if not isinstance(value, str) or value not in JOB_STATUSES:
        raise Invalid(
            f"{where} {value!r} is not one of {', '.join(JobStatus.values)}",
            retry=not isinstance(value, str),
        )
    return value


def parse_ingest(data, count_key: str | None) -> IngestAnswer:
    data = _obj(data, "the answer")
    count = None
    if count_key is not None and count_key in data:
        count = _int(data[count_key], count_key)
    eta = data.get("estimated_completion_time")
    if eta is not None:
        _str(eta, "estimated_completion_time", empty=True)
    return IngestAnswer(
        job_id=_str(_need(data, "job_id", ""), "job_id")[:200],
        status=_job_status(_need(data, "status", ""), "status"),
        count=count,
        estimated_completion_time=eta,
    )


def parse_job(data, job_id: str) -> JobAnswer:
    data = _obj(data, "the answer")
    got = _str(_need(data, "job_id", ""), "job_id")
    if got != job_id:
        raise Invalid(f"job_id {got!r} is not the job asked for ({job_id!r})")
    items = data.get("items_processed")
    avail = data.get("results_available")
    if avail is not None and not isinstance(avail, bool):
        raise Invalid("results_available must be a boolean")
    error = data.get("error")
    if isinstance(error, dict):
        error = ": ".join(str(error[k]) for k in ("code", "message") if error.get(k))
    elif error is not None and not isinstance(error, str):
        raise Invalid("error must be a string or an object")
    return JobAnswer(
        job_id=got,
        status=_job_status(_need(data, "status", ""), "status"),
        started_at=_timestamp(data.get("started_at"), "started_at", nullable=True),
        completed_at=_timestamp(data.get("completed_at"), "completed_at", nullable=True),
        calculation_type=_str(data.get("calculation_type") or "", "calculation_type", empty=True),
        items_processed=None if items is None else _int(items, "items_processed"),
        algorithm_version=_str(
            data.get("algorithm_version") or "", "algorithm_version", empty=True
        ),
        results_available=avail,
        error=(error or "")[:2000],
    )


def parse_equipment_result(data, equipment_id: str) -> EquipmentResultAnswer:
    data = _obj(data, "the answer")
    got = _str(_need(data, "equipment_id", ""), "equipment_id")
    if got != equipment_id:
        raise Invalid(f"equipment_id {got!r} is not the equipment asked for ({equipment_id!r})")
    risk = _obj(_need(data, "risk_assessment", ""), "risk_assessment")
    factors_raw = _need(risk, "risk_factors", "risk_assessment.")
    if not isinstance(factors_raw, list):
        raise Invalid("risk_assessment.risk_factors must be a list")
    factors = []
    for i, f in enumerate(factors_raw):
        where = f"risk_assessment.risk_factors[{i}]"
        f = _obj(f, where)
        weight = _number(_need(f, "weight", f"{where}."), f"{where}.weight")
        if weight < 0:
            raise Invalid(f"{where}.weight must not be negative")
        factors.append(
            {
                "factor": _str(_need(f, "factor", f"{where}."), f"{where}.factor")[:32],
                "score": _score(_need(f, "score", f"{where}."), f"{where}.score"),
                "weight": weight,
                "description": _str(
                    _need(f, "description", f"{where}."), f"{where}.description", empty=True
                ),
            }
        )
    compliance = data.get("compliance") or {}
    _obj(compliance, "compliance")
    if "nfpa_70b" in compliance and compliance["nfpa_70b"] is not None:
        _obj(compliance["nfpa_70b"], "compliance.nfpa_70b")
    return EquipmentResultAnswer(
        equipment_id=got,
        calculation_timestamp=_timestamp(
            _need(data, "calculation_timestamp", ""), "calculation_timestamp"
        ),
        algorithm_version=_str(_need(data, "algorithm_version", ""), "algorithm_version")[:32],
        risk_score=_score(
            _need(risk, "risk_score", "risk_assessment."), "risk_assessment.risk_score"
        ),
        risk_rating=_rating(
            _need(risk, "risk_rating", "risk_assessment."), "risk_assessment.risk_rating"
        ),
        risk_factors=factors,
        compliance=compliance,
        raw=data,
    )


def parse_facility_result(data, facility_id: str) -> FacilityResultAnswer:
    data = _obj(data, "the answer")
    got = _str(_need(data, "facility_id", ""), "facility_id")
    if got != facility_id:
        raise Invalid(f"facility_id {got!r} is not the facility asked for ({facility_id!r})")
    summary = _obj(_need(data, "risk_summary", ""), "risk_summary")
    score = _need(summary, "risk_score", "risk_summary.")
    level = _need(summary, "risk_level", "risk_summary.")
    comp = _obj(_need(data, "compliance_summary", ""), "compliance_summary")
    for key in ("nfpa_70b_compliance", "nfpa_70e_compliance"):
        if comp.get(key) is not None:
            _score(comp[key], f"compliance_summary.{key}")
    overall = _need(comp, "overall_compliance", "compliance_summary.")
    return FacilityResultAnswer(
        facility_id=got,
        calculation_timestamp=_timestamp(
            _need(data, "calculation_timestamp", ""), "calculation_timestamp"
        ),
        algorithm_version=_str(_need(data, "algorithm_version", ""), "algorithm_version")[:32],
        risk_score=None if score is None else _score(score, "risk_summary.risk_score"),
        risk_level="" if level is None else _rating(level, "risk_summary.risk_level"),
        overall_compliance=None
        if overall is None
        else _score(overall, "compliance_summary.overall_compliance"),
        raw=data,
    )


def parse_algorithms(data) -> AlgorithmsAnswer:
    data = _obj(data, "the answer")
    versions = _need(data, "available_versions", "")
    if not isinstance(versions, list):
        raise Invalid("available_versions must be a list")
    for i, v in enumerate(versions):
        _str(
            _need(_obj(v, f"available_versions[{i}]"), "version", ""),
            f"available_versions[{i}].version",
        )
    return AlgorithmsAnswer(
        current_version=_str(_need(data, "current_version", ""), "current_version"),
        available_versions=versions,
    )
