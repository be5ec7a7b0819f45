import math
import time

import orjson
import pytest

from equipment.models import Equipment, MaintenanceRecord
from facilities.models import Facility, ProcessedEvent, RecordChange, RejectedRecord
from masterbus.api.signatures import sign
from masterbus.services import api_key_create
from tests import factories as f

SECRET = "test-condoit-secret"
URL = "/api/v1/condoit/events"


@pytest.fixture(autouse=True)
def _secret(settings):
    settings.CONDOIT_WEBHOOK_SECRET = SECRET


@pytest.fixture(autouse=True)
def _api_key(client, db):
    """The endpoint needs a key with condoit:push besides the signature: every request of the
    test client sends one (tests/api/ covers the key's absence and wrong scopes)."""
    _, raw = api_key_create(name="condoit push", scopes=["condoit:push"])
    client.defaults["HTTP_X_API_KEY"] = raw


def post(client, event, *, secret=SECRET, t=None, signature=None, path=URL):
    body = orjson.dumps(event) if not isinstance(event, bytes) else event
    headers = {}
    if signature is not False:
        headers["HTTP_X_CONDOIT_SIGNATURE"] = signature or sign(secret, body, t)
    return client.post(path, data=body, content_type="application/json", **headers)


def event(kind, action, record, eid=None):
    return {
        "id": eid or f"evt_{record['id']}_{action}_{record['updatedAt']}",
        "type": f"{kind}.{action}",
        "occurredAt": record["updatedAt"],
        "data": record,
    }


pytestmark = pytest.mark.django_db


def test_first_delivery_202_repeat_200_applied_once(client):
    fac = f.facility()
    ev = event("facility", "created", fac, eid="evt_1")
    r1 = post(client, ev)
    assert r1.status_code == 202, r1.content
    assert r1.json()["outcome"] == "created"
    r2 = post(client, ev)
    assert r2.status_code == 200
    assert r2.json()["status"] == "duplicate"
    assert Facility.objects.filter(external_id=fac["id"]).count() == 1
    assert ProcessedEvent.objects.filter(event_id="evt_1").count() == 1
    assert RecordChange.objects.filter(external_id=fac["id"]).count() == 1


def test_trailing_slash_also_works(client):
    fac = f.facility()
    assert post(client, event("facility", "created", fac), path=URL + "/").status_code == 202


@pytest.mark.parametrize(
    "signature",
    [False, "t=1,v1=deadbeef", "garbage", "v1=abc"],
    ids=["missing", "wrong", "malformed", "no-timestamp"],
)
def test_bad_or_missing_signature_is_401_and_writes_nothing(client, signature):
    fac = f.facility()
    r = post(client, event("facility", "created", fac), signature=signature)
    assert r.status_code == 401
    err = r.json()["error"]
    assert err["code"] == "AUTH_BAD_SIGNATURE"
    assert err["request_id"] == r["X-Request-ID"]
    assert not Facility.objects.exists()


def test_signature_with_wrong_secret_is_refused(client):
    r = post(client, event("facility", "created", f.facility()), secret="other")
    assert r.status_code == 401


@pytest.mark.parametrize("skew", [-301, 301])
def test_stale_signature_timestamp_outside_replay_window(client, skew):
    # Rounded away from now, so the skew is at least 301 s when the server checks it.
    now = time.time()
    t = (math.ceil(now) if skew > 0 else math.floor(now)) + skew
    r = post(client, event("facility", "created", f.facility()), t=t)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "AUTH_BAD_SIGNATURE"


def test_signature_inside_window_accepted(client):
    r = post(client, event("facility", "created", f.facility()), t=int(time.time()) - 290)
    assert r.status_code == 202


def test_out_of_order_older_record_never_overwrites_newer(client):
    old = f.facility(name="Old name", updatedAt="2025-01-01T00:00:00Z")
    new = {**old, "name": "New name", "updatedAt": "2025-02-01T00:00:00Z"}
    assert post(client, event("facility", "updated", new)).status_code == 202
    r = post(client, event("facility", "updated", old))
    assert r.status_code == 202
    assert r.json()["outcome"] == "stale"
    assert Facility.objects.get(external_id=old["id"]).name == "New name"


