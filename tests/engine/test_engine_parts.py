"""Facility figures put together from per-equipment parts (voltmetrics.engine.parts,
voltmetrics.figures): the same figures as the engine's whole-facility functions, whether the
parts are computed or reused from their stored form."""

import json
from dataclasses import replace
from datetime import date, timedelta
from fractions import Fraction

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.engine.test_engine_properties import DATES
from tests.engine.test_engine_properties import _apply as apply_action
from tests.engine.test_engine_properties import equipment as any_equipment
from tests.engine.test_engine_properties import facility as any_facility
from voltmetrics.engine import (
    PARTS_FORMAT,
    ConductorIn,
    EquipmentIn,
    EquipmentParts,
    FacilityIn,
    MaintenanceIn,
    ObservationsIn,
    assess_facility,
    default_model,
    facility_forecast,
    facility_snapshot,
    facility_stats,
    history_points,
    integer_weights,
    is_counted,
    recommend,
    weighted_risk_score,
)
from voltmetrics.figures import facility_figures

MODEL = default_model()
AS_OF = date(2025, 3, 15)
MONTHS = history_points(AS_OF)[:-1]  # 2024-10-31 … 2025-02-28
NONE_OBS = ObservationsIn("none", "none", "none", False, False, None, None)
BAD_OBS = ObservationsIn("severe", "moderate", "severe", True, True, 95.0, None)
CU = (ConductorIn("copper", "lug"),)
AL = (ConductorIn("aluminum", "crimped"),)
MIXED = (ConductorIn("aluminum", "bolted", True), ConductorIn("copper", "lug"))


def mr(i, on):
    return MaintenanceIn(i, "preventive", on)


def eq(i, type_, install, *, conductors=CU, obs=NONE_OBS, load=50.0, label=True, maint=(), **kw):
    return EquipmentIn(
        id=i,
        name=kw.pop("name", f"Item {i}"),
        type=type_,
        install_date=install,
        conductors=conductors,
        observations=obs,
        load_percent=load,
        label_present=label,
        maintenance=tuple(maint),
        **kw,
    )


def fac(equipment, study=date(2023, 5, 1), **kw):
    fields = dict(
        year_built=1990, humidity_avg=45.0, temperature_avg_f=72.0, outdoor_exposure="minimal"
    )
    fields.update(kw)
    return FacilityIn(
        "f1", "Plant", arc_flash_study_date=study, equipment=tuple(equipment), **fields
    )


MIXED_PLANT = fac(
    [
        # Old panel, last serviced long ago: overdue, age factor 100.
        eq("old_panel", "panel", date(1970, 1, 1), maint=[mr("m1", date(2020, 1, 1))]),
        # Aluminum transformer (importance 3), no label, serviced inside the history window
        # and once more after as_of (ignored at as_of and by the forecast).
        eq(
            "al_xfmr",
            "transformer",
            date(1985, 6, 1),
            conductors=AL,
            obs=BAD_OBS,
            load=92.0,
            label=False,
            serves_critical_load=True,
            maint=[mr("m2", date(2024, 12, 1)), mr("m3", date(2025, 4, 1))],
        ),
        # Nothing known: no install date, conductors, observations, load or label.
        eq("unknown", "breaker", None, conductors=(), obs=None, load=None, label=False),
        # Installed after as_of: not counted.
        eq("future", "switchgear", date(2025, 6, 1)),
        # Installed inside the history window (counts only from February).
        eq("new_busway", "busway", date(2025, 2, 10), maint=[mr("m4", date(2025, 2, 10))]),
        # Mixed conductors with an Al/Cu transition, hot and loaded, critical load.
        eq(
            "gear",
            "switchgear",
            date(1990, 1, 1),
            conductors=MIXED,
            obs=BAD_OBS,
            load=105.0,
            label=False,
            serves_critical_load=True,
            maint=[mr("m5", date(2023, 11, 1))],
        ),
        # A meter (importance 0.5, 36-month interval) and an unmapped type.
        eq("meter", "meter", date(2010, 4, 30), maint=[mr("m6", date(2023, 1, 1))]),
        eq("odd", "unmapped", date(2001, 2, 28), life_years=10.0, interval_months=6),
    ]
)
EXPIRED_STUDY = fac(
    [
        eq("a", "ups", date(2012, 1, 1), conductors=AL, label=False),
        eq("b", "generator", date(1999, 7, 4), maint=[mr("m7", date(2024, 11, 15))]),
        eq("c", "mcc", date(2015, 5, 5), conductors=MIXED, load=75.0),
    ],
    study=date(2015, 1, 1),
    year_built=1950,
    humidity_avg=85.0,
    temperature_avg_f=98.0,
    outdoor_exposure="severe",
)
NO_STUDY_NO_DATES = fac(
    [
        eq("x", "panel", None, label=False),
        eq("y", "switchboard", None, conductors=AL, maint=[mr("m8", date(2025, 1, 20))]),
    ],
    study=None,
    year_built=None,
    humidity_avg=None,
    temperature_avg_f=None,
    outdoor_exposure=None,
)
NOTHING_COUNTED = fac([eq("later", "panel", date(2026, 1, 1))])
EMPTY = fac([])

