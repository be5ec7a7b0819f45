"""Property-based invariants (hypothesis)."""

import json
from dataclasses import replace
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from voltmetrics.engine import (
    FACTORS,
    ConductorIn,
    EquipmentIn,
    FacilityIn,
    MaintenanceIn,
    ObservationsIn,
    assess_equipment,
    assess_facility,
    default_model,
    facility_context,
    recommend,
)

MODEL = default_model()
TYPES = sorted(MODEL.profiles) + ["unmapped"]
LEVEL = st.sampled_from([None, "none", "minimal", "moderate", "severe"])
DATES = st.dates(min_value=date(1940, 1, 1), max_value=date(2030, 12, 31))
opt_float = lambda lo, hi: st.none() | st.floats(lo, hi, allow_nan=False)  # noqa: E731

conductors = st.lists(
    st.builds(
        ConductorIn,
        st.sampled_from([None, "copper", "aluminum"]),
        st.sampled_from([None, "lug", "bolted", "crimped", "compression"]),
        st.booleans(),
    ),
    max_size=3,
).map(tuple)
observations = st.none() | st.builds(
    ObservationsIn,
    LEVEL,
    LEVEL,
    LEVEL,
    st.none() | st.booleans(),
    st.none() | st.booleans(),
    opt_float(-20, 150),
    st.sampled_from([None, "Good", "Poor"]),
)
maintenance = st.lists(
    st.builds(MaintenanceIn, st.just("m"), st.sampled_from(["preventive", "corrective"]), DATES),
    max_size=4,
).map(tuple)


@st.composite
def equipment(draw, i=0):
    return EquipmentIn(
        id=f"e{i}",
        name=draw(st.sampled_from(["A", "B", "b", "Panel"])),
        type=draw(st.sampled_from(TYPES)),
        install_date=draw(st.none() | DATES),
        conductors=draw(conductors),
        observations=draw(observations),
        load_percent=draw(opt_float(0, 250)),
        label_present=draw(st.booleans()),
        serves_critical_load=draw(st.booleans()),
        maintenance=draw(maintenance),
        life_years=draw(st.none() | st.floats(1, 80)),
        interval_months=draw(st.none() | st.integers(1, 60)),
    )


@st.composite
def facility(draw, max_eq=6):
    n = draw(st.integers(0, max_eq))
    eqs = tuple(draw(equipment(i)) for i in range(n))
    return FacilityIn(
        "f",
        "F",
        draw(st.none() | st.integers(1850, 2030)),
        draw(opt_float(0, 100)),
        draw(opt_float(-20, 130)),
        draw(st.sampled_from([None, "minimal", "moderate", "severe", "odd"])),
        draw(st.none() | DATES),
        eqs,
    )


def fval(r, name):
    return r.factor_value(name)


@given(equipment(), facility(0), DATES)
def test_all_factors_and_scores_in_range(e, f, as_of):
    r = assess_equipment(e, f, MODEL, as_of)
    assert [x.factor for x in sorted(r.risk_factors, key=lambda x: x.factor)] == sorted(FACTORS)
    for x in r.risk_factors:
        assert 0 <= x.value <= 100 and 0 <= x.score <= 100
    assert 0 <= r.risk_score <= 100
    assert 0 <= r.nfpa_70b.compliance_percentage <= 100
    assert r.nfpa_70e.compliance_percentage in (0, 30, 70, 100)
    assert r.rating == (
        "Low"
        if r.risk_score <= 40
        else "Medium"
        if r.risk_score <= 70
        else "High"
        if r.risk_score <= 85
        else "Critical"
    )
    keys = [(-x.weight * x.value, x.factor) for x in r.risk_factors]
    assert keys == sorted(keys)
    json.dumps(r.to_dict())


@given(equipment(), facility(0), DATES, st.integers(0, 4000))
def test_ageing_never_lowers_age_factor(e, f, as_of, extra):
    later = as_of + timedelta(days=extra)
    if e.install_date is not None and e.install_date > as_of:
        return
    a = fval(assess_equipment(e, f, MODEL, as_of), "age")
    b = fval(assess_equipment(e, f, MODEL, later), "age")
    assert b >= a - 1e-9


