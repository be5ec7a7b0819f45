"""Bad input (condoit-source.md §4): every rejection case, one test each.

Each bad record goes through the same Ingestor the export file uses (missing parents are
deferred to the end of the file, as for files), in a batch that also holds one valid
facility, one valid equipment and one valid maintenance record. The bad record must be
rejected on the sync run with the right field and a clear reason, nothing of it may be
written, and its valid batch mates must still land.
"""

import copy
import json
from datetime import UTC, datetime

import pytest

from condoit.ingest import Ingestor
from equipment.models import Conductor, Equipment, MaintenanceRecord, Photo
from facilities.choices import SyncSource, SyncStatus
from facilities.models import Facility, RecordChange, RejectedRecord
from tests import factories as f

pytestmark = pytest.mark.django_db

# The importer's clock for every test here: "now + 1 day" is 2025-06-16T12:00:00Z.
NOW = datetime(2025, 6, 15, 12, 0, tzinfo=UTC)

GOOD_FAC = "fac_good"
GOOD_EQ = "eq_good"
GOOD_MR = "mr_good"
BAD_ID = {"facility": "fac_bad", "equipment": "eq_bad", "maintenanceRecord": "mr_bad"}
MODELS = {"facility": Facility, "equipment": Equipment, "maintenanceRecord": MaintenanceRecord}


def good_batch():
    fac = f.facility(id=GOOD_FAC)
    eq = f.equipment(GOOD_FAC, id=GOOD_EQ)
    mr = f.maintenance(GOOD_EQ, id=GOOD_MR)
    return [("facility", fac), ("equipment", eq), ("maintenanceRecord", mr)]


def base_record(kind):
    """A valid record of ``kind`` whose parent is the good batch's, with children to leak."""
    if kind == "facility":
        return f.facility(id=BAD_ID[kind], name="Bad facility")
    if kind == "equipment":
        return f.equipment(
            GOOD_FAC,
            id=BAD_ID[kind],
            name="Bad equipment",
            conductors=[{"id": "cd_bad", "material": "CU", "size": "2", "connectionType": "lug"}],
            photos=[{"id": "ph_bad", "url": "https://photos.example.com/bad.jpg"}],
        )
    return f.maintenance(GOOD_EQ, id=BAD_ID[kind])


def set_path(rec, path, value):
    """Set (or with ``DELETE`` remove) a dotted key path in a raw record."""
    *parents, last = path.split(".")
    node = rec
    for key in parents:
        node = node.setdefault(key, {})
    if value is DELETE:
        node.pop(last, None)
    else:
        node[last] = value
    return rec


DELETE = object()


def ingest(records, *, now=NOW):
    ing = Ingestor(source=SyncSource.FILE, missing_parent="defer", now=now)
    for kind, rec in records:
        ing.add(kind, rec)
    return ing.finish()


def assert_good_batch_landed():
    assert Facility.objects.filter(external_id=GOOD_FAC).exists()
    assert Equipment.objects.filter(external_id=GOOD_EQ, facility__external_id=GOOD_FAC).exists()
    assert MaintenanceRecord.objects.filter(
        external_id=GOOD_MR, equipment__external_id=GOOD_EQ
    ).exists()
    assert Conductor.objects.filter(equipment__external_id=GOOD_EQ).count() == 1


def assert_nothing_written(kind, rec_id):
    model = MODELS[kind]
    assert not model.objects.filter(external_id=rec_id).exists()
    assert not RecordChange.objects.filter(external_id=rec_id).exists()
    # Only the good batch is in the database.
    assert Facility.objects.count() == 1
    assert Equipment.objects.count() == 1
    assert MaintenanceRecord.objects.count() == 1
    assert not Conductor.objects.filter(external_id="cd_bad").exists()
    assert not Photo.objects.filter(external_id="ph_bad").exists()
    assert Photo.objects.count() == 0
    assert RecordChange.objects.count() == 3


def check_rejected(kind, bad, field, reason_words, *, record_id=None, raw_equal=True):
    run = ingest([*good_batch(), (kind, bad)])
    assert (run.created, run.updated, run.unchanged, run.rejected, run.deleted) == (3, 0, 0, 1, 0)
    assert run.status == SyncStatus.PARTIAL
    rej = RejectedRecord.objects.get(sync_run=run)
    assert rej.kind == kind
    assert rej.field == field
    reason = rej.reason.lower()
    assert any(word in reason for word in reason_words), rej.reason
    expected_id = BAD_ID[kind] if record_id is None else record_id
    assert rej.record_id == expected_id
    if raw_equal:
        assert json.loads(rej.raw) == bad
    assert not rej.raw_truncated
    assert_good_batch_landed()
    assert_nothing_written(kind, expected_id or BAD_ID[kind])
    return rej


