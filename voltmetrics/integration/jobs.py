"""VoltMetrics jobs: completion (fetch, validate, store results), polling, retry, callbacks.

Results are stored as assessments with ``source="voltmetrics"`` and VoltMetrics' own
``algorithm_version`` — one row per (record, source), updated in place. Which result is
*served* is decided by ``voltmetrics.services.risk_recompute`` (a VoltMetrics result newer
than the record's last change and < 24 h old wins), which then re-aggregates the facilities
and the portfolio locally. ``computed_at`` of a VoltMetrics row is VoltMetrics'
``calculation_timestamp`` (never later than now), so "newer than the last change" compares
when VoltMetrics calculated with when the record changed.

An item whose answer stays malformed, or is out of range, fails alone: its reason is recorded
in ``failed_items`` (and ``last_error``), its stored result is left as it was, and the valid
items of the job are stored. The job then stays processing and the poll fetches what is
missing again, with backoff (``VOLTMETRICS_POLL_AFTER`` doubling), up to
``VOLTMETRICS_JOB_RETRIES`` times, before it is left failed for staff; a status answer that
stays malformed is retried the same way. A transport failure (timeouts, 5xx, breaker open)
stores what was fetched and leaves the job processing with the reason in ``last_error``: the
poll fetches the rest later, without counting a retry.
"""

from __future__ import annotations

import logging
import random
import time
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from equipment.models import Equipment, MaintenanceRecord
from facilities.models import Facility
from voltmetrics.choices import JobKind, JobStatus, Source
from voltmetrics.models import EquipmentAssessment, FacilityAssessment, Job, WebhookEvent

from . import integration_enabled, outbox
from .client import (
    EquipmentResultAnswer,
    FacilityResultAnswer,
    VoltMetricsClient,
    VoltMetricsError,
)

log = logging.getLogger(__name__)

MAX_ERROR = 2000
MAX_REASON = 500  # per failed item
RETRY_FIELDS = ("status", "last_error", "retries", "next_retry_at")
CALCULATION_COMPLETE = "calculation_complete"
CALCULATION_FAILED = "calculation_failed"


def _off() -> bool:
    return not integration_enabled()


def _client(client):
    return (client, False) if client is not None else (VoltMetricsClient(), True)


def _job_fail(job: Job, reason: str) -> None:
    job.status = JobStatus.FAILED
    job.last_error = reason[:MAX_ERROR]
    job.completed_at = job.completed_at or timezone.now()
    job.next_retry_at = None
    job.save(update_fields=["status", "last_error", "completed_at", "next_retry_at"])
    log.warning(
        "VoltMetrics job %s failed: %s", job.job_id, job.last_error, extra={"job_id": job.job_id}
    )


def retry_delay(retry: int) -> timedelta:
    """The wait before automatic retry ``retry`` (1-based) of a job: VOLTMETRICS_POLL_AFTER
    doubling, plus up to 20 % jitter so retried jobs do not bunch up."""
    base = max(0, settings.VOLTMETRICS_POLL_AFTER) * 2 ** (max(1, retry) - 1)
    return timedelta(seconds=base * random.uniform(1.0, 1.2))


def _retry_later(job: Job, reason: str, now) -> bool:
    """Count one automatic retry of ``job`` and schedule it; False (and the job is left
    failed) once VOLTMETRICS_JOB_RETRIES are used up. The caller saves the job."""
    job.last_error = reason[:MAX_ERROR]
    if job.retries >= max(0, settings.VOLTMETRICS_JOB_RETRIES):
        job.status = JobStatus.FAILED
        job.completed_at = job.completed_at or now
        job.next_retry_at = None
        log.warning(
            "VoltMetrics job %s failed after %d retries: %s", job.job_id, job.retries, reason,
            extra={"job_id": job.job_id},
        )  # fmt: skip
        return False
    job.status = JobStatus.PROCESSING  # what the poll looks at
    job.retries += 1
    job.next_retry_at = now + retry_delay(job.retries)
    log.warning(
        "VoltMetrics job %s: %s; retry %d/%d at %s", job.job_id, reason[:300], job.retries,
        settings.VOLTMETRICS_JOB_RETRIES, job.next_retry_at.isoformat(),
        extra={"job_id": job.job_id},
    )  # fmt: skip
    return True


# --- completion ---------------------------------------------------------------------------------


