"""History and forecast (risk-model.md §7 trend, §8)."""

from datetime import date

from voltmetrics.engine import (
    ConductorIn,
    EquipmentIn,
    FacilityIn,
    MaintenanceIn,
    ModelParams,
    ObservationsIn,
    Thresholds,
    default_model,
    facility_forecast,
    facility_history,
    facility_snapshot,
    portfolio_history,
)

AS_OF = date(2026, 1, 15)
PROFILES = default_model().profiles
LOAD_ONLY = ModelParams("t-load", {"loading": 1.0}, Thresholds(), PROFILES)
MAINT_ONLY = ModelParams("t-maint", {"maintenance": 1.0}, Thresholds(), PROFILES)
NONE_OBS = ObservationsIn("none", "none", "none", False, False, None, None)
CU = (ConductorIn("copper", "lug"),)


def eq(i, install, load=50.0, maintenance=()):
    return EquipmentIn(i, i, "panel", install, CU, NONE_OBS, load, True, False, maintenance)


def fac(eqs, fid="f1"):
    return FacilityIn(fid, fid, 2000, 40.0, 75.0, "minimal", date(2024, 1, 1), tuple(eqs))


MONTHS = ["Aug 2025", "Sep 2025", "Oct 2025", "Nov 2025", "Dec 2025", "Jan 2026"]


def test_facility_history_counts_ages_and_scores():
    f = fac(
        [
            eq("e1", date(2025, 1, 1), load=80.0),  # loading 2.5·20 = 50
            eq("e2", date(2025, 10, 15), load=100.0),  # 100; exists from Oct 2025
            eq("e3", None, load=60.0),  # 0; always counts; no age
        ]
    )
    h = facility_history(f, LOAD_ONLY, AS_OF)
    assert [x["month"] for x in h] == MONTHS
    # Aug, Sep: e1 + e3; from Oct: all three
    assert [x["equipment_count"] for x in h] == [2, 2, 3, 3, 3, 3]
    # Aug, Sep: (50 + 0)/2 = 25; from Oct: (50 + 100 + 0)/3 = 50
    assert [x["risk_score"] for x in h] == [25, 25, 50, 50, 50, 50]
    # mean age of known installs (1 decimal), days from 2025-01-01 / 2025-10-15:
    # Aug 31: 242/365.25 = 0.663 → 0.7;  Sep 30: 272/365.25 = 0.745 → 0.7
    # Oct 31: (303 + 16)/730.5 = 0.437 → 0.4;  Nov 30: (333 + 46)/730.5 = 0.519 → 0.5
    # Dec 31: (364 + 77)/730.5 = 0.604 → 0.6;  Jan 15: (379 + 92)/730.5 = 0.645 → 0.6
    assert [x["equipment_age"] for x in h] == [0.7, 0.7, 0.4, 0.5, 0.6, 0.6]
    assert set(h[0]) == {"month", "risk_score", "equipment_count", "equipment_age"}


def test_history_ignores_maintenance_after_each_point():
    f = fac(
        [
            eq(
                "e1",
                date(2020, 1, 1),
                maintenance=(
                    MaintenanceIn("m1", "preventive", date(2025, 6, 30)),
                    MaintenanceIn("m2", "preventive", date(2025, 11, 15)),
                ),
            )
        ]
    )
    h = facility_history(f, MAINT_ONLY, AS_OF)
    # Aug 31: 62 days after 06-30 → m = 2.0370 → 30·m/12 = 5.09 → 5
    # Sep 30: 92 days → m = 3.0226 → 7.56 → 8
    # Oct 31: 123 days → m = 4.0411 → 10.10 → 10
    # Nov 30: baseline 11-15 (now exists): 15 days → m = 0.4928 → 1.23 → 1
    # Dec 31: 46 days → m = 1.5113 → 3.78 → 4
    # Jan 15: 61 days → m = 2.0041 → 5.01 → 5
    assert [x["risk_score"] for x in h] == [5, 8, 10, 1, 4, 5]


def test_history_empty_months_are_null():
    f = fac([eq("e1", date(2025, 11, 1), load=80.0)])
    h = facility_history(f, LOAD_ONLY, AS_OF)
    assert [x["risk_score"] for x in h] == [None, None, None, 50, 50, 50]
    assert [x["equipment_count"] for x in h] == [0, 0, 0, 1, 1, 1]
    assert h[0]["equipment_age"] is None


