"""Recompute after changes (risk_recompute(changed=…), recompute_pending): the stored parts of
unchanged equipment are reused, only the changed equipment are assessed again, and every
stored figure is the one a full recompute stores."""

import json
from datetime import date, timedelta

import pytest
from django.utils import timezone

from equipment.models import Equipment
from facilities.choices import ChangeSource, RecordKind
from facilities.models import Facility
from facilities.services import changes_record
from tests import factories as f
from voltmetrics import engine, services
from voltmetrics.choices import Source
from voltmetrics.inputs import load_batch
from voltmetrics.models import EquipmentAssessment, FacilityAssessment, FacilitySnapshot
from voltmetrics.services import ChangedRecords, recompute_pending, risk_recompute

from .conftest import AS_OF, T2

pytestmark = pytest.mark.django_db

FEB = date(2025, 2, 28)
HISTORY_FROM = engine.history_points(AS_OF)[0]
# Alpha's equipment counted at AS_OF (eq_future is installed later).
ALPHA_COUNTED = {"eq_panel", "eq_xfmr", "eq_gear", "eq_new", "eq_unknown"}


@pytest.fixture(autouse=True)
def today(monkeypatch):
    """The recompute's "today" is AS_OF (recompute_pending passes no as_of)."""
    monkeypatch.setattr(services, "utc_today", lambda: AS_OF)


@pytest.fixture
def alpha_extra():
    """More of Alpha: several types and importances, an aluminum switchgear without a label,
    one installed inside the history window, one after AS_OF, one without install date."""
    equipment = [
        f.equipment(
            "fac_alpha",
            id="eq_gear",
            name="Switchgear S1",
            equipmentClass="Switchgear",
            installDate="1990-01-01",
            conductors=[
                {"id": "cd_g1", "material": "AL", "size": "750", "connectionType": "bolted"},
                {"id": "cd_g2", "material": "CU", "size": "500", "connectionType": "lug"},
            ],
            observations={"corrosion": "severe", "rust": "moderate", "wear": "severe"},
            loadPercent=104,
            arcFlashLabel={"present": False},
        ),
        f.equipment(
            "fac_alpha",
            id="eq_new",
            name="Busway B1",
            equipmentClass="Busway",
            installDate="2025-02-10",
        ),
        f.equipment(
            "fac_alpha",
            id="eq_future",
            name="Meter M1",
            equipmentClass="Meter",
            installDate="2025-06-01",
        ),
        f.equipment(
            "fac_alpha",
            id="eq_unknown",
            name="Breaker X",
            equipmentClass="Circuit Breaker",
            installDate=None,
            conductors=[],
            observations=None,
            loadPercent=None,
        ),
    ]
    maintenance = [
        f.maintenance("eq_gear", id="mr_gear", performedAt="2024-12-05T10:00:00Z"),
        f.maintenance("eq_xfmr", id="mr_xfmr", performedAt="2022-06-01T10:00:00Z"),
    ]
    return equipment, maintenance


@pytest.fixture
def computed(world, import_export, alpha_extra):
    """Everything imported and computed once by draining the outbox."""
    equipment, maintenance = alpha_extra
    import_export(equipment=equipment, maintenance=maintenance)
    stats = recompute_pending()
    assert stats.reused == 0  # every facility was new: nothing to reuse
    assert set(local_rows("fac_alpha")) == ALPHA_COUNTED
    return world


def pk(ext) -> int:
    return Facility.objects.get(external_id=ext).pk


def local_rows(fac_ext) -> dict[str, EquipmentAssessment]:
    return {
        a.equipment.external_id: a
        for a in EquipmentAssessment.objects.filter(
            equipment__facility__external_id=fac_ext, source=Source.LOCAL
        ).select_related("equipment")
    }


def parts_of(a: EquipmentAssessment) -> dict:
    """A row's stored parts (compact JSON text)."""
    return json.loads(a.parts)


def row(ext, source=Source.LOCAL) -> EquipmentAssessment:
    return EquipmentAssessment.objects.get(equipment__external_id=ext, source=source)


def computed_at(fac_ext) -> dict[str, object]:
    return {ext: a.computed_at for ext, a in local_rows(fac_ext).items()}


def columns(obj) -> dict:
    """Every column of a stored row but its id and when it was computed."""
    return {
        f.attname: getattr(obj, f.attname)
        for f in obj._meta.concrete_fields
        if f.attname not in ("id", "computed_at")
    }


