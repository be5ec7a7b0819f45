"""Recommendations (risk-model.md §9)."""

from datetime import date

from voltmetrics.engine import (
    ConductorIn,
    EquipmentIn,
    FacilityIn,
    MaintenanceIn,
    ModelParams,
    ObservationsIn,
    Thresholds,
    assess_facility,
    default_model,
    items_phrase,
    recommend,
)

AS_OF = date(2026, 1, 15)
PROFILES = default_model().profiles
NONE_OBS = ObservationsIn("none", "none", "none", False, False, None, None)
CU = (ConductorIn("copper", "lug"),)
AL = (ConductorIn("aluminum", "lug"),)


def eq(i, name, type_, install, conductors=CU, label=True, last=None):
    m = () if last is None else (MaintenanceIn("m" + i, "preventive", last),)
    return EquipmentIn(i, name, type_, install, conductors, NONE_OBS, 50.0, label, False, m)


def fac(eqs, study=date(2023, 1, 1)):
    return FacilityIn("f1", "Plant", 1990, 40.0, 75.0, "minimal", study, tuple(eqs))


def test_items_phrase():
    assert items_phrase(1) == "1 item"
    assert items_phrase(2) == "2 items"


def test_recommendations_worked_example():
    # model: age 0.5, material 0.5 (maintenance does not move the score here)
    model = ModelParams("t", {"age": 0.5, "material": 0.5}, Thresholds(), PROFILES)
    f = fac(
        [
            # panel 1980 → 46 y > 35 → age 100; aluminum 70: 50 + 35 = 85 High. Up to date.
            eq("e1", "Panel Z", "panel", date(1980, 1, 1), AL, True, date(2025, 12, 1)),
            # breaker (life 20) 2016-01-15 → 3653 days = 10.0014 y; r = 0.50007 → 80r = 40.05;
            # copper 20: 20.03 + 10 = 30.03 → 30 Low. No record: due 2017-01-15 → overdue. No label.
            eq("e2", "Breaker Y", "breaker", date(2016, 1, 15), CU, False, None),
            # switchgear (life 30) 1990 → 36 y → 100; copper: 50 + 10 = 60 Medium.
            # Record 2024-01-01: due 2025-01-01 → overdue. Labelled.
            eq("e3", "Switchgear X", "switchgear", date(1990, 1, 1), CU, True, date(2024, 1, 1)),
        ]
    )
    base = assess_facility(f, model, AS_OF)
    # risk: importances 1, 1, 3 → (85 + 30 + 3·60)/5 = 295/5 = 59
    assert base.risk_score == 59
    # 70b = round(100 − 100·2/3) = 33; 70e = round(70 + 30·2/3) = 90; overall = 61.5 → 62
    assert (base.compliance.nfpa_70b, base.compliance.nfpa_70e, base.compliance.overall) == (
        33,
        90,
        62,
    )

    acts = recommend(f, model, AS_OF)
    got = [
        (
            a.action,
            a.affected_equipment,
            a.risk_reduction,
            a.compliance_gain,
            a.estimated_cost,
            a.urgency,
        )
        for a in acts
    ]
    assert got == [
        # e2, e3 serviced at as_of: 70b 100 → overall (100 + 90)/2 = 95: gain 33; risk same
        ("Perform overdue maintenance on 2 items", ["e2", "e3"], 0, 33, "Medium", "Medium"),
        # e1 new: age 0, copper 20 → 10: (10 + 30 + 180)/5 = 44 → 59 − 44 = 15
        ("Replace Panel Z", ["e1"], 15, 0, "High", "High"),
        # e1 copper: 50 + 10 = 60 → (60 + 30 + 180)/5 = 54 → 5 (total 5, risk 5 first)
        ("Retrofit aluminum terminations on 1 item", ["e1"], 5, 0, "Medium", "High"),
        # e2 labelled: 70e = 100 → overall (33 + 100)/2 = 66.5 → 67: gain 5;
        # urgency Medium because nfpa_70e 90 ≥ 75
        ("Update arc flash labels on 1 item", ["e2"], 0, 5, "Low", "Medium"),
    ]
    # e3 has age 100 but is rated Medium: no "Replace Switchgear X"; study current: no renewal
    d = acts[0].to_dict()
    assert set(d) == {
        "action",
        "affected_equipment",
        "risk_reduction",
        "compliance_gain",
        "estimated_cost",
        "urgency",
    }


