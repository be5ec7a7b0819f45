"""NFPA 70B / 70E (risk-model.md §5), per equipment and per facility."""

from datetime import date, timedelta

import pytest

from voltmetrics.engine import (
    ConductorIn,
    EquipmentIn,
    FacilityIn,
    MaintenanceIn,
    ObservationsIn,
    assess_equipment,
    assess_facility,
    compliance_status,
    default_model,
    study_status,
)

MODEL = default_model()
NONE_OBS = ObservationsIn("none", "none", "none", False, False, None, None)


def fac(study=date(2024, 1, 1), equipment=()):
    return FacilityIn("fac", "Plant", 2000, 40.0, 75.0, "minimal", study, tuple(equipment))


def mk(
    i="e1", name=None, last=None, install=date(2015, 1, 1), label=True, type_="panel", interval=None
):
    return EquipmentIn(
        i,
        name or f"Item {i}",
        type_,
        install,
        (ConductorIn("copper", "lug"),),
        NONE_OBS,
        50.0,
        label,
        False,
        () if last is None else (MaintenanceIn("m" + i, "inspection", last),),
        interval_months=interval,
    )


def b70(e, as_of, f=None):
    return assess_equipment(e, f or fac(), MODEL, as_of).nfpa_70b


# ---------------------------------------------------------------- 70B per equipment
def test_70b_due_soon_boundary():
    e = mk(last=date(2024, 3, 31))  # next_due = 2024-03-31 + 12 months = 2025-03-31
    # as_of 2025-03-01: next_due − as_of = 30 days ≤ 30 → due_soon
    r = b70(e, date(2025, 3, 1))
    assert (r.next_due, r.status, r.compliant, r.compliance_percentage, r.days_overdue) == (
        date(2025, 3, 31),
        "due_soon",
        True,
        100,
        0,
    )
    # as_of 2025-02-28: 31 days → up_to_date
    assert b70(e, date(2025, 2, 28)).status == "up_to_date"
    # as_of = next_due: 0 days, not after → due_soon
    assert b70(e, date(2025, 3, 31)).status == "due_soon"


def test_70b_overdue_one_day():
    e = mk(last=date(2024, 3, 31))
    r = b70(e, date(2025, 4, 1))
    # 1 day overdue: 100 − 100·1/(12·30.4375) = 100 − 0.2738 = 99.73 → 100 → clamp to 99
    assert (r.status, r.compliant, r.days_overdue, r.compliance_percentage) == (
        "overdue",
        False,
        1,
        99,
    )


def test_70b_overdue_percentage():
    e = mk(last=date(2024, 1, 1))  # next_due 2025-01-01
    r = b70(e, date(2025, 6, 30))
    # 2025-01-01 → 2025-06-30 = 180 days; 100 − 18000/365.25 = 100 − 49.2813 = 50.72 → 51
    assert (r.days_overdue, r.compliance_percentage) == (180, 51)


def test_70b_overdue_percentage_clamps_to_zero():
    e = mk(last=date(2020, 1, 1))  # next_due 2021-01-01
    r = b70(e, date(2025, 1, 1))
    # 1461 days: 100 − 146100/365.25 = 100 − 400 = −300 → clamp 0
    assert (r.days_overdue, r.compliance_percentage) == (1461, 0)


def test_70b_calendar_clamp_and_interval_override():
    # interval 1 month: 2024-01-31 + 1 month = 2024-02-29
    r = b70(mk(last=date(2024, 1, 31), interval=1), date(2024, 2, 10))
    assert r.next_due == date(2024, 2, 29)
    assert r.interval_months == 1
    # raceway, interval 36: 2022-01-01 + 36 months = 2025-01-01
    r = b70(mk(last=date(2022, 1, 1), type_="raceway"), date(2024, 6, 1))
    assert (r.next_due, r.status) == (date(2025, 1, 1), "up_to_date")


def test_70b_baseline_is_install_date_without_records():
    r = b70(mk(install=date(2024, 6, 15)), date(2024, 7, 1))
    assert (r.baseline, r.next_due, r.status) == (
        date(2024, 6, 15),
        date(2025, 6, 15),
        "up_to_date",
    )


def test_70b_no_baseline():
    r = b70(mk(install=None), date(2025, 1, 1))
    assert (
        r.baseline,
        r.next_due,
        r.status,
        r.compliant,
        r.compliance_percentage,
        r.days_overdue,
    ) == (None, None, "overdue", False, 0, None)


# ---------------------------------------------------------------- 70E
def test_study_status_boundary_leap_day():
    # 2020-02-29 + 5 years = 2025-02-28 (calendar, clamped)
    s = study_status(date(2020, 2, 29), date(2025, 2, 28))
    assert (s.next_study_due, s.status) == (date(2025, 2, 28), "current")  # due ≥ as_of
    assert study_status(date(2020, 2, 29), date(2025, 3, 1)).status == "expired"
    assert study_status(None, date(2025, 3, 1)).status == "missing"


@pytest.mark.parametrize(
    "study, label, compliant, pct",
    [
        (date(2022, 1, 1), True, True, 100),  # 0.7·100 + 0.3·100
        (date(2022, 1, 1), False, False, 70),  # 0.7·100 + 0
        (date(2010, 1, 1), True, False, 30),  # expired: 0 + 0.3·100
        (None, False, False, 0),  # missing: 0
    ],
)
def test_70e_per_equipment(study, label, compliant, pct):
    r = assess_equipment(
        mk(label=label, last=date(2024, 12, 1)), fac(study), MODEL, date(2025, 1, 1)
    ).nfpa_70e
    assert (r.compliant, r.compliance_percentage, r.label_present) == (compliant, pct, label)


