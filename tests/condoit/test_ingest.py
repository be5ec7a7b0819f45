"""The idempotent upsert (condoit-source.md §2–§4): soft deletes, mappings, re-imports,
staff overrides, the change outbox, re-running rejected records."""

import json
from datetime import UTC, datetime

import pytest

from condoit.files import import_file
from condoit.ingest import Ingestor, rerun_rejected
from equipment.models import (
    Conductor,
    Equipment,
    EquipmentClassMapping,
    MaintenanceRecord,
    MaterialMapping,
)
from facilities.choices import ChangeSource, SyncSource, SyncStatus
from facilities.models import Facility, FieldOverride, RecordChange, RejectedRecord, SyncRun
from tests import factories as f
from tests.factories import write_export as write_doc

pytestmark = pytest.mark.django_db

T0 = "2025-01-01T00:00:00Z"
T1 = "2025-02-01T00:00:00Z"
T_OLD = "2024-12-01T00:00:00Z"


def write_ndjson(path, entries):
    path.write_text("".join(json.dumps({"kind": k, "record": r}) + "\n" for k, r in entries))
    return path


def counts(run):
    return {
        "created": run.created,
        "updated": run.updated,
        "unchanged": run.unchanged,
        "rejected": run.rejected,
        "deleted": run.deleted,
    }


def warning(run, code, value=None):
    found = [w for w in run.warnings if w["code"] == code and w.get("value") == value]
    assert len(found) <= 1
    return found[0] if found else None


def small_world():
    fac = f.facility(id="fac_a")
    eq1 = f.equipment("fac_a", id="eq_1")
    eq2 = f.equipment("fac_a", id="eq_2", feedsFromId="eq_1")
    mr = f.maintenance("eq_1", id="mr_1")
    return fac, eq1, eq2, mr


# --- soft delete ------------------------------------------------------------------------------


def test_new_record_with_deleted_at_is_stored_soft_deleted(tmp_path):
    fac = f.facility(id="fac_gone", deletedAt="2025-01-02T00:00:00Z")
    live = f.facility(id="fac_live")
    eq = f.equipment("fac_gone", id="eq_gone", deletedAt="2025-01-02T00:00:00+02:00")
    run = import_file(write_doc(tmp_path / "x.json", [fac, live], [eq]))
    assert counts(run) == {"created": 1, "updated": 0, "unchanged": 0, "rejected": 0, "deleted": 2}
    assert run.status == SyncStatus.SUCCEEDED
    gone = Facility.objects.get(external_id="fac_gone")
    assert gone.deleted_at == datetime(2025, 1, 2, tzinfo=UTC)
    assert gone.is_deleted
    assert Equipment.objects.get(external_id="eq_gone").deleted_at == datetime(
        2025, 1, 1, 22, tzinfo=UTC
    )
    assert Facility.objects.get(external_id="fac_live").deleted_at is None


def test_existing_mirror_is_soft_deleted_and_stays_deleted(tmp_path):
    fac, eq1, eq2, mr = small_world()
    first = write_doc(tmp_path / "1.json", [fac], [eq1, eq2], [mr])
    import_file(first)
    assert Equipment.objects.get(external_id="eq_1").deleted_at is None

    deleted_eq = {**eq1, "updatedAt": T1, "deletedAt": T1}
    deleted_mr = {**mr, "updatedAt": T1, "deletedAt": T1}
    run = import_file(write_doc(tmp_path / "2.json", [fac], [deleted_eq, eq2], [deleted_mr]))
    assert counts(run) == {"created": 0, "updated": 0, "unchanged": 2, "rejected": 0, "deleted": 2}
    eq = Equipment.objects.get(external_id="eq_1")
    assert eq.deleted_at == datetime(2025, 2, 1, tzinfo=UTC)
    assert MaintenanceRecord.objects.get(external_id="mr_1").deleted_at is not None
    # the soft-deleted row is still the same row (soft, not hard delete)
    assert Equipment.objects.filter(external_id="eq_1").count() == 1
    assert RecordChange.objects.filter(external_id="eq_1").count() == 2

    # The same deletion again: unchanged, still deleted.
    run = import_file(write_doc(tmp_path / "3.json", [fac], [deleted_eq, eq2], [deleted_mr]))
    assert counts(run) == {"created": 0, "updated": 0, "unchanged": 4, "rejected": 0, "deleted": 0}
    # The older, live version arrives late (e.g. an old export): it never resurrects it.
    run = import_file(first)
    assert run.updated == 0 and run.created == 0 and run.deleted == 0
    assert warning(run, "stale")["count"] == 2
    assert Equipment.objects.get(external_id="eq_1").deleted_at == datetime(2025, 2, 1, tzinfo=UTC)
    assert MaintenanceRecord.objects.get(external_id="mr_1").deleted_at is not None


