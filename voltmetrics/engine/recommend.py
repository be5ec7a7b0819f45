"""Recommendations (risk-model.md §9): each action is simulated on a copy of the records and
scored by the engine at ``as_of``."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from fractions import Fraction

from .equipment import assess_equipment, facility_context
from .facility import aggregate_facility
from .results import Action, FacilityResult
from .rounding import round_half_up, round_half_up_ratio
from .types import (
    ConductorIn,
    EquipmentIn,
    FacilityIn,
    MaintenanceIn,
    ModelParams,
    ObservationsIn,
    default_model,
)

__all__ = ["recommend", "items_phrase", "SIMULATED_RECORD_ID"]

SIMULATED_RECORD_ID = "__simulated__"
_RATING_RANK = {"Low": 0, "Medium": 1, "High": 2, "Critical": 3}
_NO_OBSERVATIONS = ObservationsIn(
    corrosion="none",
    rust="none",
    wear="none",
    heat_discoloration=False,
    clearance_issue=False,
    operating_temp_c=None,
    overall_condition=None,
)


def items_phrase(n: int) -> str:
    """ "1 item", "N items"."""
    return "1 item" if n == 1 else f"{n} items"


def _copper(eq: EquipmentIn) -> tuple[ConductorIn, ...]:
    if not eq.conductors:
        return (ConductorIn("copper", None, False),)
    return tuple(replace(c, material="copper", al_cu_transition=False) for c in eq.conductors)


def _serviced(eq: EquipmentIn, as_of: date) -> tuple[MaintenanceIn, ...]:
    return tuple(eq.maintenance) + (MaintenanceIn(SIMULATED_RECORD_ID, "preventive", as_of),)


def _highest(ratings) -> str:
    return max(ratings, key=_RATING_RANK.__getitem__)


def recommend(
    facility: FacilityIn, model: ModelParams | None, as_of: date, base: FacilityResult | None = None
) -> list[Action]:
    """§9 priority actions, ordered by risk_reduction + compliance_gain desc, then
    risk_reduction desc, then action text; at most 10.

    ``base`` may be passed if it is this engine's own (local) result for ``facility`` at
    ``as_of``; otherwise it is computed.
    """
    model = model or default_model()
    if (
        base is None
        or base.as_of != as_of
        or any(r.source != "local" for r in base.equipment_results.values())
    ):
        base = aggregate_facility(facility, None, model, as_of)
    if base.equipment_count == 0:
        return []
    results = base.equipment_results
    counted = [e for e in facility.equipment if e.id in results]
    before_risk = base.risk_score
    before_comp = base.compliance.overall
    ctx = facility_context(facility, as_of)

    # Facility figures are sums over equipment, so a simulation only re-assesses the changed
    # equipment and adjusts the sums (exact arithmetic, the same figures as aggregate_facility).
    n = base.equipment_count
    weights: dict[float, Fraction] = {}
    for r in results.values():
        if r.importance not in weights:
            weights[r.importance] = Fraction(r.importance)
    num0 = sum((r.risk_score * weights[r.importance] for r in results.values()), Fraction(0))
    den0 = sum((weights[r.importance] for r in results.values()), Fraction(0))
    sum0 = sum(r.risk_score for r in results.values())
    overdue0 = sum(1 for r in results.values() if r.nfpa_70b.status == "overdue")
    labeled0 = sum(1 for r in results.values() if r.nfpa_70e.label_present)

    def simulate(changed: dict[str, EquipmentIn], study_current: bool | None = None):
        num, den, total, overdue, labeled = num0, den0, sum0, overdue0, labeled0
        for eid, e in changed.items():
            old = results[eid]
            new = assess_equipment(e, facility, model, as_of, ctx)
            w = weights[old.importance]
            num += (new.risk_score - old.risk_score) * w
            total += new.risk_score - old.risk_score
            overdue += (new.nfpa_70b.status == "overdue") - (old.nfpa_70b.status == "overdue")
            labeled += new.nfpa_70e.label_present - old.nfpa_70e.label_present
        risk = round_half_up(num / den) if den > 0 else round_half_up_ratio(total, n)
        sc = ctx.study_current if study_current is None else study_current
        c70b = round_half_up_ratio(100 * (n - overdue), n)
        c70e = round_half_up_ratio((70 * n if sc else 0) + 30 * labeled, n)
        overall = round_half_up_ratio(c70b + c70e, 2)
        return before_risk - risk, overall - before_comp

    actions: list[Action] = []

    # Replace {name}: age factor 100 and rating High or Critical
    for e in counted:
        r = results[e.id]
        if r.rating in ("High", "Critical") and (r.factor_value("age") or 0) >= 100:
            new = replace(
                e,
                install_date=as_of,
                conductors=_copper(e),
                observations=_NO_OBSERVATIONS,
                maintenance=(MaintenanceIn(SIMULATED_RECORD_ID, "replacement", as_of),),
            )
            rr, cg = simulate({e.id: new})
            actions.append(Action(f"Replace {e.name}", [e.id], rr, cg, "High", r.rating, "replace"))

    # Perform overdue maintenance
    aff = [e for e in counted if results[e.id].nfpa_70b.status == "overdue"]
    if aff:
        rr, cg = simulate({e.id: replace(e, maintenance=_serviced(e, as_of)) for e in aff})
        actions.append(
            Action(
                f"Perform overdue maintenance on {items_phrase(len(aff))}",
                [e.id for e in aff],
                rr,
                cg,
                "Medium",
                _highest(results[e.id].rating for e in aff),
                "maintenance",
            )
        )

    # Retrofit aluminum terminations
    aff = [
        e
        for e in counted
        if results[e.id].material in ("aluminum", "mixed")
        and results[e.id].rating in ("High", "Critical")
    ]
    if aff:
        rr, cg = simulate({e.id: replace(e, conductors=_copper(e)) for e in aff})
        actions.append(
            Action(
                f"Retrofit aluminum terminations on {items_phrase(len(aff))}",
                [e.id for e in aff],
                rr,
                cg,
                "Medium",
                _highest(results[e.id].rating for e in aff),
                "retrofit",
            )
        )

    label_urgency = "High" if base.compliance.nfpa_70e < 75 else "Medium"

    # Update arc flash labels
    aff = [e for e in counted if not results[e.id].nfpa_70e.label_present]
    if aff:
        rr, cg = simulate({e.id: replace(e, label_present=True) for e in aff})
        actions.append(
            Action(
                f"Update arc flash labels on {items_phrase(len(aff))}",
                [e.id for e in aff],
                rr,
                cg,
                "Low",
                label_urgency,
                "labels",
            )
        )

    # Renew arc flash study
    if not base.compliance.study.current:
        rr, cg = simulate({}, study_current=True)  # study date = as_of: current
        actions.append(
            Action(
                "Renew arc flash study",
                [e.id for e in counted],
                rr,
                cg,
                "Medium",
                label_urgency,
                "study",
            )
        )

    actions.sort(
        key=lambda a: (
            -(a.risk_reduction + a.compliance_gain),
            -a.risk_reduction,
            a.action,
            a.affected_equipment,
        )
    )
    return actions[:10]
