"""No secret in any log line, even with every logger at DEBUG.

One round trip through every door that handles a credential, on the fakes over loopback: a
Condoit pull (Bearer token), a signed Condoit push (API key + HMAC signature), VoltMetrics
jobs submitted (X-API-Key), completed by a signed callback and by the poll, their results
fetched, and the read API with a user's JWT (obtained, used, refreshed). Everything logged
meanwhile, in both formats, plus anything printed on stdout/stderr, is searched for every
configured secret, the API keys, the signatures and the Authorization values sent.
"""

from __future__ import annotations

import logging

import orjson
import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.db import connection

from condoit.tasks import condoit_pull_task
from facilities.choices import SyncStatus
from facilities.models import SyncRun
from masterbus.api.signatures import sign
from masterbus.services import api_key_create
from tests import factories as f
from tests.condoit.fake_condoit import fake_condoit
from tests.log_capture import captured_logs
from tests.voltmetrics.integration import fake_voltmetrics as fv
from voltmetrics.choices import JobStatus, Source
from voltmetrics.integration.client import CircuitBreaker
from voltmetrics.integration.tasks import voltmetrics_drain_outbox_task, voltmetrics_poll_jobs_task
from voltmetrics.models import EquipmentAssessment, Job

CONDOIT_TOKEN = "condoit-bearer-token-for-the-log-test"
CONDOIT_WEBHOOK_SECRET = "condoit-webhook-secret-for-the-log-test"
PHOTO_URL_SECRET = "photo-url-secret-for-the-log-test"
METRICS_TOKEN = "metrics-token-for-the-log-test"
PASSWORD = "user-password-for-the-log-test"


@pytest.fixture
def secrets_configured(settings):
    settings.CONDOIT_TOKEN = CONDOIT_TOKEN
    settings.CONDOIT_WEBHOOK_SECRET = CONDOIT_WEBHOOK_SECRET
    settings.CONDOIT_PAGE_LIMIT = 2
    settings.CONDOIT_BACKOFF_BASE = 0.001
    settings.CONDOIT_BACKOFF_CAP = 0.01
    settings.VOLTMETRICS_API_KEY = fv.API_KEY
    settings.VOLTMETRICS_WEBHOOK_SECRET = fv.WEBHOOK_SECRET
    settings.VOLTMETRICS_BACKOFF_BASE = 0.01
    settings.VOLTMETRICS_BACKOFF_CAP = 0.05
    settings.VOLTMETRICS_ALGORITHM_VERSION = ""
    settings.PHOTO_URL_SECRET = PHOTO_URL_SECRET
    settings.METRICS_TOKEN = METRICS_TOKEN
    settings.RECOMPUTE_DEBOUNCE_SECONDS = 0
    return settings