def stored_figures(fac_ext) -> dict:
    """Every stored figure of a facility."""
    fa = FacilityAssessment.objects.get(facility__external_id=fac_ext, source=Source.LOCAL)
    snapshots = FacilitySnapshot.objects.filter(facility__external_id=fac_ext).order_by("month")
    return {
        "facility": columns(fa),
        "equipment": {ext: columns(a) for ext, a in local_rows(fac_ext).items()},
        "snapshots": [columns(s) for s in snapshots],
    }


def assert_full_recompute_stores_the_same(fac_ext):
    after_incremental = stored_figures(fac_ext)
    stats = risk_recompute(facility_pks=[pk(fac_ext)])
    assert stats.reused == 0 and stats.facilities == 1
    assert stored_figures(fac_ext) == after_incremental


def import_changed_panel(import_export, records, **changes):
    panel = dict(records["equipment"][0], updatedAt=T2, **changes)
    import_export(equipment=[panel])


# --- one equipment changed ------------------------------------------------------------------------


def test_a_changed_equipment_is_the_only_one_assessed_again(computed, import_export, records):
    before = computed_at("fac_alpha")
    beta_before = computed_at("fac_beta")
    panel_before = row("eq_panel")
    fac_before = FacilityAssessment.objects.get(facility__external_id="fac_alpha").payload

    import_changed_panel(import_export, records, loadPercent=100)
    stats = recompute_pending()

    assert stats.facilities == 1 and stats.equipment == len(ALPHA_COUNTED)
    assert stats.reused == len(ALPHA_COUNTED) - 1
    after = computed_at("fac_alpha")
    assert after["eq_panel"] > before["eq_panel"]
    assert {k: v for k, v in after.items() if k != "eq_panel"} == {
        k: v for k, v in before.items() if k != "eq_panel"
    }
    assert computed_at("fac_beta") == beta_before
    # The change itself shows.
    panel = row("eq_panel")
    assert next(x for x in panel.factors if x["factor"] == "loading")["score"] == 100
    assert panel.risk_score > panel_before.risk_score
    assert parts_of(panel)["result"][0] == panel.risk_score
    fac_after = FacilityAssessment.objects.get(facility__external_id="fac_alpha").payload
    assert fac_after["forecast"] != fac_before["forecast"]
    assert_full_recompute_stores_the_same("fac_alpha")


def test_changed_records_name_the_equipment_to_assess(computed):
    """risk_recompute(changed=…) directly: two equipment changed, the rest reused; a
    facility outside ``changed`` keeps all its equipment's parts."""
    Equipment.objects.filter(external_id__in=["eq_gear", "eq_beta"]).update(load_percent=20)
    stats = risk_recompute(
        facility_pks=[pk("fac_alpha"), pk("fac_beta")],
        changed=ChangedRecords(equipment=frozenset({"eq_gear", "eq_beta"})),
    )
    assert stats.facilities == 2
    assert stats.reused == len(ALPHA_COUNTED) - 1  # eq_beta is Beta's only equipment
    assert parts_of(row("eq_gear"))["result"][0] == row("eq_gear").risk_score
    assert_full_recompute_stores_the_same("fac_alpha")
    assert_full_recompute_stores_the_same("fac_beta")


def test_nothing_changed_reuses_everything_and_rewrites_no_equipment(computed):
    before = computed_at("fac_alpha")
    stats = risk_recompute(facility_pks=[pk("fac_alpha")], changed=ChangedRecords())
    assert stats.reused == len(ALPHA_COUNTED)
    assert computed_at("fac_alpha") == before
    assert_full_recompute_stores_the_same("fac_alpha")


def test_a_facility_change_reuses_nothing_of_it(computed, import_export, records):
    before = computed_at("fac_alpha")
    alpha = dict(
        records["facilities"][0],
        environment={"humidityAvg": 85, "temperatureAvgF": 95, "outdoorExposure": "severe"},
        updatedAt=T2,
    )
    import_export(facilities=[alpha])
    stats = recompute_pending()

    assert stats.facilities == 1 and stats.reused == 0
    after = computed_at("fac_alpha")
    assert all(after[k] > before[k] for k in ALPHA_COUNTED)
    env = next(x for x in row("eq_panel").factors if x["factor"] == "environmental")
    assert env["score"] > 6  # was 6.25 → 6 at 45 %, 72 °F, minimal exposure
    assert_full_recompute_stores_the_same("fac_alpha")


