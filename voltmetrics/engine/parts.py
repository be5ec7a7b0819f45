"""Per-equipment parts of the facility figures (risk-model.md §7 trend, §8, §9).

Every facility figure that needs more than the equipment results at ``as_of`` is a sum over
equipment: the back-filled month-end scores and the forecast are importance-weighted means of
per-equipment scores at other dates, and each recommendation's what-if simulation changes only
the affected equipment's score, overdue status and label. :func:`equipment_parts` computes one
equipment's share of all of them; the facility figures are then put together from the parts
(:func:`forecast_from_parts`, :func:`snapshot_from_parts`, ``recommend(outcomes=…)``).

The parts of one equipment depend only on its own records, its facility's own fields, the model
and ``as_of``: parts of unchanged equipment can be kept and reused with the changed
equipment's new parts, and the figures are the same as computing everything again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date

from .dates import forecast_points, month_label
from .equipment import FacilityContext, assess_equipment, facility_context
from .facility import weighted_risk_score
from .history import stats_over
from .results import EquipmentResult, FactorResult, Nfpa70BResult, Nfpa70EResult
from .types import (
    ConductorIn,
    EquipmentIn,
    FacilityIn,
    MaintenanceIn,
    ModelParams,
    ObservationsIn,
)

__all__ = [
    "ACTION_KINDS",
    "PARTS_FORMAT",
    "SIMULATED_RECORD_ID",
    "Outcome",
    "EquipmentParts",
    "PartsContext",
    "parts_context",
    "equipment_parts",
    "simulated_equipment",
    "equipment_outcomes",
    "forecast_from_parts",
    "snapshot_from_parts",
]

SIMULATED_RECORD_ID = "__simulated__"
# Bumped whenever the stored form of EquipmentParts changes: other forms are not read.
PARTS_FORMAT = 1
# The §9 actions simulated per equipment ("Renew arc flash study" changes no equipment).
ACTION_KINDS = ("replace", "maintenance", "retrofit", "labels")
_NO_OBSERVATIONS = ObservationsIn(
    corrosion="none",
    rust="none",
    wear="none",
    heat_discoloration=False,
    clearance_issue=False,
    operating_temp_c=None,
    overall_condition=None,
)


@dataclass(frozen=True, slots=True)
class Outcome:
    """One equipment after a simulated action, as the facility sums see it."""

    risk_score: int
    overdue: bool
    label_present: bool


@dataclass(slots=True)
class EquipmentParts:
    """One counted equipment's share of its facility's figures at ``as_of``."""

    result: EquipmentResult  # the built-in engine's result at as_of
    forecast: tuple[int, ...]  # score at each forecast point (records on or before as_of)
    history: dict[date, int]  # score at back-filled month ends where it counted
    outcomes: dict[str, Outcome]  # by action kind, for the actions that apply to it

    def covers(self, equipment: EquipmentIn, months: Iterable[date]) -> bool:
        """Whether these parts hold every history score ``equipment`` needs for ``months``
        (none is needed at a month end before its install date)."""
        install = equipment.install_date
        return all(m in self.history or (install is not None and install > m) for m in months)

    def to_dict(self) -> dict:
        """JSON-safe, compact: what the facility figures need, no more. The result is kept
        without its factor descriptions (the assessment row holds the full result)."""
        r = self.result
        b, e = r.nfpa_70b, r.nfpa_70e
        return {
            "format": PARTS_FORMAT,
            "result": [
                r.risk_score, r.rating, [[f.factor, f.value, f.score, f.weight] for f in r.risk_factors],
                r.primary_risk_factor, list(r.data_gaps), r.critical_threat, r.condition,
                r.material, r.age_years, _iso(r.last_service),
                [_iso(b.baseline), _iso(b.next_due), b.status, b.compliant,
                 b.compliance_percentage, b.days_overdue, b.interval_months],
                [e.compliant, e.compliance_percentage, e.label_present, e.study_current,
                 e.incident_energy, e.ppe_category],
                r.importance,
            ],
            "forecast": list(self.forecast),
            "history": {m.isoformat(): s for m, s in self.history.items()},
            "outcomes": {
                k: [o.risk_score, o.overdue, o.label_present] for k, o in self.outcomes.items()
            },
        }  # fmt: skip

    @classmethod
    def from_dict(
        cls, d: Mapping, equipment: EquipmentIn, as_of: date, algorithm_version: str
    ) -> EquipmentParts:
        """Parts stored by :meth:`to_dict` for ``equipment`` at ``as_of``. The result's
        factor descriptions are empty: use it for facility figures, never store it.
        Raises ValueError for parts stored in another form (see ``PARTS_FORMAT``)."""
        if d.get("format") != PARTS_FORMAT:
            raise ValueError(f"parts stored in form {d.get('format')!r}, not {PARTS_FORMAT}")
        (
            score, rating, factors, primary, gaps, critical, condition, material, age, last,
            b, e, importance,
        ) = d["result"]  # fmt: skip
        result = EquipmentResult(
            equipment.id, equipment.name, equipment.type, as_of, score, rating,
            [FactorResult(f, float(v), s, float(w), "") for f, v, s, w in factors], primary,
            gaps, critical, condition, material, age, _date(last),
            Nfpa70BResult(_date(b[0]), _date(b[1]), b[2], b[3], b[4], b[5], b[6]),
            Nfpa70EResult(*e), importance, bool(equipment.serves_critical_load),
            algorithm_version, "local",
        )  # fmt: skip
        return cls(
            result,
            tuple(d["forecast"]),
            {date.fromisoformat(m): s for m, s in d["history"].items()},
            {k: Outcome(s, od, lab) for k, (s, od, lab) in d["outcomes"].items()},
        )


def _iso(d: date | None) -> str | None:
    return None if d is None else d.isoformat()


def _date(s: str | None) -> date | None:
    return None if s is None else date.fromisoformat(s)


@dataclass(frozen=True, slots=True)
class PartsContext:
    """The facility-level inputs of every equipment's parts, worked out once per facility."""

    as_of: date
    at_as_of: FacilityContext
    forecast: tuple[tuple[date, FacilityContext], ...]
    history: tuple[tuple[date, FacilityContext], ...]