CASES = [
    (MIXED_PLANT, AS_OF),
    (MIXED_PLANT, date(2024, 2, 29)),  # leap day; the busway is not installed yet
    (MIXED_PLANT, date(2025, 12, 31)),  # the 2025-04-01 record and the switchgear count
    (EXPIRED_STUDY, AS_OF),
    (NO_STUDY_NO_DATES, AS_OF),
    (NOTHING_COUNTED, AS_OF),
    (EMPTY, AS_OF),
]
CASE_IDS = ["mixed", "mixed-leap", "mixed-year-end", "expired", "no-dates", "none-counted", "empty"]


def strip_descriptions(result) -> dict:
    d = result.to_dict()
    for f in d["risk_factors"]:
        f.pop("description")
    return d


def stored(parts: EquipmentParts, dumps=orjson.dumps, loads=orjson.loads) -> dict:
    """What a JSON column gives back."""
    return loads(dumps(parts.to_dict()))


def rebuilt_parts(f: FacilityIn, figures, as_of, **kw) -> dict[str, EquipmentParts]:
    by_id = {e.id: e for e in f.equipment}
    return {
        eid: EquipmentParts.from_dict(stored(p, **kw), by_id[eid], as_of, MODEL.version)
        for eid, p in figures.parts.items()
    }


def check_against_engine(f: FacilityIn, as_of: date):
    figures = facility_figures(f, MODEL, as_of)
    counted = {e.id for e in f.equipment if is_counted(e, as_of)}
    assert set(figures.parts) == counted
    assert figures.reused == set()
    whole = assess_facility(f, MODEL, as_of)
    assert figures.result.to_dict() == whole.to_dict()
    assert {k: r.to_dict() for k, r in figures.local.items()} == {
        k: r.to_dict() for k, r in whole.equipment_results.items()
    }
    assert figures.forecast == facility_forecast(f, MODEL, as_of)
    assert [a.to_dict() for a in figures.actions] == [
        a.to_dict() for a in recommend(f, MODEL, as_of)
    ]
    # … and, independently of the outcomes both share, each action's figures are those of the
    # facility reassessed after the change.
    for a in figures.actions:
        after = assess_facility(apply_action(f, a, as_of), MODEL, as_of)
        assert a.risk_reduction == whole.risk_score - after.risk_score, a.action
        assert a.compliance_gain == after.compliance.overall - whole.compliance.overall, a.action
    months = history_points(as_of)[:-1]
    assert [b.month for b in figures.backfilled] == months
    for b in figures.backfilled:
        assert b.snapshot == facility_snapshot(f, MODEL, b.month), b.month
        score, n, days, known = facility_stats(f, MODEL, b.month)
        assert (b.snapshot["risk_score"], b.snapshot["equipment_count"]) == (score, n)
        assert (b.age_days_sum, b.age_known) == (days, known), b.month
    now = facility_snapshot(f, MODEL, as_of)
    assert figures.history[-1]["risk_score"] == now["risk_score"]
    assert figures.history[-1]["equipment_count"] == now["equipment_count"]
    assert figures.history[-1]["equipment_age"] == now["equipment_age"]
    assert (figures.age_days_sum, figures.age_known) == facility_stats(f, MODEL, as_of)[2:]
    return figures


