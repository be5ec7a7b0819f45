"""A full recompute split into chunks on two real worker processes (PostgreSQL, Redis, the
broker), one of them killed with SIGKILL in the middle of a chunk: the chunk is delivered
again (acks late), no facility is left half-written, and every stored figure equals a
single-process recompute's to the last digit."""

from __future__ import annotations

import io
import os
import signal
import time
from datetime import date, timedelta

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db.models.functions import Now

from masterbus.celery import app as celery_app
from tests.celery_worker import celery_worker
from voltmetrics.choices import RunStatus
from voltmetrics.lock import RECOMPUTE_LOCK_KEY
from voltmetrics.models import RecomputeChunk, RecomputeRun
from voltmetrics.services import risk_recompute

from .stored import clear, stored

pytestmark = [pytest.mark.e2e, pytest.mark.services]
AS_OF = date(2025, 6, 30)
FACILITIES = 40
CHUNK = 5  # 8 chunks of about 500 equipment


@pytest.fixture
def portfolio(tmp_path):
    path = tmp_path / "demo.json"
    call_command(
        "generate_demo_portfolio", facilities=FACILITIES, equipment_per_facility=100, seed=5,
        as_of=date(2025, 6, 1), out=str(path), stdout=io.StringIO(), stderr=io.StringIO(),
    )  # fmt: skip
    call_command("import_condoit", str(path), "--no-progress", stdout=io.StringIO())


def _chunk_just_started():
    """A chunk started within the last 30 ms (so well before its end) and not finished."""
    return (
        RecomputeChunk.objects.filter(
            finished_at__isnull=True, started_at__gte=Now() - timedelta(milliseconds=30)
        )
        .values_list("pk", "worker")
        .first()
    )


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_workers_one_killed_mid_chunk_store_what_one_process_does(portfolio):
    clear()
    risk_recompute(as_of=AS_OF)  # the single-process reference
    expected = stored()
    clear()
    env = {"RECOMPUTE_CHUNK_FACILITIES": str(CHUNK)}
    with (
        celery_worker(env, name="run-a", concurrency=1) as first,
        celery_worker(env, name="run-b", concurrency=1, prefix=first.prefix) as second,
    ):
        # Routed to the recompute queue both workers consume (under their prefix).
        celery_app.send_task(
            "voltmetrics.tasks.recompute_all_task", kwargs={"as_of": AS_OF.isoformat()}
        )
        until = time.monotonic() + 60
        victim = None
        while victim is None and time.monotonic() < until:
            victim = _chunk_just_started()
            if victim is None:
                time.sleep(0.002)
        assert victim is not None, f"no chunk started:\n{first.output()}\n{second.output()}"
        chunk_id, worker = victim
        os.kill(int(worker.rsplit(":", 1)[1]), signal.SIGKILL)  # the pool process in the chunk

        run = first.wait_for(
            lambda: RecomputeRun.objects.filter(status=RunStatus.FINISHED).first(),
            "finished run", deadline=120,
        )  # fmt: skip
        assert first.alive() and second.alive()  # the killed pool process was replaced
    killed = RecomputeChunk.objects.get(pk=chunk_id)
    assert killed.finished_at is not None and killed.attempts == 2
    assert (run.chunks_total, run.chunks_done) == (FACILITIES // CHUNK, FACILITIES // CHUNK)
    assert run.facilities == FACILITIES  # the chunk delivered again is counted once
    assert run.equipment == len(expected["equipment"])
    assert RecomputeRun.objects.count() == 1
    assert cache.get(RECOMPUTE_LOCK_KEY) is None
    assert stored() == expected