def test_a_maintenance_change_reassesses_its_equipment_only(computed, import_export):
    before = computed_at("fac_alpha")
    import_export(
        maintenance=[
            f.maintenance(
                "eq_xfmr", id="mr_xfmr_new", performedAt="2025-03-01T08:00:00Z", updatedAt=T2
            )
        ]
    )
    stats = recompute_pending()

    assert stats.facilities == 1
    assert stats.reused == len(ALPHA_COUNTED) - 1
    after = computed_at("fac_alpha")
    assert after["eq_xfmr"] > before["eq_xfmr"]
    assert all(after[k] == before[k] for k in ALPHA_COUNTED - {"eq_xfmr"})
    xfmr = row("eq_xfmr")
    assert xfmr.last_service == date(2025, 3, 1)
    assert xfmr.maintenance_status == "up_to_date"
    assert_full_recompute_stores_the_same("fac_alpha")


def test_an_edited_maintenance_record_reassesses_its_equipment(computed, import_export, records):
    before = computed_at("fac_alpha")
    moved = dict(records["maintenance"][0], performedAt="2025-03-10T08:00:00Z", updatedAt=T2)
    import_export(maintenance=[moved])
    stats = recompute_pending()

    assert stats.reused == len(ALPHA_COUNTED) - 1
    assert computed_at("fac_alpha")["eq_panel"] > before["eq_panel"]
    assert row("eq_panel").last_service == date(2025, 3, 10)
    assert_full_recompute_stores_the_same("fac_alpha")


def test_a_maintenance_record_that_cannot_be_found_recomputes_its_facility(computed):
    changes_record(
        kind=RecordKind.MAINTENANCE, items=[("mr_gone", "fac_alpha")], source=ChangeSource.STAFF
    )
    before = computed_at("fac_alpha")
    stats = recompute_pending()
    assert stats.facilities == 1 and stats.reused == 0
    assert all(computed_at("fac_alpha")[k] > before[k] for k in ALPHA_COUNTED)


def test_a_maintenance_record_moved_to_other_equipment_reassesses_both(
    computed, import_export, records
):
    """Condoit re-files the panel's only record (mr_panel, 2024-03-01) under the switchgear of
    the same facility: the panel lost its record and must not keep figures made with it.
    The outbox row names the record only; its equipment is looked up now (the switchgear)."""
    moved = dict(records["maintenance"][0], equipmentId="eq_gear", updatedAt=T2)
    import_export(maintenance=[moved])
    recompute_pending()

    assert row("eq_panel").last_service is None
    assert row("eq_panel").maintenance_status == "overdue"
    assert_full_recompute_stores_the_same("fac_alpha")


def test_a_moved_maintenance_record_is_recorded_as_a_change_of_the_equipment_it_left(
    computed, import_export, records
):
    from facilities.models import RecordChange

    moved = dict(records["maintenance"][0], equipmentId="eq_gear", updatedAt=T2)
    import_export(maintenance=[moved])
    pending = set(
        RecordChange.objects.filter(recomputed_at__isnull=True).values_list(
            "kind", "external_id", "facility_external_id"
        )
    )
    assert pending == {
        ("maintenanceRecord", "mr_panel", ""),
        ("equipment", "eq_panel", "fac_alpha"),
    }


def test_equipment_moved_to_another_facility_leaves_the_one_it_left_right(
    computed, import_export, records
):
    """Condoit moves the transformer from Alpha to Beta: both facilities' figures change,
    Alpha's without it (the facility it left is recomputed too)."""
    before = FacilityAssessment.objects.get(facility__external_id="fac_alpha").equipment_count
    moved = dict(records["equipment"][1], facilityId="fac_beta", updatedAt=T2)
    import_export(equipment=[moved])
    stats = recompute_pending()

    assert set(stats.facility_pks) == {pk("fac_alpha"), pk("fac_beta")}
    alpha = FacilityAssessment.objects.get(facility__external_id="fac_alpha")
    assert alpha.equipment_count == before - 1
    assert "eq_xfmr" not in local_rows("fac_alpha") and "eq_xfmr" in local_rows("fac_beta")
    assert_full_recompute_stores_the_same("fac_alpha")
    assert_full_recompute_stores_the_same("fac_beta")


# --- stored parts that cannot be reused --------------------------------------------------------