# --- missing required fields -----------------------------------------------------------------

REQUIRED = [
    ("facility", "id"),
    ("facility", "name"),
    ("facility", "createdAt"),
    ("facility", "updatedAt"),
    ("equipment", "id"),
    ("equipment", "facilityId"),
    ("equipment", "equipmentClass"),
    ("equipment", "name"),
    ("equipment", "createdAt"),
    ("equipment", "updatedAt"),
    ("maintenanceRecord", "id"),
    ("maintenanceRecord", "equipmentId"),
    ("maintenanceRecord", "type"),
    ("maintenanceRecord", "performedAt"),
    ("maintenanceRecord", "createdAt"),
    ("maintenanceRecord", "updatedAt"),
]


@pytest.mark.parametrize("how", ["absent", "null"])
@pytest.mark.parametrize("kind,field", REQUIRED, ids=[f"{k}.{f}" for k, f in REQUIRED])
def test_missing_required_field_rejects(kind, field, how):
    bad = set_path(base_record(kind), field, DELETE if how == "absent" else None)
    check_rejected(kind, bad, field, ["required"], record_id="" if field == "id" else None)


@pytest.mark.parametrize(
    "kind,field", [("facility", "name"), ("equipment", "name"), ("equipment", "equipmentClass")]
)
def test_blank_required_string_rejects(kind, field):
    bad = set_path(base_record(kind), field, "   ")
    check_rejected(kind, bad, field, ["empty", "required"])


# --- wrong types -----------------------------------------------------------------------------

WRONG_TYPES = [
    # string where a number belongs
    ("facility", "latitude", "39.78", "latitude", ["number"]),
    ("facility", "environment.humidityAvg", "45", "environment.humidityAvg", ["number"]),
    ("equipment", "loadPercent", "55", "loadPercent", ["number"]),
    ("equipment", "specs.amperage", "225", "specs.amperage", ["number"]),
    ("facility", "yearBuilt", "1990", "yearBuilt", ["integer"]),
    # number where a string belongs
    ("facility", "name", 123, "name", ["string"]),
    ("facility", "address.city", 62701, "address.city", ["string"]),
    ("equipment", "manufacturer", 7, "manufacturer", ["string"]),
    ("equipment", "equipmentClass", 1, "equipmentClass", ["string"]),
    ("maintenanceRecord", "technician", 3.5, "technician", ["string"]),
    ("equipment", "id", 42, "id", ["string"]),
    # bool where a number belongs
    ("equipment", "loadPercent", True, "loadPercent", ["number"]),
    ("facility", "longitude", False, "longitude", ["number"]),
    ("facility", "yearBuilt", True, "yearBuilt", ["integer"]),
    ("equipment", "arcFlashLabel.ppeCategory", True, "arcFlashLabel.ppeCategory", ["integer"]),
    # number/string where a bool belongs
    ("equipment", "servesCriticalLoad", "yes", "servesCriticalLoad", ["true or false"]),
    ("equipment", "observations.heatDiscoloration", 1, "observations.heatDiscoloration",
     ["true or false"]),
    # object where an array belongs, and the reverse
    ("equipment", "conductors", {"id": "cd"}, "conductors", ["array"]),
    ("equipment", "photos", {"id": "ph"}, "photos", ["array"]),
    ("equipment", "specs", [1, 2], "specs", ["object"]),
    ("facility", "address", "123 Main St", "address", ["object"]),
    ("equipment", "conductors", ["CU"], "conductors[0]", ["object"]),
    # a timestamp/date that is not a string
    ("equipment", "createdAt", 1700000000, "createdAt", ["timestamp"]),
    ("equipment", "installDate", 20230101, "installDate", ["date"]),
]  # fmt: skip


@pytest.mark.parametrize(
    "kind,path,value,field,words", WRONG_TYPES, ids=[f"{c[0]}.{c[1]}={c[2]!r}" for c in WRONG_TYPES]
)
def test_wrong_type_rejects(kind, path, value, field, words):
    bad = set_path(base_record(kind), path, value)
    record_id = "42" if path == "id" else None
    check_rejected(kind, bad, field, words, record_id=record_id)


