"""Equipment factors, score, rating, critical threat, condition label (risk-model.md §3–§4).

Every expected figure is worked by hand from the spec formula in the comment next to it.
Ages: days/365.25; months: days/30.4375.
"""

import json
from dataclasses import replace
from datetime import date

import pytest

from voltmetrics.engine import (
    ConductorIn,
    EquipmentIn,
    EquipmentResult,
    FacilityIn,
    MaintenanceIn,
    ModelParams,
    ObservationsIn,
    Thresholds,
    assess_equipment,
    default_model,
    is_counted,
)

AS_OF = date(2025, 1, 1)
MODEL = default_model()
NONE_OBS = ObservationsIn("none", "none", "none", False, False, None, None)
# humidity 40 → H = 0; 75 °F → T = 0; minimal → X = 0: environmental factor 0, no gaps
NEUTRAL = FacilityIn("fac", "Neutral", 2000, 40.0, 75.0, "minimal", date(2024, 1, 1), ())
CU = (ConductorIn("copper", "bolted"),)


def mk(**kw) -> EquipmentIn:
    base = dict(
        id="e1",
        name="Panel A",
        type="panel",
        install_date=date(2015, 1, 1),
        conductors=CU,
        observations=NONE_OBS,
        load_percent=50.0,
        label_present=True,
        serves_critical_load=False,
        maintenance=(MaintenanceIn("m1", "preventive", date(2024, 12, 1)),),
    )
    base.update(kw)
    return EquipmentIn(**base)


def run(e, fac=NEUTRAL, as_of=AS_OF, model=MODEL):
    return assess_equipment(e, fac, model, as_of)


def fv(r, name):
    return r.factor_value(name)


# ---------------------------------------------------------------- a full worked example
def test_worked_example_all_factors():
    r = run(mk())
    # age: 2015-01-01 → 2025-01-01 = 3653 days; 3653/365.25 = 10.00137 y; r = 10.00137/35 =
    #      0.285753 ≤ 0.75 → 80·r = 22.86027
    assert fv(r, "age") == pytest.approx(22.86027, abs=1e-5)
    assert r.age_years == pytest.approx(10.00137, abs=1e-5)
    # material: copper, bolted, installed 2015 → 20
    assert fv(r, "material") == 20
    # maintenance: 2024-12-01 → 2025-01-01 = 31 days; m = 31/30.4375 = 1.018480 ≤ 12
    #              → 30·m/12 = 2.546201
    assert fv(r, "maintenance") == pytest.approx(2.546201, abs=1e-6)
    assert fv(r, "environmental") == 0
    assert fv(r, "loading") == 0  # 50 ≤ 60
    assert fv(r, "condition") == 0
    # score = 0.35·22.86027 + 0.2·20 + 0.2·2.546201 = 8.001095 + 4 + 0.509240 = 12.5103 → 13
    assert r.risk_score == 13
    assert r.rating == "Low"
    # factor scores: round(22.86) = 23, round(2.546) = 3
    assert [(f.factor, f.score, f.weight) for f in r.risk_factors] == [
        ("age", 23, 0.35),
        ("material", 20, 0.2),
        ("maintenance", 3, 0.2),
        # weight·factor ties at 0: by factor name
        ("condition", 0, 0.05),
        ("environmental", 0, 0.1),
        ("loading", 0, 0.1),
    ]
    assert r.primary_risk_factor == "age"
    assert r.data_gaps == []
    assert r.critical_threat is False
    assert r.condition == "Excellent"  # condition factor 0 ≤ 10
    assert r.material == "copper"
    assert r.last_service == date(2024, 12, 1)
    assert r.algorithm_version == "1.0" and r.source == "local"
    assert r.risk_factors[0].description == "Panel is 10 years old (expected life 35 years)"