# --- computed parts give the engine's figures -------------------------------------------------


@pytest.mark.parametrize(("f", "as_of"), CASES, ids=CASE_IDS)
def test_figures_from_parts_equal_the_engine(f, as_of):
    check_against_engine(f, as_of)


def test_the_mixed_plant_exercises_every_action_kind():
    """The deterministic case above is only worth its name if the simulations run."""
    figures = facility_figures(MIXED_PLANT, MODEL, AS_OF)
    kinds = {k for p in figures.parts.values() for k in p.outcomes}
    assert kinds == {"replace", "maintenance", "retrofit", "labels"}
    assert {a.kind for a in figures.actions} >= {"replace", "maintenance", "retrofit", "labels"}
    # The busway counts only in February; the switchgear installed later never.
    assert set(figures.parts["new_busway"].history) == {date(2025, 2, 28)}
    assert "future" not in figures.parts
    assert set(figures.parts["unknown"].history) == set(MONTHS)


@settings(max_examples=60, deadline=None)
@given(any_facility(max_eq=5), DATES)
def test_figures_from_parts_equal_the_engine_for_any_facility(f, as_of):
    check_against_engine(f, as_of)


def test_frozen_months_are_not_backfilled_nor_held_in_parts():
    feb, dec = date(2025, 2, 28), date(2024, 12, 31)
    frozen = {feb: {"risk_score": 7, "equipment_count": 1, "equipment_age": 3.0}}
    figures = facility_figures(MIXED_PLANT, MODEL, AS_OF, frozen=frozen)
    assert [b.month for b in figures.backfilled] == [m for m in MONTHS if m != feb]
    assert figures.history[-2] == {
        "month": "Feb 2025",
        "risk_score": 7,
        "equipment_count": 1,
        "equipment_age": 3.0,
    }
    assert all(feb not in p.history for p in figures.parts.values())
    assert all(dec in p.history for k, p in figures.parts.items() if k != "new_busway")
    assert figures.backfilled[2].snapshot == facility_snapshot(MIXED_PLANT, MODEL, dec)


# --- stored form ------------------------------------------------------------------------------


def check_round_trip(f: FacilityIn, as_of: date, **kw):
    fresh = facility_figures(f, MODEL, as_of)
    by_id = {e.id: e for e in f.equipment}
    rebuilt = rebuilt_parts(f, fresh, as_of, **kw)
    for eid, p in fresh.parts.items():
        r = rebuilt[eid]
        assert strip_descriptions(r.result) == strip_descriptions(p.result), eid
        assert [(x.factor, x.value, x.score, x.weight) for x in r.result.risk_factors] == [
            (x.factor, x.value, x.score, x.weight) for x in p.result.risk_factors
        ]
        assert all(x.description == "" for x in r.result.risk_factors)
        assert r.result.serves_critical_load == by_id[eid].serves_critical_load
        assert r.forecast == p.forecast
        assert r.history == p.history
        assert r.outcomes == p.outcomes
    again = facility_figures(f, MODEL, as_of, reuse=rebuilt)
    assert again.reused == set(fresh.parts)
    assert again.payload() == fresh.payload()
    assert [(b.month, b.snapshot, b.age_days_sum, b.age_known) for b in again.backfilled] == [
        (b.month, b.snapshot, b.age_days_sum, b.age_known) for b in fresh.backfilled
    ]
    assert (again.age_days_sum, again.age_known) == (fresh.age_days_sum, fresh.age_known)


@pytest.mark.parametrize(("f", "as_of"), CASES, ids=CASE_IDS)
@pytest.mark.parametrize(
    "codec",
    [
        {"dumps": orjson.dumps, "loads": orjson.loads},
        {"dumps": json.dumps, "loads": json.loads},
    ],
    ids=["orjson", "json"],
)
def test_stored_parts_round_trip_and_give_the_same_figures(f, as_of, codec):
    check_round_trip(f, as_of, **codec)


@settings(max_examples=60, deadline=None)
@given(any_facility(max_eq=5), DATES)
def test_stored_parts_round_trip_for_any_facility(f, as_of):
    check_round_trip(f, as_of)