# --- unknown enums ---------------------------------------------------------------------------

ENUMS = [
    ("facility", "environment.outdoorExposure", "extreme"),
    ("equipment", "observations.corrosion", "heavy"),
    ("equipment", "observations.rust", "lots"),
    ("equipment", "observations.wear", "worn out"),
    ("equipment", "observations.overallCondition", "Terrible"),
    ("maintenanceRecord", "type", "repair"),
]


@pytest.mark.parametrize("kind,path,value", ENUMS, ids=[p for _, p, _ in ENUMS])
def test_unknown_enum_rejects(kind, path, value):
    bad = set_path(base_record(kind), path, value)
    check_rejected(kind, bad, path, ["one of"])


def test_phases_2_rejects():
    bad = set_path(base_record("equipment"), "specs.phases", 2)
    check_rejected("equipment", bad, "specs.phases", ["1 or 3"])


@pytest.mark.parametrize("phases", [1, 3])
def test_phases_1_and_3_accepted(phases):
    run = ingest([*good_batch(), ("equipment", base_record_with("specs.phases", phases))])
    assert run.rejected == 0
    assert Equipment.objects.get(external_id="eq_bad").specs["phases"] == phases


# --- unreal dates, timestamps without an offset -----------------------------------------------

BAD_DATES = ["2023-02-30", "2023-13-01", "01/02/2023", "20230101", "2023-1-5", ""]


@pytest.mark.parametrize("value", BAD_DATES)
@pytest.mark.parametrize(
    "kind,path",
    [
        ("equipment", "installDate"),
        ("facility", "arcFlashStudyDate"),
        ("maintenanceRecord", "nextServiceDue"),
        ("equipment", "arcFlashLabel.labelDate"),
    ],
)
def test_unreal_date_rejects(kind, path, value):
    bad = set_path(base_record(kind), path, value)
    check_rejected(kind, bad, path, ["date"])


BAD_TIMESTAMPS = [
    "2024-01-01T00:00:00",  # no offset
    "2024-01-01 00:00:00",  # no offset
    "2024-01-01",  # a date, not a timestamp
    "2023-02-30T00:00:00Z",  # not a real day
    "2024-01-01T25:00:00Z",  # not a real hour
    "yesterday",
]


@pytest.mark.parametrize("value", BAD_TIMESTAMPS)
@pytest.mark.parametrize(
    "kind,path",
    [
        ("facility", "createdAt"),
        ("equipment", "updatedAt"),
        ("maintenanceRecord", "performedAt"),
        ("facility", "lastInspectionDate"),
        ("equipment", "deletedAt"),
    ],
)
def test_bad_timestamp_rejects(kind, path, value):
    bad = set_path(base_record(kind), path, value)
    check_rejected(kind, bad, path, ["timestamp", "offset"])


def test_timestamp_without_offset_reason_mentions_offset():
    bad = set_path(base_record("facility"), "updatedAt", "2024-01-01T00:00:00")
    rej = check_rejected("facility", bad, "updatedAt", ["offset"])
    assert "offset" in rej.reason


# --- not later than the importer's clock plus one day -----------------------------------------


def base_record_with(path, value, kind="equipment"):
    return set_path(base_record(kind), path, value)


@pytest.mark.parametrize("value", ["2025-06-17", "2030-01-01"])
def test_install_date_later_than_tomorrow_rejects(value):
    check_rejected("equipment", base_record_with("installDate", value), "installDate", ["later"])


@pytest.mark.parametrize("value", ["2025-06-16", "2025-06-15", "1970-01-01"])
def test_install_date_up_to_tomorrow_accepted(value):
    run = ingest([*good_batch(), ("equipment", base_record_with("installDate", value))])
    assert run.rejected == 0 and run.created == 4
    assert Equipment.objects.get(external_id="eq_bad").install_date.isoformat() == value


@pytest.mark.parametrize(
    "value",
    [
        "2025-06-16T12:00:01Z",  # one second past now + 1 day
        "2025-06-16T13:00:01+01:00",  # the same instant, another offset
        "2026-01-01T00:00:00Z",
    ],
)
def test_performed_at_later_than_now_plus_one_day_rejects(value):
    bad = base_record_with("performedAt", value, kind="maintenanceRecord")
    check_rejected("maintenanceRecord", bad, "performedAt", ["later"])


