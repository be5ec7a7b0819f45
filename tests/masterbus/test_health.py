"""/health and /ready, including readiness with a dependency really stopped.

A stopped dependency is a real unreachable address (a closed loopback port), exercised in a
fresh process so the test's own database connection is untouched.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLOSED = "127.0.0.1:9"  # discard port: nothing listens there


def ready_in_subprocess(**env_overrides):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL",
                                                                     "CELERY_BROKER_URL"))}
    env.update(env_overrides)
    code = (
        "import django, json; django.setup();"
        "from django.test import Client;"
        "r = Client().get('/ready');"
        "print(json.dumps({'status': r.status_code, 'body': json.loads(r.content),"
        " 'rid': r.get('X-Request-ID')}))"
    )
    env["DJANGO_SETTINGS_MODULE"] = "masterbus.settings"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_health_is_alive(client):
    r = client.get("/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}
    assert r["X-Request-ID"]


@pytest.mark.django_db
def test_ready_ok_on_current_configuration(client):
    r = client.get("/ready/")
    body = r.json()
    assert r.status_code == 200
    assert body["status"] == "ok", body
    assert body["checks"]["database"] == "ok"


def test_ready_503_when_database_unreachable():
    res = ready_in_subprocess(DATABASE_URL=f"postgres://postgres@{CLOSED}/masterbus")
    assert res["status"] == 503
    assert res["body"]["status"] == "unavailable"
    assert "database" in res["body"]["down"]


def test_ready_degraded_when_cache_down(tmp_path):
    res = ready_in_subprocess(
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", REDIS_URL=f"redis://{CLOSED}/0"
    )
    assert res["status"] == 200
    assert res["body"]["status"] == "degraded"
    assert res["body"]["down"] == ["cache"]


def test_ready_degraded_when_broker_down(tmp_path):
    res = ready_in_subprocess(
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        CELERY_BROKER_URL=f"redis://{CLOSED}/0",
    )
    assert res["status"] == 200
    assert res["body"]["status"] == "degraded"
    assert res["body"]["down"] == ["broker"]


def test_request_id_echoed_when_sane_and_replaced_when_not(client):
    assert client.get("/health", HTTP_X_REQUEST_ID="abc-123")["X-Request-ID"] == "abc-123"
    bad = client.get("/health", HTTP_X_REQUEST_ID="bad id\nwith newline")["X-Request-ID"]
    assert bad != "bad id\nwith newline" and len(bad) == 32


@pytest.mark.django_db
def test_unknown_api_path_is_404_envelope(client):
    r = client.get("/api/v1/nothing-here")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "DATA_NOT_FOUND"
    assert r.json()["error"]["request_id"] == r["X-Request-ID"]