def test_to_dict_is_json_safe_and_round_trips():
    r = run(mk())
    d = r.to_dict()
    text = json.dumps(d)
    assert '"last_service": "2024-12-01"' in text
    assert d["nfpa_70b"]["next_due"] == "2025-12-01"
    back = EquipmentResult.from_dict(json.loads(text))
    assert back.to_dict() == d


# ---------------------------------------------------------------- age
# install 2013-01-01 → 2025-01-01 = 4383 days = exactly 12.0 years (12·365.25)
@pytest.mark.parametrize(
    "life, expected",
    [
        (24, 40.0),  # r = 12/24 = 0.5 → 80·0.5 = 40
        (16, 60.0),  # r = 0.75 exactly (first branch, ≤ 0.75) → 80·0.75 = 60
        (15, 68.0),  # r = 0.8 → 60 + 160·0.05 = 68
        (13, 87.692308),  # r = 0.923077 → 60 + 160·0.173077 = 87.692308
        (12, 100.0),  # r = 1 → 100
        (11.9, 100.0),  # r > 1 → 100
    ],
)
def test_age_branches_with_life_override(life, expected):
    r = run(mk(install_date=date(2013, 1, 1), life_years=life))
    assert fv(r, "age") == pytest.approx(expected, abs=1e-6)


def test_age_uses_type_profile_without_override():
    # transformer life 25: r = 12/25 = 0.48 → 80·0.48 = 38.4
    r = run(mk(type="transformer", install_date=date(2013, 1, 1)))
    assert fv(r, "age") == pytest.approx(38.4)
    # the override wins over the profile: life 16 → r = 0.75 → 60
    r = run(mk(type="transformer", install_date=date(2013, 1, 1), life_years=16))
    assert fv(r, "age") == pytest.approx(60.0)


def test_unknown_type_uses_other_profile():
    # other: life 25 → same as above, 38.4; importance 1.0
    r = run(mk(type="widget", install_date=date(2013, 1, 1)))
    assert fv(r, "age") == pytest.approx(38.4)
    assert r.importance == 1.0


def test_age_unknown_install_date():
    r = run(mk(install_date=None))
    assert fv(r, "age") == 50
    assert r.age_years is None
    assert r.data_gaps == ["install_date"]  # maintenance record exists: no other gap


# ---------------------------------------------------------------- material
@pytest.mark.parametrize(
    "conductors, install, material, expected, gap",
    [
        ((ConductorIn("copper", "lug"),), date(2013, 1, 1), "copper", 20, False),
        ((ConductorIn("aluminum", "lug"),), date(2013, 1, 1), "aluminum", 70, False),
        # both metals → mixed 85
        (
            (ConductorIn("copper", "lug"), ConductorIn("aluminum", "lug")),
            date(2013, 1, 1),
            "mixed",
            85,
            False,
        ),
        # alCuTransition → mixed 85 even with copper only
        ((ConductorIn("copper", "lug", True),), date(2013, 1, 1), "mixed", 85, False),
        # no conductors / only unmapped codes → unknown 40, gap conductors
        ((), date(2013, 1, 1), "unknown", 40, True),
        ((ConductorIn(None, "lug"),), date(2013, 1, 1), "unknown", 40, True),
        # unmapped code beside copper: copper
        (
            (ConductorIn(None, "lug"), ConductorIn("copper", "lug")),
            date(2013, 1, 1),
            "copper",
            20,
            False,
        ),
        # crimped adds 10: copper 20 + 10 = 30; aluminum 70 + 10 = 80
        ((ConductorIn("copper", "crimped"),), date(2013, 1, 1), "copper", 30, False),
        ((ConductorIn("aluminum", "crimped"),), date(2013, 1, 1), "aluminum", 80, False),
        # aluminum installed before 1975 adds 10: 70 + 10 = 80
        ((ConductorIn("aluminum", "lug"),), date(1974, 12, 31), "aluminum", 80, False),
        # installed 1975 is not before 1975: 70
        ((ConductorIn("aluminum", "lug"),), date(1975, 1, 1), "aluminum", 70, False),
        # copper before 1975: no addition, 20
        ((ConductorIn("copper", "lug"),), date(1960, 1, 1), "copper", 20, False),
        # mixed + crimped + pre-1975 = 85 + 10 + 10 = 105 → cap 100
        (
            (ConductorIn("copper", "crimped"), ConductorIn("aluminum", "lug")),
            date(1970, 1, 1),
            "mixed",
            100,
            False,
        ),
        # unknown material and crimped: 40 + 10 = 50 (the pre-1975 rule needs aluminum/mixed)
        ((ConductorIn(None, "crimped"),), date(1960, 1, 1), "unknown", 50, True),
    ],
)
def test_material(conductors, install, material, expected, gap):
    r = run(mk(conductors=conductors, install_date=install))
    assert r.material == material
    assert fv(r, "material") == expected
    assert ("conductors" in r.data_gaps) is gap