@pytest.mark.parametrize(
    "value",
    [
        "2025-06-16T12:00:00Z",  # exactly now + 1 day
        "2025-06-16T14:00:00+02:00",  # exactly now + 1 day, another offset
        "2025-06-16T07:00:00-05:00",  # exactly now + 1 day, another offset
        "2025-06-15T12:00:00Z",
    ],
)
def test_performed_at_up_to_now_plus_one_day_accepted(value):
    run = ingest(
        [
            *good_batch(),
            ("maintenanceRecord", base_record_with("performedAt", value, "maintenanceRecord")),
        ]
    )
    assert run.rejected == 0 and run.created == 4
    stored = MaintenanceRecord.objects.get(external_id="mr_bad").performed_at
    assert stored == datetime.fromisoformat(value)


def test_facility_dates_later_than_tomorrow_reject():
    bad = base_record_with("infraredScanDate", "2025-06-17", kind="facility")
    check_rejected("facility", bad, "infraredScanDate", ["future"])


# --- coordinates -----------------------------------------------------------------------------

COORDS = [
    ("facility", {"latitude": 90.5, "longitude": 0}, "latitude"),
    ("facility", {"latitude": -90.01, "longitude": 0}, "latitude"),
    ("facility", {"latitude": 0, "longitude": 180.5}, "longitude"),
    ("facility", {"latitude": 0, "longitude": -181}, "longitude"),
    ("equipment", {"latitude": 91, "longitude": 10}, "latitude"),
    ("equipment", {"latitude": 10, "longitude": 200}, "longitude"),
    ("facility", {"latitude": 39.78, "longitude": None}, "latitude"),
    ("facility", {"latitude": None, "longitude": -89.65}, "latitude"),
    ("equipment", {"latitude": 39.78}, "latitude"),
    ("equipment", {"longitude": -89.65}, "latitude"),
]


@pytest.mark.parametrize("kind,coords,field", COORDS, ids=[repr(c[1]) for c in COORDS])
def test_bad_coordinates_reject(kind, coords, field):
    bad = base_record(kind)
    bad.pop("latitude", None)
    bad.pop("longitude", None)
    bad.update(coords)
    check_rejected(kind, bad, field, ["between", "together"])


@pytest.mark.parametrize("lat,lng", [(90, 180), (-90, -180), (0, 0), (None, None)])
def test_coordinates_in_range_or_absent_accepted(lat, lng):
    rec = base_record("facility")
    rec.update(latitude=lat, longitude=lng)
    run = ingest([*good_batch(), ("facility", rec)])
    assert run.rejected == 0
    fac = Facility.objects.get(external_id="fac_bad")
    assert (fac.latitude, fac.longitude) == (lat, lng)


# --- NaN / Infinity (strict JSON cannot carry them: straight into the Ingestor) --------------

NON_FINITE = [
    ("facility", "latitude", float("nan")),
    ("facility", "longitude", float("inf")),
    ("facility", "environment.humidityAvg", float("nan")),
    ("facility", "environment.temperatureAvgF", float("-inf")),
    ("equipment", "loadPercent", float("nan")),
    ("equipment", "loadPercent", float("inf")),
    ("equipment", "specs.amperage", float("inf")),
    ("equipment", "arcFlashLabel.incidentEnergyCalCm2", float("nan")),
    ("equipment", "observations.operatingTempC", float("-inf")),
]


@pytest.mark.parametrize("kind,path,value", NON_FINITE, ids=[f"{p}={v}" for _, p, v in NON_FINITE])
def test_non_finite_number_rejects(kind, path, value):
    bad = base_record(kind)
    if path == "latitude":
        bad["longitude"] = 0.0
    set_path(bad, path, value)
    # raw cannot hold NaN as strict JSON: not compared verbatim
    check_rejected(kind, bad, path, ["finite"], raw_equal=False)


@pytest.mark.parametrize(
    "kind,path", [("facility", "yearBuilt"), ("equipment", "arcFlashLabel.ppeCategory")]
)
@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_integer_rejects(kind, path, value):
    check_rejected(kind, base_record_with(path, value, kind), path, ["integer"], raw_equal=False)


# --- numeric ranges --------------------------------------------------------------------------

