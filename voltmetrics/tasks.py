"""Celery tasks of the risk pipeline: thin doors onto voltmetrics.services.

Tasks take ISO dates, never model instances. Every recompute holds one cache lock
(``masterbus.locks``: released only by its holder), so the per-minute drain, the nightly full
recompute, a publish's recompute, the recompute after VoltMetrics results,
``manage.py recompute_risk`` and ``manage.py demo_setup`` never overlap (a recompute after
changes reuses stored per-equipment parts of unchanged equipment; it relies on no other
recompute writing parts of records it loaded before a change).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import contextmanager
from datetime import date

from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from masterbus.locks import CacheLock

from . import services

log = logging.getLogger(__name__)

RECOMPUTE_LOCK_KEY = "voltmetrics:recompute-lock"
# Longer than any recompute should take; a crashed worker's lock expires by itself.
RECOMPUTE_LOCK_TTL = 60 * 60
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
LOCK_POLL_SECONDS = 1.0


class RecomputeLocked(Exception):
    pass


@contextmanager
def recompute_lock(*, wait: float = 0, on_wait: Callable[[], None] | None = None):
    """Hold the recompute lock or raise RecomputeLocked (after waiting up to ``wait``
    seconds for it; ``on_wait`` is called once when it has to wait)."""
    lock = CacheLock(RECOMPUTE_LOCK_KEY, RECOMPUTE_LOCK_TTL)
    deadline = time.monotonic() + wait
    while not lock.acquire():
        if time.monotonic() >= deadline:
            raise RecomputeLocked
        if on_wait is not None:
            on_wait()
            on_wait = None
        time.sleep(LOCK_POLL_SECONDS)
    try:
        yield
    finally:
        lock.release()  # only our own: one that expired and was taken by another stays


def _ms_since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def _date(value: str | date | None) -> date | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, date) else date.fromisoformat(value)


@shared_task(acks_late=True, ignore_result=True)
def recompute_pending_task() -> dict | None:
    """Drain the RecordChange outbox: recompute the changed records' facilities and the
    portfolio (beat every minute, and shortly after a change via ``recompute_soon``).
    Skipped while another recompute runs: its rows stay pending for the next run."""
    started = time.monotonic()
    try:
        with recompute_lock():
            facilities = equipment = passes = 0
            while passes < PENDING_MAX_PASSES:
                stats = services.recompute_pending(limit=PENDING_BATCH)
                if stats is None:
                    break
                passes += 1
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
    return {"passes": passes, "facilities": facilities, "equipment": equipment}


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=LOCKED_MAX_RETRIES)
def recompute_all_task(self, as_of: str | None = None) -> dict | None:
    """Full recompute of every active facility and the portfolio (nightly: risk grows with
    age; and after a model version is published)."""
    try:
        with recompute_lock():
            stats = services.risk_recompute(as_of=_date(as_of))
    except RecomputeLocked:
        log.info("Full recompute waits for a running recompute")
        raise self.retry(countdown=LOCKED_RETRY_SECONDS) from None
    log.info(
        "Full recompute: %s facilities, %s equipment in %.1fs (as of %s)",
        stats.facilities, stats.equipment, stats.seconds, stats.as_of,
        extra={"duration_ms": round(stats.seconds * 1000)},
    )  # fmt: skip
    return {
        "facilities": stats.facilities,
        "equipment": stats.equipment,
        "as_of": stats.as_of.isoformat(),
    }


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=FACILITIES_MAX_RETRIES)
def recompute_facilities_task(self, facility_pks: list[int]) -> dict | None:
    """Recompute some facilities and the portfolio from their records (after VoltMetrics
    results were stored for them). Waits for a running recompute by retrying."""
    try:
        with recompute_lock():
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