def _targets(job: Job) -> tuple[list[str], list[str]]:
    """(equipment ids, facility ids) whose results this job produced."""
    if job.kind == JobKind.EQUIPMENT:
        return list(job.items), []
    if job.kind == JobKind.FACILITY:
        return [], list(job.items)
    # Maintenance changes the risk of the equipment they were done on.
    eq = MaintenanceRecord.objects.filter(external_id__in=list(job.items)).values_list(
        "equipment__external_id", flat=True
    )
    return sorted(set(eq)), []


def voltmetrics_job_complete(
    job_id: str, *, client: VoltMetricsClient | None = None, force: bool = False
) -> dict:
    """Fetch and store the results of a completed job (only the missing ones when an earlier
    try stored the rest), then recompute what they touch."""
    started = time.monotonic()
    if _off():
        return {"skipped": "integration off"}
    job = Job.objects.filter(job_id=job_id).first()
    if job is None:
        log.info("VoltMetrics job %s is not one of ours; ignored", job_id, extra={"job_id": job_id})
        return {"skipped": "unknown job"}
    if job.results_fetched_at is not None and not force:
        return {"skipped": "results already fetched"}
    eq_ids, fac_ids = _targets(job)
    if job.failed_items:
        eq_ids = [e for e in eq_ids if e in job.failed_items]
        fac_ids = [e for e in fac_ids if e in job.failed_items]
    client, own = _client(client)
    eq_results: list[EquipmentResultAnswer] = []
    fac_results: list[FacilityResultAnswer] = []
    failed: dict[str, str] = {}
    unfetched: list[str] = []
    interrupted: VoltMetricsError | None = None
    try:
        for label, ids, get, out in (
            ("equipment", eq_ids, client.get_equipment_result, eq_results),
            ("facility", fac_ids, client.get_facility_result, fac_results),
        ):
            for n, ext in enumerate(ids):
                if interrupted is not None:
                    unfetched.extend(ids[n:])
                    break
                try:
                    out.append(get(ext))
                except VoltMetricsError as exc:
                    if exc.unavailable:
                        interrupted = exc
                        unfetched.append(ext)
                    else:
                        failed[ext] = f"{label} {ext}: {exc.message}"[:MAX_REASON]
    finally:
        if own:
            client.close()
    now = timezone.now()
    with transaction.atomic():
        facility_pks = _store_equipment(eq_results, now) | _store_facilities(fac_results, now)
        job.failed_items = {
            **failed,
            **{e: f"not fetched: {interrupted.message}"[:MAX_REASON] for e in unfetched},
        }
        if interrupted is not None:
            # An outage, not a fault of the answers: the poll fetches the rest later.
            job.status = JobStatus.PROCESSING
            job.last_error = f"fetching results: {interrupted.message}"[:MAX_ERROR]
        elif failed:
            reason = f"{len(failed)} result(s) not stored: " + "; ".join(failed.values())
            if not _retry_later(job, reason, now):
                job.results_fetched_at = now
        else:
            job.status = JobStatus.COMPLETED
            job.completed_at = job.completed_at or now
            job.results_fetched_at = now
            job.next_retry_at = None
            job.last_error = ""
        job.save(
            update_fields=[
                "status", "completed_at", "results_fetched_at", "last_error", "failed_items",
                "retries", "next_retry_at",
            ]
        )  # fmt: skip
    if interrupted is not None:
        log.warning(
            "VoltMetrics job %s: fetching results failed: %s", job_id, interrupted.message,
            extra={"job_id": job_id},
        )  # fmt: skip
    if facility_pks:
        from voltmetrics.tasks import recompute_facilities_task

        recompute_facilities_task.delay(sorted(facility_pks))
    outcome = {
        "status": job.status,
        "equipment": len(eq_results),
        "facilities": len(fac_results),
        "errors": len(failed),
    }
    if interrupted is not None:
        outcome["error"] = interrupted.message
    log.info(
        "VoltMetrics job %s %s: %d equipment and %d facility result(s) stored, %d error(s)",
        job_id, job.status, len(eq_results), len(fac_results), len(failed),
        extra={"job_id": job_id, "duration_ms": round((time.monotonic() - started) * 1000)},
    )  # fmt: skip
    return outcome


def _computed_at(answer, now):
    return min(answer.calculation_timestamp, now)


def _primary_factor(factors: list[dict]) -> str:
    if not factors:
        return ""
    top = min(factors, key=lambda f: (-(f["weight"] * f["score"]), f["factor"]))
    return top["factor"][:32]