def test_study_and_labels_urgency_high_when_70e_below_75():
    model = default_model()
    # one copper panel from 2015, serviced 2025-12-01 (up to date), no label, study expired
    f = fac(
        [eq("e1", "Panel A", "panel", date(2015, 1, 1), CU, False, date(2025, 12, 1))],
        study=date(2020, 1, 1),
    )  # + 5 y = 2025-01-01 < as_of → expired
    base = assess_facility(f, model, AS_OF)
    # 70b 100; 70e = round(0 + 0) = 0; overall 50
    assert (base.compliance.nfpa_70b, base.compliance.nfpa_70e, base.compliance.overall) == (
        100,
        0,
        50,
    )
    got = [
        (
            a.action,
            a.affected_equipment,
            a.risk_reduction,
            a.compliance_gain,
            a.estimated_cost,
            a.urgency,
        )
        for a in recommend(f, model, AS_OF)
    ]
    assert got == [
        # study renewed: 70e = 70 → overall 85: gain 35
        ("Renew arc flash study", ["e1"], 0, 35, "Medium", "High"),
        # label: 70e = round(0.3·100) = 30 → overall 65: gain 15
        ("Update arc flash labels on 1 item", ["e1"], 0, 15, "Low", "High"),
    ]


def test_at_most_ten_and_plain_character_order():
    model = ModelParams("t", {"age": 1.0}, Thresholds(), PROFILES)
    names = "ABCDEFGHIJab"
    # 12 old panels (age 100 → score 100 Critical), serviced, labelled, study current
    f = fac(
        [
            eq(f"e{i:02d}", f"Panel {c}", "panel", date(1980, 1, 1), CU, True, date(2025, 12, 1))
            for i, c in enumerate(names)
        ]
    )
    acts = recommend(f, model, AS_OF)
    # each replacement: (11·100 + 0)/12 = 91.67 → 92: reduction 8, gain 0 — all tie, so by
    # action text in code-point order: "Panel A" … "Panel J" before "Panel a", "Panel b"
    assert len(acts) == 10
    assert [a.action for a in acts] == [f"Replace Panel {c}" for c in "ABCDEFGHIJ"]
    assert {(a.risk_reduction, a.compliance_gain, a.urgency) for a in acts} == {(8, 0, "Critical")}


def test_replace_gives_copper_conductor_to_equipment_without_conductors():
    model = ModelParams("t", {"age": 0.6, "material": 0.4}, Thresholds(), PROFILES)
    # age 100, unknown material 40: 60 + 16 = 76 High
    f = fac([eq("e1", "Panel A", "panel", date(1980, 1, 1), (), True, date(2025, 12, 1))])
    [a] = recommend(f, model, AS_OF)
    # after: age 0, one copper conductor 20 → 8: 76 − 8 = 68 (without the conductor: 60)
    assert (a.action, a.risk_reduction, a.compliance_gain) == ("Replace Panel A", 68, 0)


def test_no_actions_for_empty_or_clean_facility():
    assert recommend(fac([]), default_model(), AS_OF) == []
    clean = fac([eq("e1", "Panel A", "panel", date(2015, 1, 1), CU, True, date(2025, 12, 1))])
    assert recommend(clean, default_model(), AS_OF) == []


def test_recommend_does_not_mutate_input():
    f = fac([eq("e2", "Breaker Y", "breaker", date(2016, 1, 15), CU, False, None)], study=None)
    before = repr(f)
    recommend(f, default_model(), AS_OF)
    assert repr(f) == before
