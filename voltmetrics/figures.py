"""Everything stored for one facility, computed by the engine: pure (no ORM, no clock).

The recompute service loads records, calls :func:`facility_figures` per facility and stores
the result; the benchmark times this function alone as "the engine" on the same data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from . import engine
from .engine import EquipmentParts, EquipmentResult, FacilityIn, FacilityResult, ModelParams


@dataclass(frozen=True, slots=True)
class ServedScore:
    """Another source's result that wins for one equipment (voltmetrics.md)."""

    risk_score: int
    rating: str
    factors: list[dict]
    algorithm_version: str


@dataclass(slots=True)
class BackfilledMonth:
    month: date
    snapshot: dict  # {risk_score, equipment_count, equipment_age}
    age_days_sum: int
    age_known: int


@dataclass(slots=True)
class FacilityFigures:
    result: FacilityResult  # aggregated from the served results
    history: list[dict]
    forecast: list[dict]
    actions: list[engine.Action]
    backfilled: list[BackfilledMonth]
    age_days_sum: int
    age_known: int
    parts: dict[str, EquipmentParts]  # per counted equipment (its result is local's)
    reused: set[str]  # equipment whose parts were passed in, not computed

    @property
    def local(self) -> dict[str, EquipmentResult]:
        """The built-in engine's result per counted equipment (a reused one without its
        factor descriptions)."""
        return {eid: p.result for eid, p in self.parts.items()}

    def payload(self) -> dict:
        out = self.result.to_dict(include_equipment=False)
        out.update(
            historical_risk=self.history,
            forecast=self.forecast,
            recommendations=[a.to_dict() for a in self.actions],
        )
        return out


def backfill_months(as_of: date, frozen: dict[date, dict] | None) -> list[date]:
    """The past months of the history that are not frozen, so are back-filled."""
    frozen = frozen or {}
    return [d for d in engine.history_points(as_of)[:-1] if d not in frozen]


def facility_figures(
    fac: FacilityIn,
    model: ModelParams,
    as_of: date,
    *,
    frozen: dict[date, dict] | None = None,
    served: dict[str, ServedScore] | None = None,
    reuse: Mapping[str, EquipmentParts] | None = None,
) -> FacilityFigures:
    """Equipment results, facility aggregate, 6-month history, forecast and
    recommendations of one facility at ``as_of``.

    ``frozen`` are the monthly task's snapshots (the record of the past); every other past
    month of the history is back-filled from the records known now. ``served`` are results
    of another source that win over the built-in engine's for those equipment. ``reuse`` are
    stored parts of equipment whose records, facility, model and ``as_of`` are those they
    were computed with (the caller vouches for that); parts that lack a back-filled month
    are computed again.
    """
    frozen = frozen or {}
    months = backfill_months(as_of, frozen)
    pctx = engine.parts_context(fac, as_of, months)
    parts: dict[str, EquipmentParts] = {}
    reused: set[str] = set()
    for e in fac.equipment:
        if not engine.is_counted(e, as_of):
            continue
        p = reuse.get(e.id) if reuse else None
        if p is not None and p.covers(e, months):
            reused.add(e.id)
        else:
            p = engine.equipment_parts(e, fac, model, pctx)
        parts[e.id] = p
    local = {eid: p.result for eid, p in parts.items()}
    results = local
    if served:
        results = dict(local)
        for ext, score in served.items():
            if ext in local:
                results[ext] = engine.with_served_scores(
                    local[ext],
                    risk_score=score.risk_score,
                    rating=score.rating,
                    risk_factors=[engine.FactorResult.from_dict(f) for f in score.factors] or None,
                    algorithm_version=score.algorithm_version,
                    thresholds=model.thresholds,
                )
    fr = engine.aggregate_facility(fac, results, model, as_of)

    backfilled = []
    history = []
    for d in engine.history_points(as_of)[:-1]:
        snap = frozen.get(d)
        if snap is None:
            score, n, days, known = engine.snapshot_from_parts(fac, parts, d)
            snap = {
                "risk_score": score,
                "equipment_count": n,
                "equipment_age": engine.mean_age_years(days, known),
            }
            backfilled.append(BackfilledMonth(d, snap, days, known))
        history.append({"month": engine.month_label(d), **_trend(snap)})
    # The current month is the facility as served now.
    history.append(
        {
            "month": engine.month_label(as_of),
            "risk_score": fr.risk_score,
            "equipment_count": fr.equipment_count,
            "equipment_age": fr.equipment_age,
        }
    )
    base = fr if results is local else engine.aggregate_facility(fac, local, model, as_of)
    days = known = 0
    at = as_of.toordinal()
    for e in fac.equipment:
        if e.install_date is not None and e.install_date <= as_of:
            days += at - e.install_date.toordinal()
            known += 1
    return FacilityFigures(
        result=fr,
        history=history,
        forecast=engine.forecast_from_parts(parts.values(), as_of),
        actions=engine.recommend(
            fac, model, as_of, base=base, outcomes={eid: p.outcomes for eid, p in parts.items()}
        ),
        backfilled=backfilled,
        age_days_sum=days,
        age_known=known,
        parts=parts,
        reused=reused,
    )


def _trend(snap: dict) -> dict:
    return {
        "risk_score": snap.get("risk_score"),
        "equipment_count": snap.get("equipment_count"),
        "equipment_age": snap.get("equipment_age"),
    }