def test_reused_parts_are_what_the_figures_are_made_of():
    """Reused parts are used as they are: a forecast and history held in them (here altered)
    is what the facility figures show, weighted by importance."""
    fresh = facility_figures(MIXED_PLANT, MODEL, AS_OF)
    reuse = dict(fresh.parts)
    xfmr = reuse["al_xfmr"]
    reuse["al_xfmr"] = replace(xfmr, forecast=(0, 0, 0), history={m: 100 for m in xfmr.history})
    figures = facility_figures(MIXED_PLANT, MODEL, AS_OF, reuse=reuse)
    assert figures.reused == set(fresh.parts)
    for i, point in enumerate(figures.forecast):
        want = weighted_risk_score(
            (0 if k == "al_xfmr" else p.forecast[i], p.result.importance)
            for k, p in fresh.parts.items()
        )
        assert point["risk_score"] == want
    assert figures.forecast != fresh.forecast
    dec = date(2024, 12, 31)
    snap = next(b for b in figures.backfilled if b.month == dec).snapshot
    want = weighted_risk_score(
        (100 if k == "al_xfmr" else p.history[dec], p.result.importance)
        for k, p in fresh.parts.items()
        if dec in p.history
    )
    assert snap["risk_score"] == want != facility_snapshot(MIXED_PLANT, MODEL, dec)["risk_score"]


# --- mixed reuse: one equipment changed, the others' old parts kept -----------------------------


def check_mixed(before: FacilityIn, after: FacilityIn, as_of: date, changed: str):
    old = facility_figures(before, MODEL, as_of)
    keep = rebuilt_parts(before, old, as_of)
    keep.pop(changed, None)
    mixed = facility_figures(after, MODEL, as_of, reuse=keep)
    fresh = facility_figures(after, MODEL, as_of)
    assert mixed.reused == set(keep)
    assert changed not in mixed.reused
    assert mixed.payload() == fresh.payload()
    assert [(b.month, b.snapshot) for b in mixed.backfilled] == [
        (b.month, b.snapshot) for b in fresh.backfilled
    ]
    assert mixed.result.to_dict(False) == fresh.result.to_dict(False)
    assert {k: strip_descriptions(r) for k, r in mixed.local.items()} == {
        k: strip_descriptions(r) for k, r in fresh.local.items()
    }
    if changed in fresh.parts:
        # The changed equipment's parts are its new ones, not the old.
        assert mixed.parts[changed].result.to_dict() == fresh.parts[changed].result.to_dict()
        assert mixed.parts[changed].forecast == fresh.parts[changed].forecast
    return old, fresh


def swap(f: FacilityIn, eid: str, **changes) -> FacilityIn:
    return replace(
        f, equipment=tuple(replace(e, **changes) if e.id == eid else e for e in f.equipment)
    )


@pytest.mark.parametrize(
    ("eid", "changes"),
    [
        ("old_panel", {"maintenance": (mr("m9", date(2025, 3, 10)),)}),  # serviced: not overdue
        ("al_xfmr", {"load_percent": 30.0, "conductors": CU}),
        ("gear", {"label_present": True, "observations": NONE_OBS}),
        ("unknown", {"install_date": date(1960, 1, 1)}),
        ("new_busway", {"install_date": date(2025, 4, 1)}),  # no longer counted
        ("future", {"install_date": date(2024, 11, 1)}),  # now counted, from November
    ],
)
def test_changed_equipment_with_the_others_reused_gives_fresh_figures(eid, changes):
    after = swap(MIXED_PLANT, eid, **changes)
    old, fresh = check_mixed(MIXED_PLANT, after, AS_OF, eid)
    # The change moves the facility figures: reusing the changed equipment's old parts would
    # have shown.
    assert fresh.payload() != old.payload()


@settings(max_examples=60, deadline=None)
@given(any_facility(max_eq=5), DATES, st.data())
def test_changed_equipment_with_the_others_reused_for_any_facility(f, as_of, data):
    if not f.equipment:
        return
    i = data.draw(st.integers(0, len(f.equipment) - 1))
    new = data.draw(any_equipment(i))
    after = replace(f, equipment=f.equipment[:i] + (new,) + f.equipment[i + 1 :])
    check_mixed(f, after, as_of, new.id)


# --- covers -------------------------------------------------------------------------------------


