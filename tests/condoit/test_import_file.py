"""The export-file door (condoit-source.md §2.1, §4): JSON document and NDJSON, deferral of
references within a file, malformed files, children, batches, and the import_condoit command."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from condoit.files import FileFormatError, import_file
from condoit.ingest import Ingestor
from equipment.models import Conductor, Equipment, MaintenanceRecord, Photo
from facilities.choices import SyncSource, SyncStatus
from facilities.models import Facility, RecordChange, RejectedRecord, SyncRun
from tests import factories as f
from tests.factories import export_doc as doc

pytestmark = pytest.mark.django_db

T1 = "2025-02-01T00:00:00Z"


def write_json(path, obj):
    path.write_text(json.dumps(obj))
    return path


def ndjson(path, entries):
    """entries: (kind, record) pairs, or raw str lines written verbatim."""
    lines = [
        e if isinstance(e, str) else json.dumps({"kind": e[0], "record": e[1]}) for e in entries
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def counts(run):
    return (run.created, run.updated, run.unchanged, run.rejected, run.deleted)


def nothing_written():
    for model in (Facility, Equipment, MaintenanceRecord, Conductor, Photo, RecordChange):
        assert model.objects.count() == 0, model


def run_command(*args):
    out = StringIO()
    call_command("import_condoit", *[str(a) for a in args], "--no-progress", stdout=out)
    return out.getvalue()


# --- JSON document ---------------------------------------------------------------------------


def test_json_document_sections_in_any_key_order(tmp_path):
    fac = f.facility(id="fac_a")
    eq = f.equipment("fac_a", id="eq_1")
    mr = f.maintenance("eq_1", id="mr_1")
    # maintenance first, then equipment, facilities last; exportedAt at the end
    body = {
        "maintenanceRecords": [mr],
        "equipment": [eq],
        "facilities": [fac],
        "exportedAt": "2025-03-01T00:00:00Z",
    }
    run = import_file(write_json(tmp_path / "export.json", body))
    assert counts(run) == (3, 0, 0, 0, 0)
    assert run.status == SyncStatus.SUCCEEDED
    assert run.source == SyncSource.FILE
    assert run.finished_at is not None
    assert "export.json" in run.label
    got = MaintenanceRecord.objects.select_related("equipment__facility").get()
    assert got.equipment.external_id == "eq_1"
    assert got.equipment.facility.external_id == "fac_a"


def test_json_document_pretty_printed_and_missing_sections(tmp_path):
    fac = f.facility(id="fac_a")
    path = tmp_path / "export.json"
    path.write_text(json.dumps({"facilities": [fac], "maintenanceRecords": None}, indent=2))
    run = import_file(path)
    assert counts(run) == (1, 0, 0, 0, 0)


def test_json_document_stored_values(tmp_path):
    fac = f.facility(
        id="fac_a",
        name="Riverside Plant",
        address={"street": "1 River Rd", "city": "Peoria", "state": "IL"},
        environment={"humidityAvg": 65.5, "temperatureAvgF": 80, "outdoorExposure": "severe"},
        siteCode="RIV-1",
    )
    eq = f.equipment(
        "fac_a",
        id="eq_1",
        equipmentClass="Dry Type Transformer",
        name="TX-3",
        specs={"voltage": "480V", "amperage": 400, "phases": 3, "kva": 75, "coolingClass": "AA"},
        observations={"corrosion": "moderate", "heatDiscoloration": True, "operatingTempC": 61.5},
        arcFlashLabel={"present": False, "ppeCategory": 3, "labelDate": "2022-04-01"},
        servesCriticalLoad=True,
        assetTag="A-17",
        customFields={"owner": "ops"},
    )
    mr = f.maintenance(
        "eq_1", id="mr_1", type="infrared_scan", findings="hot lug on B phase", vendorRef="X9"
    )
    run = import_file(write_json(tmp_path / "x.json", doc([fac], [eq], [mr])))
    assert counts(run) == (3, 0, 0, 0, 0)
    got = Facility.objects.get()
    assert (got.name, got.street, got.city, got.state, got.zip) == (
        "Riverside Plant", "1 River Rd", "Peoria", "IL", ""
    )  # fmt: skip
    assert (got.humidity_avg, got.temperature_avg_f, got.outdoor_exposure) == (65.5, 80.0, "severe")
    assert got.contractor == "Sparky Electric"
    assert got.extra == {"siteCode": "RIV-1"}  # unknown top-level keys land in extra
    e = Equipment.objects.get()
    assert (e.type, e.name, e.serves_critical_load) == ("transformer", "TX-3", True)
    # unknown spec keys are preserved in specs, known ones as sent
    assert e.specs == {"voltage": "480V", "amperage": 400, "phases": 3, "kva": 75,
                       "coolingClass": "AA"}  # fmt: skip
    assert e.observations == {
        "corrosion": "moderate", "heatDiscoloration": True, "operatingTempC": 61.5
    }  # fmt: skip
    assert (e.label_present, e.ppe_category, str(e.label_date)) == (False, 3, "2022-04-01")
    assert e.extra == {"assetTag": "A-17", "customFields": {"owner": "ops"}}
    m = MaintenanceRecord.objects.get()
    assert (m.type, m.findings, m.extra) == (
        "infrared_scan",
        "hot lug on B phase",
        {"vendorRef": "X9"},
    )


def test_truncated_json_document_fails_as_a_whole(tmp_path):
    fac = f.facility(id="fac_a")
    eq = f.equipment("fac_a", id="eq_1")
    text = json.dumps(doc([fac, f.facility()], [eq]))
    path = tmp_path / "broken.json"
    path.write_text(text[: len(text) - 40])  # cut inside the equipment section
    with pytest.raises(CommandError) as exc:
        run_command(path)
    assert exc.value.returncode != 0
    message = str(exc.value)
    assert "broken.json" in message and "not valid JSON" in message
    assert "nothing was imported" in message
    nothing_written()
    run = SyncRun.objects.get()
    assert run.status == SyncStatus.FAILED
    assert "not valid JSON" in run.error
    assert counts(run) == (0, 0, 0, 0, 0)
    assert run.finished_at is not None


def test_json_with_garbage_in_the_middle_fails_and_writes_nothing(tmp_path):
    good = json.dumps(doc([f.facility(id="fac_a")]))
    path = tmp_path / "x.json"
    path.write_text(good.replace('"equipment": []', '"equipment": [}'))
    with pytest.raises(FileFormatError):
        import_file(path)
    nothing_written()
    assert SyncRun.objects.get().status == SyncStatus.FAILED


FAC = f.facility(id="fac_a")


@pytest.mark.parametrize(
    "body,words",
    [
        ([{"kind": "facility", "record": FAC}], ["must be a JSON object"]),
        ("just a string", ["must be a JSON object"]),
        ({"facilities": [FAC], "equipment": {"id": "eq_1"}}, ["'equipment' must be an array"]),
        ({"facilities": "fac_a"}, ["'facilities' must be an array"]),
        ({"facilities": [FAC], "maintenanceRecords": 3}, ["'maintenanceRecords' must be an array"]),
    ],
)
def test_json_document_of_the_wrong_shape_fails_clearly(tmp_path, body, words):
    path = tmp_path / "x.json"
    path.write_text(json.dumps(body, indent=1))
    with pytest.raises(CommandError) as exc:
        run_command(path)
    for word in words:
        assert word in str(exc.value)
    nothing_written()
    assert SyncRun.objects.get().status == SyncStatus.FAILED


@pytest.mark.parametrize(
    "name,content",
    [("empty.json", ""), ("empty.ndjson", ""), ("blank.json", "  \n\n "), ("blank.ndjson", "\n\n")],
)
def test_empty_file_fails_clearly(tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(CommandError) as exc:
        run_command(path)
    assert "empty" in str(exc.value)
    nothing_written()


def test_missing_path_fails_clearly(tmp_path):
    with pytest.raises(CommandError) as exc:
        run_command(tmp_path / "nope.json")
    assert "nope.json" in str(exc.value) and "no such file" in str(exc.value)
    nothing_written()


def test_directory_path_fails_clearly(tmp_path):
    with pytest.raises(CommandError):
        run_command(tmp_path)


def test_json_document_records_not_objects_are_rejected_each(tmp_path):
    body = doc([f.facility(id="fac_a"), "fac_b", 7], [None])
    run = import_file(write_json(tmp_path / "x.json", body))
    assert counts(run) == (1, 0, 0, 3, 0)
    assert {(r.kind, r.field) for r in run.rejections.all()} == {
        ("facility", "record"), ("equipment", "record")
    }  # fmt: skip


# --- NDJSON ----------------------------------------------------------------------------------


def test_ndjson_children_before_parents_land(tmp_path):
    fac = f.facility(id="fac_a")
    eq = f.equipment("fac_a", id="eq_1")
    mr = f.maintenance("eq_1", id="mr_1")
    path = ndjson(tmp_path / "x.ndjson", [("maintenanceRecord", mr), ("equipment", eq),
                                          ("facility", fac)])  # fmt: skip
    run = import_file(path)
    assert counts(run) == (3, 0, 0, 0, 0)
    assert run.status == SyncStatus.SUCCEEDED
    assert MaintenanceRecord.objects.get().equipment.facility.external_id == "fac_a"


def test_ndjson_detected_by_content_whatever_the_suffix(tmp_path):
    fac = f.facility(id="fac_a")
    eq = f.equipment("fac_a", id="eq_1")
    run = import_file(ndjson(tmp_path / "export.json", [("equipment", eq), ("facility", fac)]))
    assert counts(run) == (2, 0, 0, 0, 0)


def test_ndjson_unparseable_line_is_one_rejected_record(tmp_path):
    fac = f.facility(id="fac_a")
    eq = f.equipment("fac_a", id="eq_1")
    broken = '{"kind": "equipment", "record": {"id": "eq_2", "name": '
    path = ndjson(tmp_path / "x.ndjson", [("facility", fac), broken, "", ("equipment", eq)])
    run = import_file(path)
    assert counts(run) == (2, 0, 0, 1, 0)
    assert run.status == SyncStatus.PARTIAL
    rej = run.rejections.get()
    assert rej.line == 2
    assert rej.field == "line"
    assert "not valid JSON" in rej.reason
    assert rej.raw.rstrip("\n") == broken
    assert Equipment.objects.get().external_id == "eq_1"
    assert not Equipment.objects.filter(external_id="eq_2").exists()


@pytest.mark.parametrize(
    "line",
    [
        '{"kind": "widget", "record": {"id": "w_1"}}',
        '{"kind": "Facility", "record": {"id": "fac_z"}}',
        '{"record": {"id": "fac_z"}}',
        '{"kind": "facility"}',
        '{"kind": ["facility"], "record": {"id": "fac_z"}}',
        '{"kind": {"k": 1}, "record": {"id": "fac_z"}}',
        "[1, 2, 3]",
        '"facility"',
        "42",
    ],
)
def test_ndjson_line_of_unknown_kind_or_shape_rejected(tmp_path, line):
    fac = f.facility(id="fac_a")
    path = ndjson(tmp_path / "x.ndjson", [("facility", fac), line])
    run = import_file(path)
    assert counts(run) == (1, 0, 0, 1, 0)
    rej = run.rejections.get()
    assert (rej.line, rej.field) == (2, "kind")
    assert "kind" in rej.reason
    assert json.loads(rej.raw) == json.loads(line)
    assert Facility.objects.get().external_id == "fac_a"


def test_ndjson_rejections_carry_line_numbers(tmp_path):
    fac = f.facility(id="fac_a")
    bad_eq = f.equipment("fac_a", id="eq_bad", loadPercent=300)
    orphan = f.maintenance("eq_nowhere", id="mr_orphan")
    path = ndjson(tmp_path / "x.ndjson", [("maintenanceRecord", orphan), ("facility", fac),
                                          ("equipment", bad_eq)])  # fmt: skip
    run = import_file(path)
    got = {(r.record_id, r.line, r.field) for r in run.rejections.all()}
    assert got == {("mr_orphan", 1, "equipmentId"), ("eq_bad", 3, "loadPercent")}


# --- feeds-from ------------------------------------------------------------------------------


def test_feeds_from_later_in_the_file_is_resolved(tmp_path):
    fac = f.facility(id="fac_a")
    downstream = f.equipment("fac_a", id="eq_down", feedsFromId="eq_up")
    upstream = f.equipment("fac_a", id="eq_up", equipmentClass="Switchboard")
    run = import_file(write_json(tmp_path / "x.json", doc([fac], [downstream, upstream])))
    assert counts(run) == (3, 0, 0, 0, 0)
    down = Equipment.objects.get(external_id="eq_down")
    assert down.feeds_from.external_id == "eq_up"
    assert down.feeds_from_external_id == "eq_up"


def test_feeds_from_later_in_the_file_resolved_across_batches(tmp_path):
    fac = f.facility(id="fac_a")
    chain = [f.equipment("fac_a", id=f"eq_{i}", feedsFromId=f"eq_{i + 1}") for i in range(5)]
    chain.append(f.equipment("fac_a", id="eq_5"))
    run = import_file(write_json(tmp_path / "x.json", doc([fac], chain)), batch_size=2)
    assert counts(run) == (7, 0, 0, 0, 0)
    links = dict(Equipment.objects.values_list("external_id", "feeds_from__external_id"))
    assert links == {"eq_0": "eq_1", "eq_1": "eq_2", "eq_2": "eq_3", "eq_3": "eq_4",
                     "eq_4": "eq_5", "eq_5": None}  # fmt: skip


def test_an_import_that_fails_midway_still_links_what_it_wrote(tmp_path, monkeypatch):
    fac = f.facility(id="fac_a")
    chain = [
        f.equipment("fac_a", id="eq_down", feedsFromId="eq_up"),
        f.equipment("fac_a", id="eq_up", equipmentClass="Switchboard"),
        f.equipment("fac_a", id="eq_last"),
    ]
    store = Ingestor._store_kind

    def fail_on_the_last(self, kind, prepared):
        if any(it.clean["external_id"] == "eq_last" for it in prepared.items):
            raise RuntimeError("connection lost")
        return store(self, kind, prepared)

    monkeypatch.setattr(Ingestor, "_store_kind", fail_on_the_last)
    with pytest.raises(RuntimeError):
        import_file(write_json(tmp_path / "x.json", doc([fac], chain)), batch_size=1)
    assert SyncRun.objects.get().status == SyncStatus.FAILED
    down = Equipment.objects.get(external_id="eq_down")
    assert down.feeds_from.external_id == "eq_up"
    assert not Equipment.objects.filter(external_id="eq_last").exists()


def test_unknown_feeds_from_kept_raw_and_resolved_by_a_later_import(tmp_path):
    fac = f.facility(id="fac_a")
    down = f.equipment("fac_a", id="eq_down", feedsFromId="eq_main")
    run = import_file(write_json(tmp_path / "1.json", doc([fac], [down])))
    assert counts(run) == (2, 0, 0, 0, 0)  # not a rejection
    got = Equipment.objects.get(external_id="eq_down")
    assert (got.feeds_from_id, got.feeds_from_external_id) == (None, "eq_main")

    main = f.equipment("fac_a", id="eq_main", equipmentClass="Switchboard")
    run = import_file(ndjson(tmp_path / "2.ndjson", [("equipment", main)]))
    assert counts(run) == (1, 0, 0, 0, 0)
    got.refresh_from_db()
    assert got.feeds_from.external_id == "eq_main"

    # re-importing the downstream record unchanged keeps the link
    import_file(tmp_path / "1.json")
    got.refresh_from_db()
    assert got.feeds_from.external_id == "eq_main"


# --- conductors and photos -------------------------------------------------------------------


def test_conductors_and_photos_stored_then_replaced(tmp_path):
    fac = f.facility(id="fac_a")
    eq = f.equipment(
        "fac_a",
        id="eq_1",
        conductors=[
            {"id": "cd_1", "material": "CU", "size": "4/0", "connectionType": "lug"},
            {"id": "cd_2", "material": "AL", "size": 350, "connectionType": "compression",
             "alCuTransition": True},
        ],
        photos=[
            {"id": "ph_1", "url": "https://photos.example.com/1.jpg", "caption": "front",
             "takenAt": "2024-05-01T10:00:00-04:00"},
            {"id": "ph_2", "url": "https://photos.example.com/2.jpg"},
        ],
    )  # fmt: skip
    import_file(write_json(tmp_path / "1.json", doc([fac], [eq])))
    got = {
        c.external_id: (c.material_code, c.material, c.size, c.connection_type, c.al_cu_transition)
        for c in Conductor.objects.filter(equipment__external_id="eq_1")
    }
    assert got == {
        "cd_1": ("CU", "copper", "4/0", "lug", False),
        "cd_2": ("AL", "aluminum", "350", "compression", True),
    }
    photos = {p.external_id: p for p in Photo.objects.filter(equipment__external_id="eq_1")}
    assert set(photos) == {"ph_1", "ph_2"}
    assert photos["ph_1"].caption == "front"
    assert photos["ph_1"].url == "https://photos.example.com/1.jpg"
    assert photos["ph_1"].taken_at.isoformat() == "2024-05-01T14:00:00+00:00"
    assert photos["ph_1"].status == "pending"

    # A re-import drops photo 2, changes photo 1's caption and replaces the conductor list.
    v2 = {
        **eq,
        "updatedAt": T1,
        "conductors": [{"id": "cd_3", "material": "Copper", "size": "1/0", "connectionType": "bolted"}],
        "photos": [{"id": "ph_1", "url": "https://photos.example.com/1.jpg", "caption": "front, open"}],
    }  # fmt: skip
    run = import_file(write_json(tmp_path / "2.json", doc([fac], [v2])))
    assert counts(run) == (0, 1, 1, 0, 0)
    assert list(Conductor.objects.values_list("external_id", "material", "connection_type")) == [
        ("cd_3", "copper", "bolted")
    ]
    assert list(Photo.objects.values_list("external_id", "caption")) == [("ph_1", "front, open")]

    # No conductors and no photos at all.
    v3 = {**v2, "updatedAt": "2025-03-01T00:00:00Z", "conductors": [], "photos": []}
    import_file(write_json(tmp_path / "3.json", doc([fac], [v3])))
    assert Conductor.objects.count() == 0 and Photo.objects.count() == 0


def test_children_of_another_equipment_untouched(tmp_path):
    fac = f.facility(id="fac_a")
    eq1 = f.equipment("fac_a", id="eq_1", photos=[{"id": "ph_1", "url": "https://p.example.com/1"}])
    eq2 = f.equipment("fac_a", id="eq_2", photos=[{"id": "ph_2", "url": "https://p.example.com/2"}])
    import_file(write_json(tmp_path / "1.json", doc([fac], [eq1, eq2])))
    v2 = {**eq1, "updatedAt": T1, "photos": [], "conductors": []}
    import_file(write_json(tmp_path / "2.json", doc([fac], [v2])))
    assert list(Photo.objects.values_list("external_id", flat=True)) == ["ph_2"]
    assert list(Conductor.objects.values_list("equipment__external_id", flat=True)) == ["eq_2"]


# --- batches ---------------------------------------------------------------------------------


def world(n_fac=3, eq_per_fac=3, mr_per_eq=2):
    facs, eqs, mrs = [], [], []
    for i in range(n_fac):
        facs.append(f.facility(id=f"fac_{i}"))
        for j in range(eq_per_fac):
            eqs.append(
                f.equipment(
                    f"fac_{i}",
                    id=f"eq_{i}_{j}",
                    feedsFromId=f"eq_{i}_{j + 1}" if j + 1 < eq_per_fac else None,
                )
            )
            for k in range(mr_per_eq):
                mrs.append(f.maintenance(f"eq_{i}_{j}", id=f"mr_{i}_{j}_{k}"))  # fmt: skip
    return facs, eqs, mrs


def test_small_batches_json_document_totals(tmp_path):
    facs, eqs, mrs = world()
    path = write_json(tmp_path / "x.json", doc(facs, eqs, mrs))
    run = import_file(path, batch_size=2)
    assert counts(run) == (3 + 9 + 18, 0, 0, 0, 0)
    assert Facility.objects.count() == 3
    assert Equipment.objects.count() == 9
    assert MaintenanceRecord.objects.count() == 18
    assert Conductor.objects.count() == 9
    assert RecordChange.objects.count() == 30
    assert Equipment.objects.filter(feeds_from__isnull=False).count() == 6
    again = import_file(path, batch_size=2)
    assert counts(again) == (0, 0, 30, 0, 0)
    assert RecordChange.objects.count() == 30


def test_small_batches_ndjson_with_deferral_totals(tmp_path):
    facs, eqs, mrs = world()
    # worst order: every child before its parent; plus one bad record and one orphan
    entries = (
        [("maintenanceRecord", r) for r in mrs]
        + [("equipment", r) for r in reversed(eqs)]
        + [("equipment", f.equipment("fac_0", id="eq_bad", loadPercent=-3))]
        + [("maintenanceRecord", f.maintenance("eq_nowhere", id="mr_orphan"))]
        + [("facility", r) for r in facs]
    )
    run = import_file(ndjson(tmp_path / "x.ndjson", entries), batch_size=2)
    assert counts(run) == (30, 0, 0, 2, 0)
    assert run.status == SyncStatus.PARTIAL
    assert {r.record_id for r in run.rejections.all()} == {"eq_bad", "mr_orphan"}
    assert MaintenanceRecord.objects.count() == 18
    assert Equipment.objects.filter(feeds_from__isnull=False).count() == 6
    assert RecordChange.objects.count() == 30
    # every batch committed its counts exactly once
    run.refresh_from_db()
    assert run.created == 30 and RejectedRecord.objects.filter(sync_run=run).count() == 2


def test_a_record_the_database_refuses_is_rejected_alone(settings):
    """A NaN inside a free-form spec key (only a direct Python caller can send one) is
    rejected with its field; its batch mates land."""
    ing = Ingestor(source=SyncSource.FILE, missing_parent="defer", batch_size=3)
    ing.add("facility", f.facility(id="fac_a"))
    ing.add("equipment", f.equipment("fac_a", id="eq_1"))
    ing.add("equipment", f.equipment("fac_a", id="eq_nan", specs={"note": float("nan")}))
    ing.add("equipment", f.equipment("fac_a", id="eq_2"))
    run = ing.finish()
    assert counts(run) == (3, 0, 0, 1, 0)
    rej = run.rejections.get()
    assert rej.record_id == "eq_nan" and rej.kind == "equipment"
    assert rej.field == "specs.note"
    assert set(Equipment.objects.values_list("external_id", flat=True)) == {"eq_1", "eq_2"}
    assert not RecordChange.objects.filter(external_id="eq_nan").exists()
    assert Conductor.objects.count() == 2


# --- the command -----------------------------------------------------------------------------


def test_command_prints_summary_and_rejections(tmp_path):
    fac = f.facility(id="fac_a")
    eq = f.equipment("fac_a", id="eq_1", equipmentClass="Flux Capacitor")
    bad = f.equipment("fac_a", id="eq_bad", name="x" * 201)
    path = ndjson(tmp_path / "x.ndjson", [("facility", fac), "not json", ("equipment", eq),
                                          ("equipment", bad)])  # fmt: skip
    out = run_command(path)
    run = SyncRun.objects.get()
    assert f"Sync run #{run.pk} (partial)" in out
    assert "created 2, updated 0, unchanged 0, rejected 2, deleted 0" in out
    assert "Flux Capacitor" in out  # the unmapped class warning
    lines = out.splitlines()
    rejected = [ln for ln in lines if "rejected line" in ln]
    assert len(rejected) == 2
    assert "line 2" in rejected[0] and "not valid JSON" in rejected[0]
    assert "line 4" in rejected[1] and "name" in rejected[1] and "200" in rejected[1]

    out = run_command(path)
    assert "created 0, updated 0, unchanged 2, rejected 2, deleted 0" in out


def test_command_batch_size_option(tmp_path):
    facs, eqs, mrs = world(2, 2, 1)
    out = run_command(write_json(tmp_path / "x.json", doc(facs, eqs, mrs)), "--batch-size", "1")
    assert "created 10, updated 0, unchanged 0, rejected 0, deleted 0" in out
    assert "(succeeded)" in out