RANGES = [
    ("equipment", "loadPercent", 251),
    ("equipment", "loadPercent", 250.01),
    ("equipment", "loadPercent", -1),
    ("facility", "environment.humidityAvg", 100.1),
    ("facility", "environment.humidityAvg", 101),
    ("facility", "environment.humidityAvg", -0.5),
    ("facility", "yearBuilt", 1799),
    ("facility", "yearBuilt", NOW.year + 1),
    ("equipment", "arcFlashLabel.ppeCategory", 5),
    ("equipment", "arcFlashLabel.ppeCategory", -1),
]


@pytest.mark.parametrize("kind,path,value", RANGES, ids=[f"{p}={v}" for _, p, v in RANGES])
def test_number_out_of_range_rejects(kind, path, value):
    check_rejected(kind, base_record_with(path, value, kind), path, ["between"])


def test_fractional_year_rejects():
    check_rejected(
        "facility", base_record_with("yearBuilt", 1990.5, "facility"), "yearBuilt", ["integer"]
    )


ACCEPTED = [
    ("equipment", "loadPercent", 250, "load_percent", 250.0),
    ("equipment", "loadPercent", 0, "load_percent", 0.0),
    ("equipment", "loadPercent", 87.5, "load_percent", 87.5),
    ("facility", "environment.humidityAvg", 100, "humidity_avg", 100.0),
    ("facility", "environment.humidityAvg", 0, "humidity_avg", 0.0),
    ("facility", "yearBuilt", 1800, "year_built", 1800),
    ("facility", "yearBuilt", NOW.year, "year_built", NOW.year),
    ("equipment", "arcFlashLabel.ppeCategory", 4, "ppe_category", 4),
    ("equipment", "arcFlashLabel.ppeCategory", 0, "ppe_category", 0),
]


@pytest.mark.parametrize(
    "kind,path,value,attr,stored", ACCEPTED, ids=[f"{c[1]}={c[2]}" for c in ACCEPTED]
)
def test_number_at_range_edge_accepted(kind, path, value, attr, stored):
    run = ingest([*good_batch(), (kind, base_record_with(path, value, kind))])
    assert run.rejected == 0 and run.created == 4
    assert getattr(MODELS[kind].objects.get(external_id=BAD_ID[kind]), attr) == stored


# --- string lengths --------------------------------------------------------------------------

LENGTHS = [
    # (kind, path, limit, model attribute)
    ("facility", "name", 200, "name"),
    ("equipment", "name", 200, "name"),
    ("equipment", "manufacturer", 500, "manufacturer"),
    ("equipment", "room", 500, "room"),
    ("facility", "address.street", 500, "street"),
    ("facility", "contractor.name", 500, "contractor"),
    ("maintenanceRecord", "technician", 500, "technician"),
    ("maintenanceRecord", "findings", 10_000, "findings"),
    ("maintenanceRecord", "actionsTaken", 10_000, "actions_taken"),
]


@pytest.mark.parametrize("kind,path,limit,attr", LENGTHS, ids=[c[1] for c in LENGTHS])
def test_string_over_limit_rejects(kind, path, limit, attr):
    bad = base_record_with(path, "x" * (limit + 1), kind)
    check_rejected(kind, bad, path, [f"longer than {limit}"])


@pytest.mark.parametrize("kind,path,limit,attr", LENGTHS, ids=[c[1] for c in LENGTHS])
def test_string_at_limit_accepted(kind, path, limit, attr):
    run = ingest([*good_batch(), (kind, base_record_with(path, "y" * limit, kind))])
    assert run.rejected == 0 and run.created == 4
    assert getattr(MODELS[kind].objects.get(external_id=BAD_ID[kind]), attr) == "y" * limit


# --- record shape, references ----------------------------------------------------------------


@pytest.mark.parametrize("kind", ["facility", "equipment", "maintenanceRecord"])
@pytest.mark.parametrize("value", ["fac_1", 42, [1, 2], None, True])
def test_record_not_an_object_rejects(kind, value):
    run = ingest([*good_batch(), (kind, value)])
    assert (run.created, run.rejected) == (3, 1)
    rej = run.rejections.get()
    assert (rej.kind, rej.field, rej.record_id) == (kind, "record", "")
    assert "object" in rej.reason
    assert json.loads(rej.raw) == value
    assert_good_batch_landed()
    assert RecordChange.objects.count() == 3


def test_equipment_of_unknown_facility_rejects():
    bad = base_record_with("facilityId", "fac_nowhere")
    rej = check_rejected("equipment", bad, "facilityId", ["unknown"])
    assert "fac_nowhere" in rej.reason


