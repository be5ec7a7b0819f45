"""Per-equipment assessment: risk-model.md §3 (factors), §4 (score, rating, critical threat,
condition label) and §5 (NFPA 70B / 70E per equipment).  Pure and fast: no I/O, no clock."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

from .dates import add_months, add_years
from .results import EquipmentResult, FactorResult, Nfpa70BResult, Nfpa70EResult, StudyResult
from .rounding import round_half_up, round_half_up_ratio
from .types import EquipmentIn, FacilityIn, ModelParams, Thresholds

__all__ = [
    "FacilityContext",
    "facility_context",
    "assess_equipment",
    "is_counted",
    "rating_for",
    "is_critical_threat",
    "condition_label",
    "equipment_material",
    "study_status",
    "with_served_scores",
]

_LEVELS = {"none": 0, "minimal": 25, "moderate": 60, "severe": 100}
_EXPOSURE = {"minimal": 0.0, "moderate": 50.0, "severe": 100.0}
_CONDITION_LABELS = {
    "excellent": "Excellent",
    "good": "Good",
    "fair": "Fair",
    "poor": "Poor",
    "critical": "Critical",
}
_TYPE_DISPLAY = {"ats": "ATS", "ups": "UPS", "mcc": "MCC"}
_FACTOR_NAMES = ("age", "material", "maintenance", "environmental", "loading", "condition")


def _fmt(x) -> str:
    """A number for a sentence: 35 → "35", 22.5 → "22.5", 71.26 → "71.3"."""
    if isinstance(x, int):
        return str(x)
    r = round_half_up(float(x), 1)
    if r == int(r):
        return str(int(r))
    return str(r)


def _years_phrase(y: float) -> str:
    k = math.floor(y)
    if k < 1:
        return "less than 1 year"
    return "1 year" if k == 1 else f"{k} years"


def _months_phrase(m: float) -> str:
    k = math.floor(m + 1e-9)
    if k < 1:
        return "less than 1 month"
    return "1 month" if k == 1 else f"{k} months"


def _unknown(x) -> bool:
    return x is None or x != x  # None or NaN


def is_counted(eq: EquipmentIn, as_of: date) -> bool:
    """risk-model.md §1: install date unknown or on/before ``as_of``."""
    return eq.install_date is None or eq.install_date <= as_of


def rating_for(score: int, thresholds: Thresholds) -> str:
    """Low 0–40, Medium 41–70, High 71–85, Critical 86–100 (model 1.0 thresholds)."""
    if score <= thresholds.low_max:
        return "Low"
    if score <= thresholds.medium_max:
        return "Medium"
    if score <= thresholds.high_max:
        return "High"
    return "Critical"


def is_critical_threat(
    rating: str, score: int, importance: float, serves_critical_load: bool
) -> bool:
    """§4: rating Critical; or importance ≥ 3.0 and rating High; or servesCriticalLoad and
    score > 70."""
    return (
        rating == "Critical"
        or (importance >= 3.0 and rating == "High")
        or (bool(serves_critical_load) and score > 70)
    )


def condition_label(condition_value: float, overall_condition: str | None = None) -> str:
    """ThreatMap's ``condition``: the recorded overallCondition, else from the (unrounded)
    condition factor: ≤10 Excellent, ≤30 Good, ≤55 Fair, ≤80 Poor, above Critical."""
    if overall_condition:
        return _CONDITION_LABELS.get(overall_condition.strip().lower(), overall_condition)
    if condition_value <= 10:
        return "Excellent"
    if condition_value <= 30:
        return "Good"
    if condition_value <= 55:
        return "Fair"
    if condition_value <= 80:
        return "Poor"
    return "Critical"


def equipment_material(conductors) -> str:
    """§3 material class: mixed | aluminum | copper | unknown."""
    has_cu = has_al = trans = False
    for c in conductors:
        m = c.material
        if m is not None:
            m = m.lower()
            if m == "copper":
                has_cu = True
            elif m == "aluminum":
                has_al = True
        if c.al_cu_transition:
            trans = True
    if trans or (has_cu and has_al):
        return "mixed"
    if has_al:
        return "aluminum"
    if has_cu:
        return "copper"
    return "unknown"


def study_status(study_date: date | None, as_of: date) -> StudyResult:
    """§5 NFPA 70E: current when study date + 5 calendar years ≥ as_of."""
    if study_date is None:
        return StudyResult(None, None, "missing")
    due = add_years(study_date, 5)
    return StudyResult(study_date, due, "current" if due >= as_of else "expired")


@dataclass(slots=True)
class FacilityContext:
    """Facility-level inputs shared by all its equipment at one ``as_of``."""

    env_value: float
    env_gaps: tuple
    env_description: str
    study: StudyResult
    study_current: bool


def facility_context(facility: FacilityIn, as_of: date) -> FacilityContext:
    gaps = []
    parts = []
    h = facility.humidity_avg
    if _unknown(h):
        H = 0.0
        gaps.append("humidity")
        parts.append("humidity unknown")
    else:
        H = 2.5 * (h - 40)
        H = 0.0 if H < 0 else 100.0 if H > 100 else H
        parts.append(f"humidity {_fmt(h)}% RH")
    t = facility.temperature_avg_f
    if _unknown(t):
        T = 0.0
        gaps.append("temperature")
        parts.append("temperature unknown")
    else:
        T = 5.0 * (t - 75)
        T = 0.0 if T < 0 else 100.0 if T > 100 else T
        parts.append(f"average {_fmt(t)}°F")
    x = facility.outdoor_exposure
    X = _EXPOSURE.get(x.strip().lower()) if isinstance(x, str) else None
    if X is None:
        X = 0.0
        gaps.append("exposure")
        parts.append("outdoor exposure unknown")
    else:
        parts.append(f"{x.strip().lower()} outdoor exposure")
    value = 0.5 * H + 0.25 * T + 0.25 * X
    desc = parts[0][0].upper() + parts[0][1:] + ", " + ", ".join(parts[1:])
    st = study_status(facility.arc_flash_study_date, as_of)
    return FacilityContext(value, tuple(gaps), desc, st, st.status == "current")


def _factor_key(f: FactorResult):
    return (-(f.weight * f.value), f.factor)


def assess_equipment(
    eq: EquipmentIn,
    facility: FacilityIn,
    model: ModelParams,
    as_of: date,
    context: FacilityContext | None = None,
) -> EquipmentResult:
    """Assess one equipment at ``as_of`` (risk-model.md §3–§5).

    Maintenance performed after ``as_of`` is ignored.  This function does not check §1
    (use :func:`is_counted`); for equipment installed after ``as_of`` spans are clamped at 0.
    ``context`` may be passed (from :func:`facility_context`) to skip recomputing the
    facility-level parts for each equipment.
    """
    ctx = context if context is not None else facility_context(facility, as_of)
    profile = model.profile_for(eq.type)
    life = eq.life_years
    if life is None or not life > 0:
        life = profile.life_years
    interval = eq.interval_months
    if interval is None or not interval > 0:
        interval = profile.interval_months
    weights = model.weights
    as_ord = as_of.toordinal()
    gaps = []
    tdisp = _TYPE_DISPLAY.get(eq.type) or (eq.type or "equipment").capitalize()

    # ---- age
    install = eq.install_date
    if install is None:
        age_v = 50.0
        age_years = None
        gaps.append("install_date")
        age_desc = f"{tdisp} install date unknown (expected life {_fmt(life)} years)"
    else:
        days = as_ord - install.toordinal()
        if days < 0:
            days = 0
        age_years = days / 365.25
        r = age_years / life
        if r <= 0.75:
            age_v = 80.0 * r
        elif r < 1:
            age_v = 60.0 + 160.0 * (r - 0.75)
        else:
            age_v = 100.0
        age_desc = f"{tdisp} is {_years_phrase(age_years)} old (expected life {_fmt(life)} years)"

    # ---- material
    has_cu = has_al = trans = crimped = False
    for c in eq.conductors:
        m = c.material
        if m is not None:
            if m == "copper" or m.lower() == "copper":
                has_cu = True
            elif m == "aluminum" or m.lower() == "aluminum":
                has_al = True
        if c.al_cu_transition:
            trans = True
        ct = c.connection_type
        if ct is not None and (ct == "crimped" or ct.strip().lower() == "crimped"):
            crimped = True
    if trans or (has_cu and has_al):
        material = "mixed"
        mat_v = 85.0
        mat_desc = (
            "Mixed copper and aluminum conductors"
            if not trans
            else "Aluminum-copper transition in the conductors"
        )
    elif has_al:
        material = "aluminum"
        mat_v = 70.0
        mat_desc = "Aluminum conductors"
    elif has_cu:
        material = "copper"
        mat_v = 20.0
        mat_desc = "Copper conductors"
    else:
        material = "unknown"
        mat_v = 40.0
        gaps.append("conductors")
        mat_desc = "Conductor material unknown"
    if crimped:
        mat_v += 10.0
        mat_desc += " with a crimped connection"
    if material in ("aluminum", "mixed") and install is not None and install.year < 1975:
        mat_v += 10.0
        mat_desc += f", installed {install.year} (before 1975)"
    if mat_v > 100.0:
        mat_v = 100.0

    # ---- maintenance (+ NFPA 70B)
    last = None
    for rec in eq.maintenance:
        p = rec.performed_on
        if p <= as_of and (last is None or p > last):
            last = p
    baseline = last if last is not None else install
    if baseline is None:
        mnt_v = 100.0
        gaps.append("maintenance_history")
        mnt_desc = f"No maintenance history or install date (interval {interval} months)"
        b70 = Nfpa70BResult(None, None, "overdue", False, 0, None, interval)
    else:
        bdays = as_ord - baseline.toordinal()
        if bdays < 0:
            bdays = 0
        m = bdays / 30.4375
        if m <= interval:
            mnt_v = 30.0 * m / interval
            since = "Last maintenance" if last is not None else "No maintenance since installation"
            mnt_desc = f"{since} {_months_phrase(m)} ago (interval {interval} months)"
        else:
            mnt_v = 30.0 + 35.0 * (m - interval) / 12.0
            if mnt_v > 100.0:
                mnt_v = 100.0
            what = "Maintenance" if last is not None else "First maintenance"
            mnt_desc = f"{what} {_months_phrase(m - interval)} overdue (interval {interval} months)"
        next_due = add_months(baseline, interval)
        nd = next_due.toordinal()
        if as_ord > nd:
            dov = as_ord - nd
            if isinstance(interval, int):
                pct = round_half_up_ratio(48700 * interval - 1600 * dov, 487 * interval)
            else:
                pct = round_half_up(100.0 - 100.0 * dov / (interval * 30.4375))
            pct = 0 if pct < 0 else 99 if pct > 99 else pct
            b70 = Nfpa70BResult(baseline, next_due, "overdue", False, pct, dov, interval)
        elif nd - as_ord <= 30:
            b70 = Nfpa70BResult(baseline, next_due, "due_soon", True, 100, 0, interval)
        else:
            b70 = Nfpa70BResult(baseline, next_due, "up_to_date", True, 100, 0, interval)

    # ---- environmental (facility)
    env_v = ctx.env_value
    if ctx.env_gaps:
        gaps.extend(ctx.env_gaps)

    # ---- loading
    L = eq.load_percent
    if L is None or L != L:
        load_v = 0.0
        gaps.append("loading")
        load_desc = "Load unknown"
    else:
        if L <= 60:
            load_v = 0.0
        elif L < 100:
            load_v = 2.5 * (L - 60)
        else:
            load_v = 100.0
        load_desc = f"Load at {_fmt(L)}% of rated capacity"

    # ---- condition
    obs = eq.observations
    if obs is None or (
        obs.corrosion is None
        and obs.rust is None
        and obs.wear is None
        and obs.heat_discoloration is None
        and obs.clearance_issue is None
        and obs.operating_temp_c is None
        and obs.overall_condition is None
    ):
        cond_v = 0.0
        gaps.append("observations")
        cond_desc = "No observations recorded"
        overall = None
    else:
        co = obs.corrosion
        ru = obs.rust
        we = obs.wear
        cv = _LEVELS.get(co.lower(), 0) if co else 0
        rv = _LEVELS.get(ru.lower(), 0) if ru else 0
        wv = _LEVELS.get(we.lower(), 0) if we else 0
        # 0.4·corrosion + 0.3·rust + 0.3·wear, exact for the integer levels
        cond_v = (4 * cv + 3 * rv + 3 * wv) / 10
        cond_desc = (
            f"Corrosion {(co or 'unknown').lower()}, rust {(ru or 'unknown').lower()}, "
            f"wear {(we or 'unknown').lower()}"
        )
        ot = obs.operating_temp_c
        hot = ot is not None and ot == ot and ot >= 60
        if obs.heat_discoloration is True or hot:
            cond_v += 20.0
            if obs.heat_discoloration is True:
                cond_desc += "; heat discoloration"
            if hot:
                cond_desc += f"; operating at {_fmt(ot)}°C"
            if cond_v > 100.0:
                cond_v = 100.0
        overall = obs.overall_condition

    # ---- score
    wa = weights.get("age", 0.0)
    wm = weights.get("material", 0.0)
    wn = weights.get("maintenance", 0.0)
    we_ = weights.get("environmental", 0.0)
    wl = weights.get("loading", 0.0)
    wc = weights.get("condition", 0.0)
    total = wa * age_v + wm * mat_v + wn * mnt_v + we_ * env_v + wl * load_v + wc * cond_v
    score = math.floor(total + 0.5 + 1e-9)
    if score < 0:
        score = 0
    elif score > 100:
        score = 100
    th = model.thresholds
    if score <= th.low_max:
        rating = "Low"
    elif score <= th.medium_max:
        rating = "Medium"
    elif score <= th.high_max:
        rating = "High"
    else:
        rating = "Critical"

    factors = [
        FactorResult("age", age_v, math.floor(age_v + 0.5 + 1e-9), wa, age_desc),
        FactorResult("material", mat_v, math.floor(mat_v + 0.5 + 1e-9), wm, mat_desc),
        FactorResult("maintenance", mnt_v, math.floor(mnt_v + 0.5 + 1e-9), wn, mnt_desc),
        FactorResult(
            "environmental", env_v, math.floor(env_v + 0.5 + 1e-9), we_, ctx.env_description
        ),
        FactorResult("loading", load_v, math.floor(load_v + 0.5 + 1e-9), wl, load_desc),
        FactorResult("condition", cond_v, math.floor(cond_v + 0.5 + 1e-9), wc, cond_desc),
    ]
    factors.sort(key=_factor_key)

    importance = profile.importance
    scl = bool(eq.serves_critical_load)
    critical = (
        rating == "Critical" or (importance >= 3.0 and rating == "High") or (scl and score > 70)
    )

    label = bool(eq.label_present)
    sc = ctx.study_current
    pct70e = 100 if (label and sc) else 70 if sc else 30 if label else 0
    e70 = Nfpa70EResult(label and sc, pct70e, label, sc, eq.incident_energy, eq.ppe_category)

    return EquipmentResult(
        eq.id,
        eq.name,
        eq.type,
        as_of,
        score,
        rating,
        factors,
        factors[0].factor,
        gaps,
        critical,
        condition_label(cond_v, overall),
        material,
        age_years,
        last,
        b70,
        e70,
        importance,
        scl,
        model.version,
        "local",
    )


def with_served_scores(
    local: EquipmentResult,
    *,
    risk_score: int,
    rating: str | None = None,
    risk_factors: list[FactorResult] | None = None,
    algorithm_version: str,
    source: str = "voltmetrics",
    thresholds: Thresholds | None = None,
) -> EquipmentResult:
    """A copy of a local result carrying another source's score (e.g. VoltMetrics), so facility
    figures can be aggregated from served results.  Rating defaults to the §4 band of the
    score; the critical-threat flag is recomputed; factors are re-ordered by §4."""
    if rating is None:
        rating = rating_for(risk_score, thresholds or Thresholds())
    factors = list(risk_factors) if risk_factors is not None else list(local.risk_factors)
    factors.sort(key=_factor_key)
    return EquipmentResult(
        local.equipment_id,
        local.name,
        local.type,
        local.as_of,
        int(risk_score),
        rating,
        factors,
        factors[0].factor if factors else local.primary_risk_factor,
        list(local.data_gaps),
        is_critical_threat(rating, risk_score, local.importance, local.serves_critical_load),
        local.condition,
        local.material,
        local.age_years,
        local.last_service,
        local.nfpa_70b,
        local.nfpa_70e,
        local.importance,
        local.serves_critical_load,
        algorithm_version,
        source,
    )