def test_material_description_example():
    r = run(mk(conductors=(ConductorIn("aluminum", "crimped"),), install_date=date(2013, 1, 1)))
    assert r.factor("material").description == "Aluminum conductors with a crimped connection"


def test_unknown_install_skips_pre_1975_rule():
    r = run(mk(conductors=(ConductorIn("aluminum", "lug"),), install_date=None))
    assert fv(r, "material") == 70


# ---------------------------------------------------------------- maintenance
def rec(d, t="preventive", i="m"):
    return MaintenanceIn(i, t, d)


@pytest.mark.parametrize(
    "records, expected",
    [
        # 2024-07-01 → 2025-01-01 = 184 days; m = 6.045175 ≤ 12 → 30·m/12 = 15.112936
        ((rec(date(2024, 7, 1)),), 15.112936),
        # 2023-01-01 → 731 days; m = 24.016427 > 12 → 30 + 35·12.016427/12 = 65.047912
        ((rec(date(2023, 1, 1)),), 65.047912),
        # 2010 → m ≈ 180 → 30 + 35·168/12 ≫ 100 → 100
        ((rec(date(2010, 1, 1)),), 100.0),
        # record at as_of → m = 0 → 0
        ((rec(AS_OF),), 0.0),
        # the latest record (any type) counts: corrective 2024-07-01 beats preventive 2023-01-01
        ((rec(date(2023, 1, 1)), rec(date(2024, 7, 1), "corrective")), 15.112936),
        # a record after as_of does not exist yet: 2024-07-01 stays the baseline
        ((rec(date(2024, 7, 1)), rec(date(2025, 2, 1))), 15.112936),
    ],
)
def test_maintenance_factor(records, expected):
    r = run(mk(maintenance=records))
    assert fv(r, "maintenance") == pytest.approx(expected, abs=1e-6)
    assert "maintenance_history" not in r.data_gaps


def test_maintenance_after_as_of_is_ignored_everywhere():
    r = run(mk(maintenance=(rec(date(2024, 7, 1)), rec(date(2025, 2, 1)))))
    assert r.last_service == date(2024, 7, 1)
    assert r.nfpa_70b.baseline == date(2024, 7, 1)


def test_maintenance_interval_boundary_with_override():
    # interval 16 months = 16·30.4375 = 487 days exactly
    # 487 days → m = 16 = I → first branch: 30·16/16 = 30
    e = mk(interval_months=16, maintenance=(rec(date.fromordinal(AS_OF.toordinal() - 487)),))
    assert fv(run(e), "maintenance") == pytest.approx(30.0)
    # 488 days → m = 16.032854 → 30 + 35·0.032854/12 = 30.095824
    e = mk(interval_months=16, maintenance=(rec(date.fromordinal(AS_OF.toordinal() - 488)),))
    assert fv(run(e), "maintenance") == pytest.approx(30.095824, abs=1e-6)


def test_maintenance_baseline_install_date_when_no_records():
    # install 2024-07-01, no records: baseline = install → 15.112936 (as above); no gap
    r = run(mk(install_date=date(2024, 7, 1), maintenance=()))
    assert fv(r, "maintenance") == pytest.approx(15.112936, abs=1e-6)
    assert r.last_service is None
    assert r.data_gaps == []


