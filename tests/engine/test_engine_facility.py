"""Facility aggregation (risk-model.md §6) and portfolio (§7).

Most tests use a "loading only" model (weight 1.0 on loading, 0 elsewhere) so that an
equipment's score is simply round(2.5·(L − 60)): L = 60 + 0.4·score.
"""

from datetime import date

import pytest

from voltmetrics.engine import (
    ConductorIn,
    EquipmentIn,
    FacilityIn,
    MaintenanceIn,
    ModelParams,
    ObservationsIn,
    Thresholds,
    aggregate_facility,
    assess_equipment,
    assess_facility,
    assess_portfolio,
    default_model,
    humidity_risk,
    weighted_risk_score,
    with_served_scores,
)

AS_OF = date(2025, 1, 1)
LOAD_ONLY = ModelParams("t-load", {"loading": 1.0}, Thresholds(), default_model().profiles)
NONE_OBS = ObservationsIn("none", "none", "none", False, False, None, None)
FRESH = (MaintenanceIn("m", "preventive", date(2024, 12, 1)),)


CU = (ConductorIn("copper", "lug"),)


def eq(
    i,
    score=None,
    type_="panel",
    name=None,
    load=None,
    install=date(2015, 1, 1),
    conductors=CU,
    label=True,
    **kw,
):
    if load is None:
        load = 60 + 0.4 * score
    return EquipmentIn(
        i,
        name or i,
        type_,
        install,
        conductors,
        NONE_OBS,
        load,
        label,
        kw.pop("critical", False),
        kw.pop("maintenance", FRESH),
        **kw,
    )


def fac(
    equipment=(), name="Plant", fid="f1", humidity=40.0, year_built=1990, study=date(2024, 1, 1)
):
    return FacilityIn(fid, name, year_built, humidity, 75.0, "minimal", study, tuple(equipment))


def test_weighted_risk_score_by_importance():
    # transformer (importance 3) 80, panel (1) 40: (240 + 40)/4 = 70
    f = fac([eq("t", 80, "transformer"), eq("p", 40)])
    r = assess_facility(f, LOAD_ONLY, AS_OF)
    assert [r.equipment_results[i].risk_score for i in ("t", "p")] == [80, 40]
    assert (r.risk_score, r.risk_level) == (70, "Medium")
    # busway (0.5) 41, panel 40: (20.5 + 40)/1.5 = 40.33 → 40
    r = assess_facility(fac([eq("b", 41, "busway"), eq("p", 40)]), LOAD_ONLY, AS_OF)
    assert (r.risk_score, r.risk_level) == (40, "Low")
    # panels 41 and 40: 40.5 → 41 (Python round → 40)
    r = assess_facility(fac([eq("a", 41), eq("p", 40)]), LOAD_ONLY, AS_OF)
    assert (r.risk_score, r.risk_level) == (41, "Medium")


def test_weighted_risk_score_helper():
    assert weighted_risk_score([]) is None
    assert weighted_risk_score([(41, 1.0), (40, 1.0)]) == 41  # 40.5 → 41
    assert weighted_risk_score([(90, 3.0), (10, 0.5)]) == 79  # (270 + 5)/3.5 = 78.57 → 79
    assert weighted_risk_score([(41, 0.0), (40, 0.0)]) == 41  # all weights 0: plain mean


def test_facility_counts_and_figures():
    eqs = [
        eq("a", 90),  # Critical, critical threat
        eq(
            "b",
            72,
            "transformer",  # High, importance 3: threat
            conductors=(ConductorIn("aluminum", "lug"),),
        ),
        eq("c", 75, conductors=(ConductorIn("copper", "lug", True),)),  # High, mixed
        eq("d", 50, install=None, conductors=()),  # Medium, unknown material
        eq("e", 10),  # Low
    ]
    r = assess_facility(fac(eqs), LOAD_ONLY, AS_OF)
    assert r.equipment_count == 5
    assert r.risk_distribution == {"low": 1, "medium": 1, "high": 2, "critical": 1}
    assert r.critical_equipment_count == 2  # a (Critical) and b (importance 3, High)
    assert r.high_risk_equipment_count == 2  # b, c rated High
    # mean score (90 + 72 + 75 + 50 + 10)/5 = 59.4 → /100 → 0.594 → 0.59
    assert r.average_equipment_risk == 0.59
    # copper: a, e; aluminum: b (aluminum) + c (mixed); d unknown is in neither
    assert r.conductor_type_breakdown == {"copper": 2, "aluminum": 2}
    # facility risk: (90 + 3·72 + 75 + 50 + 10)/7 = 441/7 = 63
    assert (r.risk_score, r.risk_level) == (63, "Medium")
    assert r.facility_age == 35  # 2025 − 1990
    # four known installs, all 2015-01-01: 3653 days = 10.0014 y → "10 years", 10.0
    assert r.system_age == "10 years"
    assert r.equipment_age == 10.0
    assert r.high_risk_items == ["a", "c", "b"]  # by score desc: 90, 75, 72
    assert r.algorithm_version == "t-load"


