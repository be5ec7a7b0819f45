"""Log lines: LOG_FORMAT, the JSON format's keys, secrets masked, request ids into tasks."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from celery import shared_task

from masterbus.api.request_id import bind_request_id, get_request_id, reset_request_id
from masterbus.api.signatures import sign
from masterbus.celery import app as celery_app
from masterbus.logs import CONTEXT_FIELDS, logging_config
from masterbus.redact import MASK, redact
from masterbus.services import api_key_create
from tests import factories as f
from tests.log_capture import captured_logs

ROOT = Path(__file__).resolve().parents[2]
TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
CORE_KEYS = {"ts", "level", "logger", "message", "request_id"}

log = logging.getLogger("tests.masterbus.logs")


def run_python(code: str, **env_overrides) -> subprocess.CompletedProcess:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("SECRET_KEY", "MASTERBUS_ENV", "LOG_FORMAT", "LOG_LEVEL", "DEBUG")
    }
    env.update(DJANGO_SETTINGS_MODULE="masterbus.settings", **env_overrides)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip


SETUP = "import django, logging; django.setup(); from django.conf import settings; "


# --- LOG_FORMAT ---------------------------------------------------------------------------


def test_log_format_defaults_to_plain_and_to_json_in_production():
    out = run_python(SETUP + "print(settings.LOG_FORMAT)")
    assert out.stdout.split() == ["plain"], out.stderr
    out = run_python(
        SETUP + "print(settings.LOG_FORMAT)",
        MASTERBUS_ENV="production",
        SECRET_KEY="k" * 20 + "Q7#r!x9" + "z" * 30,
        METRICS_TOKEN="m" * 40,
    )
    assert out.stdout.split() == ["json"], out.stderr
    out = run_python(SETUP + "print(settings.LOG_FORMAT)", LOG_FORMAT="JSON")
    assert out.stdout.split() == ["json"], out.stderr


def test_an_unknown_log_format_is_refused_clearly():
    out = run_python(SETUP, LOG_FORMAT="xml")
    assert out.returncode != 0
    assert "ImproperlyConfigured: LOG_FORMAT must be one of plain, json; got 'xml'" in out.stderr
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="LOG_FORMAT"):
        logging_config("yaml", "INFO")


def test_json_lines_on_stderr_from_the_configured_logging():
    code = SETUP + (
        "from masterbus.api.request_id import bind_request_id\n"
        "log = logging.getLogger('masterbus.demo')\n"
        "log.info('plain message %s', 42, extra={'sync_run_id': 7, 'duration_ms': 1234})\n"
        "bind_request_id('req-json-1')\n"
        "try:\n"
        "    1 / 0\n"
        "except ZeroDivisionError:\n"
        "    log.exception('it broke', extra={'job_id': 'job_9', 'facility_id': 'fac_1'})\n"
        "log.warning('token %s', settings.CONDOIT_TOKEN)\n"
    )
    out = run_python(code, LOG_FORMAT="json", CONDOIT_TOKEN="condoit-token-in-env-4711")
    assert out.returncode == 0, out.stderr
    assert out.stdout == ""
    lines = [json.loads(line) for line in out.stderr.splitlines()]
    assert len(lines) == 3, out.stderr
    first, second, third = lines
    for line in lines:
        assert CORE_KEYS <= set(line) <= CORE_KEYS | set(CONTEXT_FIELDS) | {"exc"}
        assert TS.match(line["ts"]), line["ts"]
    assert first == {
        "ts": first["ts"],
        "level": "INFO",
        "logger": "masterbus.demo",
        "message": "plain message 42",
        "request_id": None,
        "sync_run_id": 7,
        "duration_ms": 1234,
    }
    stamp = datetime.strptime(first["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - stamp).total_seconds()) < 120  # UTC, not local time
    assert (second["level"], second["message"], second["request_id"]) == (
        "ERROR", "it broke", "req-json-1",
    )  # fmt: skip
    assert (second["job_id"], second["facility_id"]) == ("job_9", "fac_1")
    assert second["exc"].startswith("Traceback (most recent call last):")
    assert second["exc"].rstrip().endswith("ZeroDivisionError: division by zero")
    assert "condoit-token-in-env-4711" not in out.stderr
    assert third["message"] == f"token {MASK}"


def test_plain_lines_keep_their_format():
    code = SETUP + "logging.getLogger('masterbus.demo').warning('hello %s', 'there')"
    out = run_python(code)
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} WARNING \[-\] masterbus\.demo: hello there\n",
        out.stderr,
    ), out.stderr


def test_the_json_formatter_in_process():
    with captured_logs(level=logging.INFO) as cap:
        token = bind_request_id("req-77")
        try:
            log.info("with context", extra={"subscription_id": "sub_1", "request": object()})
        finally:
            reset_request_id(token)
        try:
            raise ValueError("bad value")
        except ValueError:
            log.error("failed", exc_info=True)
    with_context, failed = cap.json_lines()
    assert set(with_context) == CORE_KEYS | {"subscription_id"}  # no noisy extras
    assert with_context["request_id"] == "req-77"
    assert "ValueError: bad value" in failed["exc"]
    plain = cap.text("plain").splitlines()
    assert "[req-77] tests.masterbus.logs: with context" in plain[0]


# --- redaction ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, secret",
    [
        ("Authorization: Bearer abc.def-123", "abc.def-123"),
        ("{'Authorization': 'Token t0k3n-value'}", "t0k3n-value"),
        ('headers={"X-API-Key": "vm-key-1234"}', "vm-key-1234"),
        ("GET /media/photos/1.jpg?exp=1700000000&sig=0a1b2c3d4e HTTP/1.1", "0a1b2c3d4e"),
        ("X-Condoit-Signature: t=1700000000,v1=" + "ab" * 32, "ab" * 32),
        ("webhook-signature: v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=", "K5oZfzN95Z9"),
        ("key mb_" + "x" * 43 + " used", "x" * 43),
        ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJl", "eyJzdWIiOiIxMjM0In0"),
        ("postgres://masterbus:db-pass-99@db:5432/masterbus", "db-pass-99"),
        ("secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
    ],
)
def test_credential_shapes_are_masked(text, secret):
    clean = redact(text, ())
    assert secret not in clean and MASK in clean
    assert redact(clean, ()) == clean  # masking twice changes nothing


def test_ordinary_messages_are_left_alone():
    for text in (
        "Signature does not match",
        "Condoit pull run #3 succeeded: created 2, updated 0, unchanged 1, rejected 0",
        "another Condoit pull is running; not starting a second one",
        "Recomputed 4 facilities, 20 equipment after changes",
    ):
        assert redact(text, ()) == text


def test_configured_secrets_are_masked_each_of_a_list(settings):
    settings.CONDOIT_WEBHOOK_SECRET = "condoit-old-secret, condoit-new-secret"
    settings.VOLTMETRICS_API_KEY = "vm-api-key-0042"
    settings.METRICS_TOKEN = "metrics-token-0042"
    text = "old condoit-old-secret new condoit-new-secret vm-api-key-0042 metrics-token-0042"
    clean = redact(text)
    for secret in ("condoit-old-secret", "condoit-new-secret", "vm-api-key-0042", "metrics"):
        assert secret not in clean
    assert clean.count(MASK) == 4


def test_a_secret_in_a_traceback_is_masked(settings):
    settings.CONDOIT_TOKEN = "condoit-token-in-a-traceback"
    with captured_logs(level=logging.INFO) as cap:
        try:
            raise RuntimeError(f"header was Bearer-less {settings.CONDOIT_TOKEN}")
        except RuntimeError:
            log.exception("request failed")
    assert "RuntimeError" in cap.text("plain") and "RuntimeError" in cap.text("json")
    for fmt in ("plain", "json"):
        assert "condoit-token-in-a-traceback" not in cap.text(fmt)


# --- request ids into tasks ---------------------------------------------------------------


@shared_task(name="tests.masterbus.test_logs.context_task")
def context_task() -> dict:
    from masterbus.logs import _task, _task_id

    log.info("inside the task")
    return {"request_id": get_request_id(), "task_id": _task_id.get(), "task": _task.get()}


def test_an_eager_task_logs_the_id_of_the_request_that_queued_it():
    token = bind_request_id("req-eager-1")
    try:
        with captured_logs(level=logging.INFO) as cap:
            seen = context_task.delay().get()
        assert get_request_id() == "req-eager-1"  # restored after the task
    finally:
        reset_request_id(token)
    assert seen["request_id"] == "req-eager-1"
    assert seen["task"] == "tests.masterbus.test_logs.context_task" and seen["task_id"]
    line = next(x for x in cap.json_lines() if x["message"] == "inside the task")
    assert (line["request_id"], line["task_id"], line["task"]) == (
        "req-eager-1", seen["task_id"], seen["task"],
    )  # fmt: skip


def test_a_task_queued_outside_a_request_logs_its_own_id():
    assert get_request_id() == "-"
    seen = context_task.apply_async(task_id="task-own-id-1").get()
    assert seen["request_id"] == seen["task_id"] == "task-own-id-1"
    assert get_request_id() == "-"


@pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored")
def test_a_published_task_carries_the_request_id_in_a_header():
    queue = f"masterbus.test-logs.{uuid.uuid4().hex[:8]}"
    token = bind_request_id("req-published-1")
    try:
        celery_app.send_task("tests.masterbus.test_logs.context_task", queue=queue)
    finally:
        reset_request_id(token)
    celery_app.send_task("tests.masterbus.test_logs.context_task", queue=queue)  # no request
    with celery_app.connection_for_read() as conn:
        q = conn.SimpleQueue(queue)
        try:
            first, second = q.get(timeout=5), q.get(timeout=5)
            first.ack()
            second.ack()
        finally:
            q.close()
            conn.default_channel.queue_delete(queue)
    assert first.headers["request_id"] == "req-published-1"
    assert "request_id" not in second.headers


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_one_id_from_the_pushed_event_through_the_recompute_to_the_cache(client, settings):
    """A signed Condoit event → the recompute it queues (eagerly here) → the ThreatMap cache
    invalidation: every line logs the push request's id."""
    settings.CONDOIT_WEBHOOK_SECRET = "condoit-push-secret-for-ids"
    settings.RECOMPUTE_DEBOUNCE_SECONDS = 0
    _, key = api_key_create(name="condoit push", scopes=["condoit:push"])
    fac = f.facility()
    body = orjson.dumps(
        {"id": "evt_ids_1", "type": "facility.created", "occurredAt": fac["updatedAt"],
         "data": fac}
    )  # fmt: skip
    with captured_logs(level=logging.DEBUG) as cap:
        r = client.post(
            "/api/v1/condoit/events", data=body, content_type="application/json",
            HTTP_X_API_KEY=key, HTTP_X_REQUEST_ID="req-push-1",
            HTTP_X_CONDOIT_SIGNATURE=sign(settings.CONDOIT_WEBHOOK_SECRET, body),
        )  # fmt: skip
    assert r.status_code == 202, r.content
    lines = cap.json_lines()
    recompute = [x for x in lines if x["message"].startswith("Recomputed ")]
    cache = [x for x in lines if x["logger"] == "threatmap.signals"]
    assert recompute and cache, [x["message"] for x in lines]
    assert recompute[0]["task"] == "voltmetrics.tasks.recompute_pending_task"
    assert "duration_ms" in recompute[0]
    assert {x["request_id"] for x in recompute + cache} == {"req-push-1"}
    assert any(x.get("facility_id") == fac["id"] for x in cache)


def test_masking_keeps_json_lines_valid():
    tricky = [
        'password=abc"def',
        'token: x\\"y',
        '{"Authorization": "Bearer a\\\\b"}',
        'GET /p.jpg?sig=ab\\"c&x=1',
        'https://user:pa\\ss"word@host/',
    ]
    with captured_logs(level=logging.INFO) as cap:
        for text in tricky:
            log.info(text, extra={"facility_id": text})
    lines = cap.json_lines()  # each parses
    assert len(lines) == len(tricky)
    for line in lines:
        assert MASK in line["message"]