def _store_equipment(results: list[EquipmentResultAnswer], now) -> set[int]:
    if not results:
        return set()
    rows = {
        ext: (pk, fac_pk)
        for ext, pk, fac_pk in Equipment.objects.filter(
            external_id__in=[r.equipment_id for r in results], deleted_at__isnull=True
        ).values_list("external_id", "pk", "facility_id")
    }
    stored = dict(
        EquipmentAssessment.objects.filter(
            equipment_id__in=[pk for pk, _ in rows.values()], source=Source.VOLTMETRICS
        ).values_list("equipment_id", "computed_at")
    )
    facility_pks: set[int] = set()
    for r in results:
        if r.equipment_id not in rows:
            continue  # deleted (or never mirrored) since the push
        pk, fac_pk = rows[r.equipment_id]
        computed_at = _computed_at(r, now)
        if pk in stored and stored[pk] > computed_at:
            continue  # a newer result is stored already (jobs completing out of order)
        nfpa_70b = r.compliance.get("nfpa_70b") or {}
        nfpa_70e = r.compliance.get("nfpa_70e")
        status = nfpa_70b.get("status")
        values = {
            "algorithm_version": r.algorithm_version,
            "as_of": r.calculation_timestamp.date(),
            "risk_score": r.risk_score,
            "rating": r.risk_rating,
            "primary_risk_factor": _primary_factor(r.risk_factors),
            "factors": r.risk_factors,
            "nfpa_70b": nfpa_70b,
            "nfpa_70e": nfpa_70e if isinstance(nfpa_70e, dict) else {},
            "maintenance_status": status[:16] if isinstance(status, str) else "",
            "computed_at": computed_at,
        }
        EquipmentAssessment.objects.update_or_create(
            equipment_id=pk,
            source=Source.VOLTMETRICS,
            defaults=values,
            create_defaults={**values, "served": False},  # risk_recompute decides
        )
        facility_pks.add(fac_pk)
    return facility_pks


def _store_facilities(results: list[FacilityResultAnswer], now) -> set[int]:
    """Stored for comparison only: facility figures are always aggregated locally."""
    if not results:
        return set()
    pks = dict(
        Facility.objects.filter(
            external_id__in=[r.facility_id for r in results], deleted_at__isnull=True
        ).values_list("external_id", "pk")
    )
    out: set[int] = set()
    for r in results:
        pk = pks.get(r.facility_id)
        if pk is None:
            continue
        summary = r.raw.get("risk_summary") or {}
        count = summary.get("total_equipment")
        FacilityAssessment.objects.update_or_create(
            facility_id=pk,
            source=Source.VOLTMETRICS,
            defaults={
                "algorithm_version": r.algorithm_version,
                "as_of": r.calculation_timestamp.date(),
                "risk_score": r.risk_score,
                "risk_level": r.risk_level,
                "overall_compliance": r.overall_compliance,
                "equipment_count": count if isinstance(count, int) and count >= 0 else 0,
                "payload": r.raw,
                "computed_at": _computed_at(r, now),
            },
        )
        out.add(pk)
    return out


# --- polling ------------------------------------------------------------------------------------


def voltmetrics_poll_jobs(*, client: VoltMetricsClient | None = None, limit: int = 200) -> dict:
    """Ask VoltMetrics about jobs still processing past VOLTMETRICS_POLL_AFTER (no callback),
    and fetch again the missing results of jobs whose retry is due."""
    if _off():
        return {"skipped": "integration off"}
    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.VOLTMETRICS_POLL_AFTER)
    jobs = list(
        Job.objects.filter(status=JobStatus.PROCESSING, submitted_at__lte=cutoff)
        .filter(Q(next_retry_at__isnull=True) | Q(next_retry_at__lte=now))
        .order_by("submitted_at", "id")[:limit]
    )
    stats = {"polled": 0, "completed": 0, "failed": 0, "processing": 0, "error": ""}
    if not jobs:
        return stats
    client, own = _client(client)
    try:
        for job in jobs:
            if job.failed_items:
                # VoltMetrics completed it; some results are missing: fetch those again.
                stats["polled"] += 1
                if not _complete(job, client, stats):
                    break
                continue
            try:
                answer = client.get_job(job.job_id)
            except VoltMetricsError as exc:
                if exc.unavailable:
                    stats["error"] = exc.message
                    break
                stats["polled"] += 1
                if exc.kind == "rejected" and exc.status != 404:
                    Job.objects.filter(pk=job.pk).update(last_error=exc.message[:MAX_ERROR])
                    continue
                if exc.status == 404:
                    _job_fail(job, "VoltMetrics does not know this job")
                    stats["failed"] += 1
                    continue
                # The status answer stayed malformed: ask again later, like a missing result.
                retried = _retry_later(job, f"job status: {exc.message}", timezone.now())
                job.save(update_fields=[*RETRY_FIELDS, "completed_at"])
                stats["processing" if retried else "failed"] += 1
                continue
            stats["polled"] += 1
            if answer.status == JobStatus.COMPLETED:
                if not _complete(job, client, stats):
                    break
            elif answer.status == JobStatus.FAILED:
                _job_fail(job, answer.error or "VoltMetrics reported the job failed")
                stats["failed"] += 1
            else:
                stats["processing"] += 1
    finally:
        if own:
            client.close()
    return stats


