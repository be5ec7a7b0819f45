"""End to end: beat's task, sent through the real broker, run by a real Celery worker process,
pulling from a fake Condoit on loopback into the test database (PostgreSQL + Redis only)."""

from __future__ import annotations

import pytest

from equipment.models import Equipment, MaintenanceRecord
from facilities.choices import SyncSource, SyncStatus
from facilities.models import Facility, SyncCursor, SyncRun
from masterbus.celery import app as celery_app
from tests import factories as f
from tests.celery_worker import celery_worker
from tests.condoit.fake_condoit import TOKEN, fake_condoit

pytestmark = [pytest.mark.e2e, pytest.mark.services]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_real_worker_runs_the_pull_task_into_the_database():
    with fake_condoit() as condoit:
        facs = [f.facility(updatedAt=f"2025-01-01T0{i}:00:00+02:00") for i in range(3)]
        eqs = [f.equipment(fac["id"], updatedAt="2025-01-02T00:00:00Z") for fac in facs]
        mrs = [f.maintenance(eqs[0]["id"], updatedAt="2025-01-03T00:00:00-05:00")]
        condoit.add("facilities", *facs)
        condoit.add("equipment", *eqs)
        condoit.add("maintenance-records", *mrs)

        with celery_worker(
            {
                "CONDOIT_URL": condoit.url,
                "CONDOIT_TOKEN": TOKEN,
                "CONDOIT_PAGE_LIMIT": "2",
                "CONDOIT_BACKOFF_BASE": "0.05",
            },
            name="e2e-pull",
        ) as worker:
            # Routed by name to the worker's "ingest" queue, as beat sends it.
            celery_app.send_task("facilities.tasks.condoit_pull_task", kwargs={"full": False})
            run = worker.wait_for(
                lambda: (
                    SyncRun.objects.filter(source=SyncSource.PULL, finished_at__isnull=False)
                    .order_by("-id")
                    .first()
                ),
                "finished pull",
            )

            assert run.status == SyncStatus.SUCCEEDED, f"{run.error}\n{worker.output()}"
            assert (run.created, run.rejected) == (7, 0)
            assert sorted(Facility.objects.values_list("external_id", flat=True)) == sorted(
                r["id"] for r in facs
            )
            assert Equipment.objects.count() == 3
            assert MaintenanceRecord.objects.get().external_id == mrs[0]["id"]
            hwm = SyncCursor.objects.get(resource="facilities").high_water_mark
            assert hwm.isoformat() == "2025-01-01T00:00:00+00:00"  # 02:00+02:00 as an instant
            # The worker (not this process) asked Condoit, with the token, page by page.
            assert [s.resource for s in condoit.seen] == [
                "facilities", "facilities", "equipment", "equipment", "maintenance-records",
            ]  # fmt: skip
            assert all(s.authorization == f"Bearer {TOKEN}" for s in condoit.seen)
            assert "condoit_pull_task" in worker.output()