def test_maintenance_no_baseline():
    r = run(mk(install_date=None, maintenance=()))
    assert fv(r, "maintenance") == 100
    assert r.data_gaps == ["install_date", "maintenance_history"]


def test_maintenance_description_overdue_example():
    # 2023-10-01 → 2025-01-01 = 458 days; m = 15.047 → 3.047 months overdue → "3 months"
    r = run(mk(maintenance=(rec(date(2023, 10, 1)),)))
    assert (
        r.factor("maintenance").description == "Maintenance 3 months overdue (interval 12 months)"
    )


# ---------------------------------------------------------------- environmental
@pytest.mark.parametrize(
    "h, t, x, expected, gaps",
    [
        # H = 2.5·(60−40) = 50; T = 5·(85−75) = 50; moderate 50 → 25 + 12.5 + 12.5 = 50
        (60.0, 85.0, "moderate", 50.0, []),
        # H = 2.5·50 = 125 → 100; T = 5·25 = 125 → 100; severe 100 → 100
        (90.0, 100.0, "severe", 100.0, []),
        # H, T below zero → 0; minimal 0 → 0
        (30.0, 60.0, "minimal", 0.0, []),
        # all unknown → 0 with three gaps
        (None, None, None, 0.0, ["humidity", "temperature", "exposure"]),
        # H = 2.5·12 = 30 → 15; T unknown 0; severe → 25 → 40
        (52.0, None, "severe", 40.0, ["temperature"]),
        # exposure outside the vocabulary is unknown: H = 2.5·30 = 75 → 37.5
        (70.0, 70.0, "extreme", 37.5, ["exposure"]),
    ],
)
def test_environmental(h, t, x, expected, gaps):
    fac = replace(NEUTRAL, humidity_avg=h, temperature_avg_f=t, outdoor_exposure=x)
    r = run(mk(), fac=fac)
    assert fv(r, "environmental") == pytest.approx(expected)
    assert r.data_gaps == gaps


# ---------------------------------------------------------------- loading
@pytest.mark.parametrize(
    "load, expected",
    [
        (0.0, 0.0),
        (60.0, 0.0),  # L ≤ 60 → 0
        (60.4, 1.0),  # 2.5·0.4 = 1
        (80.0, 50.0),  # 2.5·20 = 50
        (99.0, 97.5),  # 2.5·39 = 97.5
        (100.0, 100.0),  # L ≥ 100 → 100
        (150.0, 100.0),
    ],
)
def test_loading(load, expected):
    r = run(mk(load_percent=load))
    assert fv(r, "loading") == pytest.approx(expected)
    assert r.data_gaps == []


def test_loading_unknown():
    r = run(mk(load_percent=None))
    assert fv(r, "loading") == 0
    assert r.data_gaps == ["loading"]


# ---------------------------------------------------------------- condition
def obs(c="none", r="none", w="none", heat=False, temp=None, overall=None):
    return ObservationsIn(c, r, w, heat, False, temp, overall)


