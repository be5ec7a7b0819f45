"""Celery tasks of the risk pipeline: thin doors onto voltmetrics.services and .runs.

Tasks take ISO dates and ids, never model instances. Every recompute holds the one recompute
lock (``voltmetrics.lock``). A full recompute, and a recompute of more facilities than
``RECOMPUTE_CHUNK_FACILITIES``, is split into chunks that run as separate tasks on any worker
of the ``recompute`` queue (``voltmetrics.runs``); the task that starts it hands the lock to
the run, and the run's finish releases it. Smaller recomputes run in the task itself.
"""

from __future__ import annotations

import logging
import os
import time
from datetime import date

from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from masterbus.heartbeats import beat

from . import runs, services
from .choices import RunKind
from .lock import RECOMPUTE_LOCK_KEY, RECOMPUTE_LOCK_TTL, HeldLock, RecomputeLocked, recompute_lock

log = logging.getLogger(__name__)

__all__ = [
    "RECOMPUTE_LOCK_KEY",
    "RECOMPUTE_LOCK_TTL",
    "RecomputeLocked",
    "recompute_lock",
]

RECOMPUTE_SOON_KEY = "voltmetrics:recompute-soon"
# A drain pass handles at most this many outbox rows; the task loops this many passes.
PENDING_BATCH = 5000
PENDING_MAX_PASSES = 20
# A full recompute that finds the lock taken retries this often, this many times.
LOCKED_RETRY_SECONDS = 60
LOCKED_MAX_RETRIES = 30
# A recompute of a few facilities (after VoltMetrics results) retries sooner.
FACILITIES_RETRY_SECONDS = 10
FACILITIES_MAX_RETRIES = 360
# A chunk that failed (not a lost worker: an error) is tried again this many times, then its
# run is abandoned and the lock released.
CHUNK_MAX_RETRIES = 3
CHUNK_RETRY_SECONDS = 15


def _ms_since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def _date(value: str | date | None) -> date | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, date) else date.fromisoformat(value)


def _split(kind: str, held: HeldLock, **what) -> int:
    """Start a run of chunks (it takes the lock over) and queue them; the run's id."""
    run = runs.run_start(kind, held, **what)
    try:
        chunk_ids = list(run.chunks.order_by("number").values_list("pk", flat=True))
        log.info(
            "Recompute #%s (%s) split into %s chunks", run.pk, kind, len(chunk_ids),
            extra={"run_id": run.pk},
        )  # fmt: skip
        if not chunk_ids:
            recompute_finish_task.delay(run.pk)
        for chunk_id in chunk_ids:
            recompute_chunk_task.delay(chunk_id)
    except Exception as exc:
        runs.run_abandon(run.pk, f"Abandoned: {type(exc).__name__}: {exc}")
        raise
    return run.pk


@shared_task(acks_late=True, ignore_result=True)
def recompute_pending_task() -> dict | None:
    """Drain the RecordChange outbox: recompute the changed records' facilities and the
    portfolio (beat every minute, and shortly after a change via ``recompute_soon``).
    Skipped while another recompute runs: its rows stay pending, and the drain is queued
    again when that recompute finishes. Changes touching more facilities than a chunk are
    recomputed as a run of chunks."""
    started = time.monotonic()
    facilities = equipment = passes = 0
    run_id = None
    try:
        with recompute_lock() as held:
            while passes < PENDING_MAX_PASSES:
                pending = services.pending_changes(limit=PENDING_BATCH)
                if pending is None:
                    beat("recompute.incremental")  # drained: nothing (more) waits
                    break
                passes += 1
                if runs.split_wanted(len(pending.facility_pks)):
                    run_id = _split(
                        RunKind.CHANGES, held, facility_pks=pending.facility_pks,
                        changed=pending.changed, change_ids=pending.row_ids,
                    )  # fmt: skip
                    break
                stats = services.recompute_changes(pending)
                facilities += stats.facilities
                equipment += stats.equipment
    except RecomputeLocked:
        log.info("Recompute of changed records skipped: another recompute is running")
        return None
    if passes:
        log.info(
            "Recomputed %s facilities, %s equipment after changes", facilities, equipment,
            extra={"duration_ms": _ms_since(started)},
        )  # fmt: skip
    return {"passes": passes, "facilities": facilities, "equipment": equipment, "run": run_id}


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=LOCKED_MAX_RETRIES)
def recompute_all_task(self, as_of: str | None = None) -> dict | None:
    """Full recompute of every active facility and the portfolio (nightly: risk grows with
    age; and after a model version is published), as a run of chunks."""
    try:
        with recompute_lock() as held:
            run_id = _split(RunKind.FULL, held, as_of=_date(as_of))
    except RecomputeLocked:
        log.info("Full recompute waits for a running recompute")
        raise self.retry(countdown=LOCKED_RETRY_SECONDS) from None
    return {"run": run_id}


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=FACILITIES_MAX_RETRIES)
def recompute_facilities_task(self, facility_pks: list[int]) -> dict | None:
    """Recompute some facilities and the portfolio from their records (after VoltMetrics
    results were stored for them). Waits for a running recompute by retrying."""
    try:
        with recompute_lock() as held:
            if runs.split_wanted(len(facility_pks)):
                return {"run": _split(RunKind.FACILITIES, held, facility_pks=facility_pks)}
            stats = services.risk_recompute(facility_pks=facility_pks)
    except RecomputeLocked:
        raise self.retry(countdown=FACILITIES_RETRY_SECONDS) from None
    fields = {"duration_ms": round(stats.seconds * 1000)}
    if len(facility_pks) == 1:  # the Condoit id, as the API and the cache name it
        from facilities.models import Facility

        ext = Facility.objects.filter(pk=facility_pks[0]).values_list("external_id", flat=True)
        fields["facility_id"] = ext.first()
    log.info(
        "Recomputed %s facilities, %s equipment after VoltMetrics results",
        stats.facilities, stats.equipment, extra=fields,
    )  # fmt: skip
    return {"facilities": stats.facilities, "equipment": stats.equipment}


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=CHUNK_MAX_RETRIES)
def recompute_chunk_task(self, chunk_id: int) -> dict:
    """One chunk of a split recompute; the last one to finish asks for the run's finish.
    A worker lost in the middle (killed) gets the chunk delivered again (acks late)."""
    started = time.monotonic()
    try:
        out = runs.chunk_compute(chunk_id, worker=f"{self.request.hostname or ''}:{os.getpid()}")
    except Exception as exc:
        if self.request.is_eager or self.request.retries >= CHUNK_MAX_RETRIES:
            run_id = _chunk_run(chunk_id)
            if run_id is not None:
                runs.run_abandon(run_id, f"Abandoned: chunk {chunk_id} failed: {exc}")
            log.exception("Recompute chunk %s failed; its run is abandoned", chunk_id)
            raise
        log.warning("Recompute chunk %s failed (%s); trying it again", chunk_id, exc)
        raise self.retry(countdown=CHUNK_RETRY_SECONDS) from exc
    if out.status == "computed":
        log.info(
            "Recompute chunk %s: %s facilities, %s equipment", chunk_id, out.facilities,
            out.equipment, extra={"duration_ms": _ms_since(started)},
        )  # fmt: skip
    if out.last:
        recompute_finish_task.delay(_chunk_run(chunk_id))
    return {"status": out.status, "facilities": out.facilities, "equipment": out.equipment}


