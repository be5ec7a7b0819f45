"""End to end on PostgreSQL + Redis + a real Celery worker: a signed Condoit event pushed over
HTTP to the live server queues the recompute through the broker; the worker's JSON log lines
of that recompute, and of the ThreatMap cache invalidation it causes, carry the push
request's id."""

from __future__ import annotations

import json

import orjson
import pytest
import requests

from masterbus.api.signatures import sign
from masterbus.services import api_key_create
from tests import factories as f
from tests.celery_worker import celery_worker

pytestmark = [pytest.mark.e2e, pytest.mark.services]


def json_lines(output: str) -> list[dict]:
    """The worker's JSON log lines (its start-up banner on stdout is not one)."""
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_worker_logs_the_id_of_the_request_that_queued_its_task(live_server, settings):
    settings.CONDOIT_WEBHOOK_SECRET = "condoit-secret-for-the-e2e-log-test"
    settings.RECOMPUTE_DEBOUNCE_SECONDS = 0
    _, key = api_key_create(name="condoit push", scopes=["condoit:push"])
    fac = f.facility(id="fac_log_e2e")
    body = orjson.dumps(
        {"id": "evt_log_e2e", "type": "facility.created", "occurredAt": fac["updatedAt"],
         "data": fac}
    )  # fmt: skip

    # The live server's recompute is routed to the worker's "recompute" queue.
    with celery_worker({"LOG_FORMAT": "json", "LOG_LEVEL": "DEBUG"}, name="e2e-logs") as worker:
        resp = requests.post(
            f"{live_server.url}/api/v1/condoit/events",
            data=body,
            headers={
                "Content-Type": "application/json",
                "X-API-Key": key,
                "X-Condoit-Signature": sign(settings.CONDOIT_WEBHOOK_SECRET, body),
                "X-Request-ID": "req-e2e-push-1",
            },
            timeout=10,
        )
        assert resp.status_code == 202, resp.text
        assert resp.headers["X-Request-ID"] == "req-e2e-push-1"

        def recompute_logged():
            lines = json_lines(worker.output())
            done = [x for x in lines if x["message"].startswith("Recomputed ")]
            return (lines, done) if done else None

        lines, done = worker.wait_for(recompute_logged, "recompute log line")

    task = "voltmetrics.tasks.recompute_pending_task"
    assert done[0]["request_id"] == "req-e2e-push-1"
    assert done[0]["task"] == task and done[0]["task_id"]
    assert isinstance(done[0]["duration_ms"], int)
    cache = [x for x in lines if x["logger"] == "threatmap.signals"]
    assert cache and {x["request_id"] for x in cache} == {"req-e2e-push-1"}
    assert any(x.get("facility_id") == "fac_log_e2e" for x in cache)
    # Celery's own lines about the task, inside it, carry the ids too.
    inside = [x for x in lines if x.get("task_id") == done[0]["task_id"]]
    assert {x["request_id"] for x in inside} == {"req-e2e-push-1"}
