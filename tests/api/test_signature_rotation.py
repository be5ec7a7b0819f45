"""Webhook secret rotation: CONDOIT_WEBHOOK_SECRET and VOLTMETRICS_WEBHOOK_SECRET hold one
secret or several, comma-separated; a signature made with any of them is accepted, and what
signs uses the first (operations.md §5)."""

import time

import orjson
import pytest

from facilities.models import Facility
from masterbus.api.errors import BadSignature
from masterbus.api.signatures import secret_list, sign, signing_secret, verify
from tests import factories as f
from voltmetrics.integration.jobs import CALCULATION_COMPLETE
from voltmetrics.models import WebhookEvent

from .conftest import assert_envelope, key_header

CONDOIT = "/api/v1/condoit/events"
VOLT = "/api/v1/webhooks/voltmetrics"
OLD = "old-webhook-secret"
NEW = "new-webhook-secret"
UNKNOWN = "someone-elses-secret"

ENDPOINTS = {
    CONDOIT: ("CONDOIT_WEBHOOK_SECRET", "HTTP_X_CONDOIT_SIGNATURE", "condoit:push"),
    VOLT: ("VOLTMETRICS_WEBHOOK_SECRET", "HTTP_X_VOLTMETRICS_SIGNATURE", "voltmetrics:callback"),
}


def body_for(url: str, n: int) -> bytes:
    if url == CONDOIT:
        fac = f.facility(id=f"fac_rot_{n}")
        return orjson.dumps(
            {
                "id": f"evt_rot_{n}",
                "type": "facility.created",
                "occurredAt": fac["updatedAt"],
                "data": fac,
            }
        )
    return orjson.dumps(
        {"event_id": f"evt_rot_{n}", "job_id": "job_1", "event_type": CALCULATION_COMPLETE}
    )


def stored(url: str) -> int:
    if url == CONDOIT:
        return Facility.objects.filter(external_id__startswith="fac_rot_").count()
    return WebhookEvent.objects.filter(event_id__startswith="evt_rot_").count()


def post(client, url, raw_key, body, secret):
    _, header, _ = ENDPOINTS[url]
    return client.post(
        url,
        data=body,
        content_type="application/json",
        **key_header(raw_key),
        **{header: sign(secret, body)},
    )


@pytest.mark.django_db
@pytest.mark.parametrize("url", [CONDOIT, VOLT])
def test_during_a_rotation_old_and_new_secrets_are_accepted_unknown_refused(
    client, settings, make_key, url
):
    setting, _, scope = ENDPOINTS[url]
    setattr(settings, setting, f" {NEW} , ,{OLD},")  # entries trimmed, empty ones ignored
    _, raw = make_key([scope])

    assert post(client, url, raw, body_for(url, 1), OLD).status_code == 202
    assert post(client, url, raw, body_for(url, 2), NEW).status_code == 202
    r = post(client, url, raw, body_for(url, 3), UNKNOWN)
    assert_envelope(r, 401, "AUTH_BAD_SIGNATURE")
    assert stored(url) == 2


@pytest.mark.django_db
@pytest.mark.parametrize("url", [CONDOIT, VOLT])
def test_a_single_secret_behaves_as_before(client, settings, make_key, url):
    setting, _, scope = ENDPOINTS[url]
    setattr(settings, setting, NEW)
    _, raw = make_key([scope])

    assert post(client, url, raw, body_for(url, 1), NEW).status_code == 202
    for n, secret in enumerate([OLD, UNKNOWN, NEW + "x"], start=2):
        r = post(client, url, raw, body_for(url, n), secret)
        assert_envelope(r, 401, "AUTH_BAD_SIGNATURE")
    assert stored(url) == 1


@pytest.mark.django_db
@pytest.mark.parametrize("url", [CONDOIT, VOLT])
@pytest.mark.parametrize("value", ["", " , ,", " "])
def test_no_secret_listed_refuses_every_signature(client, settings, make_key, url, value):
    setting, _, scope = ENDPOINTS[url]
    setattr(settings, setting, value)
    _, raw = make_key([scope])
    r = post(client, url, raw, body_for(url, 1), "anything")
    assert_envelope(r, 401, "AUTH_BAD_SIGNATURE")
    assert stored(url) == 0


def test_secret_list_trims_drops_empty_entries_and_keeps_order():
    assert secret_list("a") == ("a",)
    assert secret_list(" new , ,old ,") == ("new", "old")
    assert secret_list("") == ()
    assert secret_list(["x ", "", " y"]) == ("x", "y")


def test_signing_uses_the_first_secret():
    body = b'{"a": 1}'
    t = int(time.time())
    assert signing_secret(" new ,old") == "new"
    assert signing_secret(",,") == ""
    assert sign("new,old", body, t) == sign("new", body, t)
    verify("new", sign("new,old", body, t), body)
    with pytest.raises(BadSignature):
        verify("old", sign("new,old", body, t), body)


def test_verify_accepts_any_listed_secret_within_the_replay_window_only():
    body = b"{}"
    old_t = int(time.time()) - 10_000
    verify("new,old", sign("old", body), body)
    with pytest.raises(BadSignature, match="replay window"):
        verify("new,old", sign("old", body, old_t), body)
    with pytest.raises(BadSignature, match="does not match"):
        verify("new,old", sign("other", body), body)