def test_maintenance_of_unknown_equipment_rejects():
    bad = base_record_with("equipmentId", "eq_nowhere", "maintenanceRecord")
    rej = check_rejected("maintenanceRecord", bad, "equipmentId", ["unknown"])
    assert "eq_nowhere" in rej.reason


def test_maintenance_of_rejected_equipment_rejects_too():
    bad_eq = base_record_with("loadPercent", 300)
    mr = f.maintenance("eq_bad", id="mr_orphan")
    run = ingest([*good_batch(), ("equipment", bad_eq), ("maintenanceRecord", mr)])
    assert (run.created, run.rejected) == (3, 2)
    fields = dict(run.rejections.values_list("record_id", "field"))
    assert fields == {"eq_bad": "loadPercent", "mr_orphan": "equipmentId"}
    assert not MaintenanceRecord.objects.filter(external_id="mr_orphan").exists()
    assert_good_batch_landed()


def test_equipment_feeding_itself_rejects():
    bad = base_record_with("feedsFromId", "eq_bad")
    check_rejected("equipment", bad, "feedsFromId", ["itself"])


@pytest.mark.parametrize(
    "photo,field",
    [
        ({"url": "https://photos.example.com/a.jpg"}, "photos[0].id"),
        ({"id": "ph_x"}, "photos[0].url"),
        ({"id": "ph_x", "url": "file:///etc/passwd"}, "photos[0].url"),
        ({"id": "ph_x", "url": "https://p.example.com/a.jpg", "takenAt": "2024-01-01T00:00:00"},
         "photos[0].takenAt"),
    ],
)  # fmt: skip
def test_bad_photo_rejects_the_equipment(photo, field):
    bad = base_record("equipment")
    bad["photos"] = [photo]
    check_rejected("equipment", bad, field, ["required", "url", "offset", "timestamp"])


def test_several_bad_records_in_one_batch_each_rejected_rest_lands():
    bad_fac = base_record_with("yearBuilt", 1700, "facility")
    bad_eq = base_record_with("loadPercent", -5)
    bad_mr = base_record_with("type", "repair", "maintenanceRecord")
    extra_good = f.facility(id="fac_other")
    run = ingest(
        [
            ("facility", bad_fac),
            *good_batch(),
            ("equipment", bad_eq),
            ("maintenanceRecord", bad_mr),
            ("facility", extra_good),
        ]
    )
    assert (run.created, run.rejected) == (4, 3)
    got = {(r.kind, r.record_id, r.field) for r in run.rejections.all()}
    assert got == {
        ("facility", "fac_bad", "yearBuilt"),
        ("equipment", "eq_bad", "loadPercent"),
        ("maintenanceRecord", "mr_bad", "type"),
    }
    assert set(Facility.objects.values_list("external_id", flat=True)) == {GOOD_FAC, "fac_other"}
    assert_good_batch_landed()


def test_a_rejected_record_does_not_touch_its_existing_mirror():
    """A bad update of a mirrored record is rejected and leaves the mirror as it was."""
    ingest(good_batch())
    eq = Equipment.objects.get(external_id=GOOD_EQ)
    changes = RecordChange.objects.count()
    bad = f.equipment(GOOD_FAC, id=GOOD_EQ, name="Renamed", loadPercent=999,
                      updatedAt="2025-02-01T00:00:00Z")  # fmt: skip
    run = ingest([("equipment", copy.deepcopy(bad))])
    assert (run.updated, run.rejected) == (0, 1)
    after = Equipment.objects.get(external_id=GOOD_EQ)
    assert (after.name, after.load_percent, after.synced_at) == (
        eq.name,
        eq.load_percent,
        eq.synced_at,
    )
    assert RecordChange.objects.count() == changes


def test_rejected_raw_is_bounded_in_size(settings):
    settings.REJECTED_RAW_MAX_BYTES = 1000
    bad = base_record_with("findings", "é" * 10_001, "maintenanceRecord")
    run = ingest([*good_batch(), ("maintenanceRecord", bad)])
    rej = run.rejections.get()
    assert rej.field == "findings"
    assert rej.raw_truncated is True
    assert 0 < len(rej.raw.encode()) <= 1000
    assert rej.raw.startswith('{"id":"mr_bad"')
    assert_good_batch_landed()
