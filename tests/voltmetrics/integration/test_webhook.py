"""The signed callback, /ready with the breaker open, and the admin of jobs."""

import json
import time

import pytest
from django.contrib import admin as django_admin
from django.urls import reverse

from tests import factories as f
from voltmetrics.choices import JobKind, JobStatus, Source
from voltmetrics.integration import jobs, tasks
from voltmetrics.integration.client import CircuitBreaker
from voltmetrics.integration.outbox import voltmetrics_drain_outbox
from voltmetrics.models import EquipmentAssessment, Job, WebhookEvent

from . import fake_voltmetrics as fv

pytestmark = pytest.mark.django_db

URL = "/api/v1/webhooks/voltmetrics"


@pytest.fixture(autouse=True)
def _api_key(client, db):
    """The endpoint needs a key with voltmetrics:callback besides the signature: every request
    of the test client sends one (tests/api/ covers the key's absence and wrong scopes)."""
    from masterbus.services import api_key_create

    _, raw = api_key_create(name="voltmetrics callback", scopes=["voltmetrics:callback"])
    client.defaults["HTTP_X_API_KEY"] = raw


@pytest.fixture
def job(vm, mirror):
    mirror([f.facility(id="fac_a")], [f.equipment("fac_a", id="eq_1")])
    voltmetrics_drain_outbox()
    job = Job.objects.get(kind=JobKind.EQUIPMENT)
    vm.finish(job.job_id)
    return job


@pytest.fixture
def runs(monkeypatch):
    """Count the callback task's runs (it still runs, eagerly)."""
    seen = []
    real = jobs.voltmetrics_callback_handle

    def counting(event_id):
        seen.append(event_id)
        return real(event_id)

    monkeypatch.setattr(jobs, "voltmetrics_callback_handle", counting)
    return seen


def post(client, body: bytes, signature: str | None, url=URL):
    headers = {} if signature is None else {"HTTP_X_VOLTMETRICS_SIGNATURE": signature}
    return client.post(url, data=body, content_type="application/json", **headers)


def test_a_signed_callback_is_recorded_answered_202_and_fetched_by_the_task(
    client, vm, job, runs, django_capture_on_commit_callbacks
):
    body, sig = vm.callback(job.job_id)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        resp = post(client, body, sig)
    assert resp.status_code == 202, resp.content
    assert resp.json() == {"status": "accepted"}
    assert callbacks and runs == [f"evt_{job.job_id}_calculation_complete"]
    event = WebhookEvent.objects.get()
    assert (event.event_type, event.job_id) == ("calculation_complete", job.job_id)
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED
    row = EquipmentAssessment.objects.get(source=Source.VOLTMETRICS)
    assert row.served and row.algorithm_version == fv.ALGORITHM


def test_a_duplicate_answers_200_and_does_nothing(
    client, vm, job, runs, django_capture_on_commit_callbacks
):
    body, sig = vm.callback(job.job_id, event_id="evt-dup")
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, body, sig).status_code == 202
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        resp = post(client, body, sig, url=URL + "/")  # with the trailing slash too
    assert resp.status_code == 200 and resp.json() == {"status": "duplicate"}
    assert not callbacks
    assert WebhookEvent.objects.count() == 1 and runs == ["evt-dup"]
    assert len(vm.requests("GET", "/results/equipment/eq_1")) == 1


def test_a_failed_calculation_fails_the_job(client, vm, job, django_capture_on_commit_callbacks):
    body, sig = vm.callback(job.job_id, event_type="calculation_failed")
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, body, sig).status_code == 202
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.last_error == "VoltMetrics: failed"
    assert not vm.requests("GET", "/results/")


def test_an_unknown_job_is_recorded_and_ignored(
    client, vm, job, django_capture_on_commit_callbacks
):
    body, sig = vm.callback("job_not_ours")
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, body, sig).status_code == 202
    assert WebhookEvent.objects.get().job_id == "job_not_ours"
    assert not vm.requests("GET", "/results/")
    assert (
        tasks.voltmetrics_handle_callback("evt_job_not_ours_calculation_complete") == "unknown job"
    )


@pytest.mark.parametrize(
    "signature",
    [None, "t=1,v1=00", "garbage", "wrong-secret", "tampered"],
)
def test_a_bad_signature_is_401(client, vm, job, signature):
    body, sig = vm.callback(job.job_id)
    if signature == "wrong-secret":
        body, sig = vm.callback(job.job_id, secret="not-the-secret")
    elif signature == "tampered":
        body = body.replace(b"calculation_complete", b"calculation_failed")
    elif signature is not None:
        sig = signature if signature != "t=1,v1=00" else f"t={int(time.time())},v1=00"
    else:
        sig = None
    resp = post(client, body, sig)
    assert resp.status_code == 401
    assert resp.json()["error"]["code"] == "AUTH_BAD_SIGNATURE"
    assert not WebhookEvent.objects.exists()