def test_parts_lacking_a_backfilled_month_are_computed_again():
    feb = date(2025, 2, 28)
    frozen = {feb: {"risk_score": 1, "equipment_count": 1, "equipment_age": 1.0}}
    # Parts computed while February was frozen lack it.
    partial = facility_figures(MIXED_PLANT, MODEL, AS_OF, frozen=frozen)
    reuse = rebuilt_parts(MIXED_PLANT, partial, AS_OF)
    by_id = {e.id: e for e in MIXED_PLANT.equipment}
    assert all(not p.covers(by_id[k], MONTHS) for k, p in reuse.items())
    assert all(p.covers(by_id[k], [m for m in MONTHS if m != feb]) for k, p in reuse.items())
    # With February frozen they are all used …
    with_feb_frozen = facility_figures(MIXED_PLANT, MODEL, AS_OF, frozen=frozen, reuse=reuse)
    assert with_feb_frozen.reused == set(reuse)
    # … without it, none is: every counted equipment needs February.
    figures = facility_figures(MIXED_PLANT, MODEL, AS_OF, reuse=reuse)
    assert figures.reused == set()
    fresh = facility_figures(MIXED_PLANT, MODEL, AS_OF)
    assert figures.payload() == fresh.payload()
    assert [b.snapshot for b in figures.backfilled] == [b.snapshot for b in fresh.backfilled]
    assert all(feb in p.history for p in figures.parts.values())


def test_a_part_lacking_one_month_is_computed_the_others_reused():
    fresh = facility_figures(MIXED_PLANT, MODEL, AS_OF)
    reuse = rebuilt_parts(MIXED_PLANT, fresh, AS_OF)
    del reuse["gear"].history[date(2024, 11, 30)]
    figures = facility_figures(MIXED_PLANT, MODEL, AS_OF, reuse=reuse)
    assert figures.reused == set(fresh.parts) - {"gear"}
    assert date(2024, 11, 30) in figures.parts["gear"].history
    assert figures.payload() == fresh.payload()


def test_covers_needs_no_month_before_the_install_date():
    busway = next(e for e in MIXED_PLANT.equipment if e.id == "new_busway")
    part = facility_figures(MIXED_PLANT, MODEL, AS_OF).parts["new_busway"]
    assert set(part.history) == {date(2025, 2, 28)}
    assert part.covers(busway, MONTHS)
    assert part.covers(busway, [date(2024, 10, 31), date(2025, 1, 31)])
    assert part.covers(busway, [])
    # A month on or after the install date must be held.
    assert not part.covers(busway, [date(2025, 3, 31)])
    # Unknown install date: every month is needed.
    unknown = replace(busway, install_date=None)
    assert not part.covers(unknown, [date(2024, 10, 31)])
    assert part.covers(unknown, [date(2025, 2, 28)])
    # The install day itself is needed (installed on the month's last day counts).
    on_the_day = replace(busway, install_date=date(2025, 1, 31))
    assert not part.covers(on_the_day, [date(2025, 1, 31)])
    assert part.covers(replace(busway, install_date=date(2025, 2, 1)), [date(2025, 1, 31)])


# --- stored form: other formats ------------------------------------------------------------------


@pytest.mark.parametrize("fmt", [PARTS_FORMAT + 1, 0, None, str(PARTS_FORMAT)])
def test_from_dict_refuses_another_format(fmt):
    figures = facility_figures(MIXED_PLANT, MODEL, AS_OF)
    d = figures.parts["gear"].to_dict()
    gear = next(e for e in MIXED_PLANT.equipment if e.id == "gear")
    assert EquipmentParts.from_dict(dict(d), gear, AS_OF, "1.0").result.risk_score == (
        figures.local["gear"].risk_score
    )
    if fmt is None:
        del d["format"]
    else:
        d["format"] = fmt
    with pytest.raises(ValueError):
        EquipmentParts.from_dict(d, gear, AS_OF, "1.0")


