"""End to end on PostgreSQL + Redis: a Condoit import → outbox → the drain task on a real
worker pushes to the fake VoltMetrics → a signed callback over real HTTP to the live server →
the worker fetches the results → stored with source voltmetrics and served."""

from __future__ import annotations

import pytest
import requests

from condoit.files import import_file
from equipment.models import Equipment
from facilities.models import RecordChange
from masterbus.celery import app as celery_app
from tests import factories as f
from tests.celery_worker import celery_worker
from voltmetrics.choices import JobKind, JobStatus, Source
from voltmetrics.integration import tasks
from voltmetrics.models import EquipmentAssessment, Job, WebhookEvent

from . import fake_voltmetrics as fv

pytestmark = [pytest.mark.e2e, pytest.mark.services]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_push_callback_fetch_on_a_real_worker(live_server, settings, tmp_path, monkeypatch):
    import json

    settings.VOLTMETRICS_WEBHOOK_SECRET = fv.WEBHOOK_SECRET
    fac = f.facility(id="fac_e2e")
    eqs = [f.equipment("fac_e2e", id=f"eq_e2e_{i}") for i in range(2)]
    path = tmp_path / "export.json"
    path.write_text(json.dumps({"facilities": [fac], "equipment": eqs, "maintenanceRecords": []}))
    assert import_file(path).created == 3
    assert RecordChange.objects.filter(pushed_at__isnull=True).count() == 3

    with (
        fv.fake_voltmetrics() as vm,
        celery_worker(
            {
                "VOLTMETRICS_URL": vm.url,
                "VOLTMETRICS_API_KEY": fv.API_KEY,
                "VOLTMETRICS_WEBHOOK_SECRET": fv.WEBHOOK_SECRET,
                "VOLTMETRICS_BACKOFF_BASE": "0.05",
                "VOLTMETRICS_READ_TIMEOUT": "5",
            },
            include="voltmetrics.integration.tasks",
            name="e2e-vm",
        ) as worker,
    ):
        settings.VOLTMETRICS_URL = vm.url
        # The live server's callback task goes to the worker's queue.
        real_apply = tasks.voltmetrics_handle_callback.apply_async
        monkeypatch.setattr(
            tasks.voltmetrics_handle_callback,
            "apply_async",
            lambda args=None, kwargs=None, **opts: real_apply(
                args, kwargs, **{**opts, "queue": worker.queue}
            ),
        )
        celery_app.send_task(
            "voltmetrics.integration.tasks.voltmetrics_drain_outbox_task", queue=worker.queue
        )
        job = worker.wait_for(
            lambda: Job.objects.filter(kind=JobKind.EQUIPMENT).first(), "equipment job"
        )
        worker.wait_for(
            lambda: not RecordChange.objects.filter(pushed_at__isnull=True).exists(),
            "drained outbox",
        )
        assert sorted(job.items) == ["eq_e2e_0", "eq_e2e_1"]
        assert all(s.api_key == fv.API_KEY for s in vm.seen)

        from masterbus.services import api_key_create

        _, key = api_key_create(name="voltmetrics callback", scopes=["voltmetrics:callback"])
        vm.scores.update(eq_e2e_0=93, eq_e2e_1=12)
        vm.finish(job.job_id)
        body, sig = vm.callback(job.job_id)
        resp = requests.post(
            f"{live_server.url}/api/v1/webhooks/voltmetrics",
            data=body,
            headers={
                "Content-Type": "application/json",
                "X-VoltMetrics-Signature": sig,
                "X-API-Key": key,
            },
            timeout=10,
        )
        assert resp.status_code == 202, resp.text
        again = requests.post(
            f"{live_server.url}/api/v1/webhooks/voltmetrics/",
            data=body,
            headers={
                "Content-Type": "application/json",
                "X-VoltMetrics-Signature": sig,
                "X-API-Key": key,
            },
            timeout=10,
        )
        assert again.status_code == 200

        worker.wait_for(
            lambda: Job.objects.filter(pk=job.pk, status=JobStatus.COMPLETED).exists(),
            "completed job",
        )
        # The served flag is set by the recompute the completion queues: wait for it too.
        worker.wait_for(
            lambda: EquipmentAssessment.objects.filter(
                source=Source.VOLTMETRICS, served=True
            ).count()
            == 2,
            "VoltMetrics results served",
        )
        rows = {
            a.equipment.external_id: a
            for a in EquipmentAssessment.objects.filter(source=Source.VOLTMETRICS).select_related(
                "equipment"
            )
        }
        assert {k: (a.risk_score, a.served) for k, a in rows.items()} == {
            "eq_e2e_0": (93, True),
            "eq_e2e_1": (12, True),
        }
        assert rows["eq_e2e_0"].algorithm_version == fv.ALGORITHM
        assert not EquipmentAssessment.objects.filter(source=Source.LOCAL, served=True).exists()
        assert Equipment.objects.count() == 2 and WebhookEvent.objects.count() == 1
        assert "voltmetrics_handle_callback" in worker.output()
