"""End to end: beat's task, sent through the real broker, run by a real Celery worker process,
pulling from a fake Condoit on loopback into the test database (PostgreSQL + Redis only)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from equipment.models import Equipment, MaintenanceRecord
from facilities.choices import SyncSource, SyncStatus
from facilities.models import Facility, SyncCursor, SyncRun
from masterbus.celery import app as celery_app
from tests import factories as f
from tests.condoit.fake_condoit import TOKEN, fake_condoit

pytestmark = [pytest.mark.e2e, pytest.mark.services]

BASE_DIR = Path(settings.BASE_DIR)
CELERY = Path(sys.executable).with_name("celery")
DEADLINE = 60  # seconds for the worker to start and finish the pull


def _database_url() -> str:
    db = connection.settings_dict  # the *test* database pytest-django created
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


def _output(log_path: Path) -> str:
    try:
        return log_path.read_text(errors="replace")[-8000:]
    except OSError:
        return "(no output)"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_real_worker_runs_the_pull_task_into_the_database():
    assert CELERY.exists(), f"no celery executable at {CELERY}"
    assert not settings.CELERY_TASK_ALWAYS_EAGER, "set CELERY_BROKER_URL to run this test"
    # A queue of our own: another test run on the same broker can neither take our task nor
    # lose its own to our purge.
    queue = f"{settings.CELERY_TASK_DEFAULT_QUEUE}.e2e-pull.{uuid.uuid4().hex[:8]}"

    with fake_condoit() as condoit:
        facs = [f.facility(updatedAt=f"2025-01-01T0{i}:00:00+02:00") for i in range(3)]
        eqs = [f.equipment(fac["id"], updatedAt="2025-01-02T00:00:00Z") for fac in facs]
        mrs = [f.maintenance(eqs[0]["id"], updatedAt="2025-01-03T00:00:00-05:00")]
        condoit.add("facilities", *facs)
        condoit.add("equipment", *eqs)
        condoit.add("maintenance-records", *mrs)

        env = {
            **os.environ,
            "DATABASE_URL": _database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "CELERY_QUEUE": queue,
            "CONDOIT_URL": condoit.url,
            "CONDOIT_TOKEN": TOKEN,
            "CONDOIT_PAGE_LIMIT": "2",
            "CONDOIT_BACKOFF_BASE": "0.05",
            "CONN_MAX_AGE": "0",
            "PYTHONUNBUFFERED": "1",
        }
        with celery_app.connection_for_write() as conn:
            conn.default_channel.queue_purge(queue)
        log_file = tempfile.NamedTemporaryFile(prefix="e2e-worker-", suffix=".log", delete=False)
        log_path = Path(log_file.name)
        worker = subprocess.Popen(
            [
                str(CELERY),
                "-A",
                "masterbus",
                "worker",
                "-l",
                "info",
                "-P",
                "solo",
                "-Q",
                queue,
                "-n",
                f"e2e-pull-{os.getpid()}@%h",
                "--without-heartbeat",
                "--without-mingle",
                "--without-gossip",
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            celery_app.send_task(
                "facilities.tasks.condoit_pull_task", kwargs={"full": False}, queue=queue
            )
            run = None
            deadline = time.monotonic() + DEADLINE
            while time.monotonic() < deadline:
                if worker.poll() is not None:
                    pytest.fail(f"the worker exited with {worker.returncode}:\n{_output(log_path)}")
                run = (
                    SyncRun.objects.filter(source=SyncSource.PULL, finished_at__isnull=False)
                    .order_by("-id")
                    .first()
                )
                if run is not None:
                    break
                time.sleep(0.25)
            else:
                pytest.fail(f"no finished pull within {DEADLINE}s; worker:\n{_output(log_path)}")

            assert run.status == SyncStatus.SUCCEEDED, f"{run.error}\n{_output(log_path)}"
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
            assert "condoit_pull_task" in _output(log_path)
        finally:
            worker.terminate()
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait(10)
            log_file.close()
            log_path.unlink(missing_ok=True)
            with celery_app.connection_for_write() as conn:
                conn.default_channel.queue_delete(queue)