def _complete(job: Job, client: VoltMetricsClient, stats: dict) -> bool:
    """Fetch a polled job's results and count the outcome; False when an outage cut the
    fetching short (the poll stops for this run)."""
    try:
        outcome = voltmetrics_job_complete(job.job_id, client=client, force=True)
    except Exception:
        log.exception(
            "VoltMetrics job %s: completing failed", job.job_id, extra={"job_id": job.job_id}
        )
        return True
    if outcome.get("error"):
        stats["error"] = outcome["error"]
        return False
    status = outcome.get("status")
    if status in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.PROCESSING):
        stats[str(status)] += 1
    return True


# --- retry (admin action) -----------------------------------------------------------------------


def voltmetrics_job_retry(job: Job, *, client: VoltMetricsClient | None = None) -> str:
    """Send a job's items again (from the records as mirrored now) as a new VoltMetrics job,
    tracked on the same Job row: new job id, processing, attempts + 1.

    Returns "resent", "skipped" (completed, or nothing left to send) or "failed" (the send
    failed; the reason is in last_error and the attempt is counted)."""
    if job.status == JobStatus.COMPLETED:
        return "skipped"
    if _off():
        return "failed"
    spec = outbox.BY_JOB_KIND[job.kind]
    items = spec.build(list(job.items))
    present = [ext for ext in job.items if ext in items]
    if not present:
        _job_fail(job, "nothing to re-send: every item was deleted")
        return "skipped"
    client, own = _client(client)
    try:
        calc = outbox.calculation_settings(client)
        if job.kind == JobKind.FACILITY:
            answers = [outbox.send_items(client, job.kind, [items[e]], calc) for e in present[:1]]
            present = present[:1]
        else:
            answers = [outbox.send_items(client, job.kind, [items[e] for e in present], calc)]
    except VoltMetricsError as exc:
        job.attempts += 1
        job.last_error = f"retry failed: {exc.message}"[:MAX_ERROR]
        job.save(update_fields=["attempts", "last_error"])
        return "failed"
    finally:
        if own:
            client.close()
    previous = job.job_id
    job.job_id = answers[0].job_id
    job.items = present
    job.status = JobStatus.PROCESSING
    job.submitted_at = timezone.now()
    job.completed_at = job.results_fetched_at = job.next_retry_at = None
    job.failed_items = {}
    job.retries = 0
    job.attempts += 1
    job.last_error = ""
    job.save()
    log.info(
        "VoltMetrics job %s re-sent as %s (attempt %d)", previous, job.job_id, job.attempts,
        extra={"job_id": job.job_id},
    )  # fmt: skip
    return "resent"


# --- callbacks ----------------------------------------------------------------------------------


def voltmetrics_callback_handle(event_id: str) -> str:
    """Act on one recorded callback: fetch a completed job's results, or fail the job.

    A callback for a job MasterBus does not track (unknown job id) is logged and ignored."""
    event = WebhookEvent.objects.filter(event_id=event_id).first()
    if event is None:
        log.warning("VoltMetrics callback %s is not recorded; ignored", event_id)
        return "unknown event"
    job = Job.objects.filter(job_id=event.job_id).first()
    if job is None:
        log.info(
            "VoltMetrics callback %s names unknown job %s; ignored", event_id, event.job_id,
            extra={"job_id": event.job_id},
        )  # fmt: skip
        return "unknown job"
    if event.event_type == CALCULATION_COMPLETE:
        outcome = voltmetrics_job_complete(job.job_id)
        return str(outcome.get("status") or outcome.get("skipped") or "")
    if job.status == JobStatus.PROCESSING:
        payload = event.payload if isinstance(event.payload, dict) else {}
        reason = payload.get("error") or payload.get("status") or "calculation_failed"
        if isinstance(reason, dict):
            reason = ": ".join(str(reason[k]) for k in ("code", "message") if reason.get(k))
        _job_fail(job, f"VoltMetrics: {reason}")
        return JobStatus.FAILED
    return str(job.status)