def parts_at_another_as_of():
    risk_recompute(facility_pks=[pk("fac_alpha")], as_of=AS_OF - timedelta(days=1))
    assert {a.as_of for a in local_rows("fac_alpha").values()} == {AS_OF - timedelta(days=1)}


def parts_empty():
    EquipmentAssessment.objects.filter(equipment__facility__external_id="fac_alpha").update(
        parts=""
    )


def parts_of_another_format():
    for a in local_rows("fac_alpha").values():
        assert parts_of(a)["format"] == engine.PARTS_FORMAT
        a.parts = json.dumps({**parts_of(a), "format": engine.PARTS_FORMAT + 1})
        a.save(update_fields=["parts"])


def parts_of_another_model_version():
    EquipmentAssessment.objects.filter(equipment__facility__external_id="fac_alpha").update(
        algorithm_version="0.9"
    )


@pytest.mark.parametrize(
    "spoil",
    [parts_at_another_as_of, parts_empty, parts_of_another_format, parts_of_another_model_version],
)
def test_stored_parts_that_do_not_fit_are_not_reused(computed, import_export, records, spoil):
    spoil()
    before = computed_at("fac_alpha")
    import_changed_panel(import_export, records, loadPercent=100)
    stats = recompute_pending()

    assert stats.facilities == 1 and stats.reused == 0
    after = computed_at("fac_alpha")
    assert all(after[k] > before[k] for k in ALPHA_COUNTED)
    assert all(a.as_of == AS_OF and parts_of(a) for a in local_rows("fac_alpha").values())
    assert_full_recompute_stores_the_same("fac_alpha")


@pytest.mark.parametrize("deleted", [False, True], ids=["still-frozen", "deleted"])
def test_parts_lacking_a_month_no_longer_frozen_are_not_reused(
    computed, import_export, records, deleted
):
    # The monthly task froze February; the next full recompute computes no February parts.
    FacilitySnapshot.objects.filter(facility__external_id="fac_alpha", month=FEB).update(
        backfilled=False, risk_score=1
    )
    risk_recompute(facility_pks=[pk("fac_alpha")])
    for ext, a in local_rows("fac_alpha").items():
        assert FEB.isoformat() not in parts_of(a)["history"], ext
    if deleted:
        FacilitySnapshot.objects.filter(facility__external_id="fac_alpha", month=FEB).delete()

    import_changed_panel(import_export, records, loadPercent=100)
    stats = recompute_pending()

    feb = FacilitySnapshot.objects.get(facility__external_id="fac_alpha", month=FEB)
    if deleted:
        # Every counted equipment needs February now (eq_new was installed on 2025-02-10).
        assert stats.reused == 0
        assert feb.backfilled and feb.risk_score != 1
        for ext, a in local_rows("fac_alpha").items():
            assert FEB.isoformat() in parts_of(a)["history"], ext
    else:
        assert stats.reused == len(ALPHA_COUNTED) - 1
        assert not feb.backfilled and feb.risk_score == 1
    assert_full_recompute_stores_the_same("fac_alpha")


# --- VoltMetrics-served equipment ------------------------------------------------------------------


def voltmetrics_result(ext, score, *, computed_at):
    return EquipmentAssessment.objects.create(
        equipment=Equipment.objects.get(external_id=ext),
        source=Source.VOLTMETRICS,
        algorithm_version="vm-2.1",
        as_of=AS_OF,
        risk_score=score,
        rating="Critical",
        critical_threat=True,
        factors=[],
        served=True,
        computed_at=computed_at,
    )