@given(equipment(), facility(0), DATES, st.integers(0, 4000))
def test_later_as_of_never_lowers_maintenance_without_new_records(e, f, as_of, extra):
    if e.install_date is not None and e.install_date > as_of:
        return
    e = replace(e, maintenance=tuple(m for m in e.maintenance if m.performed_on <= as_of))
    later = as_of + timedelta(days=extra)
    a = assess_equipment(e, f, MODEL, as_of)
    b = assess_equipment(e, f, MODEL, later)
    assert fval(b, "maintenance") >= fval(a, "maintenance") - 1e-9
    # compliance never improves either
    assert b.nfpa_70b.compliance_percentage <= a.nfpa_70b.compliance_percentage


@given(equipment(), facility(0), DATES, st.integers(0, 3000))
def test_new_maintenance_record_never_raises_maintenance(e, f, as_of, back):
    if e.install_date is not None and e.install_date > as_of:
        return
    before = assess_equipment(e, f, MODEL, as_of)
    performed = as_of - timedelta(days=back)
    baseline = before.nfpa_70b.baseline
    if baseline is not None and performed <= baseline:
        return  # the record must be later than the previous baseline
    e2 = replace(e, maintenance=e.maintenance + (MaintenanceIn("new", "inspection", performed),))
    after = assess_equipment(e2, f, MODEL, as_of)
    assert fval(after, "maintenance") <= fval(before, "maintenance") + 1e-9
    assert after.nfpa_70b.compliance_percentage >= before.nfpa_70b.compliance_percentage
    assert after.risk_score <= before.risk_score


@given(facility(), DATES)
def test_facility_score_between_equipment_min_and_max(f, as_of):
    r = assess_facility(f, MODEL, as_of)
    scores = [x.risk_score for x in r.equipment_results.values()]
    assert r.equipment_count == len(scores)
    if not scores:
        assert r.risk_score is None and r.compliance.overall is None
        return
    assert min(scores) <= r.risk_score <= max(scores)
    c = r.compliance
    for v in (c.nfpa_70b, c.nfpa_70e, c.overall):
        assert 0 <= v <= 100
    assert sum(r.risk_distribution.values()) == len(scores)
    assert len(r.top_threats) <= 5 and len(set(r.top_threats)) == len(r.top_threats)
    json.dumps(r.to_dict())


@settings(max_examples=40, deadline=None)
@given(facility(max_eq=4), DATES)
def test_recommendations_well_formed(f, as_of):
    acts = recommend(f, MODEL, as_of)
    assert len(acts) <= 10
    keys = [(-(a.risk_reduction + a.compliance_gain), -a.risk_reduction, a.action) for a in acts]
    assert keys == sorted(keys)
    for a in acts:
        assert a.affected_equipment
        assert a.estimated_cost in ("Low", "Medium", "High")
        assert a.urgency in ("Low", "Medium", "High", "Critical")


@given(equipment(), facility(0), DATES)
def test_shared_context_gives_same_result(e, f, as_of):
    a = assess_equipment(e, f, MODEL, as_of)
    b = assess_equipment(e, f, MODEL, as_of, facility_context(f, as_of))
    assert a.to_dict() == b.to_dict()


def _apply(f, action, as_of):
    """The §9 table's simulated change, written independently of the engine."""
    ids = set(action.affected_equipment)

    def copper(e):
        if not e.conductors:
            return (ConductorIn("copper", None, False),)
        return tuple(ConductorIn("copper", c.connection_type, False) for c in e.conductors)

    def change(e):
        if e.id not in ids:
            return e
        if action.kind == "replace":
            return replace(
                e,
                install_date=as_of,
                conductors=copper(e),
                observations=ObservationsIn("none", "none", "none", False, False),
                maintenance=(MaintenanceIn("x", "preventive", as_of),),
            )
        if action.kind == "maintenance":
            return replace(
                e, maintenance=e.maintenance + (MaintenanceIn("x", "preventive", as_of),)
            )
        if action.kind == "retrofit":
            return replace(e, conductors=copper(e))
        if action.kind == "labels":
            return replace(e, label_present=True)
        return e

    f2 = replace(f, equipment=tuple(change(e) for e in f.equipment))
    if action.kind == "study":
        f2 = replace(f2, arc_flash_study_date=as_of)
    return f2


@settings(max_examples=60, deadline=None)
@given(facility(max_eq=5), DATES)
def test_recommendation_figures_match_full_reassessment(f, as_of):
    before = assess_facility(f, MODEL, as_of)
    for a in recommend(f, MODEL, as_of):
        after = assess_facility(_apply(f, a, as_of), MODEL, as_of)
        assert a.risk_reduction == before.risk_score - after.risk_score, a.action
        assert a.compliance_gain == after.compliance.overall - before.compliance.overall, a.action
