"""Two real Celery workers drain one change outbox at once (PostgreSQL + Redis + a broker):
each drain round locks its rows with SKIP LOCKED, so the fake VoltMetrics receives every
record exactly once, and every row is marked pushed by the job that carried it."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from facilities.models import RecordChange
from masterbus.celery import app as celery_app
from tests import factories as f
from tests.celery_worker import celery_worker
from voltmetrics.models import Job

from . import fake_voltmetrics as fv

pytestmark = [pytest.mark.e2e, pytest.mark.services]

DRAIN = "voltmetrics.integration.tasks.voltmetrics_drain_outbox_task"
DRAINS = 6  # tasks sent: three for each worker
SUCCEEDED = re.compile(re.escape(DRAIN) + r"\[[^\]]+\] succeeded in [0-9.]+s: (\{.*\})")


def records():
    facs = [f.facility(id=f"fac_d{i}") for i in range(4)]
    eqs = [f.equipment(fac["id"], id=f"{fac['id']}_eq{j:02d}") for fac in facs for j in range(30)]
    mrs = [f.maintenance(eq["id"], id=f"mr_{eq['id']}") for eq in eqs[::2]]
    return facs, eqs, mrs


def sent(vm) -> Counter:
    """(kind, id) of every item VoltMetrics was sent, counted."""
    out: Counter = Counter()
    for s in vm.requests("POST", "/ingest/"):
        kind = s.path.rsplit("/", 1)[1]
        body = s.body or {}
        items = {"facility": [body.get("facility")], "equipment": body.get("equipment"),
                 "maintenance": body.get("maintenance_records")}[kind]  # fmt: skip
        out.update((kind, item["id"]) for item in items or ())
    return out


def drains(worker) -> list[dict]:
    """The outcome of each drain task the worker ran, from its log."""
    import ast

    return [ast.literal_eval(m.group(1)) for m in SUCCEEDED.finditer(worker.output())]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_workers_draining_at_once_push_every_row_exactly_once(vm, mirror):
    facs, eqs, mrs = records()
    mirror(facs, eqs, mrs)
    rows = RecordChange.objects.filter(pushed_at__isnull=True)
    expected = {
        *(("facility", r["id"]) for r in facs),
        *(("equipment", r["id"]) for r in eqs),
        *(("maintenance", r["id"]) for r in mrs),
    }
    assert rows.count() == len(expected) == 4 + 120 + 60
    # Every push takes a while, so the two workers' drains overlap throughout.
    vm.add_fault(fv.slow(0.03), path="POST /ingest/", times=None)
    env = {
        "VOLTMETRICS_URL": vm.url,
        "VOLTMETRICS_API_KEY": fv.API_KEY,
        "VOLTMETRICS_ALGORITHM_VERSION": fv.ALGORITHM,
        "VOLTMETRICS_BATCH_SIZE": "5",  # many small rounds, each its own locked batch
        "VOLTMETRICS_BACKOFF_BASE": "0.05",
        "VOLTMETRICS_READ_TIMEOUT": "5",
    }
    opts = {"include": "voltmetrics.integration.tasks", "queues": ["voltmetrics"]}
    with (
        celery_worker(env, name="drain-a", **opts) as a,
        celery_worker(env, name="drain-b", prefix=a.prefix, **opts) as b,
    ):
        for _ in range(DRAINS):
            celery_app.send_task(DRAIN)  # routed to the voltmetrics queue both consume
        a.wait_for(lambda: not rows.exists(), "drained outbox")
        a.wait_for(lambda: len(drains(a)) + len(drains(b)) == DRAINS, "every drain finished")
        b.wait_for(b.alive, "worker b still up")
        by_worker = [drains(a), drains(b)]

    counts = sent(vm)
    assert set(counts) == expected
    assert {k: n for k, n in counts.items() if n != 1} == {}  # each row pushed exactly once
    # Both workers pushed: their drains ran at the same time on the same outbox.
    assert all(sum(d["jobs"] for d in done) > 0 for done in by_worker), by_worker
    assert all(d["error"] == "" for done in by_worker for d in done)
    pushes = len(vm.requests("POST", "/ingest/"))
    assert sum(d["jobs"] for done in by_worker for d in done) == pushes == Job.objects.count()
    assert sum(d["rows"] for done in by_worker for d in done) == len(expected)
    assert not RecordChange.objects.filter(pushed_at__isnull=True).exists()