def _chunk_run(chunk_id: int) -> int | None:
    from .models import RecomputeChunk

    return RecomputeChunk.objects.filter(pk=chunk_id).values_list("run_id", flat=True).first()


@shared_task(acks_late=True, ignore_result=True)
def recompute_finish_task(run_id: int) -> dict | None:
    """The portfolio of a split recompute, once all its chunks finished (idempotent)."""
    run = runs.run_finish(run_id)
    if run is None:
        return None
    seconds = (run.finished_at - run.queued_at).total_seconds()
    log.info(
        "Recompute #%s (%s): %s facilities, %s equipment in %s chunks, %.1fs (as of %s)",
        run.pk, run.kind, run.facilities, run.equipment, run.chunks_total, seconds, run.as_of,
        extra={"duration_ms": round(seconds * 1000), "run_id": run.pk},
    )  # fmt: skip
    if runs.changes_waiting():
        recompute_soon()  # changes that waited for this run
    return {"run": run.pk, "facilities": run.facilities, "equipment": run.equipment}


@shared_task(acks_late=True, ignore_result=True)
def snapshot_month_task(month: str | None = None) -> dict:
    """Monthly snapshot (beat, 1st of the month): every active facility and the portfolio
    at the last day of ``month`` (ISO date in that month; default: the month just ended)."""
    stats = services.snapshot_month_write(month=_date(month))
    log.info(
        "Snapshot of %s: %s facilities and the portfolio",
        stats.months[0], stats.facility_snapshots,
    )  # fmt: skip
    return {
        "month": stats.months[0].isoformat(),
        "facility_snapshots": stats.facility_snapshots,
        "portfolio_snapshots": stats.portfolio_snapshots,
    }


@shared_task(acks_late=True, ignore_result=True)
def backfill_snapshots_task(months: int = 6, as_of: str | None = None) -> dict:
    """Fill missing month-end snapshots of the history window (``months`` entries ending
    with ``as_of``'s month; the current month itself is live, never stored)."""
    stats = services.snapshots_backfill(months=int(months), as_of=_date(as_of))
    return {
        "months": [m.isoformat() for m in stats.months],
        "facility_snapshots": stats.facility_snapshots,
        "portfolio_snapshots": stats.portfolio_snapshots,
    }


def recompute_soon() -> None:
    """Schedule a drain of the outbox shortly after the current transaction commits.

    Call it inside the transaction that recorded changes. A burst of changes makes one
    recompute: the first call in a debounce window queues the task with a countdown of the
    window; later calls in the window are absorbed (their rows are pending by then, and the
    per-minute beat run is the safety net).
    """
    delay = max(0, int(getattr(settings, "RECOMPUTE_DEBOUNCE_SECONDS", 5)))

    def queue():
        if delay and not cache.add(RECOMPUTE_SOON_KEY, 1, timeout=delay):
            return
        recompute_pending_task.apply_async(countdown=delay)

    transaction.on_commit(queue)
