"""Browsers: CORS for the origins in CORS_ALLOWED_ORIGINS only."""

import pytest

from .conftest import READ, key_header

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.api.urls")]

ORIGIN = "https://threatmap.example.com"


@pytest.fixture(autouse=True)
def _origins(settings):
    settings.CORS_ALLOWED_ORIGINS = [ORIGIN]


def preflight(client, origin):
    return client.options(
        READ,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="x-api-key, authorization, if-none-match",
    )


def test_preflight_from_allowed_origin(client):
    r = preflight(client, ORIGIN)
    assert r.status_code == 200
    assert r["Access-Control-Allow-Origin"] == ORIGIN
    allowed = r["Access-Control-Allow-Headers"].lower()
    for header in ("x-api-key", "authorization", "if-none-match"):
        assert header in allowed
    assert "GET" in r["Access-Control-Allow-Methods"]
    assert r.has_header("X-Request-ID")


def test_preflight_from_other_origin_gets_no_grant(client):
    r = preflight(client, "https://evil.example.net")
    assert not r.has_header("Access-Control-Allow-Origin")


def test_actual_response_exposes_our_headers(client, read_key):
    r = client.get(READ, HTTP_ORIGIN=ORIGIN, **key_header(read_key[1]))
    assert r.status_code == 200
    assert r["Access-Control-Allow-Origin"] == ORIGIN
    exposed = {h.strip().lower() for h in r["Access-Control-Expose-Headers"].split(",")}
    assert {
        "x-request-id",
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "retry-after",
        "etag",
        "x-data-stale",
    } <= exposed


def test_nothing_allowed_by_default(client, settings):
    settings.CORS_ALLOWED_ORIGINS = []
    assert not preflight(client, ORIGIN).has_header("Access-Control-Allow-Origin")
