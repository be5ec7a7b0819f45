"""Bounded free-form objects (condoit-source.md §4): at most 32 levels deep and 64 KB, the
same through every door. JSON nested deeper than any parser or walk would take (orjson
refuses more than 1024 levels, Python's recursion stops near 1000) rejects its record alone:
never a 500, never a crashed import."""

import json
from io import StringIO

import orjson
import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from condoit.bounds import FREE_FORM_MAX_BYTES, dumps_bounded
from condoit.files import import_file
from condoit.ingest import Ingestor, rerun_rejected
from condoit.pull import condoit_pull
from equipment.models import Equipment, MaintenanceRecord
from facilities.choices import SyncSource, SyncStatus
from facilities.models import (
    Facility,
    ProcessedEvent,
    RecordChange,
    RejectedRecord,
    SyncCursor,
    SyncRun,
)
from masterbus.api.signatures import sign
from masterbus.services import api_key_create
from tests import factories as f
from tests.condoit.fake_condoit import TOKEN, body, fake_condoit

pytestmark = pytest.mark.django_db

SECRET = "test-condoit-secret"
EVENTS = "/api/v1/condoit/events"


def nested(levels, leaf=1):
    """A value ``levels`` objects deep: nested(1) == {"v": 1}."""
    value = leaf
    for _ in range(levels):
        value = {"v": value}
    return value


def nested_json(levels):
    return '{"v":' * levels + "1" + "}" * levels


def with_deep(record, field, levels):
    """JSON text of ``record`` whose ``field`` nests ``levels`` objects (built as text:
    json.dumps itself would stop at Python's recursion limit)."""
    text = json.dumps({**record, field: "__DEEP__"}, separators=(",", ":"))
    return text.replace('"__DEEP__"', nested_json(levels))


def ingest(*records):
    ing = Ingestor(source=SyncSource.FILE, missing_parent="defer")
    for kind, rec in records:
        ing.add(kind, rec)
    return ing.finish()


def counts(run):
    return (run.created, run.updated, run.unchanged, run.rejected, run.deleted)


def the_rejection(run):
    rej = run.rejections.get()
    assert not RecordChange.objects.filter(external_id=rej.record_id).exists()
    return rej


# --- the bounds, through the shared validation ----------------------------------------------

FREE_FORM = [
    ("equipment", "specs", lambda eq: Equipment.objects.get(external_id=eq).specs),
    ("equipment", "observations", lambda eq: Equipment.objects.get(external_id=eq).observations),
    (
        "equipment",
        "vendorData",
        lambda eq: Equipment.objects.get(external_id=eq).extra["vendorData"],
    ),
    ("facility", "siteData", lambda fac: Facility.objects.get(external_id=fac).extra["siteData"]),
    (
        "maintenanceRecord",
        "workOrder",
        lambda mr: MaintenanceRecord.objects.get(external_id=mr).extra["workOrder"],
    ),
]


MODELS = {"facility": Facility, "equipment": Equipment, "maintenanceRecord": MaintenanceRecord}


def family(kind, field, value):
    """A good facility, equipment and maintenance record, and one more record of ``kind``
    (``*_x``, its parents the good ones) carrying ``value`` as ``field``."""
    extra = {
        "facility": f.facility(id="fac_x"),
        "equipment": f.equipment("fac_a", id="eq_x"),
        "maintenanceRecord": f.maintenance("eq_a", id="mr_x"),
    }[kind]
    extra[field] = value
    good = [
        ("facility", f.facility(id="fac_a")),
        ("equipment", f.equipment("fac_a", id="eq_a")),
        ("maintenanceRecord", f.maintenance("eq_a", id="mr_a")),
    ]
    return extra["id"], [*good, (kind, extra)]


def assert_good_family_landed():
    assert Facility.objects.filter(external_id="fac_a").exists()
    assert Equipment.objects.filter(external_id="eq_a").exists()
    assert MaintenanceRecord.objects.filter(external_id="mr_a").exists()


@pytest.mark.parametrize("kind,field,stored", FREE_FORM, ids=[c[1] for c in FREE_FORM])
def test_exactly_32_levels_accepted_and_stored(kind, field, stored):
    rid, records = family(kind, field, nested(32))
    run = ingest(*records)
    assert counts(run) == (4, 0, 0, 0, 0), list(run.rejections.values("field", "reason"))
    assert stored(rid) == nested(32)