def test_a_replayed_callback_outside_the_window_is_401(client, vm, job):
    body, sig = vm.callback(job.job_id, t=int(time.time()) - 301)
    resp = post(client, body, sig)
    assert resp.status_code == 401
    assert "replay window" in resp.json()["error"]["message"]
    assert not WebhookEvent.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"event_id": ""}, "event_id"),
        ({"job_id": None}, "job_id"),
        ({"event_type": "calculation_started"}, "event_type"),
        ({"timestamp": "yesterday"}, "timestamp"),
        ({"items_processed": -1}, "items_processed"),
    ],
)
def test_an_invalid_body_is_400_in_the_envelope(client, vm, job, change, field):
    body = json.loads(vm.callback(job.job_id)[0])
    body.update(change)
    raw = json.dumps(body).encode()
    from masterbus.api.signatures import sign

    resp = post(client, raw, sign(fv.WEBHOOK_SECRET, raw))
    assert resp.status_code == 400
    err = resp.json()["error"]
    assert err["code"] == "VALIDATION_ERROR" and field in err["details"]
    assert not WebhookEvent.objects.exists()


def test_not_json_is_400(client, vm):
    from masterbus.api.signatures import sign

    resp = post(client, b"{nope", sign(fv.WEBHOOK_SECRET, b"{nope"))
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "VALIDATION_ERROR"


def test_get_is_405(client, vm):
    resp = client.get(URL)
    assert resp.status_code == 405 and resp.json()["error"]["code"] == "METHOD_NOT_ALLOWED"


# --- /ready ---------------------------------------------------------------------------------


def test_ready_reports_voltmetrics_degraded_while_the_breaker_is_open(client, vm, vm_settings):
    from voltmetrics.integration.client import VoltMetricsClient, VoltMetricsError

    vm_settings.VOLTMETRICS_MAX_RETRIES = 0
    assert client.get("/ready").json()["checks"]["voltmetrics"] == "ok"
    vm.add_fault(fv.status(500), times=None)
    for _ in range(3):
        with pytest.raises(VoltMetricsError):
            VoltMetricsClient().get_algorithms()
    resp = client.get("/ready")
    data = resp.json()
    assert resp.status_code == 200
    assert data["status"] == "degraded" and "voltmetrics" in data["down"]
    assert data["checks"]["voltmetrics"] == "down: circuit breaker open"
    CircuitBreaker().reset()
    assert client.get("/ready").json()["checks"]["voltmetrics"] == "ok"


def test_ready_ignores_voltmetrics_when_off(client, settings):
    settings.VOLTMETRICS_URL = ""
    from voltmetrics.health import voltmetrics_check

    assert voltmetrics_check() is None


# --- admin ----------------------------------------------------------------------------------


@pytest.fixture
def registered():
    import voltmetrics.integration.admin  # noqa: F401  (registers on import)

    assert Job in django_admin.site._registry


def test_admin_lists_jobs_and_retries_them(admin_client, vm, job, registered):
    Job.objects.filter(pk=job.pk).update(status=JobStatus.FAILED, last_error="boom")
    resp = admin_client.get(reverse("admin:voltmetrics_job_changelist"))
    assert resp.status_code == 200
    assert job.job_id.encode() in resp.content and b"boom" in resp.content
    resp = admin_client.get(reverse("admin:voltmetrics_job_change", args=[job.pk]))
    assert resp.status_code == 200
    resp = admin_client.post(
        reverse("admin:voltmetrics_job_changelist"),
        {"action": "retry_jobs", "_selected_action": [job.pk]},
        follow=True,
    )
    assert resp.status_code == 200
    assert "Re-sent 1 job(s); skipped 0" in resp.content.decode()
    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.PROCESSING, 2)


def test_admin_lists_webhook_events(admin_client, vm, job, registered):
    WebhookEvent.objects.create(event_id="e1", event_type="calculation_complete", job_id="j")
    resp = admin_client.get(reverse("admin:voltmetrics_webhookevent_changelist"))
    assert resp.status_code == 200 and b"e1" in resp.content
    ev = WebhookEvent.objects.get()
    assert (
        admin_client.get(reverse("admin:voltmetrics_webhookevent_change", args=[ev.pk])).status_code
        == 200
    )