def test_system_age_mean_rounding():
    # installs 2013-01-01 (4383 days = 12.0 y), 2018-01-01 (2557 days = 7.0007 y), unknown:
    # mean over known = (4383 + 2557)/(2·365.25) = 6940/730.5 = 9.5003 → "10 years"; 9.5
    eqs = [
        eq("a", 10, install=date(2013, 1, 1)),
        eq("b", 10, install=date(2018, 1, 1)),
        eq("c", 10, install=None),
    ]
    r = assess_facility(fac(eqs), LOAD_ONLY, AS_OF)
    assert (r.system_age, r.equipment_age) == ("10 years", 9.5)
    r = assess_facility(fac([eq("c", 10, install=None)]), LOAD_ONLY, AS_OF)
    assert (r.system_age, r.equipment_age) == (None, None)


@pytest.mark.parametrize(
    "h, level", [(49.9, "Low"), (50.0, "Medium"), (65.0, "Medium"), (65.1, "High"), (None, None)]
)
def test_humidity_risk(h, level):
    assert humidity_risk(h) == level
    assert assess_facility(fac([eq("a", 10)], humidity=h), LOAD_ONLY, AS_OF).humidity_risk == level


def test_risk_categories():
    # loading factors 50 (L 80), 0 (L 50), 100 (L 100): mean 50 → 50; affected (≥ 50): 2;
    # 100·2/3 = 66.67 → 66.7
    r = assess_facility(
        fac([eq("a", load=80.0), eq("b", load=50.0), eq("c", load=100.0)]), LOAD_ONLY, AS_OF
    )
    cats = {c.category: c for c in r.risk_categories}
    assert [c.category for c in r.risk_categories] == [
        "age",
        "material",
        "maintenance",
        "environmental",
        "loading",
        "condition",
    ]
    assert (
        cats["loading"].score,
        cats["loading"].affected_equipment_count,
        cats["loading"].percentage_of_facility,
    ) == (50, 2, 66.7)
    # age: 3653 days/365.25/35 = 0.285753 → 80·r = 22.86 for each → 23; none ≥ 50
    assert (
        cats["age"].score,
        cats["age"].affected_equipment_count,
        cats["age"].percentage_of_facility,
    ) == (23, 0, 0.0)
    # material copper 20 each
    assert cats["material"].score == 20
    assert all(c.description for c in r.risk_categories)


def test_top_threats_type_diversity():
    eqs = [
        eq("A", 95),
        eq("B", 94),
        eq("C", 93),  # panels
        eq("D", 90, "transformer"),
        eq("E", 89),  # panel
        eq("F", 80, "breaker"),
        eq("G", 75),  # panel
        eq("H", 72, "switchgear"),
        eq("M", 50, "ups"),  # Medium: not a candidate
    ]
    r = assess_facility(fac(eqs), LOAD_ONLY, AS_OF)
    # candidates by score: A B C D E F G H; first of each type: A (panel), D (transformer),
    # F (breaker), H (switchgear) = 4; fill with next unpicked: B. Sorted by score:
    assert r.top_threats == ["A", "B", "D", "F", "H"]


def test_top_threats_ties_by_plain_character_order():
    # equal scores: "B" < "a" < "b" in code-point order (a locale sort would put "a" first)
    eqs = [eq("1", 80, name="b"), eq("2", 80, name="a"), eq("3", 80, name="B")]
    r = assess_facility(fac(eqs), LOAD_ONLY, AS_OF)
    # all panels: first pick "B" (the only one for type panel), then fill "a", "b"
    assert r.top_threats == ["3", "2", "1"]
    # same name → by id
    eqs = [eq("z", 80, name="Same"), eq("y", 80, name="Same")]
    assert assess_facility(fac(eqs), LOAD_ONLY, AS_OF).top_threats == ["y", "z"]


def test_top_threats_at_most_five_of_distinct_types_first():
    types = ["panel", "breaker", "ups", "ats", "mcc", "meter", "other"]
    # all panels score higher, but the six other types must get places first (5 places)
    eqs = [eq(f"p{i}", 99 - i) for i in range(5)]
    eqs += [eq(f"t{i}", 80 - i, t) for i, t in enumerate(types[1:])]
    r = assess_facility(fac(eqs), LOAD_ONLY, AS_OF)
    # candidates: p0..p4 (99..95), t0 breaker 80, t1 ups 79, t2 ats 78, t3 mcc 77, ...
    # first of each type in order: p0, t0, t1, t2, t3 → 5 picks
    assert r.top_threats == ["p0", "t0", "t1", "t2", "t3"]


