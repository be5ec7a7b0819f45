"""The dashboard's portfolio half: what ThreatMap is served for the whole portfolio, with the
equipment's risk distribution, the 3-month forecast and what waits for a mapping.

The totals, averages, compliance overview, 6-month trend and top five are the stored
portfolio assessment (``PortfolioAssessment``, the payload behind ``/portfolio/summary``), as of
its last recompute. Two figures are not stored for the portfolio and are put together here
from the stored facility assessments of the active facilities (one query):

- the **risk distribution**: the facilities' ``risk_distribution`` (counted equipment per
  rating, each by its served result) added up;
- the **forecast**: per forecast month, the facilities' stored forecast scores aggregated as
  the portfolio's own risk score is (risk-model.md §7): the mean over the facilities with
  counted equipment, rounded half up — the same rule as a trend month's score.

Four queries, whatever the size of the portfolio (two before the first recompute)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from equipment.models import Equipment, MaterialMapping
from equipment.unmapped import unmapped_classes, unmapped_material_codes
from facilities.models import Facility
from masterbus.charts import BarChart, LineChart, bar_chart, line_chart
from voltmetrics import engine
from voltmetrics.choices import Rating, Source
from voltmetrics.models import FacilityAssessment, PortfolioAssessment

from .links import Links

RATINGS = [(r.value, r.value.lower()) for r in Rating]  # Low … Critical, and their css class


@dataclass
class Top:
    name: str
    external_id: str
    location: str
    risk_score: int | None
    risk_level: str
    critical_equipment_count: int
    url: str = ""


@dataclass
class Figure:
    label: str
    value: int | None
    unit: str = ""


@dataclass
class Portfolio:
    assessed: bool
    as_of: date | None = None
    computed_at: datetime | None = None
    algorithm_version: str = ""
    total_facilities: int = 0
    total_equipment: int = 0
    facilities_url: str = ""
    equipment_url: str = ""
    risk: list[Figure] = field(default_factory=list)
    compliance: list[Figure] = field(default_factory=list)
    distribution: dict[str, int] = field(default_factory=dict)
    distribution_chart: BarChart | None = None
    trend: list[tuple[str, int | None]] = field(default_factory=list)
    forecast: list[tuple[str, int | None]] = field(default_factory=list)
    trend_chart: LineChart | None = None
    top: list[Top] = field(default_factory=list)
    unmapped_classes: int = 0
    unmapped_class_equipment: int = 0
    unmapped_classes_url: str = ""
    unmapped_codes: int = 0
    unmapped_code_conductors: int = 0
    unmapped_codes_url: str = ""
    material_mappings_url: str = ""


def _facility_rows() -> list[tuple]:
    """``(pk, external id, risk score, risk level, equipment count, risk distribution,
    forecast)`` of the stored assessment of every active facility: one query, only the two
    payload keys read."""
    return list(
        FacilityAssessment.objects.filter(
            source=Source.LOCAL, facility__deleted_at__isnull=True
        ).values_list(
            "facility_id", "facility__external_id", "risk_score", "risk_level", "equipment_count",
            "payload__risk_distribution", "payload__forecast",
        )
    )  # fmt: skip


def distribution_of(rows: list[tuple]) -> dict[str, int]:
    """Counted equipment per rating (Low … Critical), over the facilities' distributions."""
    total = {rating: 0 for rating, _ in RATINGS}
    for *_, dist, _forecast in rows:
        for rating, _ in RATINGS:
            total[rating] += int((dist or {}).get(rating.lower()) or 0)
    return total


def forecast_of(rows: list[tuple], as_of: date) -> list[tuple[str, int | None]]:
    """The portfolio's score at each forecast month after ``as_of``: the rounded mean of the
    facility forecasts of that month, over facilities with counted equipment (§7); a month no
    facility forecast has is None."""
    months = [engine.month_label(d) for d in engine.forecast_points(as_of)]
    scores: dict[str, list[int]] = {m: [] for m in months}
    for _pk, _ext, score, _level, n, _dist, forecast in rows:
        if not n or score is None:
            continue
        for point in forecast or ():
            if not isinstance(point, dict) or point.get("risk_score") is None:
                continue
            if point.get("month") in scores:
                scores[point["month"]].append(point["risk_score"])
    return [
        (m, engine.round_half_up_ratio(sum(s), len(s)) if s else None) for m, s in scores.items()
    ]


def portfolio(links: Links | None = None) -> Portfolio:
    links = links or Links()
    pa = PortfolioAssessment.objects.filter(source=Source.LOCAL).first()
    out = Portfolio(
        assessed=pa is not None,
        facilities_url=links.changelist(Facility),
        equipment_url=links.changelist(Equipment),
    )
    classes = unmapped_classes()
    codes = unmapped_material_codes()
    out.unmapped_classes = len(classes)
    out.unmapped_class_equipment = sum(c.live for c in classes)
    out.unmapped_classes_url = links.named(Equipment, "equipment_equipmentclassmapping_unmapped")
    out.unmapped_codes = len(codes)
    out.unmapped_code_conductors = sum(c.live for c in codes)
    out.unmapped_codes_url = links.changelist(Equipment, material="unknown")
    out.material_mappings_url = links.changelist(MaterialMapping)
    if pa is None:
        # Nothing computed yet (a fresh install, or before the first recompute): the mirror.
        out.total_facilities = Facility.objects.filter(deleted_at__isnull=True).count()
        out.total_equipment = Equipment.objects.filter(deleted_at__isnull=True).count()
        return out

    p = pa.payload or {}
    rows = _facility_rows()
    out.as_of, out.computed_at = pa.as_of, pa.computed_at
    out.algorithm_version = pa.algorithm_version
    out.total_facilities = p.get("total_facilities") or 0
    out.total_equipment = p.get("total_equipment") or 0
    risk = p.get("risk_overview") or {}
    out.risk = [
        Figure("Average risk score", risk.get("average_risk_score")),
        Figure("High-risk facilities", risk.get("high_risk_facilities")),
        Figure("Critical-risk equipment", risk.get("critical_risk_equipment")),
        Figure("High-risk equipment", risk.get("high_risk_equipment")),
    ]
    compliance = p.get("compliance_overview") or {}
    out.compliance = [
        Figure("NFPA 70B", compliance.get("nfpa_70b_compliance"), "%"),
        Figure("NFPA 70E", compliance.get("nfpa_70e_compliance"), "%"),
        Figure("Overall", compliance.get("overall_compliance"), "%"),
    ]
    out.distribution = distribution_of(rows)
    out.distribution_chart = bar_chart(
        [(rating, out.distribution[rating], css) for rating, css in RATINGS],
        title="Equipment by risk rating",
    )
    out.trend = [(t.get("month", ""), t.get("risk_score")) for t in p.get("risk_trends") or ()]
    out.forecast = forecast_of(rows, pa.as_of)
    out.trend_chart = line_chart(
        out.trend, out.forecast, title="Portfolio risk score: 6 months and 3-month forecast"
    )
    by_external = {ext: (pk, level or "") for pk, ext, _s, level, *_ in rows}
    for item in p.get("highest_risk_facilities") or ():
        pk, level = by_external.get(item.get("facility_id"), (None, ""))
        out.top.append(
            Top(
                name=item.get("facility_name", ""),
                external_id=item.get("facility_id", ""),
                location=item.get("location") or "",
                risk_score=item.get("risk_score"),
                risk_level=level,
                critical_equipment_count=item.get("critical_equipment_count", 0),
                url=links.change(Facility, pk) if pk is not None else "",
            )
        )
    return out