def test_updating_an_already_deleted_record_counts_as_updated_not_deleted(tmp_path):
    fac = f.facility(id="fac_a", deletedAt=T0)
    import_file(write_doc(tmp_path / "1.json", [fac]))
    run = import_file(write_doc(tmp_path / "2.json", [{**fac, "name": "New", "updatedAt": T1}]))
    assert (run.updated, run.deleted) == (1, 0)
    got = Facility.objects.get(external_id="fac_a")
    assert got.name == "New" and got.deleted_at is not None


# --- mappings --------------------------------------------------------------------------------

CLASSES = [
    ("Panelboard", "panel"),
    ("PANELBOARD", "panel"),
    ("panelboard", "panel"),
    ("  Panelboard  ", "panel"),
    ("dry type transformer", "transformer"),
    ("Dry Type Transformer", "transformer"),
    ("Molded Case Breaker", "breaker"),
    ("Switchboard", "switchboard"),
    ("Switchgear", "switchgear"),
    ("Motor Control Center", "mcc"),
    ("Automatic Transfer Switch", "ats"),
    ("UPS", "ups"),
    ("Generator", "generator"),
    ("Busway", "busway"),
    ("Disconnect Switch", "disconnect"),
    ("Meter", "meter"),
]


@pytest.mark.parametrize("cls,expected", CLASSES)
def test_class_mapped_case_insensitively(tmp_path, cls, expected):
    fac = f.facility(id="fac_a")
    eq = f.equipment("fac_a", id="eq_1", equipmentClass=cls)
    run = import_file(write_doc(tmp_path / "x.json", [fac], [eq]))
    assert run.created == 2 and run.warnings == []
    got = Equipment.objects.get(external_id="eq_1")
    assert (got.type, got.class_mapped) == (expected, True)
    assert got.equipment_class == cls.strip()  # Condoit's class kept as sent


def test_unmapped_class_imports_as_other_and_is_flagged(tmp_path):
    fac = f.facility(id="fac_a")
    eqs = [
        f.equipment("fac_a", id="eq_1", equipmentClass="Flux Capacitor"),
        f.equipment("fac_a", id="eq_2", equipmentClass="Flux Capacitor"),
        f.equipment("fac_a", id="eq_3", equipmentClass="Tesla Coil"),
        f.equipment("fac_a", id="eq_4", equipmentClass="Panelboard"),
    ]
    run = import_file(write_doc(tmp_path / "x.json", [fac], eqs))
    assert run.created == 5 and run.rejected == 0
    assert run.status == SyncStatus.SUCCEEDED
    for ext in ("eq_1", "eq_2", "eq_3"):
        got = Equipment.objects.get(external_id=ext)
        assert (got.type, got.class_mapped) == ("other", False)
    assert Equipment.objects.get(external_id="eq_4").class_mapped is True
    assert warning(run, "unmapped_class", "Flux Capacitor")["count"] == 2
    assert warning(run, "unmapped_class", "Tesla Coil")["count"] == 1
    assert "Flux Capacitor" in warning(run, "unmapped_class", "Flux Capacitor")["message"]
    assert warning(run, "unmapped_class", "Panelboard") is None


def test_staff_mapping_is_used_by_the_next_import(tmp_path):
    EquipmentClassMapping.objects.create(condoit_class="  Flux   CAPACITOR ", type="ups")
    fac = f.facility(id="fac_a")
    eq = f.equipment("fac_a", id="eq_1", equipmentClass="flux capacitor")
    run = import_file(write_doc(tmp_path / "x.json", [fac], [eq]))
    got = Equipment.objects.get(external_id="eq_1")
    assert (got.type, got.class_mapped) == ("ups", True)
    assert run.warnings == []


MATERIALS = [
    ("CU", "copper"),
    ("cu", "copper"),
    ("Copper", "copper"),
    ("COPPER", "copper"),
    ("AL", "aluminum"),
    ("al", "aluminum"),
    ("ALUM", "aluminum"),
    ("Alum", "aluminum"),
    ("Aluminum", "aluminum"),
    ("ALUMINUM", "aluminum"),
]