def test_from_dict_takes_identity_and_version_from_its_arguments():
    figures = facility_figures(MIXED_PLANT, MODEL, AS_OF)
    gear = next(e for e in MIXED_PLANT.equipment if e.id == "gear")
    p = EquipmentParts.from_dict(stored(figures.parts["gear"]), gear, AS_OF, "9.9")
    r = p.result
    assert (r.equipment_id, r.name, r.type, r.as_of) == ("gear", "Item gear", "switchgear", AS_OF)
    assert (r.algorithm_version, r.source, r.serves_critical_load) == ("9.9", "local", True)


# --- integer weights and the weighted score -----------------------------------------------------


def test_integer_weights_examples():
    w = integer_weights([0.5, 1, 1.5, 3, 1.5])
    assert w == {0.5: 1, 1: 2, 1.5: 3, 3: 6}
    assert all(type(v) is int for v in w.values())
    assert integer_weights([1.0, 3.0]) == {1.0: 1, 3.0: 3}
    assert integer_weights([0.25, 0.5]) == {0.25: 1, 0.5: 2}
    assert integer_weights([]) == {}
    # Not dyadic: weights are the exact binary fractions, scaled (0.1 is not 1/10).
    w = integer_weights([0.1, 0.3])
    assert Fraction(w[0.1], w[0.3]) == Fraction(0.1) / Fraction(0.3) != Fraction(1, 3)


@given(
    st.lists(
        st.tuples(
            st.integers(0, 100),
            st.sampled_from([0.5, 1.0, 3.0, 0.1, 0.3, 2.75]) | st.floats(0.001, 50),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_integer_weight_ratios_equal_the_exact_weighted_mean(pairs):
    w = integer_weights(imp for _, imp in pairs)
    assert all(isinstance(v, int) and v > 0 for v in w.values())
    exact = sum(s * Fraction(imp) for s, imp in pairs) / sum(Fraction(imp) for _, imp in pairs)
    assert Fraction(sum(s * w[imp] for s, imp in pairs), sum(w[imp] for _, imp in pairs)) == exact
    # round half up of the exact mean
    assert weighted_risk_score(pairs) == (exact + Fraction(1, 2)).__floor__()


@pytest.mark.parametrize(
    ("pairs", "want"),
    [
        ([], None),
        ([(42, 1.0)], 42),
        ([(85, 1.0), (30, 1.0), (60, 3.0)], 59),  # (85 + 30 + 180)/5
        ([(10, 0.5), (20, 0.5)], 15),
        ([(2, 1.0), (3, 1.0)], 3),  # 2.5 rounds up
        ([(0, 3.0), (1, 1.0)], 0),  # 0.25
        ([(0, 1.0), (1, 3.0)], 1),  # 0.75
        ([(10, 0.5), (40, 1.0), (70, 3.0)], 57),  # (5 + 40 + 210)/4.5 = 56.67
        ([(10, 0.0), (21, 0.0)], 16),  # all importances 0: plain mean 15.5 → 16
        ([(100, 0.1), (0, 0.2)], 33),  # 10/0.3 = 33.3
    ],
)
def test_weighted_risk_score_examples(pairs, want):
    assert weighted_risk_score(pairs) == want


def test_weighted_risk_score_order_does_not_matter():
    pairs = [(17, 0.5), (83, 3.0), (40, 1.0), (99, 0.5), (1, 3.0)]
    assert weighted_risk_score(pairs) == weighted_risk_score(reversed(pairs))
    # (8.5 + 249 + 40 + 49.5 + 3)/8 = 350/8 = 43.75
    assert weighted_risk_score(pairs) == 44


def test_forecast_needs_no_record_after_as_of():
    """The forecast from parts uses records on or before as_of only (the 2025-04-01 record
    of the transformer would otherwise make it up to date in April)."""
    figures = facility_figures(MIXED_PLANT, MODEL, AS_OF)
    without = swap(
        MIXED_PLANT,
        "al_xfmr",
        maintenance=(mr("m2", date(2024, 12, 1)),),
    )
    assert figures.parts["al_xfmr"].forecast == (
        facility_figures(without, MODEL, AS_OF).parts["al_xfmr"].forecast
    )
    assert figures.local["al_xfmr"].last_service == date(2024, 12, 1)
    # Once as_of passes the record, it counts.
    later = facility_figures(MIXED_PLANT, MODEL, AS_OF + timedelta(days=20))
    assert later.local["al_xfmr"].last_service == date(2025, 4, 1)
