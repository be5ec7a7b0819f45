"""The signed endpoints need their key (scope) AND a valid signature."""

import orjson
import pytest

from facilities.models import Facility
from masterbus.api.signatures import sign
from tests import factories as f
from voltmetrics.integration.jobs import CALCULATION_COMPLETE
from voltmetrics.models import WebhookEvent

from .conftest import assert_envelope, key_header

pytestmark = pytest.mark.django_db

CONDOIT = "/api/v1/condoit/events"
VOLT = "/api/v1/webhooks/voltmetrics"
SECRET = "signed-endpoint-secret"


@pytest.fixture(autouse=True)
def _secrets(settings):
    settings.CONDOIT_WEBHOOK_SECRET = SECRET
    settings.VOLTMETRICS_WEBHOOK_SECRET = SECRET


def condoit_body():
    fac = f.facility()
    return fac, orjson.dumps(
        {
            "id": f"evt_{fac['id']}",
            "type": "facility.created",
            "occurredAt": fac["updatedAt"],
            "data": fac,
        }
    )


def post(client, url, body, *, raw_key=None, signature=None):
    headers = key_header(raw_key) if raw_key else {}
    name = "HTTP_X_CONDOIT_SIGNATURE" if url == CONDOIT else "HTTP_X_VOLTMETRICS_SIGNATURE"
    headers[name] = sign(SECRET, body) if signature is None else signature
    return client.post(url, data=body, content_type="application/json", **headers)


def test_condoit_key_and_signature_202(client, make_key):
    _, raw = make_key(["condoit:push"])
    fac, body = condoit_body()
    r = post(client, CONDOIT, body, raw_key=raw)
    assert r.status_code == 202, r.content
    assert Facility.objects.filter(external_id=fac["id"]).exists()
    assert int(r["X-RateLimit-Limit"]) == 6000


def test_condoit_right_key_bad_signature_401(client, make_key):
    _, raw = make_key(["condoit:push"])
    _, body = condoit_body()
    r = post(client, CONDOIT, body, raw_key=raw, signature="t=1,v1=00")
    assert_envelope(r, 401, "AUTH_BAD_SIGNATURE")
    assert r.has_header("WWW-Authenticate")
    assert not Facility.objects.exists()


def test_condoit_valid_signature_without_key_401(client):
    _, body = condoit_body()
    r = post(client, CONDOIT, body)
    assert_envelope(r, 401, "AUTH_INVALID_CREDENTIALS")
    assert r.has_header("WWW-Authenticate")
    assert not Facility.objects.exists()


@pytest.mark.parametrize("scopes", [["threatmap:read"], ["voltmetrics:callback"]])
def test_condoit_wrong_scope_403(client, make_key, scopes):
    _, raw = make_key(scopes)
    _, body = condoit_body()
    err = assert_envelope(post(client, CONDOIT, body, raw_key=raw), 403, "AUTH_FORBIDDEN")
    assert "condoit:push" in err["message"]
    assert not Facility.objects.exists()


def test_condoit_user_jwt_not_staff_is_403(client, user):
    from .conftest import bearer

    _, body = condoit_body()
    headers = {**bearer(user), "HTTP_X_CONDOIT_SIGNATURE": sign(SECRET, body)}
    r = client.post(CONDOIT, data=body, content_type="application/json", **headers)
    assert_envelope(r, 403, "AUTH_FORBIDDEN")


def volt_body(eid="evt_v1"):
    return orjson.dumps({"event_id": eid, "job_id": "job_1", "event_type": CALCULATION_COMPLETE})


def test_voltmetrics_key_and_signature_202(client, make_key):
    _, raw = make_key(["voltmetrics:callback"])
    r = post(client, VOLT, volt_body(), raw_key=raw)
    assert r.status_code == 202, r.content
    assert WebhookEvent.objects.filter(event_id="evt_v1").exists()


def test_voltmetrics_bad_signature_401(client, make_key):
    _, raw = make_key(["voltmetrics:callback"])
    r = post(client, VOLT, volt_body(), raw_key=raw, signature="garbage")
    assert_envelope(r, 401, "AUTH_BAD_SIGNATURE")
    assert not WebhookEvent.objects.exists()


def test_voltmetrics_no_key_401_wrong_scope_403(client, make_key):
    assert_envelope(post(client, VOLT, volt_body()), 401, "AUTH_INVALID_CREDENTIALS")
    _, raw = make_key(["condoit:push"])
    assert_envelope(post(client, VOLT, volt_body(), raw_key=raw), 403, "AUTH_FORBIDDEN")
    assert not WebhookEvent.objects.exists()


def test_staff_user_may_push_with_a_valid_signature(client, staff):
    from .conftest import bearer

    fac, body = condoit_body()
    headers = {**bearer(staff), "HTTP_X_CONDOIT_SIGNATURE": sign(SECRET, body)}
    r = client.post(CONDOIT, data=body, content_type="application/json", **headers)
    assert r.status_code == 202, r.content
    bad = {**bearer(staff), "HTTP_X_CONDOIT_SIGNATURE": "t=1,v1=00"}
    r = client.post(CONDOIT, data=body, content_type="application/json", **bad)
    assert_envelope(r, 401, "AUTH_BAD_SIGNATURE")


@pytest.mark.parametrize("url", [CONDOIT, VOLT])
@pytest.mark.parametrize(
    "signature",
    [
        "t={now},v1=\u00e9",  # non-ASCII digest (hmac.compare_digest raises on such str)
        "t={now},v1=" + "\u00e9" * 64,
        "t=" + "9" * 400 + ",v1=00",  # a float overflow against the clock
        "t=" + "9" * 5000 + ",v1=00",  # past int()'s digit limit
        "t=\u0661\u0662,v1=00",  # non-ASCII digits
        "v1=00",
        "t=,v1=",
        "\u00e9\u00e9\u00e9",
    ],
)
def test_malformed_signature_header_is_401_never_500(client, make_key, url, signature):
    import time

    scope = "condoit:push" if url == CONDOIT else "voltmetrics:callback"
    _, raw = make_key([scope])
    _, body = condoit_body()
    r = post(client, url, body, raw_key=raw, signature=signature.format(now=int(time.time())))
    assert_envelope(r, 401, "AUTH_BAD_SIGNATURE")


@pytest.mark.parametrize("raw", ["mb_\u00e9\u00e9", "\u00e9", "mb_" + "x" * 5000])
def test_malformed_api_key_is_401_never_500(client, raw):
    r = client.get("/api/v1/portfolio/summary", HTTP_X_API_KEY=raw)
    assert_envelope(r, 401, "AUTH_INVALID_CREDENTIALS")
