"""What the Schemathesis run (test_fuzz.py) found, pinned one by one: inputs that were a 500,
or values the schema and the API disagreed on."""

import json
from datetime import UTC, datetime

import pytest

from facilities.models import Facility, ProcessedEvent, RejectedRecord
from masterbus.api.signatures import sign
from tests import factories as f
from voltmetrics.models import WebhookEvent

from .conftest import assert_envelope, key_header

pytestmark = pytest.mark.django_db

SECRET = "findings-secret"
CONDOIT = "/api/v1/condoit/events"
VOLT = "/api/v1/webhooks/voltmetrics"


@pytest.fixture(autouse=True)
def _secrets(settings):
    settings.CONDOIT_WEBHOOK_SECRET = SECRET
    settings.VOLTMETRICS_WEBHOOK_SECRET = SECRET


@pytest.fixture
def keys(make_key):
    return make_key(["threatmap:read", "condoit:push", "voltmetrics:callback"])[1]


def post(client, url, body: dict, key):
    raw = json.dumps(body).encode()
    header = "HTTP_X_CONDOIT_SIGNATURE" if url == CONDOIT else "HTTP_X_VOLTMETRICS_SIGNATURE"
    return client.post(
        url, data=raw, content_type="application/json", **{header: sign(SECRET, raw)},
        **key_header(key),
    )  # fmt: skip


def event(record, kind="facility", action="created", n=1):
    return {"id": f"evt_{n}", "type": f"{kind}.{action}", "data": record}


# --- ids and search text holding NUL (PostgreSQL cannot even compare such a text) ------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/facilities/%00",
        "/api/v1/facilities/fac%00x/equipment",
        "/api/v1/facilities/%00/compliance",
        "/api/v1/facilities/%00/risks",
        "/api/v1/equipment/%00",
        "/api/v1/photos/%00",
        "/api/v1/photos/ph%00/thumbnail",
    ],
)
def test_an_id_no_record_can_have_is_404(client, keys, path):
    assert_envelope(client.get(path, **key_header(keys)), 404, "DATA_NOT_FOUND")


def test_search_holding_nul_finds_nothing(client, keys, import_export):
    import_export(facilities=[f.facility(id="fac_1")], equipment=[f.equipment("fac_1")])
    for path, key in [("/api/v1/facilities", "facilities"), ("/api/v1/facilities/fac_1/equipment", "equipment")]:  # fmt: skip
        r = client.get(path, {"search": "Fa\x00"}, **key_header(keys))
        assert r.status_code == 200, r.content
        assert r.json()["total"] == 0 and r.json()[key] == []


# --- timestamps far from today ---------------------------------------------------------------


def test_a_timestamp_before_year_1000_is_served_with_four_digits(client, keys, import_export):
    """strftime's %Y wrote "384-10-22T…", which the list then could not read back (500)."""
    import_export(facilities=[f.facility(id="fac_old", updatedAt="0384-10-22T04:17:38Z")])
    r = client.get("/api/v1/facilities", **key_header(keys))
    assert r.status_code == 200, r.content
    assert r.json()["facilities"][0]["last_updated"] == "0384-10-22T04:17:38Z"


def test_an_offset_postgresql_cannot_keep_is_stored_as_utc(client, keys):
    record = f.facility(id="fac_far", updatedAt="2025-03-01T01:00:00-18:49")
    r = post(client, CONDOIT, event(record), keys)
    assert r.status_code == 202, r.content
    stored = Facility.objects.get(external_id="fac_far").condoit_updated_at
    assert stored == datetime(2025, 3, 1, 19, 49, tzinfo=UTC)


@pytest.mark.parametrize(
    "stamp", ["0001-01-01T00:30:00+01:00", "9999-12-31T23:00:00-05:00"]
)  # fmt: skip
def test_a_timestamp_outside_the_utc_calendar_is_400(client, keys, stamp):
    r = post(client, CONDOIT, event(f.facility(id="fac_x", createdAt=stamp)), keys)
    err = assert_envelope(r, 400, "VALIDATION_ERROR")
    assert "createdAt" in err["details"]
    assert not Facility.objects.exists()


# --- Condoit records holding NUL -------------------------------------------------------------


def test_a_record_id_holding_nul_is_400_and_its_rejection_is_kept(client, keys):
    r = post(client, CONDOIT, event(f.facility(id="fac_\x00")), keys)
    err = assert_envelope(r, 400, "VALIDATION_ERROR")
    assert "id" in err["details"]
    rejected = RejectedRecord.objects.get()
    assert rejected.record_id == "fac_\ufffd" and "\\u0000" in rejected.raw
    assert not Facility.objects.exists()


@pytest.mark.parametrize(
    ("record", "field"),
    [
        (f.equipment("fac_k", specs={"k\x00": 1}), "specs"),
        (f.equipment("fac_k", observations={"a": {"x\x00": True}}), "observations.a"),
        (f.facility(id="fac_2", extraField={"a\x00": 2}), "extraField"),
        (f.facility(id="fac_3", **{"extra\x00": 2}), "extra\x00"),
    ],
)
def test_a_free_form_key_holding_nul_is_400(client, keys, import_export, record, field):
    import_export(facilities=[f.facility(id="fac_k")])
    kind = "facility" if record["id"].startswith("fac") else "equipment"
    err = assert_envelope(post(client, CONDOIT, event(record, kind), keys), 400, "VALIDATION_ERROR")
    assert list(err["details"]) == [field]
    assert RejectedRecord.objects.get().field == field.replace("\x00", "\ufffd")


def test_a_deletion_naming_an_id_holding_nul_is_400(client, keys):
    r = post(client, CONDOIT, event({"id": "fac_\x00"}, action="deleted"), keys)
    assert_envelope(r, 400, "VALIDATION_ERROR")
    assert not ProcessedEvent.objects.exists()


# --- VoltMetrics callbacks -------------------------------------------------------------------

CALLBACK = {"event_id": "e1", "event_type": "calculation_complete", "job_id": "j1"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"event_id": "e\x00"}, "event_id"),
        ({"job_id": "j\x00"}, "job_id"),
        ({"event_id": "e" * 201}, "event_id"),
        ({"timestamp": "2025-01-01"}, "timestamp"),
        ({"timestamp": "2025-01-01T10:00:00"}, "timestamp"),
        ({"timestamp": "2025-02-30T10:00:00Z"}, "timestamp"),
        ({"items_processed": 2**63}, "items_processed"),
    ],
)
def test_a_callback_the_schema_forbids_is_400(client, keys, change, field):
    err = assert_envelope(post(client, VOLT, {**CALLBACK, **change}, keys), 400, "VALIDATION_ERROR")
    assert field in err["details"]
    assert not WebhookEvent.objects.exists()


def test_a_callback_with_nul_elsewhere_is_recorded_without_it(client, keys):
    body = {
        **CALLBACK,
        "timestamp": "2025-01-01T10:00:00.123456789+05:30",
        "status": "fail\x00ed",
        "extra": {"k\x00": ["v\x00"]},
    }
    r = post(client, VOLT, body, keys)
    assert r.status_code == 202, r.content
    payload = WebhookEvent.objects.get().payload
    assert payload["status"] == "fail\ufffded"
    assert payload["extra"] == {"k\ufffd": ["v\ufffd"]}