@pytest.mark.parametrize(
    "o, expected, label",
    [
        # 0.4·60 + 0.3·25 + 0.3·100 = 24 + 7.5 + 30 = 61.5 → Poor (≤ 80)
        (obs("moderate", "minimal", "severe"), 61.5, "Poor"),
        # + heat discoloration 20 → 81.5 → Critical (> 80)
        (obs("moderate", "minimal", "severe", heat=True), 81.5, "Critical"),
        # operatingTempC 60 ≥ 60 → +20 → 20 → Good
        (obs(temp=60.0), 20.0, "Good"),
        # 59.9 < 60 → 0 → Excellent
        (obs(temp=59.9), 0.0, "Excellent"),
        # 0.4·100 + 0.3·100 + 0.3·100 + 20 = 120 → cap 100
        (obs("severe", "severe", "severe", heat=True), 100.0, "Critical"),
        # label boundaries: 0.4·25 = 10 → Excellent (≤ 10)
        (obs("minimal"), 10.0, "Excellent"),
        # 10 + 7.5 = 17.5 → Good
        (obs("minimal", "minimal"), 17.5, "Good"),
        # 0.3·100 = 30 → Good (≤ 30)
        (obs(r="severe"), 30.0, "Good"),
        # 30 + 7.5 = 37.5 → Fair
        (obs(r="severe", w="minimal"), 37.5, "Fair"),
        # 40 + 7.5 + 7.5 = 55 → Fair (≤ 55)
        (obs("severe", "minimal", "minimal"), 55.0, "Fair"),
        # 24 + 18 + 18 = 60 + heat 20 = 80 → Poor (≤ 80)
        (obs("moderate", "moderate", "moderate", heat=True), 80.0, "Poor"),
    ],
)
def test_condition(o, expected, label):
    r = run(mk(observations=o))
    assert fv(r, "condition") == pytest.approx(expected)
    assert r.condition == label
    assert "observations" not in r.data_gaps


def test_condition_no_observations():
    r = run(mk(observations=None))
    assert fv(r, "condition") == 0
    assert r.data_gaps == ["observations"]
    assert r.condition == "Excellent"
    # an observations object with nothing recorded counts as no observations
    r = run(mk(observations=ObservationsIn()))
    assert r.data_gaps == ["observations"]


def test_condition_label_prefers_recorded_overall_condition():
    r = run(mk(observations=obs("moderate", "minimal", "severe", heat=True, overall="Good")))
    assert fv(r, "condition") == pytest.approx(81.5)
    assert r.condition == "Good"


# ---------------------------------------------------------------- gaps order
def test_data_gaps_stable_order():
    fac = replace(NEUTRAL, humidity_avg=None, temperature_avg_f=None, outdoor_exposure=None)
    e = mk(install_date=None, conductors=(), maintenance=(), load_percent=None, observations=None)
    r = run(e, fac=fac)
    assert r.data_gaps == [
        "install_date",
        "conductors",
        "maintenance_history",
        "humidity",
        "temperature",
        "exposure",
        "loading",
        "observations",
    ]
    # age 50, material 40, maintenance 100, rest 0:
    # 0.35·50 + 0.2·40 + 0.2·100 = 17.5 + 8 + 20 = 45.5 → 46 (round() would give 46 too)
    assert r.risk_score == 46
    assert r.rating == "Medium"


# ---------------------------------------------------------------- score and rating bands
# Old equipment: installed 1980 (45 y > 35 y life → age 100), serviced at as_of (0),
# neutral facility (0), no observations findings (0).
OLD = dict(install_date=date(1980, 1, 1), maintenance=(rec(AS_OF),))
OLD_LAPSED = dict(install_date=date(1980, 1, 1), maintenance=(rec(date(2010, 1, 1)),))
AL = (ConductorIn("aluminum", "lug"),)
MIXED_CRIMPED = (ConductorIn("copper", "crimped"), ConductorIn("aluminum", "lug"))


