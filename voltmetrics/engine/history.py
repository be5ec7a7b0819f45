"""Monthly history and forecast (risk-model.md §7 trend, §8)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import date

from .dates import forecast_points, history_points, month_label
from .equipment import assess_equipment, facility_context
from .facility import weighted_risk_score
from .rounding import round_half_up_ratio
from .types import EquipmentIn, FacilityIn, ModelParams, default_model

__all__ = [
    "facility_snapshot",
    "facility_stats",
    "stats_over",
    "mean_age_years",
    "portfolio_snapshot",
    "facility_history",
    "portfolio_history",
    "facility_forecast",
    "restrict_to",
]


def facility_stats(facility: FacilityIn, model: ModelParams, at: date):
    """(risk_score or None, N, Σ age days of known installs, number of known installs)."""
    ctx = facility_context(facility, at)

    def scored(e):
        r = assess_equipment(e, facility, model, at, ctx)
        return r.risk_score, r.importance

    return stats_over(facility, at, scored)


def stats_over(facility: FacilityIn, at: date, scored: Callable[[EquipmentIn], tuple | None]):
    """``facility_stats`` with each equipment's (score, importance) at ``at`` given by
    ``scored`` (None: it has none), for the equipment counted at ``at``."""
    at_ord = at.toordinal()
    pairs = []
    sum_days = known = 0
    for e in facility.equipment:
        inst = e.install_date
        if inst is not None:
            if inst > at:
                continue
            sum_days += at_ord - inst.toordinal()
            known += 1
        pair = scored(e)
        if pair is not None:
            pairs.append(pair)
    return weighted_risk_score(pairs), len(pairs), sum_days, known


def mean_age_years(sum_days: int, known: int):
    return None if known == 0 else round_half_up_ratio(4 * sum_days, 1461 * known, 1)


def facility_snapshot(facility: FacilityIn, model: ModelParams | None, at: date) -> dict:
    """``{risk_score, equipment_count, equipment_age}`` of one facility at ``at`` from the
    records known now (maintenance after ``at`` and equipment installed after ``at`` do not
    count).  ``risk_score`` is None when no equipment counts; ``equipment_age`` (mean age,
    1 decimal) None when no install date is known."""
    score, n, sd, k = facility_stats(facility, model or default_model(), at)
    return {"risk_score": score, "equipment_count": n, "equipment_age": mean_age_years(sd, k)}


def portfolio_snapshot(
    facilities: Iterable[FacilityIn], model: ModelParams | None, at: date
) -> dict:
    """§7 trend figures at ``at``: round(mean facility score over facilities with N > 0),
    all counted equipment, mean age of all counted equipment with a known install date."""
    model = model or default_model()
    scores = []
    n_all = sd_all = k_all = 0
    for f in facilities:
        score, n, sd, k = facility_stats(f, model, at)
        if n > 0 and score is not None:
            scores.append(score)
        n_all += n
        sd_all += sd
        k_all += k
    avg = round_half_up_ratio(sum(scores), len(scores)) if scores else None
    return {
        "risk_score": avg,
        "equipment_count": n_all,
        "equipment_age": mean_age_years(sd_all, k_all),
    }


def _history(snap, as_of: date, months: int, snapshots: Mapping[date, Mapping] | None):
    out = []
    for d in history_points(as_of, months):
        stored = snapshots.get(d) if (snapshots is not None and d != as_of) else None
        s = stored if stored is not None else snap(d)
        out.append(
            {
                "month": month_label(d),
                "risk_score": s.get("risk_score"),
                "equipment_count": s.get("equipment_count"),
                "equipment_age": s.get("equipment_age"),
            }
        )
    return out


def facility_history(
    facility: FacilityIn,
    model: ModelParams | None,
    as_of: date,
    months: int = 6,
    snapshots: Mapping[date, Mapping] | None = None,
) -> list[dict]:
    """``historical_risk``: ``months`` entries ``{month, risk_score, equipment_count,
    equipment_age}``, oldest first; earlier months at their last day, the current month at
    ``as_of``.  ``snapshots`` (month-end date → stored snapshot dict) are used instead of
    back-filling where present (never for the current month)."""
    model = model or default_model()
    return _history(lambda d: facility_snapshot(facility, model, d), as_of, months, snapshots)


def portfolio_history(
    facilities: Iterable[FacilityIn],
    model: ModelParams | None,
    as_of: date,
    months: int = 6,
    snapshots: Mapping[date, Mapping] | None = None,
) -> list[dict]:
    """Portfolio ``risk_trends`` (6 entries, like :func:`facility_history`)."""
    model = model or default_model()
    facs = list(facilities)
    return _history(lambda d: portfolio_snapshot(facs, model, d), as_of, months, snapshots)


def restrict_to(facility: FacilityIn, as_of: date) -> FacilityIn:
    """A copy holding only the records on or before ``as_of``: equipment installed after it
    is dropped, maintenance performed after it is dropped."""
    eqs = []
    for e in facility.equipment:
        if e.install_date is not None and e.install_date > as_of:
            continue
        if any(m.performed_on > as_of for m in e.maintenance):
            e = replace(e, maintenance=tuple(m for m in e.maintenance if m.performed_on <= as_of))
        eqs.append(e)
    return replace(facility, equipment=tuple(eqs))


def facility_forecast(
    facility: FacilityIn, model: ModelParams | None, as_of: date, months: int = 3
) -> list[dict]:
    """``forecast``: ``{month, risk_score}`` at the last days of the ``months`` months after
    ``as_of``'s month, from the records on or before ``as_of`` (equipment keeps ageing and
    maintenance keeps lapsing)."""
    model = model or default_model()
    known = restrict_to(facility, as_of)
    return [
        {"month": month_label(d), "risk_score": facility_stats(known, model, d)[0]}
        for d in forecast_points(as_of, months)
    ]