def test_material_codes_mapped_case_insensitively(tmp_path):
    fac = f.facility(id="fac_a")
    conductors = [
        {"id": f"cd_{i}", "material": code, "size": "4/0", "connectionType": "lug"}
        for i, (code, _) in enumerate(MATERIALS)
    ]
    eq = f.equipment("fac_a", id="eq_1", conductors=conductors)
    run = import_file(write_doc(tmp_path / "x.json", [fac], [eq]))
    assert run.warnings == []
    got = {c.external_id: (c.material_code, c.material) for c in Conductor.objects.all()}
    assert got == {f"cd_{i}": (code, material) for i, (code, material) in enumerate(MATERIALS)}


def test_unknown_material_kept_raw_unknown_and_flagged(tmp_path):
    fac = f.facility(id="fac_a")
    eq = f.equipment(
        "fac_a",
        id="eq_1",
        conductors=[
            {"id": "cd_1", "material": "Unobtainium", "size": "2"},
            {"id": "cd_2", "material": "Unobtainium", "size": "2"},
            {"id": "cd_3", "material": "CU", "size": "2"},
            {"id": "cd_4", "size": "2"},
        ],
    )
    run = import_file(write_doc(tmp_path / "x.json", [fac], [eq]))
    assert run.rejected == 0 and run.created == 2
    by_id = {c.external_id: c for c in Conductor.objects.all()}
    assert (by_id["cd_1"].material_code, by_id["cd_1"].material) == ("Unobtainium", "")
    assert (by_id["cd_3"].material_code, by_id["cd_3"].material) == ("CU", "copper")
    assert (by_id["cd_4"].material_code, by_id["cd_4"].material) == ("", "")
    assert warning(run, "unmapped_material", "Unobtainium")["count"] == 2
    # a conductor without a material code is not flagged
    assert [w["code"] for w in run.warnings] == ["unmapped_material"]


def test_staff_material_mapping_is_used(tmp_path):
    MaterialMapping.objects.create(code="CuAg", material="copper")
    fac = f.facility(id="fac_a")
    eq = f.equipment("fac_a", id="eq_1", conductors=[{"id": "cd_1", "material": "cuag"}])
    import_file(write_doc(tmp_path / "x.json", [fac], [eq]))
    assert Conductor.objects.get().material == "copper"


# --- idempotent re-import --------------------------------------------------------------------


def snapshot():
    rows = {}
    for model in (Facility, Equipment, MaintenanceRecord):
        for obj in model.objects.all():
            rows[obj.external_id] = (obj.synced_at, obj.changed_at, obj.content_hash)
    return rows


def test_same_file_twice_created_then_unchanged_and_nothing_rewritten(tmp_path):
    fac, eq1, eq2, mr = small_world()
    path = write_doc(tmp_path / "x.json", [fac], [eq1, eq2], [mr])
    first = import_file(path)
    assert counts(first) == {
        "created": 4,
        "updated": 0,
        "unchanged": 0,
        "rejected": 0,
        "deleted": 0,
    }
    before = snapshot()
    conductor_pks = sorted(Conductor.objects.values_list("pk", flat=True))
    changes = RecordChange.objects.count()
    assert changes == 4

    second = import_file(path)
    assert counts(second) == {
        "created": 0,
        "updated": 0,
        "unchanged": 4,
        "rejected": 0,
        "deleted": 0,
    }
    assert second.status == SyncStatus.SUCCEEDED
    assert snapshot() == before
    assert sorted(Conductor.objects.values_list("pk", flat=True)) == conductor_pks
    assert RecordChange.objects.count() == changes
    assert Equipment.objects.get(external_id="eq_2").feeds_from.external_id == "eq_1"


