"""A body over MAX_REQUEST_BODY_BYTES is a 413 PAYLOAD_TOO_LARGE, before anything is parsed,
whatever the credentials (threatmap-api.md "Hardening")."""

import orjson
import pytest

from masterbus.api.signatures import sign

from .conftest import assert_envelope, key_header

pytestmark = pytest.mark.django_db

BIG = b'{"username": "' + b"x" * (3 * 1024 * 1024) + b'", "password": "p"}'
POSTS = [
    "/api/v1/auth/token",
    "/api/v1/auth/token/refresh",
    "/api/v1/condoit/events",
    "/api/v1/webhooks/voltmetrics",
]


@pytest.mark.parametrize("url", POSTS)
def test_body_over_the_limit_is_413_without_credentials(client, url):
    r = client.post(url, data=BIG, content_type="application/json")
    err = assert_envelope(r, 413, "PAYLOAD_TOO_LARGE")
    assert err["details"] == {"max_bytes": 2_621_440}


@pytest.mark.parametrize("url", POSTS[2:])
def test_body_over_the_limit_is_413_with_key_and_signature(client, make_key, settings, url):
    settings.CONDOIT_WEBHOOK_SECRET = settings.VOLTMETRICS_WEBHOOK_SECRET = "s"
    _, raw = make_key(["condoit:push", "voltmetrics:callback"])
    r = client.post(
        url,
        data=BIG,
        content_type="application/json",
        HTTP_X_CONDOIT_SIGNATURE=sign("s", BIG),
        HTTP_X_VOLTMETRICS_SIGNATURE=sign("s", BIG),
        **key_header(raw),
    )
    assert_envelope(r, 413, "PAYLOAD_TOO_LARGE")


def test_limit_is_a_setting_and_a_body_at_the_limit_passes(client, settings):
    body = orjson.dumps({"username": "nobody", "password": "x" * 100})
    settings.MAX_REQUEST_BODY_BYTES = len(body)
    r = client.post(POSTS[0], data=body, content_type="application/json")
    assert_envelope(r, 401, "AUTH_INVALID_CREDENTIALS")
    settings.MAX_REQUEST_BODY_BYTES = len(body) - 1
    assert_envelope(
        client.post(POSTS[0], data=body, content_type="application/json"), 413, "PAYLOAD_TOO_LARGE"
    )


def test_absurd_content_length_is_413_not_500(client):
    r = client.generic(
        "POST", POSTS[0], data=b"{}", content_type="application/json", CONTENT_LENGTH="9" * 5000
    )
    assert_envelope(r, 413, "PAYLOAD_TOO_LARGE")


def test_body_read_past_djangos_own_cap_is_413(client, settings):
    # The view reads the body (Django's DATA_UPLOAD_MAX_MEMORY_SIZE stops it): same answer.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10
    r = client.post(POSTS[0], data=b'{"username": "abcdefghijk"}', content_type="application/json")
    assert_envelope(r, 413, "PAYLOAD_TOO_LARGE")


def test_admin_login_over_the_limit_is_413(client):
    r = client.post("/admin/login/", data=BIG, content_type="application/x-www-form-urlencoded")
    assert r.status_code == 413
