"""Facility aggregation and compliance (risk-model.md §5–§6) and portfolio (§7)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date

from .equipment import assess_equipment, facility_context, rating_for
from .results import (
    CategoryResult,
    ComplianceResult,
    EquipmentResult,
    FacilityResult,
    InspectionDue,
    PortfolioResult,
)
from .rounding import round_half_up, round_half_up_ratio
from .types import FACTORS, FacilityIn, ModelParams, default_model

__all__ = [
    "aggregate_facility",
    "assess_facility",
    "assess_portfolio",
    "weighted_risk_score",
    "integer_weights",
    "compliance_status",
    "humidity_risk",
    "CATEGORY_DESCRIPTIONS",
]

CATEGORY_DESCRIPTIONS = {
    "age": "Equipment age against expected service life",
    "material": "Conductor material and connection risk",
    "maintenance": "Time since last maintenance against the NFPA 70B interval",
    "environmental": "Facility humidity, temperature and outdoor exposure",
    "loading": "Measured load against rated capacity",
    "condition": "Observed corrosion, rust, wear and heat",
}


def integer_weights(importances: Iterable[float]) -> dict[float, int]:
    """Each distinct importance as an exact integer weight: importance · q, where q is the
    largest denominator among their exact binary fractions (a power of two, so every
    importance · q is an integer). Ratios of sums of these weights are exact."""
    ratios = {}
    for imp in importances:
        if imp not in ratios:
            ratios[imp] = float(imp).as_integer_ratio()
    q = 1
    for _, den in ratios.values():
        if den > q:  # denominators are powers of two: the largest is their lcm
            q = den
    return {imp: p * (q // d) for imp, (p, d) in ratios.items()}


def weighted_risk_score(pairs: Iterable[tuple[int, float]]) -> int | None:
    """§6 ``round(Σ score·importance / Σ importance)`` computed exactly (importances are
    converted to exact binary fractions).  ``None`` when there are no pairs; if every
    importance is 0, the plain mean of the scores."""
    pairs = list(pairs)
    if not pairs:
        return None
    weights = integer_weights(imp for _, imp in pairs)
    num = tot = 0
    for score, imp in pairs:
        w = weights[imp]
        num += score * w
        tot += w
    if tot <= 0:
        return round_half_up_ratio(sum(s for s, _ in pairs), len(pairs))
    return round_half_up_ratio(num, tot)


def compliance_status(overall: int | None) -> str | None:
    """§5: Compliant ≥ 90, Warning 75–89, Out of Compliance < 75."""
    if overall is None:
        return None
    if overall >= 90:
        return "Compliant"
    if overall >= 75:
        return "Warning"
    return "Out of Compliance"


def humidity_risk(h: float | None) -> str | None:
    """§6: < 50 Low, 50–65 Medium, > 65 High; unknown None."""
    if h is None or h != h:
        return None
    if h < 50:
        return "Low"
    if h <= 65:
        return "Medium"
    return "High"


def _name_key(r: EquipmentResult):
    return (-r.risk_score, r.name, r.equipment_id)


def _top_threats(results: list[EquipmentResult]) -> list[str]:
    cands = sorted((r for r in results if r.rating in ("High", "Critical")), key=_name_key)
    picked = []
    picked_ids = set()
    types = set()
    for r in cands:
        if len(picked) == 5:
            break
        if r.type not in types:
            types.add(r.type)
            picked.append(r)
            picked_ids.add(r.equipment_id)
    for r in cands:
        if len(picked) == 5:
            break
        if r.equipment_id not in picked_ids:
            picked.append(r)
            picked_ids.add(r.equipment_id)
    picked.sort(key=_name_key)
    return [r.equipment_id for r in picked]


def aggregate_facility(
    facility: FacilityIn,
    results: Mapping[str, EquipmentResult] | None,
    model: ModelParams | None,
    as_of: date,
) -> FacilityResult:
    """Facility figures (§5 facility compliance, §6) from per-equipment results.

    ``results`` maps equipment id → result (local or served, e.g. VoltMetrics via
    :func:`with_served_scores`); counted equipment (§1) missing from it are assessed locally.
    Results for equipment that does not count at ``as_of`` are ignored.
    """
    model = model or default_model()
    results = results or {}
    ctx = facility_context(facility, as_of)
    as_ord = as_of.toordinal()
    counted = [e for e in facility.equipment if e.install_date is None or e.install_date <= as_of]
    res_list: list[EquipmentResult] = []
    for e in counted:
        r = results.get(e.id)
        if r is None:
            r = assess_equipment(e, facility, model, as_of, ctx)
        res_list.append(r)
    n = len(res_list)

    dist = {"low": 0, "medium": 0, "high": 0, "critical": 0}
    crit = 0
    breakdown = {"copper": 0, "aluminum": 0}
    insp = {"up_to_date": 0, "due_soon": 0, "overdue": 0}
    labeled = 0
    e_compliant = 0
    sum_scores = 0
    sum_days = 0
    known = 0
    for e, r in zip(counted, res_list, strict=True):
        dist[r.rating.lower()] += 1
        if r.critical_threat:
            crit += 1
        if r.material == "copper":
            breakdown["copper"] += 1
        elif r.material in ("aluminum", "mixed"):
            breakdown["aluminum"] += 1
        insp[r.nfpa_70b.status] += 1
        if r.nfpa_70e.label_present:
            labeled += 1
        sum_scores += r.risk_score
        if e.install_date is not None:
            sum_days += as_ord - e.install_date.toordinal()
            known += 1
    overdue = insp["overdue"]

    # risk
    risk_score = weighted_risk_score((r.risk_score, r.importance) for r in res_list)
    risk_level = None if risk_score is None else rating_for(risk_score, model.thresholds)
    avg = None if n == 0 else round_half_up_ratio(sum_scores, 100 * n, 2)
    # ages: days/365.25 = 4·days/1461
    system_age = None if known == 0 else f"{round_half_up_ratio(4 * sum_days, 1461 * known)} years"
    eq_age = None if known == 0 else round_half_up_ratio(4 * sum_days, 1461 * known, 1)
    fac_age = None if facility.year_built is None else as_of.year - facility.year_built

    # categories
    cats = []
    for fname in FACTORS:
        total = 0.0
        affected = 0
        for r in res_list:
            v = r.factor_value(fname)
            if v is None:
                continue
            total += v
            if v >= 50 - 1e-9:  # "factor ≥ 50", tolerant of float error
                affected += 1
        if n:
            score = round_half_up(total / n)
            pct = round_half_up_ratio(100 * affected, n, 1)
            desc = (
                f"{CATEGORY_DESCRIPTIONS[fname]}; {affected} of {n} "
                f"{'item' if n == 1 else 'items'} at 50 or above"
            )
        else:
            score = None
            pct = None
            desc = CATEGORY_DESCRIPTIONS[fname]
        cats.append(CategoryResult(fname, score, desc, affected, pct))

    # compliance
    sc = ctx.study_current
    for r in res_list:
        if r.nfpa_70e.label_present and sc:
            e_compliant += 1
    if n:
        c70b = round_half_up_ratio(100 * (n - overdue), n)
        labeling = 100 * labeled / n
        # 0.7·StudyCompliance + 0.3·100·labeled/N = (70·N·[current] + 30·labeled) / N
        c70e = round_half_up_ratio((70 * n if sc else 0) + 30 * labeled, n)
        overall = round_half_up_ratio(c70b + c70e, 2)
    else:
        c70b = labeling = c70e = overall = None
    due = []
    for r in res_list:
        b = r.nfpa_70b
        if b.next_due is None:
            key = (0, 0, r.name, r.equipment_id)
            dov = None
        elif b.status == "overdue":
            dov = as_ord - b.next_due.toordinal()
            key = (1, -dov, r.name, r.equipment_id)
        else:
            dov = 0
            key = (2, b.next_due.toordinal(), r.name, r.equipment_id)
        due.append((key, InspectionDue(r.equipment_id, r.name, r.type, b.next_due, dov)))
    due.sort(key=lambda t: t[0])
    compliance = ComplianceResult(
        nfpa_70b=c70b,
        labeling=labeling,
        nfpa_70e=c70e,
        overall=overall,
        status=compliance_status(overall),
        study=ctx.study,
        inspection_status=insp,
        nfpa_70b_counts={"total": n, "compliant": n - overdue, "non_compliant": overdue},
        nfpa_70e_counts={"total": n, "compliant": e_compliant, "non_compliant": n - e_compliant},
        label_status={"present": labeled, "missing": n - labeled},
        next_inspections_due=[d for _, d in due[:20]],
    )

    high_items = [
        r.equipment_id
        for r in sorted((r for r in res_list if r.rating in ("High", "Critical")), key=_name_key)
    ]

    return FacilityResult(
        facility_id=facility.id,
        facility_name=facility.name,
        as_of=as_of,
        algorithm_version=model.version,
        equipment_count=n,
        risk_score=risk_score,
        risk_level=risk_level,
        risk_distribution=dist,
        critical_equipment_count=crit,
        high_risk_equipment_count=dist["high"],
        average_equipment_risk=avg,
        conductor_type_breakdown=breakdown,
        humidity_risk=humidity_risk(facility.humidity_avg),
        facility_age=fac_age,
        system_age=system_age,
        equipment_age=eq_age,
        top_threats=_top_threats(res_list),
        high_risk_items=high_items,
        risk_categories=cats,
        compliance=compliance,
        equipment_results={r.equipment_id: r for r in res_list},
    )


def assess_facility(
    facility: FacilityIn,
    model: ModelParams | None,
    as_of: date,
    equipment_results: Mapping[str, EquipmentResult] | None = None,
) -> FacilityResult:
    """Assess every counted equipment (or use ``equipment_results`` where given) and
    aggregate (§5–§6)."""
    return aggregate_facility(facility, equipment_results, model, as_of)


def assess_portfolio(facility_results: Iterable[FacilityResult]) -> PortfolioResult:
    """§7 over the results of every active facility (pass all of them: ``total_facilities``
    counts each; averages are over facilities with N > 0)."""
    frs = list(facility_results)
    live = [f for f in frs if f.equipment_count > 0 and f.risk_score is not None]
    k = len(live)

    def mean(vals):
        vals = [v for v in vals if v is not None]
        return round_half_up_ratio(sum(vals), len(vals)) if vals else None

    top = sorted(live, key=lambda f: (-f.risk_score, f.facility_name, f.facility_id))[:5]
    return PortfolioResult(
        total_facilities=len(frs),
        total_equipment=sum(f.equipment_count for f in frs),
        average_risk_score=mean(f.risk_score for f in live) if k else None,
        high_risk_facilities=sum(1 for f in live if f.risk_level in ("High", "Critical")),
        critical_risk_equipment=sum(f.critical_equipment_count for f in live),
        high_risk_equipment=sum(f.high_risk_equipment_count for f in live),
        nfpa_70b_compliance=mean(f.compliance.nfpa_70b for f in live),
        nfpa_70e_compliance=mean(f.compliance.nfpa_70e for f in live),
        overall_compliance=mean(f.compliance.overall for f in live),
        highest_risk_facilities=[
            {
                "facility_id": f.facility_id,
                "facility_name": f.facility_name,
                "risk_score": f.risk_score,
                "critical_equipment_count": f.critical_equipment_count,
            }
            for f in top
        ],
    )