def test_changing_one_record_gives_exactly_one_update(tmp_path):
    fac, eq1, eq2, mr = small_world()
    import_file(write_doc(tmp_path / "1.json", [fac], [eq1, eq2], [mr]))
    before = snapshot()
    last_change = RecordChange.objects.order_by("-pk").first().pk
    changed = {**eq2, "name": "Panel B (renamed)", "loadPercent": 80, "updatedAt": T1}
    run = import_file(write_doc(tmp_path / "2.json", [fac], [eq1, changed], [mr]))
    assert counts(run) == {"created": 0, "updated": 1, "unchanged": 3, "rejected": 0, "deleted": 0}
    got = Equipment.objects.get(external_id="eq_2")
    assert (got.name, got.load_percent) == ("Panel B (renamed)", 80.0)
    assert got.condoit_updated_at == datetime(2025, 2, 1, tzinfo=UTC)
    after = snapshot()
    assert after["eq_2"] != before["eq_2"]
    assert {k: v for k, v in after.items() if k != "eq_2"} == {
        k: v for k, v in before.items() if k != "eq_2"
    }
    assert list(
        RecordChange.objects.filter(pk__gt=last_change).values_list(
            "kind", "external_id", "facility_external_id"
        )
    ) == [("equipment", "eq_2", "fac_a")]


def test_older_record_with_different_content_is_stale(tmp_path):
    fac, eq1, eq2, mr = small_world()
    import_file(write_doc(tmp_path / "1.json", [fac], [eq1, eq2], [mr]))
    before = snapshot()
    changes = RecordChange.objects.count()
    older = {**eq1, "name": "Old name", "updatedAt": T_OLD}
    run = import_file(write_doc(tmp_path / "2.json", [fac], [older, eq2], [mr]))
    assert counts(run) == {"created": 0, "updated": 0, "unchanged": 4, "rejected": 0, "deleted": 0}
    assert warning(run, "stale")["count"] == 1
    assert "older" in warning(run, "stale")["message"].lower()
    assert Equipment.objects.get(external_id="eq_1").name == eq1["name"]
    assert snapshot() == before
    assert RecordChange.objects.count() == changes


def test_stale_is_compared_as_instants_not_strings(tmp_path):
    fac = f.facility(id="fac_a", updatedAt="2025-01-01T10:00:00+00:00")
    import_file(write_doc(tmp_path / "1.json", [fac]))
    # 2025-01-01T11:00:00+02:00 is 09:00Z: older, although the string sorts later
    older = {**fac, "name": "Older", "updatedAt": "2025-01-01T11:00:00+02:00"}
    run = import_file(write_doc(tmp_path / "2.json", [older]))
    assert (run.updated, run.unchanged) == (0, 1)
    # 2025-01-01T05:00:00-06:00 is 11:00Z: newer, although the string sorts earlier
    newer = {**fac, "name": "Newer", "updatedAt": "2025-01-01T05:00:00-06:00"}
    run = import_file(write_doc(tmp_path / "3.json", [newer]))
    assert run.updated == 1
    assert Facility.objects.get().name == "Newer"


def test_equal_content_in_another_key_order_is_unchanged(tmp_path):
    fac, eq1, eq2, mr = small_world()
    import_file(write_doc(tmp_path / "1.json", [fac], [eq1, eq2], [mr]))
    before = snapshot()

    def reorder(value):
        if isinstance(value, dict):
            return {k: reorder(value[k]) for k in reversed(list(value))}
        if isinstance(value, list):
            return [reorder(v) for v in value]
        return value

    shuffled = [reorder(fac)], [reorder(eq2), reorder(eq1)], [reorder(mr)]
    assert list(shuffled[1][1]) != list(eq1)
    run = import_file(write_doc(tmp_path / "2.json", *shuffled))
    assert counts(run) == {"created": 0, "updated": 0, "unchanged": 4, "rejected": 0, "deleted": 0}
    assert snapshot() == before


def test_same_id_twice_in_one_file_keeps_the_newest(tmp_path):
    fac = f.facility(id="fac_a")
    newer = {**fac, "name": "Newest", "updatedAt": T1}
    run = import_file(write_doc(tmp_path / "x.json", [newer, fac]))
    assert run.created == 1
    assert run.created + run.updated + run.unchanged + run.rejected + run.deleted == 2
    assert Facility.objects.get().name == "Newest"
    assert warning(run, "duplicate_id")["count"] == 1


# --- staff overrides -------------------------------------------------------------------------