def test_offsets_compared_as_instants(client):
    # 10:00+05:00 is 05:00Z, earlier than 06:00Z although it sorts later as a string.
    newer = f.facility(name="Newer", updatedAt="2025-01-01T06:00:00Z")
    older = {**newer, "name": "Older", "updatedAt": "2025-01-01T10:00:00+05:00"}
    post(client, event("facility", "updated", newer))
    assert post(client, event("facility", "updated", older)).json()["outcome"] == "stale"
    assert Facility.objects.get(external_id=newer["id"]).name == "Newer"


def test_unknown_parent_is_409_and_nothing_written(client):
    eq = f.equipment("fac_missing")
    r = post(client, event("equipment", "created", eq))
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "CONFLICT"
    assert not Equipment.objects.exists()
    assert not ProcessedEvent.objects.exists()
    # Once the parent is mirrored, the retried event lands.
    fac = f.facility(id="fac_missing")
    assert post(client, event("facility", "created", fac)).status_code == 202
    assert post(client, event("equipment", "created", eq)).status_code == 202
    assert Equipment.objects.get(external_id=eq["id"]).facility.external_id == "fac_missing"


def test_maintenance_for_unknown_equipment_is_409(client):
    mr = f.maintenance("eq_nowhere")
    assert post(client, event("maintenanceRecord", "created", mr)).status_code == 409
    assert not MaintenanceRecord.objects.exists()


def test_deleted_event_soft_deletes(client):
    fac = f.facility()
    eq = f.equipment(fac["id"])
    post(client, event("facility", "created", fac))
    post(client, event("equipment", "created", eq))
    gone = {"id": "evt_del", "type": "equipment.deleted",
            "occurredAt": "2025-06-01T00:00:00Z", "data": {"id": eq["id"]}}
    r = post(client, gone)
    assert r.status_code == 202
    assert r.json()["outcome"] == "deleted"
    row = Equipment.objects.get(external_id=eq["id"])
    assert row.deleted_at is not None
    assert RecordChange.objects.filter(external_id=eq["id"]).count() == 2


def test_deleted_event_with_full_record(client):
    fac = f.facility()
    post(client, event("facility", "created", fac))
    dead = {**fac, "updatedAt": "2025-03-01T00:00:00Z"}
    r = post(client, event("facility", "deleted", dead))
    assert r.status_code == 202
    assert Facility.objects.get(external_id=fac["id"]).deleted_at is not None


@pytest.mark.parametrize(
    "body,field",
    [
        (b"not json", None),
        (b"[1,2]", "body"),
        (orjson.dumps({"type": "facility.created", "data": {}}), "id"),
        (orjson.dumps({"id": "e1", "type": "widget.created", "data": {}}), "type"),
        (orjson.dumps({"id": "e1", "type": "facility.exploded", "data": {}}), "type"),
        (orjson.dumps({"id": "e1", "type": "facility.created", "data": []}), "data"),
    ],
)
def test_malformed_events_are_400_envelope(client, body, field):
    r = post(client, body)
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["code"] == "VALIDATION_ERROR"
    if field:
        assert field in err["details"]


def test_invalid_record_is_400_and_recorded_as_rejected(client):
    fac = f.facility(latitude=123)
    r = post(client, event("facility", "created", fac))
    assert r.status_code == 400
    assert r.json()["error"]["details"] == {"latitude": ["must be between -90 and 90, got 123"]}
    assert not Facility.objects.exists()
    rej = RejectedRecord.objects.get()
    assert (rej.record_id, rej.field, rej.sync_run.source) == (fac["id"], "latitude", "push")


def test_get_is_405_envelope(client):
    r = client.get(URL)
    assert r.status_code == 405
    assert r.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