@pytest.mark.parametrize("kind,field,stored", FREE_FORM, ids=[c[1] for c in FREE_FORM])
def test_33_levels_rejected_alone_with_the_field(kind, field, stored):
    rid, records = family(kind, field, nested(33))
    run = ingest(*records)
    assert run.status == SyncStatus.PARTIAL
    assert counts(run) == (3, 0, 0, 1, 0)
    rej = the_rejection(run)
    assert (rej.kind, rej.record_id, rej.field) == (kind, rid, field)
    assert rej.reason == "is nested more than 32 levels deep"
    assert orjson.loads(rej.raw)[field] == nested(33)
    assert not MODELS[kind].objects.filter(external_id=rid).exists()
    assert_good_family_landed()


def test_arrays_count_as_levels_too():
    deep = [nested(31)]  # the array is the first level
    eq_ok = f.equipment("fac_a", id="eq_ok", specs={"v": [nested(30)]})  # 1 + 1 + 30
    eq_bad = f.equipment("fac_a", id="eq_bad", specs={"v": [nested(31)]})  # 1 + 1 + 31
    fac = f.facility(id="fac_a", siteData=deep)
    run = ingest(("facility", fac), ("equipment", eq_ok), ("equipment", eq_bad))
    assert counts(run) == (2, 0, 0, 1, 0)
    assert (the_rejection(run).record_id, the_rejection(run).field) == ("eq_bad", "specs")
    assert Facility.objects.get().extra["siteData"] == deep


def _specs_of_size(size):
    specs = {"voltage": "480V", "note": ""}
    specs["note"] = "x" * (size - len(orjson.dumps(specs)))
    assert len(orjson.dumps(specs)) == size
    return specs


def test_specs_of_64_kb_accepted_one_byte_more_rejected():
    fac = f.facility(id="fac_a")
    at_limit = f.equipment("fac_a", id="eq_64k", specs=_specs_of_size(FREE_FORM_MAX_BYTES))
    over = f.equipment("fac_a", id="eq_over", specs=_specs_of_size(FREE_FORM_MAX_BYTES + 1))
    run = ingest(("facility", fac), ("equipment", at_limit), ("equipment", over))
    assert counts(run) == (2, 0, 0, 1, 0)
    assert Equipment.objects.get(external_id="eq_64k").specs == at_limit["specs"]
    rej = the_rejection(run)
    assert (rej.record_id, rej.field) == ("eq_over", "specs")
    assert "64 KB" in rej.reason and str(FREE_FORM_MAX_BYTES + 1) in rej.reason
    assert rej.raw_truncated  # kept bounded (REJECTED_RAW_MAX_BYTES)
    assert not Equipment.objects.filter(external_id="eq_over").exists()


