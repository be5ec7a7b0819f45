"""Drain the change outbox to VoltMetrics (voltmetrics.md "Outbox").

Pending rows are ``RecordChange`` rows with ``pushed_at`` null. A drain round locks a batch of
them (``SKIP LOCKED`` on PostgreSQL, so two drains never send the same rows), builds the items
from the records as mirrored *now* (one item per record however often it changed), sends them
and, for each request VoltMetrics accepted, creates the Job and marks exactly the rows it
covered, all in the round's transaction. If the process dies after a request was sent but
before the commit, the rows stay pending and the next drain sends them again: re-sending is
harmless. A refused or failed request leaves its rows pending too.

With ``VOLTMETRICS_URL`` empty the drain does nothing and leaves pending rows alone, so turning
the integration on later pushes everything that changed in the meantime.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from facilities.choices import RecordKind
from facilities.models import RecordChange
from voltmetrics.choices import JobKind, JobStatus
from voltmetrics.models import Job

from . import integration_enabled, payloads
from .client import IngestAnswer, VoltMetricsClient, VoltMetricsError

log = logging.getLogger(__name__)

ALGORITHM_CACHE_KEY = "voltmetrics:algorithm_version"
MAX_ROUNDS = 100  # bounds one drain run; the beat task runs again a minute later


@dataclass(frozen=True)
class KindSpec:
    record_kind: str
    job_kind: str
    build: Callable[[list[str]], dict[str, dict]]
    per_request: int | None  # None: VOLTMETRICS_BATCH_SIZE


# Parents before children: VoltMetrics may need the equipment before its maintenance.
KINDS = (
    KindSpec(RecordKind.FACILITY, JobKind.FACILITY, payloads.facility_items, 1),
    KindSpec(RecordKind.EQUIPMENT, JobKind.EQUIPMENT, payloads.equipment_items, None),
    KindSpec(RecordKind.MAINTENANCE, JobKind.MAINTENANCE, payloads.maintenance_items, None),
)
BY_JOB_KIND = {k.job_kind: k for k in KINDS}


def calculation_settings(client: VoltMetricsClient) -> dict:
    version = settings.VOLTMETRICS_ALGORITHM_VERSION
    if not version:
        version = cache.get(ALGORITHM_CACHE_KEY)
        if not version:
            version = client.get_algorithms().current_version
            cache.set(ALGORITHM_CACHE_KEY, version, 3600)
    return {"algorithm_version": version, "recalculate_all": False}


def send_items(
    client: VoltMetricsClient, job_kind: str, items: list[dict], calc: dict
) -> IngestAnswer:
    """One ingest request; raises VoltMetricsError."""
    if job_kind == JobKind.EQUIPMENT:
        return client.ingest_equipment(items, calc)
    if job_kind == JobKind.MAINTENANCE:
        return client.ingest_maintenance(items, calc)
    if len(items) != 1:
        raise ValueError("VoltMetrics ingests one facility per request")
    return client.ingest_facility(items[0], calc)


def record_job(*, answer: IngestAnswer, job_kind: str, items: list[str], now) -> Job:
    """The Job of one accepted push (a job id seen before is re-used, not duplicated)."""
    job, created = Job.objects.get_or_create(
        job_id=answer.job_id,
        defaults={
            "kind": job_kind,
            "items": items,
            "submitted_at": now,
            "status": JobStatus.PROCESSING,
            "attempts": 1,
        },
    )
    if not created:
        job.items = list(dict.fromkeys([*job.items, *items]))
        job.status = JobStatus.PROCESSING
        job.submitted_at = now
        job.completed_at = job.results_fetched_at = job.next_retry_at = None
        job.failed_items = {}
        job.retries = 0
        job.attempts += 1
        job.save()
    log.info(
        "VoltMetrics job %s submitted: %d %s item(s)", job.job_id, len(items), job_kind,
        extra={"job_id": job.job_id},
    )  # fmt: skip
    return job


def _chunks(seq: list, size: int):
    for start in range(0, len(seq), size):
        yield seq[start : start + size]


def voltmetrics_drain_outbox(
    *, batch_size: int | None = None, client: VoltMetricsClient | None = None
) -> dict:
    """Push pending outbox rows to VoltMetrics; returns counts (and ``error`` if a push
    failed: its rows and any after it stay pending for the next run)."""
    if not integration_enabled():
        return {"skipped": "integration off"}
    batch_size = max(1, batch_size or settings.VOLTMETRICS_BATCH_SIZE)
    stats = {"rows": 0, "items": 0, "jobs": 0, "skipped_deleted": 0, "error": ""}
    own = client is None
    client = client or VoltMetricsClient()
    try:
        for _ in range(MAX_ROUNDS):
            taken = _drain_round(client, batch_size, stats)
            if stats["error"] or taken < batch_size:
                break
    finally:
        if own:
            client.close()
    if stats["jobs"] or stats["error"]:
        log.info(
            "VoltMetrics drain: %(jobs)d job(s), %(items)d item(s), %(rows)d outbox row(s) done, "
            "%(skipped_deleted)d deleted skipped; error: %(error)s",
            stats,
        )
    return stats


def _drain_round(client: VoltMetricsClient, batch_size: int, stats: dict) -> int:
    with transaction.atomic():
        qs = RecordChange.objects.filter(pushed_at__isnull=True).order_by("id")
        if connection.features.has_select_for_update_skip_locked:
            qs = qs.select_for_update(skip_locked=True)
        rows = list(qs.values_list("id", "kind", "external_id")[:batch_size])
        if not rows:
            return 0
        grouped: dict[str, dict[str, list[int]]] = {}
        for row_id, kind, ext in rows:
            grouped.setdefault(kind, {}).setdefault(ext, []).append(row_id)
        _take_later_rows(qs, rows, grouped)
        now = timezone.now()
        known = {k.record_kind for k in KINDS}
        unknown = [
            rid
            for kind, ids in grouped.items()
            if kind not in known
            for r in ids.values()
            for rid in r
        ]
        if unknown:
            RecordChange.objects.filter(id__in=unknown).update(pushed_at=now)
            stats["rows"] += len(unknown)
        try:
            calc = calculation_settings(client)
        except VoltMetricsError as exc:
            stats["error"] = exc.message
            return len(rows)
        for spec in KINDS:
            by_ext = grouped.get(spec.record_kind)
            if not by_ext:
                continue
            items = spec.build(list(by_ext))
            # Deleted (or never mirrored) records are not sent; their rows are done.
            gone = [rid for ext, ids in by_ext.items() if ext not in items for rid in ids]
            if gone:
                RecordChange.objects.filter(id__in=gone).update(pushed_at=now)
                stats["rows"] += len(gone)
                stats["skipped_deleted"] += sum(1 for ext in by_ext if ext not in items)
            sendable = [ext for ext in by_ext if ext in items]
            for chunk in _chunks(sendable, spec.per_request or batch_size):
                try:
                    answer = send_items(client, spec.job_kind, [items[e] for e in chunk], calc)
                except VoltMetricsError as exc:
                    stats["error"] = exc.message
                    log.warning("VoltMetrics push of %d %s item(s) failed: %s",
                                len(chunk), spec.job_kind, exc.message)  # fmt: skip
                    return len(rows)
                record_job(answer=answer, job_kind=spec.job_kind, items=chunk, now=now)
                done = [rid for ext in chunk for rid in by_ext[ext]]
                RecordChange.objects.filter(id__in=done).update(pushed_at=now)
                stats["rows"] += len(done)
                stats["items"] += len(chunk)
                stats["jobs"] += 1
        return len(rows)


def _take_later_rows(qs, rows, grouped: dict[str, dict[str, list[int]]]) -> None:
    """Other pending rows of the same records join the round: one item covers them all.

    Safe because the items are built *after* this: a row visible here committed together
    with its change, so the record read later includes that change."""
    last = rows[-1][0]
    for kind, by_ext in grouped.items():
        exts = list(by_ext)
        for start in range(0, len(exts), 1000):
            for row_id, ext in qs.filter(
                id__gt=last, kind=kind, external_id__in=exts[start : start + 1000]
            ).values_list("id", "external_id"):
                by_ext[ext].append(row_id)


def pending_count() -> int:
    return RecordChange.objects.filter(pushed_at__isnull=True).count()