def test_voltmetrics_served_equipment_is_not_reused_and_local_is_served_again_on_expiry(
    computed, import_export, records
):
    voltmetrics_result("eq_xfmr", 97, computed_at=timezone.now())
    local_xfmr = row("eq_xfmr").computed_at

    import_changed_panel(import_export, records, loadPercent=100)
    stats = recompute_pending()

    # Neither the changed panel nor the VoltMetrics-served transformer is reused.
    assert stats.reused == len(ALPHA_COUNTED) - 2
    assert row("eq_xfmr").computed_at > local_xfmr
    assert row("eq_xfmr").served is False
    assert row("eq_xfmr", Source.VOLTMETRICS).served is True
    # The facility aggregates the served scores: VoltMetrics' 97 for the transformer.
    served = {ext: a.risk_score for ext, a in local_rows("fac_alpha").items()}
    served["eq_xfmr"] = 97
    importance = {ext: parts_of(a)["result"][-1] for ext, a in local_rows("fac_alpha").items()}
    fa = FacilityAssessment.objects.get(facility__external_id="fac_alpha")
    assert fa.risk_score == engine.weighted_risk_score(
        (served[ext], importance[ext]) for ext in served
    )
    assert fa.risk_score != engine.weighted_risk_score(
        (a.risk_score, importance[ext]) for ext, a in local_rows("fac_alpha").items()
    )
    assert_full_recompute_stores_the_same("fac_alpha")

    # A later change elsewhere: the transformer's local row (served=False) is not reused
    # while VoltMetrics' result still wins.
    local_xfmr = row("eq_xfmr").computed_at
    import_changed_panel(import_export, records, loadPercent=90)
    stats = recompute_pending()
    assert stats.reused == len(ALPHA_COUNTED) - 2
    assert row("eq_xfmr").served is False and row("eq_xfmr").computed_at > local_xfmr

    # The VoltMetrics result expires (older than 24 h; the records older still).
    Equipment.objects.filter(external_id="eq_xfmr").update(
        changed_at=timezone.now() - timedelta(hours=30)
    )
    EquipmentAssessment.objects.filter(source=Source.VOLTMETRICS).update(
        computed_at=timezone.now() - timedelta(hours=25)
    )
    local_xfmr = row("eq_xfmr").computed_at
    import_changed_panel(import_export, records, loadPercent=80)
    stats = recompute_pending()

    assert stats.reused == len(ALPHA_COUNTED) - 2
    xfmr = row("eq_xfmr")
    assert xfmr.served is True and xfmr.computed_at > local_xfmr
    assert row("eq_xfmr", Source.VOLTMETRICS).served is False
    # Once served again, it is reused by the next recompute after a change elsewhere.
    import_changed_panel(import_export, records, loadPercent=70)
    assert recompute_pending().reused == len(ALPHA_COUNTED) - 1
    assert_full_recompute_stores_the_same("fac_alpha")


# --- load_batch(records_needed=…) ----------------------------------------------------------------


def by_ext(batch):
    (rec,) = batch
    return rec, {e.id: e for e in rec.facility.equipment}


def test_load_batch_loads_records_only_for_the_equipment_needed(computed):
    alpha = pk("fac_alpha")
    _, full = by_ext(load_batch([alpha], HISTORY_FROM))
    assert full["eq_xfmr"].conductors and full["eq_xfmr"].observations is not None
    assert full["eq_panel"].maintenance
    assert full["eq_gear"].maintenance and len(full["eq_gear"].conductors) == 2

    seen = []

    def none_needed(bare):
        seen.append(bare)
        return set()

    rec, bare = by_ext(load_batch([alpha], HISTORY_FROM, records_needed=none_needed))
    (passed,) = seen
    assert [r.pk for r in passed] == [alpha]
    assert set(passed[0].equipment_pks) == set(full) == set(bare)
    for e in bare.values():
        assert e.conductors == () and e.maintenance == () and e.observations is None, e.id
    # What the callback is given holds no child records either.
    for e in passed[0].facility.equipment:
        assert e.conductors == () and e.maintenance == () and e.observations is None, e.id
    own = ("name", "type", "install_date", "load_percent", "label_present", "serves_critical_load")
    for ext, e in bare.items():
        assert [getattr(e, a) for a in own] == [getattr(full[ext], a) for a in own], ext
    assert rec.facility.arc_flash_study_date == date(2023, 5, 1)

    xfmr_pk = rec.equipment_pks["eq_xfmr"]
    _, some = by_ext(load_batch([alpha], HISTORY_FROM, records_needed=lambda bare: {xfmr_pk}))
    assert some["eq_xfmr"] == full["eq_xfmr"]
    assert some["eq_gear"].conductors == () and some["eq_panel"].maintenance == ()


def test_a_stored_part_of_equipment_no_longer_counted_is_not_reused(computed):
    """Even when no change names it: equipment installed after the date has no figures, so
    its stored part is left alone and its row goes (no equipment is left half-loaded)."""
    Equipment.objects.filter(external_id="eq_gear").update(install_date=AS_OF + timedelta(days=3))
    stats = risk_recompute(
        facility_pks=[pk("fac_alpha")], changed=ChangedRecords(equipment=frozenset())
    )
    assert stats.reused == len(ALPHA_COUNTED) - 1
    assert "eq_gear" not in local_rows("fac_alpha")
    assert_full_recompute_stores_the_same("fac_alpha")