def parts_context(
    facility: FacilityIn, as_of: date, history_months: Sequence[date] = ()
) -> PartsContext:
    """Contexts at ``as_of``, at the forecast points and at the back-filled month ends."""
    return PartsContext(
        as_of,
        facility_context(facility, as_of),
        tuple((d, facility_context(facility, d)) for d in forecast_points(as_of)),
        tuple((d, facility_context(facility, d)) for d in history_months),
    )


def _copper(eq: EquipmentIn) -> tuple[ConductorIn, ...]:
    if not eq.conductors:
        return (ConductorIn("copper", None, False),)
    return tuple(replace(c, material="copper", al_cu_transition=False) for c in eq.conductors)


def simulated_equipment(eq: EquipmentIn, r: EquipmentResult, as_of: date) -> dict[str, EquipmentIn]:
    """§9: the simulated copy of ``eq`` for each action that applies to it, by action kind,
    given its result ``r`` at ``as_of``."""
    out = {}
    high = r.rating in ("High", "Critical")
    if high and (r.factor_value("age") or 0) >= 100:
        # Replace {name}: new, copper, clean, just commissioned.
        out["replace"] = replace(
            eq,
            install_date=as_of,
            conductors=_copper(eq),
            observations=_NO_OBSERVATIONS,
            maintenance=(MaintenanceIn(SIMULATED_RECORD_ID, "replacement", as_of),),
        )
    if r.nfpa_70b.status == "overdue":
        out["maintenance"] = replace(
            eq,
            maintenance=tuple(eq.maintenance)
            + (MaintenanceIn(SIMULATED_RECORD_ID, "preventive", as_of),),
        )
    if high and r.material in ("aluminum", "mixed"):
        out["retrofit"] = replace(eq, conductors=_copper(eq))
    if not r.nfpa_70e.label_present:
        out["labels"] = replace(eq, label_present=True)
    return out


def equipment_outcomes(
    eq: EquipmentIn,
    result: EquipmentResult,
    facility: FacilityIn,
    model: ModelParams,
    as_of: date,
    ctx: FacilityContext,
) -> dict[str, Outcome]:
    """The outcome of each §9 action that applies to ``eq`` (``result``: its result at
    ``as_of``; ``ctx``: its facility's context at ``as_of``)."""
    out = {}
    for kind, sim in simulated_equipment(eq, result, as_of).items():
        r = assess_equipment(sim, facility, model, as_of, ctx)
        out[kind] = Outcome(r.risk_score, r.nfpa_70b.status == "overdue", r.nfpa_70e.label_present)
    return out


def equipment_parts(
    eq: EquipmentIn, facility: FacilityIn, model: ModelParams, pctx: PartsContext
) -> EquipmentParts:
    """The parts of one equipment counted at ``pctx.as_of`` (risk-model.md §1)."""
    as_of = pctx.as_of
    result = assess_equipment(eq, facility, model, as_of, pctx.at_as_of)
    # The forecast uses the records on or before as_of: the equipment keeps ageing and its
    # maintenance keeps lapsing.
    known = eq
    if any(m.performed_on > as_of for m in eq.maintenance):
        known = replace(eq, maintenance=tuple(m for m in eq.maintenance if m.performed_on <= as_of))
    forecast = tuple(
        assess_equipment(known, facility, model, d, c).risk_score for d, c in pctx.forecast
    )
    install = eq.install_date
    history = {
        d: assess_equipment(eq, facility, model, d, c).risk_score
        for d, c in pctx.history
        if install is None or install <= d
    }
    outcomes = equipment_outcomes(eq, result, facility, model, as_of, pctx.at_as_of)
    return EquipmentParts(result, forecast, history, outcomes)


def forecast_from_parts(parts: Iterable[EquipmentParts], as_of: date) -> list[dict]:
    """``forecast`` (§8) from the parts of the equipment counted at ``as_of``."""
    parts = list(parts)
    return [
        {
            "month": month_label(d),
            "risk_score": weighted_risk_score((p.forecast[i], p.result.importance) for p in parts),
        }
        for i, d in enumerate(forecast_points(as_of))
    ]


def snapshot_from_parts(
    facility: FacilityIn, parts: Mapping[str, EquipmentParts], at: date
) -> tuple[int | None, int, int, int]:
    """Like ``facility_stats`` at a back-filled month end ``at``: (risk_score or None, N,
    Σ age days of known installs, number of known installs)."""

    def scored(e: EquipmentIn):
        p = parts.get(e.id)
        return None if p is None else (p.history[at], p.result.importance)

    return stats_over(facility, at, scored)
