"""Recommendations (risk-model.md §9): each action is simulated on a copy of the records and
scored by the engine at ``as_of``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from .equipment import facility_context
from .facility import aggregate_facility, integer_weights
from .parts import SIMULATED_RECORD_ID, Outcome, equipment_outcomes
from .results import Action, FacilityResult
from .rounding import round_half_up_ratio
from .types import FacilityIn, ModelParams, default_model

__all__ = ["recommend", "items_phrase", "SIMULATED_RECORD_ID"]

_RATING_RANK = {"Low": 0, "Medium": 1, "High": 2, "Critical": 3}


def items_phrase(n: int) -> str:
    """ "1 item", "N items"."""
    return "1 item" if n == 1 else f"{n} items"


def _highest(ratings) -> str:
    return max(ratings, key=_RATING_RANK.__getitem__)


def recommend(
    facility: FacilityIn,
    model: ModelParams | None,
    as_of: date,
    base: FacilityResult | None = None,
    outcomes: Mapping[str, Mapping[str, Outcome]] | None = None,
) -> list[Action]:
    """§9 priority actions, ordered by risk_reduction + compliance_gain desc, then
    risk_reduction desc, then action text; at most 10.

    ``base`` may be passed if it is this engine's own (local) result for ``facility`` at
    ``as_of``; otherwise it is computed. ``outcomes`` (equipment id → action kind → outcome,
    as in ``EquipmentParts.outcomes``) may be passed for the counted equipment; otherwise
    each simulated equipment is assessed here.
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
    if outcomes is None:
        outcomes = {
            e.id: equipment_outcomes(e, results[e.id], facility, model, as_of, ctx) for e in counted
        }

    # Facility figures are sums over equipment, so a simulation only adjusts the sums by the
    # affected equipment's outcomes (exact arithmetic, the same figures as aggregate_facility).
    n = base.equipment_count
    weights = integer_weights(r.importance for r in results.values())
    num0 = sum(r.risk_score * weights[r.importance] for r in results.values())
    den0 = sum(weights[r.importance] for r in results.values())
    sum0 = sum(r.risk_score for r in results.values())
    overdue0 = sum(1 for r in results.values() if r.nfpa_70b.status == "overdue")
    labeled0 = sum(1 for r in results.values() if r.nfpa_70e.label_present)

    def simulate(kind: str, eids: list[str], study_current: bool | None = None):
        num, den, total, overdue, labeled = num0, den0, sum0, overdue0, labeled0
        for eid in eids:
            old = results[eid]
            new = outcomes[eid][kind]
            w = weights[old.importance]
            num += (new.risk_score - old.risk_score) * w
            total += new.risk_score - old.risk_score
            overdue += new.overdue - (old.nfpa_70b.status == "overdue")
            labeled += new.label_present - old.nfpa_70e.label_present
        risk = round_half_up_ratio(num, den) if den > 0 else round_half_up_ratio(total, n)
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
            rr, cg = simulate("replace", [e.id])
            actions.append(Action(f"Replace {e.name}", [e.id], rr, cg, "High", r.rating, "replace"))

    # Perform overdue maintenance
    aff = [e for e in counted if results[e.id].nfpa_70b.status == "overdue"]
    if aff:
        rr, cg = simulate("maintenance", [e.id for e in aff])
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
        rr, cg = simulate("retrofit", [e.id for e in aff])
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
        rr, cg = simulate("labels", [e.id for e in aff])
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
        rr, cg = simulate("study", [], study_current=True)  # study date = as_of: current
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