def test_unknown_fields_together_bounded_at_64_kb():
    half = "y" * (FREE_FORM_MAX_BYTES // 2)
    fac = f.facility(id="fac_a")
    eq = f.equipment("fac_a", id="eq_big", notesA=half, notesB=half)
    run = ingest(("facility", fac), ("equipment", eq))
    assert counts(run) == (1, 0, 0, 1, 0)
    rej = the_rejection(run)
    assert rej.record_id == "eq_big" and rej.field in ("notesA", "notesB")
    assert "64 KB" in rej.reason


def test_1020_levels_rejected_alone_and_rerun_rejects_it_again():
    fac = f.facility(id="fac_a")
    deep = f.equipment("fac_a", id="eq_deep", specs=nested(1020))
    good = f.equipment("fac_a", id="eq_good")
    run = ingest(("facility", fac), ("equipment", deep), ("equipment", good))
    assert counts(run) == (2, 0, 0, 1, 0)
    rej = the_rejection(run)
    assert (rej.record_id, rej.field) == ("eq_deep", "specs")
    assert "more than 32 levels" in rej.reason
    # Kept as JSON (written without recursion), whole: staff see it and can re-run it.
    assert not rej.raw_truncated
    assert orjson.loads(rej.raw)["id"] == "eq_deep"
    result = rerun_rejected([rej.pk])
    assert result["rejected"] == 1
    rej.refresh_from_db()
    assert rej.rerun_outcome.startswith("rejected again: specs")
    assert set(Equipment.objects.values_list("external_id", flat=True)) == {"eq_good"}


@pytest.mark.parametrize(
    "path",
    ["arcFlashLabel", "address", "conductors"],
)
def test_too_deep_to_serialize_anywhere_in_the_record_is_rejected(path):
    """Beyond orjson's 254 levels nothing can hash or keep the record: rejected naming the
    field, even where the extra keys would be dropped."""
    fac = f.facility(id="fac_a")
    eq = f.equipment("fac_a", id="eq_deep")
    if path == "conductors":
        eq["conductors"] = [{"id": "cd_1", "material": "CU", "history": nested(600)}]
    elif path == "address":
        fac = f.facility(id="fac_a", address={"city": "Peoria", "history": nested(600)})
    else:
        eq["arcFlashLabel"] = {"present": True, "history": nested(600)}
    records = [("facility", fac)] if path == "address" else [("facility", fac), ("equipment", eq)]
    run = ingest(*records)
    assert run.rejected == 1
    rej = the_rejection(run)
    assert (rej.record_id, rej.field) == (records[-1][1]["id"], path)
    assert "more than 32 levels" in rej.reason


def test_an_ignored_key_nested_deep_still_lands_when_deferred():
    """A record whose parent comes later waits in the spill file: a deep (ignored) key must
    not stop it there. 254 levels in all is the most orjson writes: the record's own."""
    eq = f.equipment("fac_late", id="eq_1")
    eq["arcFlashLabel"] = {"present": True, "history": nested(252)}
    ing = Ingestor(source=SyncSource.FILE, missing_parent="defer", batch_size=1)
    ing.add("equipment", eq)  # a batch of its own: its facility is not there yet
    ing.add("facility", f.facility(id="fac_late"))
    run = ing.finish()
    assert counts(run) == (2, 0, 0, 0, 0)
    assert Equipment.objects.get().label_present is True


def test_dumps_bounded_matches_orjson_and_stops_at_the_limit():
    value = {"a": [1, 2.5, None, True, "é\n"], "b": {}, "c": [], "d": {"e": -(2**63)}}
    assert dumps_bounded(value, 10_000) == orjson.dumps(value).decode()
    assert dumps_bounded(2**70, 100) == str(2**70)
    long = dumps_bounded(nested(100_000), 1000)
    assert 1000 < len(long) < 1100 and long.startswith('{"v":{"v":')


def test_admin_shows_a_deep_rejected_record(admin_client):
    run = SyncRun.objects.create(source=SyncSource.FILE, label="x")
    raw = '{"id":"eq_d","x":' + nested_json(3000) + "}"
    rej = RejectedRecord.objects.create(
        sync_run=run, kind="equipment", record_id="eq_d", field="x", reason="deep", raw=raw
    )
    response = admin_client.get(reverse("admin:facilities_rejectedrecord_change", args=[rej.pk]))
    assert response.status_code == 200
    assert b"eq_d" in response.content


# --- the export file ------------------------------------------------------------------------


def ndjson_line(kind, record_text):
    return '{"kind":' + json.dumps(kind) + ',"record":' + record_text + "}"


def run_command(path):
    out = StringIO()
    call_command("import_condoit", str(path), "--no-progress", stdout=out)  # raises: exit 1
    return out.getvalue()


def test_ndjson_line_with_1020_level_specs_rejected_alone_command_exits_0(tmp_path):
    fac = f.facility(id="fac_a")
    good = f.equipment("fac_a", id="eq_good")
    deep = with_deep(f.equipment("fac_a", id="eq_deep"), "specs", 1020)
    lines = [
        ndjson_line("facility", json.dumps(fac)),
        ndjson_line("equipment", deep),
        ndjson_line("equipment", json.dumps(good)),
    ]
    path = tmp_path / "export.ndjson"
    path.write_text("\n".join(lines) + "\n")
    text = run_command(path)
    assert "(partial)" in text
    assert "created 2, updated 0, unchanged 0, rejected 1, deleted 0" in text
    assert "rejected line 2: specs is nested more than 32 levels deep" in text
    assert Facility.objects.get().external_id == "fac_a"
    assert list(Equipment.objects.values_list("external_id", flat=True)) == ["eq_good"]
    rej = RejectedRecord.objects.get()
    assert (rej.line, rej.record_id, rej.field) == (2, "eq_deep", "specs")


@pytest.mark.parametrize(
    "line",
    [ndjson_line("equipment", with_deep({"id": "eq_x"}, "specs", 1100)), "[" * 200_000],
    ids=["specs-beyond-1024", "only-nesting"],
)
def test_ndjson_line_beyond_1024_levels_is_one_rejected_line(tmp_path, settings, line):
    fac = f.facility(id="fac_a")
    path = tmp_path / "export.ndjson"
    path.write_text(line + "\n" + ndjson_line("facility", json.dumps(fac)) + "\n")
    run = import_file(path)
    assert counts(run) == (1, 0, 0, 1, 0)
    rej = run.rejections.get()
    assert (rej.line, rej.field) == (1, "line")
    assert "nested more than 1024 levels deep" in rej.reason
    limit = settings.REJECTED_RAW_MAX_BYTES
    assert rej.raw.rstrip("\n") == line[:limit]  # the line as it came, kept bounded
    assert rej.raw_truncated == (len(line) >= limit)
    assert Facility.objects.get().external_id == "fac_a"


def document(facilities, equipment):
    return (
        '{"facilities":['
        + ",".join(facilities)
        + '],"equipment":['
        + ",".join(equipment)
        + '],"maintenanceRecords":[]}'
    )


def test_json_document_record_with_1020_level_specs_rejected_alone(tmp_path):
    fac = json.dumps(f.facility(id="fac_a"))
    eq1 = json.dumps(f.equipment("fac_a", id="eq_1"))
    eq2 = json.dumps(f.equipment("fac_a", id="eq_2"))
    deep = with_deep(f.equipment("fac_a", id="eq_deep"), "specs", 1020)
    path = tmp_path / "export.json"
    path.write_text(document([fac], [eq1, deep, eq2]))
    text = run_command(path)
    assert "created 3, updated 0, unchanged 0, rejected 1, deleted 0" in text
    run = SyncRun.objects.get()
    assert run.status == SyncStatus.PARTIAL
    rej = the_rejection(run)
    assert (rej.record_id, rej.field) == ("eq_deep", "specs")
    assert set(Equipment.objects.values_list("external_id", flat=True)) == {"eq_1", "eq_2"}


@pytest.mark.parametrize("levels", [1030, 1_000_000])
def test_json_document_beyond_1024_levels_fails_clearly_writes_nothing(tmp_path, levels):
    """Like a document that does not parse; found by the check pass without building
    anything per level (a path per parser event would cost memory quadratic in depth)."""
    fac = json.dumps(f.facility(id="fac_a"))
    deep = with_deep(f.equipment("fac_a", id="eq_deep"), "vendorData", levels)
    path = tmp_path / "export.json"
    path.write_text(document([fac], [deep]))
    with pytest.raises(CommandError, match="nested more than 1024 levels deep; nothing was"):
        run_command(path)
    assert not Facility.objects.exists() and not Equipment.objects.exists()
    run = SyncRun.objects.get()
    assert run.status == SyncStatus.FAILED and "1024 levels" in run.error


def test_json_document_of_exactly_1024_levels_passes_the_check(tmp_path):
    fac = json.dumps(f.facility(id="fac_a"))
    # document (1) > equipment array (2) > record (3) > vendorData: 1021 more levels
    deep = with_deep(f.equipment("fac_a", id="eq_deep"), "vendorData", 1021)
    path = tmp_path / "export.json"
    path.write_text(document([fac], [deep]))
    run = import_file(path)
    assert counts(run) == (1, 0, 0, 1, 0)
    assert the_rejection(run).field == "vendorData"


# --- pushed events --------------------------------------------------------------------------


@pytest.fixture
def push(client, settings):
    settings.CONDOIT_WEBHOOK_SECRET = SECRET
    _, raw = api_key_create(name="condoit push", scopes=["condoit:push"])
    client.defaults["HTTP_X_API_KEY"] = raw

    def post(text: str):
        data = text.encode()
        return client.post(
            EVENTS,
            data=data,
            content_type="application/json",
            HTTP_X_CONDOIT_SIGNATURE=sign(SECRET, data),
        )

    fac = f.facility(id="fac_a")
    event = {"id": "evt_fac", "type": "facility.created", "occurredAt": fac["updatedAt"]}
    assert post(json.dumps({**event, "data": fac})).status_code == 202
    return post


def event_text(record_text, eid="evt_deep"):
    head = json.dumps({"id": eid, "type": "equipment.created", "occurredAt": f.TS})
    return head[:-1] + ',"data":' + record_text + "}"


@pytest.mark.parametrize(
    "field,levels",
    [("specs", 1020), ("specs", 33), ("observations", 1020), ("vendorData", 1020)],
)
def test_event_with_deep_free_form_is_400_and_writes_nothing(push, field, levels):
    record = f.equipment("fac_a", id="eq_deep")
    r = push(event_text(with_deep(record, field, levels)))
    assert r.status_code == 400, r.content
    err = r.json()["error"]
    assert err["code"] == "VALIDATION_ERROR"
    assert list(err["details"]) == [field]
    assert "more than 32 levels" in err["details"][field][0]
    assert err["request_id"] == r["X-Request-ID"]
    assert not Equipment.objects.exists()
    assert not ProcessedEvent.objects.filter(event_id="evt_deep").exists()
    rej = RejectedRecord.objects.get()
    assert (rej.record_id, rej.field, rej.sync_run.source) == ("eq_deep", field, "push")
    # The same record within the bound is applied.
    ok = push(event_text(with_deep(record, field, 31), eid="evt_ok"))
    assert ok.status_code == 202, ok.content


@pytest.mark.parametrize(
    "text",
    [
        event_text(with_deep(f.equipment("fac_a", id="eq_x"), "specs", 1030)),  # > 1024 in all
        "[" * 100_000 + "]" * 100_000,
        '{"id":"evt_x","type":"equipment.created","meta":' + nested_json(5000) + "}",
    ],
    ids=["data-beyond-orjson", "nested-arrays", "deep-unknown-body-key"],
)
def test_deeply_nested_body_is_a_400_never_a_500(push, text):
    r = push(text)
    assert r.status_code == 400, r.content
    assert r.json()["error"]["code"] == "VALIDATION_ERROR"
    assert not Equipment.objects.exists()


def test_event_deep_where_keys_are_dropped_is_400(push):
    record = f.equipment("fac_a", id="eq_deep")
    record["arcFlashLabel"] = {"present": True, "history": "__DEEP__"}
    text = json.dumps(record).replace('"__DEEP__"', nested_json(600))
    r = push(event_text(text))
    assert r.status_code == 400, r.content
    assert list(r.json()["error"]["details"]) == ["arcFlashLabel"]
    assert not Equipment.objects.exists()


# --- the pull -------------------------------------------------------------------------------


@pytest.fixture
def condoit(settings):
    with fake_condoit() as fake:
        settings.CONDOIT_URL = fake.server.url_for("")
        settings.CONDOIT_TOKEN = TOKEN
        settings.CONDOIT_MAX_RETRIES = 0
        yield fake


def pulled_page(*items):
    return '{"items":[' + ",".join(items) + '],"nextCursor":null}'


def test_pulled_page_with_a_1020_level_record_writes_the_rest(condoit):
    condoit.add("facilities", f.facility(id="fac_a"))
    eq1 = f.equipment("fac_a", id="eq_1", updatedAt="2025-01-02T00:00:00Z")
    eq3 = f.equipment("fac_a", id="eq_3", updatedAt="2025-01-04T00:00:00Z")
    deep = f.equipment("fac_a", id="eq_2", updatedAt="2025-01-03T00:00:00Z")
    page = pulled_page(json.dumps(eq1), with_deep(deep, "specs", 1020), json.dumps(eq3))
    condoit.add_fault(body(page), resource="equipment", times=None)
    run = condoit_pull()
    assert run.status == SyncStatus.PARTIAL, run.error
    assert counts(run) == (3, 0, 0, 1, 0)
    rej = the_rejection(run)
    assert (rej.record_id, rej.field) == ("eq_2", "specs")
    assert "more than 32 levels" in rej.reason
    assert set(Equipment.objects.values_list("external_id", flat=True)) == {"eq_1", "eq_3"}
    mark = SyncCursor.objects.get(resource="equipment").high_water_mark
    assert mark.isoformat() == "2025-01-04T00:00:00+00:00"


def test_pulled_page_beyond_1024_levels_fails_that_page_clearly(condoit):
    condoit.add("facilities", f.facility(id="fac_a"))
    eq1 = f.equipment("fac_a", id="eq_1")
    deep = with_deep(f.equipment("fac_a", id="eq_2"), "specs", 1100)
    condoit.add_fault(body(pulled_page(json.dumps(eq1), deep)), resource="equipment", times=None)
    run = condoit_pull()
    assert run.status == SyncStatus.FAILED
    assert "equipment" in run.error and "nested more than 1024 levels deep" in run.error
    assert Facility.objects.count() == 1 and not Equipment.objects.exists()
    assert SyncCursor.objects.get(resource="equipment").high_water_mark is None