def search_for(settings, sent: list[str]) -> dict[str, str]:
    """What must appear nowhere: name → value."""
    needles = {
        "SECRET_KEY": settings.SECRET_KEY,
        "JWT signing key": settings.SIMPLE_JWT["SIGNING_KEY"],
        "CONDOIT_TOKEN": settings.CONDOIT_TOKEN,
        "CONDOIT_WEBHOOK_SECRET": settings.CONDOIT_WEBHOOK_SECRET,
        "VOLTMETRICS_API_KEY": settings.VOLTMETRICS_API_KEY,
        "VOLTMETRICS_WEBHOOK_SECRET": settings.VOLTMETRICS_WEBHOOK_SECRET,
        "PHOTO_URL_SECRET": settings.PHOTO_URL_SECRET,
        "METRICS_TOKEN": settings.METRICS_TOKEN,
        "password": PASSWORD,
    }
    for n, value in enumerate(sent):
        needles[f"sent #{n}"] = value
    assert all(len(v) >= 8 for v in needles.values()), needles
    return needles


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_full_round_trip_at_debug_logs_no_secret(client, secrets_configured, capfd):
    settings = secrets_configured
    sent: list[str] = []  # credentials, signatures and Authorization values sent
    user = get_user_model().objects.create_user("reader", password=PASSWORD)
    assert user.pk
    _, push_key = api_key_create(name="condoit push", scopes=["condoit:push"])
    _, callback_key = api_key_create(name="vm callback", scopes=["voltmetrics:callback"])
    sent += [push_key, callback_key, f"Bearer {CONDOIT_TOKEN}"]

    with (
        fake_condoit(token=CONDOIT_TOKEN) as condoit,
        fv.fake_voltmetrics() as vm,
        captured_logs(level=logging.DEBUG, every_logger=True) as cap,
    ):
        settings.CONDOIT_URL = condoit.url + "/"
        settings.VOLTMETRICS_URL = vm.url
        CircuitBreaker().reset()
        connection.force_debug_cursor = True  # SQL with its parameters, as under DEBUG=true
        try:
            # Condoit pull.
            facs = [f.facility(id=f"fac_log_{i}") for i in range(2)]
            condoit.add("facilities", *facs)
            condoit.add("equipment", *[f.equipment(fac["id"]) for fac in facs])
            run_id = condoit_pull_task.delay().get()
            assert SyncRun.objects.get(pk=run_id).status == SyncStatus.SUCCEEDED
            assert all(s.authorization == f"Bearer {CONDOIT_TOKEN}" for s in condoit.seen)

            # Condoit push, signed.
            eq = f.equipment("fac_log_0", id="eq_log_pushed")
            body = orjson.dumps(
                {"id": "evt_log_1", "type": "equipment.created", "occurredAt": eq["updatedAt"],
                 "data": eq}
            )  # fmt: skip
            signature = sign(CONDOIT_WEBHOOK_SECRET, body)
            sent.append(signature)
            r = client.post(
                "/api/v1/condoit/events", data=body, content_type="application/json",
                HTTP_X_API_KEY=push_key, HTTP_X_CONDOIT_SIGNATURE=signature,
            )  # fmt: skip
            assert r.status_code == 202, r.content

            # VoltMetrics: submit, one job completed by a signed callback, the rest by poll.
            voltmetrics_drain_outbox_task.delay()
            jobs = list(Job.objects.order_by("id"))
            assert len(jobs) >= 2, jobs
            for job in jobs:
                vm.finish(job.job_id)
            callback_body, callback_sig = vm.callback(jobs[0].job_id)
            sent.append(callback_sig)
            r = client.post(
                "/api/v1/webhooks/voltmetrics", data=callback_body,
                content_type="application/json", HTTP_X_API_KEY=callback_key,
                HTTP_X_VOLTMETRICS_SIGNATURE=callback_sig,
            )  # fmt: skip
            assert r.status_code == 202, r.content
            settings.VOLTMETRICS_POLL_AFTER = 0
            voltmetrics_poll_jobs_task.delay()
            assert set(Job.objects.values_list("status", flat=True)) == {JobStatus.COMPLETED}
            assert EquipmentAssessment.objects.filter(source=Source.VOLTMETRICS).exists()
            assert all(s.api_key == fv.API_KEY for s in vm.seen)

            # The read API with a user's JWT, and a refused one.
            pair = client.post(
                "/api/v1/auth/token", {"username": "reader", "password": PASSWORD},
                content_type="application/json",
            ).json()  # fmt: skip
            sent += [pair["access"], pair["refresh"], f"Bearer {pair['access']}"]
            read = client.get(
                "/api/v1/facilities/fac_log_0", HTTP_AUTHORIZATION=f"Bearer {pair['access']}"
            )
            assert read.status_code == 200, read.content
            refreshed = client.post(
                "/api/v1/auth/token/refresh", {"refresh": pair["refresh"]},
                content_type="application/json",
            ).json()  # fmt: skip
            sent += [refreshed["access"], refreshed.get("refresh", pair["refresh"])]
            refused = client.get("/api/v1/facilities", HTTP_AUTHORIZATION="Bearer not-a-jwt-1234")
            assert refused.status_code == 401
            sent.append("not-a-jwt-1234")
        finally:
            connection.force_debug_cursor = False
            CircuitBreaker().reset()

    printed = capfd.readouterr()
    outputs = {
        "plain": cap.text("plain"),
        "json": cap.text("json"),
        "stdout": printed.out,
        "stderr": printed.err,
    }
    # Everything was logged: the clients' HTTP lines, SQL, Celery's task lines, ours.
    plain = outputs["plain"]
    for expected in (
        "urllib3.connectionpool",
        "django.db.backends",
        "Condoit pull run #",
        "VoltMetrics job",
        "Recomputed",
        "django.request",
    ):
        assert expected in plain, expected
    assert len(cap.json_lines()) == len(plain.splitlines()) or len(cap.json_lines()) > 100

    needles = search_for(django_settings, sent)
    found = [
        f"{name} in {where}"
        for name, value in needles.items()
        for where, text in outputs.items()
        if value in text
    ]
    assert found == []
    # Signatures: not even their digest part.
    for sig in (signature, callback_sig):
        digest = sig.split("v1=")[1]
        assert not any(digest in text for text in outputs.values())
