"""VoltMetrics jobs: completion (fetch, validate, store results), polling, retry, callbacks.

Results are stored as assessments with ``source="voltmetrics"`` and VoltMetrics' own
``algorithm_version`` — one row per (record, source), updated in place. Which result is
*served* is decided by ``voltmetrics.services.risk_recompute`` (a VoltMetrics result newer
than the record's last change and < 24 h old wins), which then re-aggregates the facilities
and the portfolio locally. ``computed_at`` of a VoltMetrics row is VoltMetrics'
``calculation_timestamp`` (never later than now), so "newer than the last change" compares
when VoltMetrics calculated with when the record changed.

A malformed or out-of-range answer for an item fails the job with the reason recorded and
leaves that item's stored result as it was; the valid items of the job are stored. A
transport failure (timeouts, 5xx, breaker open) leaves the job processing with the reason in
``last_error``: the poll picks it up again later.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from equipment.models import Equipment, MaintenanceRecord
from facilities.models import Facility
from voltmetrics.choices import JobKind, JobStatus, Source
from voltmetrics.models import EquipmentAssessment, FacilityAssessment, Job, WebhookEvent

from . import outbox
from .client import (
    EquipmentResultAnswer,
    FacilityResultAnswer,
    VoltMetricsClient,
    VoltMetricsError,
)

log = logging.getLogger(__name__)

MAX_ERROR = 2000
CALCULATION_COMPLETE = "calculation_complete"
CALCULATION_FAILED = "calculation_failed"


def _off() -> bool:
    return not settings.VOLTMETRICS_URL


def _client(client):
    return (client, False) if client is not None else (VoltMetricsClient(), True)


def _job_fail(job: Job, reason: str) -> None:
    job.status = JobStatus.FAILED
    job.last_error = reason[:MAX_ERROR]
    job.completed_at = job.completed_at or timezone.now()
    job.save(update_fields=["status", "last_error", "completed_at"])
    log.warning("VoltMetrics job %s failed: %s", job.job_id, job.last_error)


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
    """Fetch and store the results of a completed job, then recompute what they touch."""
    if _off():
        return {"skipped": "integration off"}
    job = Job.objects.filter(job_id=job_id).first()
    if job is None:
        log.info("VoltMetrics job %s is not one of ours; ignored", job_id)
        return {"skipped": "unknown job"}
    if job.results_fetched_at is not None and not force:
        return {"skipped": "results already fetched"}
    eq_ids, fac_ids = _targets(job)
    client, own = _client(client)
    eq_results: list[EquipmentResultAnswer] = []
    fac_results: list[FacilityResultAnswer] = []
    errors: list[str] = []
    try:
        for ext in eq_ids:
            try:
                eq_results.append(client.get_equipment_result(ext))
            except VoltMetricsError as exc:
                if exc.unavailable:
                    return _fetch_interrupted(job, exc)
                errors.append(f"equipment {ext}: {exc.message}")
        for ext in fac_ids:
            try:
                fac_results.append(client.get_facility_result(ext))
            except VoltMetricsError as exc:
                if exc.unavailable:
                    return _fetch_interrupted(job, exc)
                errors.append(f"facility {ext}: {exc.message}")
    finally:
        if own:
            client.close()
    now = timezone.now()
    with transaction.atomic():
        facility_pks = _store_equipment(eq_results, now) | _store_facilities(fac_results, now)
        job.status = JobStatus.FAILED if errors else JobStatus.COMPLETED
        job.completed_at = job.completed_at or now
        job.results_fetched_at = now
        job.last_error = "; ".join(errors)[:MAX_ERROR]
        job.save(update_fields=["status", "completed_at", "results_fetched_at", "last_error"])
    if errors:
        log.warning("VoltMetrics job %s: %d invalid result(s): %s", job_id, len(errors), errors[0])
    if facility_pks:
        from voltmetrics.tasks import recompute_facilities_task

        recompute_facilities_task.delay(sorted(facility_pks))
    return {
        "status": job.status,
        "equipment": len(eq_results),
        "facilities": len(fac_results),
        "errors": len(errors),
    }


def _fetch_interrupted(job: Job, exc: VoltMetricsError) -> dict:
    # Still processing: the poll (or a later callback) fetches again.
    Job.objects.filter(pk=job.pk).update(last_error=f"fetching results: {exc.message}"[:MAX_ERROR])
    log.warning("VoltMetrics job %s: fetching results failed: %s", job.job_id, exc.message)
    return {"status": job.status, "error": exc.message}


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
    """Ask VoltMetrics about jobs still processing past VOLTMETRICS_POLL_AFTER (no callback)."""
    if _off():
        return {"skipped": "integration off"}
    cutoff = timezone.now() - timedelta(seconds=settings.VOLTMETRICS_POLL_AFTER)
    jobs = list(
        Job.objects.filter(status=JobStatus.PROCESSING, submitted_at__lte=cutoff).order_by(
            "submitted_at", "id"
        )[:limit]
    )
    stats = {"polled": 0, "completed": 0, "failed": 0, "processing": 0, "error": ""}
    if not jobs:
        return stats
    client, own = _client(client)
    try:
        for job in jobs:
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
                reason = "VoltMetrics does not know this job" if exc.status == 404 else exc.message
                _job_fail(job, reason)
                stats["failed"] += 1
                continue
            stats["polled"] += 1
            if answer.status == JobStatus.COMPLETED:
                try:
                    outcome = voltmetrics_job_complete(job.job_id, client=client, force=True)
                except Exception:
                    log.exception("VoltMetrics job %s: completing failed", job.job_id)
                    continue
                if outcome.get("status") == JobStatus.COMPLETED:
                    stats["completed"] += 1
                elif outcome.get("status") == JobStatus.FAILED:
                    stats["failed"] += 1
                if outcome.get("error"):
                    stats["error"] = outcome["error"]
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
    job.completed_at = job.results_fetched_at = None
    job.attempts += 1
    job.last_error = ""
    job.save()
    log.info("VoltMetrics job %s re-sent as %s (attempt %d)", previous, job.job_id, job.attempts)
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
        log.info("VoltMetrics callback %s names unknown job %s; ignored", event_id, event.job_id)
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