def test_staff_override_wins_over_condoit_until_removed(tmp_path):
    fac = f.facility(id="fac_a")
    eq = f.equipment("fac_a", id="eq_1", name="Panel A", manufacturer="Square D")
    import_file(write_doc(tmp_path / "1.json", [fac], [eq]))
    # What a staff edit leaves behind: the row carries the staff value, plus an override.
    Equipment.objects.filter(external_id="eq_1").update(name="Staff name")
    ov = FieldOverride.objects.create(
        kind="equipment", external_id="eq_1", field="name", value="Staff name",
        condoit_value="Panel A",
    )  # fmt: skip

    v2 = {**eq, "name": "Panel A-1", "manufacturer": "Eaton", "updatedAt": T1}
    run = import_file(write_doc(tmp_path / "2.json", [fac], [v2]))
    assert run.updated == 1
    got = Equipment.objects.get(external_id="eq_1")
    assert got.name == "Staff name"  # the override wins
    assert got.manufacturer == "Eaton"  # fields without an override follow Condoit
    ov.refresh_from_db()
    assert ov.value == "Staff name"
    assert ov.condoit_value == "Panel A-1"  # Condoit's current value beside it

    # Staff remove the override: the next Condoit update applies again.
    ov.delete()
    v3 = {**v2, "name": "Panel A-2", "updatedAt": "2025-03-01T00:00:00Z"}
    run = import_file(write_doc(tmp_path / "3.json", [fac], [v3]))
    assert run.updated == 1
    assert Equipment.objects.get(external_id="eq_1").name == "Panel A-2"


def test_override_of_a_facility_field(tmp_path):
    fac = f.facility(id="fac_a", yearBuilt=1990)
    import_file(write_doc(tmp_path / "1.json", [fac]))
    FieldOverride.objects.create(
        kind="facility", external_id="fac_a", field="year_built", value=1985
    )
    run = import_file(write_doc(tmp_path / "2.json", [{**fac, "yearBuilt": 1991, "updatedAt": T1}]))
    assert run.updated == 1
    assert Facility.objects.get().year_built == 1985
    assert FieldOverride.objects.get().condoit_value == 1991


# --- change outbox ---------------------------------------------------------------------------


def test_every_created_updated_deleted_record_writes_one_change(tmp_path):
    fac, eq1, eq2, mr = small_world()
    run = import_file(write_doc(tmp_path / "1.json", [fac], [eq1, eq2], [mr]))
    got = list(
        RecordChange.objects.values_list("kind", "external_id", "facility_external_id", "source")
    )
    assert sorted(got) == sorted(
        [
            ("facility", "fac_a", "fac_a", ChangeSource.FILE),
            ("equipment", "eq_1", "fac_a", ChangeSource.FILE),
            ("equipment", "eq_2", "fac_a", ChangeSource.FILE),
            ("maintenanceRecord", "mr_1", "", ChangeSource.FILE),
        ]
    )
    assert all(c.recomputed_at is None for c in RecordChange.objects.all())
    first_ids = set(RecordChange.objects.values_list("pk", flat=True))

    # one updated, one deleted, the rest unchanged
    upd = {**fac, "name": "Renamed", "updatedAt": T1}
    gone = {**eq2, "updatedAt": T1, "deletedAt": T1}
    run = import_file(write_doc(tmp_path / "2.json", [upd], [eq1, gone], [mr]))
    assert (run.updated, run.deleted, run.unchanged) == (1, 1, 2)
    new = RecordChange.objects.exclude(pk__in=first_ids)
    assert sorted(new.values_list("kind", "external_id", "facility_external_id")) == [
        ("equipment", "eq_2", "fac_a"),
        ("facility", "fac_a", "fac_a"),
    ]

    # all unchanged: no change rows at all
    n = RecordChange.objects.count()
    run = import_file(write_doc(tmp_path / "2.json", [upd], [eq1, gone], [mr]))
    assert run.unchanged == 4
    assert RecordChange.objects.count() == n


def test_changes_from_the_ingestor_carry_its_source():
    ing = Ingestor(source=SyncSource.PULL)
    ing.add("facility", f.facility(id="fac_p"))
    ing.finish()
    assert RecordChange.objects.get(external_id="fac_p").source == ChangeSource.PULL


# --- re-running rejected records ---------------------------------------------------------------