def test_empty_facility():
    r = assess_facility(fac([]), LOAD_ONLY, AS_OF)
    assert r.equipment_count == 0
    assert (r.risk_score, r.risk_level, r.average_equipment_risk) == (None, None, None)
    c = r.compliance
    assert (c.nfpa_70b, c.labeling, c.nfpa_70e, c.overall, c.status) == (None,) * 5
    assert c.study.status == "current"
    assert r.risk_distribution == {"low": 0, "medium": 0, "high": 0, "critical": 0}
    assert r.top_threats == [] and r.system_age is None
    assert [(x.score, x.percentage_of_facility) for x in r.risk_categories] == [(None, None)] * 6
    r.to_dict()  # serialisable


def test_equipment_installed_after_as_of_does_not_count():
    future = eq("fut", 90, install=date(2025, 1, 2))
    r = assess_facility(fac([future]), LOAD_ONLY, AS_OF)
    assert r.equipment_count == 0 and r.risk_score is None and r.compliance.overall is None
    r = assess_facility(fac([future, eq("now", 40, install=date(2025, 1, 1))]), LOAD_ONLY, AS_OF)
    assert r.equipment_count == 1
    assert r.risk_score == 40
    assert set(r.equipment_results) == {"now"}


def test_aggregate_from_served_results():
    f = fac([eq("a", 40), eq("b", 20)])
    local = assess_facility(f, LOAD_ONLY, AS_OF)
    served = with_served_scores(
        local.equipment_results["a"], risk_score=90, algorithm_version="vm-2.3"
    )
    assert (served.rating, served.source) == ("Critical", "voltmetrics")
    assert served.critical_threat is True
    r = aggregate_facility(f, {"a": served}, LOAD_ONLY, AS_OF)
    # served 90 and local 20: (90 + 20)/2 = 55
    assert r.risk_score == 55
    assert r.critical_equipment_count == 1
    assert r.equipment_results["b"].source == "local"


def test_portfolio():
    f1 = fac([eq("a", 90)], name="Zulu", fid="f1")  # Critical; threat
    f2 = fac([eq("b", 72)], name="Able", fid="f2")  # High
    f3 = fac([eq("c", 43, label=False)], name="Mid", fid="f3")  # 70e = 70 → overall 85
    f4 = fac([eq("d", 21)], name="X", fid="f4")
    f5 = fac([], name="Empty", fid="f5")
    results = [assess_facility(f, LOAD_ONLY, AS_OF) for f in (f1, f2, f3, f4, f5)]
    p = assess_portfolio(results)
    assert p.total_facilities == 5
    assert p.total_equipment == 4
    # mean of 90, 72, 43, 21 = 226/4 = 56.5 → 57 (Python round → 56)
    assert p.average_risk_score == 57
    assert p.high_risk_facilities == 2  # Critical (90) and High (72)
    assert p.critical_risk_equipment == 1
    assert p.high_risk_equipment == 1
    # 70b: all 100; 70e: (100 + 100 + 70 + 100)/4 = 92.5 → 93; overall: (100·3 + 85)/4 = 96.25
    assert (p.nfpa_70b_compliance, p.nfpa_70e_compliance, p.overall_compliance) == (100, 93, 96)
    assert [h["facility_name"] for h in p.highest_risk_facilities] == ["Zulu", "Able", "Mid", "X"]
    d = p.to_dict()
    assert d["risk_overview"]["average_risk_score"] == 57


def test_portfolio_top_five_ties_by_name():
    names = ["b", "a", "B", "c", "d", "e"]
    results = [
        assess_facility(fac([eq(f"e{i}", 80)], name=n, fid=f"f{i}"), LOAD_ONLY, AS_OF)
        for i, n in enumerate(names)
    ]
    p = assess_portfolio(results)
    assert [h["facility_name"] for h in p.highest_risk_facilities] == ["B", "a", "b", "c", "d"]


def test_portfolio_all_empty():
    p = assess_portfolio([assess_facility(fac([]), LOAD_ONLY, AS_OF)])
    assert (
        p.total_facilities,
        p.total_equipment,
        p.average_risk_score,
        p.overall_compliance,
        p.highest_risk_facilities,
    ) == (1, 0, None, None, [])


def test_assess_equipment_matches_facility_results():
    e = eq("a", 40)
    f = fac([e])
    assert (
        assess_equipment(e, f, LOAD_ONLY, AS_OF).to_dict()
        == assess_facility(f, LOAD_ONLY, AS_OF).equipment_results["a"].to_dict()
    )