def test_history_uses_stored_snapshots_for_past_months():
    f = fac([eq("e1", date(2025, 1, 1), load=80.0)])
    stored = {
        date(2025, 9, 30): {"risk_score": 99, "equipment_count": 7, "equipment_age": 3.2},
        AS_OF: {"risk_score": 1, "equipment_count": 1, "equipment_age": 1.0},
    }
    h = facility_history(f, LOAD_ONLY, AS_OF, snapshots=stored)
    assert h[1] == {
        "month": "Sep 2025",
        "risk_score": 99,
        "equipment_count": 7,
        "equipment_age": 3.2,
    }
    assert h[5]["risk_score"] == 50  # the current month is always computed


def test_facility_snapshot():
    f = fac([eq("e1", date(2025, 1, 1), load=80.0)])
    # 2025-01-01 → 2025-12-31 = 364 days = 0.9966 y → 1.0
    assert facility_snapshot(f, LOAD_ONLY, date(2025, 12, 31)) == {
        "risk_score": 50,
        "equipment_count": 1,
        "equipment_age": 1.0,
    }


def test_forecast_uses_only_records_known_at_as_of():
    f = fac(
        [
            eq(
                "e1",
                date(2020, 1, 1),
                maintenance=(
                    MaintenanceIn("m1", "preventive", date(2025, 12, 15)),
                    MaintenanceIn("m2", "preventive", date(2026, 2, 1)),
                ),
            ),  # after as_of: ignored
            eq("e2", date(2026, 2, 1)),  # installed after as_of: not in the forecast
        ]
    )
    fc = facility_forecast(f, MAINT_ONLY, AS_OF)
    assert [x["month"] for x in fc] == ["Feb 2026", "Mar 2026", "Apr 2026"]
    # baseline 2025-12-15 throughout; maintenance keeps lapsing:
    # Feb 28: 75 days → m = 2.4641 → 30·m/12 = 6.16 → 6
    # Mar 31: 106 days → m = 3.4825 → 8.71 → 9
    # Apr 30: 136 days → m = 4.4682 → 11.17 → 11
    assert [x["risk_score"] for x in fc] == [6, 9, 11]
    assert set(fc[0]) == {"month", "risk_score"}


def test_forecast_keeps_ageing():
    age_only = ModelParams("t-age", {"age": 1.0}, Thresholds(), PROFILES)
    # panel life 35, installed 1991-01-31: at 2026-02-28, days = 12812 → 35.08 y ≥ 35 → 100;
    # at as_of 2026-01-15: 12768 days = 34.957 y → r = 0.99878 → 60 + 160·0.24878 = 99.80
    f = fac([eq("e1", date(1991, 1, 31))])
    assert facility_history(f, age_only, AS_OF)[-1]["risk_score"] == 100  # 99.80 → 100
    fc = facility_forecast(f, age_only, AS_OF)
    assert [x["risk_score"] for x in fc] == [100, 100, 100]


def test_portfolio_history():
    f1 = fac([eq("e1", date(2025, 1, 1), load=80.0)], "f1")  # 50
    f2 = fac([eq("e2", date(2025, 10, 15), load=100.0)], "f2")  # 100, exists from Oct
    h = portfolio_history([f1, f2], LOAD_ONLY, AS_OF)
    assert [x["month"] for x in h] == MONTHS
    # Aug, Sep: only f1 has equipment → 50; from Oct: (50 + 100)/2 = 75
    assert [x["risk_score"] for x in h] == [50, 50, 75, 75, 75, 75]
    assert [x["equipment_count"] for x in h] == [1, 1, 2, 2, 2, 2]
    # pooled mean age, as in the facility test: 0.7, 0.7, 0.4, 0.5, 0.6, 0.6
    assert [x["equipment_age"] for x in h] == [0.7, 0.7, 0.4, 0.5, 0.6, 0.6]


def test_portfolio_history_mean_half_up():
    # facility scores 41 and 40 → 40.5 → 41 (Python round → 40)
    f1 = fac([eq("e1", date(2020, 1, 1), load=76.4)], "f1")  # 2.5·16.4 = 41
    f2 = fac([eq("e2", date(2020, 1, 1), load=76.0)], "f2")  # 2.5·16 = 40
    assert portfolio_history([f1, f2], LOAD_ONLY, AS_OF)[-1]["risk_score"] == 41