def test_rerun_rejected_after_the_parent_arrives(tmp_path):
    fac = f.facility(id="fac_a")
    mr = f.maintenance("eq_late", id="mr_1")
    bad = f.maintenance("eq_1", id="mr_bad", type="repair")
    run = import_file(
        write_ndjson(tmp_path / "1.ndjson", [("facility", fac), ("maintenanceRecord", mr),
                                             ("maintenanceRecord", bad)])
    )  # fmt: skip
    assert (run.created, run.rejected) == (1, 2)
    rej = RejectedRecord.objects.get(record_id="mr_1")
    assert (rej.kind, rej.field, rej.line) == ("maintenanceRecord", "equipmentId", 2)
    assert "eq_late" in rej.reason
    assert json.loads(rej.raw) == mr

    # Re-run too early: still rejected, and said so.
    result = rerun_rejected([rej.pk])
    assert result["rejected"] == 1 and result["created"] == 0
    rej.refresh_from_db()
    assert rej.rerun_at is not None
    assert rej.rerun_outcome.startswith("rejected again")
    assert not MaintenanceRecord.objects.filter(external_id="mr_1").exists()

    # The equipment arrives in a later import; the rejection of that re-run is re-run.
    eq = f.equipment("fac_a", id="eq_late")
    import_file(write_ndjson(tmp_path / "2.ndjson", [("equipment", eq)]))
    again = RejectedRecord.objects.filter(record_id="mr_1", rerun_at__isnull=True).get()
    assert again.sync_run.source == SyncSource.RERUN
    result = rerun_rejected([again.pk])
    assert result == {"created": 1, "updated": 0, "unchanged": 0, "rejected": 0, "deleted": 0,
                      "skipped": 0}  # fmt: skip
    again.refresh_from_db()
    assert again.rerun_at is not None
    assert again.rerun_outcome.startswith("created")
    got = MaintenanceRecord.objects.get(external_id="mr_1")
    assert got.equipment.external_id == "eq_late"
    assert RecordChange.objects.filter(external_id="mr_1").count() == 1
    rerun = SyncRun.objects.filter(source=SyncSource.RERUN).order_by("-pk").first()
    assert rerun.status == SyncStatus.SUCCEEDED and rerun.created == 1

    # Already re-run: not run again.
    result = rerun_rejected([again.pk])
    assert (
        result["created"] == 0 and MaintenanceRecord.objects.filter(external_id="mr_1").count() == 1
    )


def test_rerun_rejected_equipment_after_its_facility_arrives(tmp_path):
    eq = f.equipment("fac_late", id="eq_1")
    run = import_file(write_doc(tmp_path / "1.json", equipment=[eq]))
    rej = run.rejections.get()
    assert (rej.record_id, rej.field) == ("eq_1", "facilityId")
    import_file(write_doc(tmp_path / "2.json", [f.facility(id="fac_late")]))
    rerun_rejected([rej.pk])
    rej.refresh_from_db()
    assert rej.rerun_outcome.startswith("created") and rej.rerun_at is not None
    got = Equipment.objects.get(external_id="eq_1")
    assert got.facility.external_id == "fac_late"
    assert got.conductors.count() == 1


def test_rerun_skips_what_cannot_be_rerun(tmp_path):
    path = tmp_path / "x.ndjson"
    path.write_text('{"kind": "facility", "record": {"id": \n')
    run = import_file(path)
    rej = run.rejections.get()
    result = rerun_rejected([rej.pk])
    assert result["skipped"] == 1
    rej.refresh_from_db()
    assert rej.rerun_outcome.startswith("cannot re-run")


def test_override_removed_by_staff_then_same_file_reimported(tmp_path):
    """Removing an override (the admin's path) puts Condoit's value back; a re-import of the
    unchanged record then leaves it alone."""
    from equipment.services import overrides_remove

    fac = f.facility(id="fac_a")
    eq = f.equipment("fac_a", id="eq_1", name="Panel A")
    import_file(write_doc(tmp_path / "1.json", [fac], [eq]))
    Equipment.objects.filter(external_id="eq_1").update(name="Staff name")
    ov = FieldOverride.objects.create(
        kind="equipment", external_id="eq_1", field="name", value="Staff name"
    )
    v2 = {**eq, "name": "Panel A-1", "updatedAt": T1}
    path = write_doc(tmp_path / "2.json", [fac], [v2])
    import_file(path)
    assert Equipment.objects.get(external_id="eq_1").name == "Staff name"
    assert overrides_remove(ids=[ov.pk]) == 1
    assert Equipment.objects.get(external_id="eq_1").name == "Panel A-1"
    run = import_file(path)
    assert run.unchanged == 2
    assert Equipment.objects.get(external_id="eq_1").name == "Panel A-1"