@pytest.mark.parametrize(
    "kw, score, rating",
    [
        # 0.35·100 + 0.2·20 + 0.1·(2.5·4) = 35 + 4 + 1 = 40
        (dict(OLD, load_percent=64.0), 40, "Low"),
        # 35 + 4 + 0.1·(2.5·8) = 41
        (dict(OLD, load_percent=68.0), 41, "Medium"),
        # 35 + 4 + 0.1·(2.5·6) = 40.5 → 41 (Python round(40.5) = 40 would say Low)
        (dict(OLD, load_percent=66.0), 41, "Medium"),
        # aluminum 70 → 0.2·70 = 14; maintenance record 2010 → 100 → 20; load 64 → 1:
        # 35 + 14 + 20 + 1 = 70
        (dict(OLD_LAPSED, conductors=AL, load_percent=64.0), 70, "Medium"),
        # 35 + 14 + 20 + 2 = 71
        (dict(OLD_LAPSED, conductors=AL, load_percent=68.0), 71, "High"),
        # installed 1970: mixed 85 + crimped 10 + pre-1975 10 → 100 → 20; maintenance record
        # 2010 → 100 → 20; load 100 → 10: 35 + 20 + 20 + 10 = 85
        (
            dict(
                install_date=date(1970, 1, 1),
                conductors=MIXED_CRIMPED,
                maintenance=(rec(date(2010, 1, 1)),),
                load_percent=100.0,
            ),
            85,
            "High",
        ),
        # the same + heat discoloration (condition 20 → 0.05·20 = 1) = 86
        (
            dict(
                install_date=date(1970, 1, 1),
                conductors=MIXED_CRIMPED,
                maintenance=(rec(date(2010, 1, 1)),),
                load_percent=100.0,
                observations=obs(heat=True),
            ),
            86,
            "Critical",
        ),
    ],
)
def test_score_band_boundaries(kw, score, rating):
    r = run(mk(**kw))
    assert r.risk_score == score
    assert r.rating == rating


def test_rating_bands_with_custom_weights():
    # loading weight 1, all others 0: score = round(2.5·(L − 60))
    model = ModelParams("t", {"loading": 1.0}, Thresholds(), MODEL.profiles)
    cases = [
        (76.0, 40, "Low"),
        (76.4, 41, "Medium"),
        (88.0, 70, "Medium"),
        (88.4, 71, "High"),
        (94.0, 85, "High"),
        (94.4, 86, "Critical"),
        (100.0, 100, "Critical"),
        (60.0, 0, "Low"),
        (60.2, 1, "Low"),
    ]  # 2.5·0.2 = 0.5 → 1 (round(0.5) = 0)
    for load, score, rating in cases:
        r = run(mk(load_percent=load), model=model)
        assert (r.risk_score, r.rating) == (score, rating), load
    # factor ties by name: all weight·factor 0 except loading
    r = run(mk(load_percent=80.0), model=model)
    assert [f.factor for f in r.risk_factors] == [
        "loading",
        "age",
        "condition",
        "environmental",
        "maintenance",
        "material",
    ]
    assert r.primary_risk_factor == "loading"


# ---------------------------------------------------------------- critical threat
def test_critical_threat_rules():
    high71 = dict(OLD_LAPSED, conductors=AL, load_percent=68.0)  # score 71, High (see above)
    med70 = dict(OLD_LAPSED, conductors=AL, load_percent=64.0)  # score 70, Medium
    # panel (importance 1.0), High, not serving a critical load → no
    assert run(mk(**high71)).critical_threat is False
    # transformer importance 3.0 and High → yes (life 25 < 45 y: age still 100, score 71)
    t = run(mk(type="transformer", **high71))
    assert (t.risk_score, t.rating, t.critical_threat) == (71, "High", True)
    # servesCriticalLoad and score 71 > 70 → yes; score 70 → no
    assert run(mk(serves_critical_load=True, **high71)).critical_threat is True
    assert run(mk(serves_critical_load=True, **med70)).critical_threat is False
    # transformer rated Medium: importance alone is not enough
    assert run(mk(type="transformer", **med70)).critical_threat is False
    # rating Critical → yes for any type
    crit = run(
        mk(
            install_date=date(1970, 1, 1),
            conductors=MIXED_CRIMPED,
            maintenance=(rec(date(2010, 1, 1)),),
            load_percent=100.0,
            observations=obs(heat=True),
        )
    )
    assert crit.rating == "Critical" and crit.critical_threat is True


# ---------------------------------------------------------------- §1
def test_is_counted():
    assert is_counted(mk(install_date=date(2025, 1, 1)), AS_OF)  # on as_of counts
    assert not is_counted(mk(install_date=date(2025, 1, 2)), AS_OF)
    assert is_counted(mk(install_date=None), AS_OF)