# ---------------------------------------------------------------- facility compliance
AS_OF = date(2025, 1, 1)
FRESH = AS_OF - timedelta(days=100)  # next due in 265 days: up_to_date
STALE = date(2023, 1, 1)  # next due 2024-01-01: overdue


def facility_with(n, overdue, labeled, study=date(2024, 1, 1)):
    eqs = [
        mk(f"e{i:02d}", last=STALE if i < overdue else FRESH, label=i < labeled) for i in range(n)
    ]
    return fac(study, eqs)


@pytest.mark.parametrize(
    "n, overdue, labeled, c70b, c70e, overall, status",
    [
        # 70b = 100; 70e = round(70 + 30·3/10) = 79; overall = (100 + 79)/2 = 89.5 → 90
        (10, 0, 3, 100, 79, 90, "Compliant"),
        # 70b = round(100 − 10) = 90; 70e = round(70 + 18) = 88; overall = 178/2 = 89
        (10, 1, 6, 90, 88, 89, "Warning"),
        # 70b = 80; 70e = 70; overall = 150/2 = 75
        (10, 2, 0, 80, 70, 75, "Warning"),
        # 70b = 60; 70e = round(70 + 18) = 88; overall = 148/2 = 74
        (10, 4, 6, 60, 88, 74, "Out of Compliance"),
        # 70b = round(100 − 100/3) = round(66.67) = 67; 70e = round(70 + 20) = 90;
        # overall = round(157/2 = 78.5) = 79
        (3, 1, 2, 67, 90, 79, "Warning"),
    ],
)
def test_facility_compliance_thresholds(n, overdue, labeled, c70b, c70e, overall, status):
    c = assess_facility(facility_with(n, overdue, labeled), MODEL, AS_OF).compliance
    assert (c.nfpa_70b, c.nfpa_70e, c.overall, c.status) == (c70b, c70e, overall, status)
    assert c.labeling == pytest.approx(100 * labeled / n)
    assert c.inspection_status["overdue"] == overdue
    assert c.nfpa_70b_counts == {"total": n, "compliant": n - overdue, "non_compliant": overdue}
    assert c.label_status == {"present": labeled, "missing": n - labeled}
    assert c.nfpa_70e_counts == {"total": n, "compliant": labeled, "non_compliant": n - labeled}


def test_facility_70e_uses_unrounded_labeling():
    # study missing, N = 12, 1 labeled: labeling = 8.333…; 0.3·8.333 = 2.5 → 3 (half up).
    # Rounding labeling first (8 → 2.4 → 2) would be wrong.
    c = assess_facility(facility_with(12, 0, 1, study=None), MODEL, AS_OF).compliance
    assert c.nfpa_70e == 3
    assert c.study.status == "missing"
    # overall = (100 + 3)/2 = 51.5 → 52
    assert (c.overall, c.status) == (52, "Out of Compliance")


@pytest.mark.parametrize(
    "overall, status",
    [
        (100, "Compliant"),
        (90, "Compliant"),
        (89, "Warning"),
        (75, "Warning"),
        (74, "Out of Compliance"),
        (0, "Out of Compliance"),
        (None, None),
    ],
)
def test_compliance_status_bands(overall, status):
    assert compliance_status(overall) == status


def test_next_inspections_due_order():
    as_of = date(2025, 6, 1)
    eqs = [
        mk("a", "Zed", last=date(2024, 5, 1)),  # due 2025-05-01: 31 days overdue
        mk("b", "Alpha", last=date(2024, 1, 1)),  # due 2025-01-01: 151 days overdue
        mk("c", "Beta", last=date(2024, 9, 1)),  # due 2025-09-01: not due, 0
        mk("d", "Gamma", last=date(2024, 6, 20)),  # due 2025-06-20: due soon, 0
        mk("e", "Delta", install=None),  # no baseline: overdue, unknown days
        mk("f", "Alpha", last=date(2024, 5, 1)),  # 31 days overdue, ties with "Zed" by name
    ]
    c = assess_facility(fac(equipment=eqs), MODEL, as_of).compliance
    got = [(i.equipment_id, i.due_date, i.days_overdue) for i in c.next_inspections_due]
    assert got == [
        ("e", None, None),  # unknown baseline first (reading: most overdue)
        ("b", date(2025, 1, 1), 151),  # then overdue by days overdue desc
        ("f", date(2025, 5, 1), 31),  # tie on days: by name "Alpha" < "Zed"
        ("a", date(2025, 5, 1), 31),
        ("d", date(2025, 6, 20), 0),  # then due soonest
        ("c", date(2025, 9, 1), 0),
    ]
    assert c.inspection_status == {"up_to_date": 1, "due_soon": 1, "overdue": 4}


def test_next_inspections_due_at_most_20():
    eqs = [mk(f"e{i:02d}", last=date(2024, 1, 1)) for i in range(25)]
    c = assess_facility(fac(equipment=eqs), MODEL, date(2025, 1, 1)).compliance
    assert len(c.next_inspections_due) == 20
