"""The envelope from every layer, X-Request-ID on responses and in log lines."""

import logging

import pytest

from .conftest import READ, assert_envelope, key_header

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.api.urls")]


@pytest.mark.parametrize("path", ["/api/v1/nowhere", "/api/v2/facilities", "/api/", "/api/v1/"])
def test_unknown_api_path_is_404_envelope(client, path):
    assert_envelope(client.get(path), 404, "DATA_NOT_FOUND")


def test_unknown_api_path_with_a_post_is_404_too(client):
    assert_envelope(
        client.post("/api/v1/nowhere", {}, content_type="application/json"), 404, "DATA_NOT_FOUND"
    )


def test_405_envelope(client, make_key):
    _, raw = make_key(["condoit:push"])
    err = assert_envelope(
        client.get("/api/v1/condoit/events", **key_header(raw)), 405, "METHOD_NOT_ALLOWED"
    )
    assert "GET" in err["message"]


@pytest.mark.parametrize("debug", [False, True])
def test_unhandled_exception_in_api_view_is_500_envelope(client, read_key, settings, debug, caplog):
    settings.DEBUG = debug
    r = client.get("/api/v1/test/boom", **key_header(read_key[1]))
    err = assert_envelope(r, 500, "INTERNAL_ERROR")
    assert err["message"] == "Internal server error"
    assert err["details"] is None
    text = r.content.decode()
    for leak in ("Traceback", "SELECT", "secret_table", "RuntimeError", ".py"):
        assert leak not in text
    assert r["Content-Type"].startswith("application/json")
    # The trace goes to the log, with the request id.
    logged = [rec for rec in caplog.records if rec.exc_info]
    assert logged and logged[0].request_id == r["X-Request-ID"]


@pytest.mark.parametrize("debug", [False, True])
def test_unhandled_exception_in_plain_django_view_under_api(client, settings, debug):
    settings.DEBUG = debug
    r = client.get("/api/v1/test/django-boom")
    assert_envelope(r, 500, "INTERNAL_ERROR")
    assert "secret_table" not in r.content.decode()


def test_handler404_outside_api_is_envelope_too(client, settings):
    r = client.get("/definitely-not-here")
    assert_envelope(r, 404, "DATA_NOT_FOUND")


def test_request_id_generated_or_echoed(client):
    r = client.get("/health")
    assert len(r["X-Request-ID"]) == 32
    assert client.get("/health", HTTP_X_REQUEST_ID="abc-123").get("X-Request-ID") == "abc-123"
    insane = client.get("/health", HTTP_X_REQUEST_ID="bad id\nwith newline")
    assert insane["X-Request-ID"] != "bad id\nwith newline"
    r = client.get("/api/v1/nowhere", HTTP_X_REQUEST_ID="trace-7")
    assert r["X-Request-ID"] == "trace-7" == r.json()["error"]["request_id"]


def test_log_lines_of_a_request_carry_its_id(client, read_key, caplog):
    caplog.set_level(logging.INFO)
    r = client.get("/api/v1/test/log", HTTP_X_REQUEST_ID="req-42", **key_header(read_key[1]))
    assert r.status_code == 200
    mine = [rec for rec in caplog.records if rec.getMessage() == "hello from inside the request"]
    assert len(mine) == 1
    assert mine[0].request_id == "req-42" == r["X-Request-ID"]


def test_validation_error_envelope_has_field_details(client, db):
    r = client.post("/api/v1/auth/token", {}, content_type="application/json")
    err = assert_envelope(r, 400, "VALIDATION_ERROR")
    assert set(err["details"]) == {"username", "password"}


def test_malformed_json_is_400_envelope(client, db):
    r = client.post("/api/v1/auth/token", "{not json", content_type="application/json")
    assert_envelope(r, 400, "VALIDATION_ERROR")


def test_responses_are_json(client, read_key):
    r = client.get(READ, HTTP_ACCEPT="text/html", **key_header(read_key[1]))
    assert r["Content-Type"].startswith("application/json")


def test_djangos_own_error_log_lines_carry_the_id_too(client, caplog):
    # django.request logs 4xx after the middleware chain returned.
    r = client.get(READ, HTTP_X_REQUEST_ID="req-401")
    assert r.status_code == 401
    lines = [rec for rec in caplog.records if rec.name == "django.request"]
    assert lines and all(rec.request_id == "req-401" for rec in lines)
