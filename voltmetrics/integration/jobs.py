"""VoltMetrics jobs: completion (fetch, validate, store results), polling, retry, callbacks.

Results are fetched by ``fetch`` (``VOLTMETRICS_FETCH_CONCURRENCY`` at a time; only HTTP off
this thread) and stored by ``results`` as assessments with ``source="voltmetrics"`` and
VoltMetrics' own ``algorithm_version``, on this thread's connection, one transaction per job
with the job's state. Which result is *served* is decided by
``voltmetrics.services.risk_recompute``, which then re-aggregates the facilities and the
portfolio locally. A result is fetched once per completion: a job's targets are distinct, and
a poll that completes several jobs asks each result once for all of them (an equipment's own
job and its maintenance jobs name the same result).

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

from equipment.models import MaintenanceRecord
from voltmetrics.choices import JobKind, JobStatus
from voltmetrics.models import Job, WebhookEvent

from . import integration_enabled, outbox
from .client import VoltMetricsClient, VoltMetricsError
from .fetch import EQUIPMENT, FACILITY, Calls, Target, call_all, fetch_results
from .results import store_equipment, store_facilities

log = logging.getLogger(__name__)

MAX_ERROR = 2000
MAX_REASON = 500  # per failed item
RETRY_FIELDS = ("status", "last_error", "retries", "next_retry_at")
SETTLED = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.PROCESSING)  # a poll's counts
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


def _targets(job: Job) -> list[Target]:
    """The results this job produced, each once: (kind, Condoit id); only those still missing
    when an earlier try stored the rest."""
    if job.kind == JobKind.EQUIPMENT:
        targets = [(EQUIPMENT, e) for e in job.items]
    elif job.kind == JobKind.FACILITY:
        targets = [(FACILITY, e) for e in job.items]
    else:
        # Maintenance changes the risk of the equipment they were done on.
        eq = MaintenanceRecord.objects.filter(external_id__in=list(job.items)).values_list(
            "equipment__external_id", flat=True
        )
        targets = [(EQUIPMENT, e) for e in sorted(set(eq))]
    if job.failed_items:
        targets = [t for t in targets if t[1] in job.failed_items]
    return list(dict.fromkeys(targets))


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
    return _complete_jobs([job], client, started=started)[0]


def _complete_jobs(
    jobs: list[Job], client: VoltMetricsClient | None, *, started: float, isolate: bool = False
) -> list[dict]:
    """Fetch the results of completed jobs, each result once however many of the jobs
    produced it (an equipment's own job and its maintenance jobs), ``VOLTMETRICS_FETCH_
    CONCURRENCY`` at a time; then settle each job in its own transaction (its results stored
    on this thread's connection, its state saved) and recompute every facility they touched
    once. ``isolate``: a job that fails to settle is logged and skipped (the poll), not
    raised. The outcomes, in the order of ``jobs`` (None for a skipped one)."""
    plans = [(job, _targets(job)) for job in jobs]
    client, own = _client(client)
    try:
        fetched = fetch_results(client, [t for _, targets in plans for t in targets])
    except Exception:
        if not isolate:
            raise
        log.exception("VoltMetrics: fetching the results of %d job(s) failed", len(jobs))
        return [None] * len(jobs)
    finally:
        if own:
            client.close()
    stored: set[Target] = set()
    facility_pks: set[int] = set()
    outcomes = []
    for job, targets in plans:
        try:
            outcome, pks = _settle(job, targets, fetched, stored, started)
        except Exception:
            if not isolate:
                raise
            log.exception(
                "VoltMetrics job %s: completing failed", job.job_id, extra={"job_id": job.job_id}
            )
            outcome, pks = None, set()
        outcomes.append(outcome)
        facility_pks |= pks
    if facility_pks:
        from voltmetrics.tasks import recompute_facilities_task

        recompute_facilities_task.delay(sorted(facility_pks))
    return outcomes


def _settle(
    job: Job, targets: list[Target], fetched: Calls, stored: set[Target], started: float
) -> tuple[dict, set[int]]:
    """Store one job's fetched results (those another job of the pass has not stored already)
    and its state, in one transaction; its outcome and the facilities it touched."""
    got = [t for t in targets if t in fetched.answers]
    eq_results = [fetched.answers[t] for t in got if t[0] == EQUIPMENT and t not in stored]
    fac_results = [fetched.answers[t] for t in got if t[0] == FACILITY and t not in stored]
    failed = {
        ext: f"{kind} {ext}: {fetched.errors[(kind, ext)].message}"[:MAX_REASON]
        for kind, ext in targets
        if (kind, ext) in fetched.errors
    }
    unasked = set(fetched.unasked)
    unfetched = [ext for kind, ext in targets if (kind, ext) in unasked]
    interrupted = None
    if unfetched:
        interrupted = fetched.interrupted or VoltMetricsError("the fetching stopped")
    now = timezone.now()
    with transaction.atomic():
        facility_pks = store_equipment(eq_results, now) | store_facilities(fac_results, now)
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
    stored.update(got)
    if interrupted is not None:
        log.warning(
            "VoltMetrics job %s: fetching results failed: %s", job.job_id, interrupted.message,
            extra={"job_id": job.job_id},
        )  # fmt: skip
    n_eq = sum(1 for t in got if t[0] == EQUIPMENT)
    n_fac = len(got) - n_eq
    outcome = {"status": job.status, "equipment": n_eq, "facilities": n_fac, "errors": len(failed)}
    if interrupted is not None:
        outcome["error"] = interrupted.message
    log.info(
        "VoltMetrics job %s %s: %d equipment and %d facility result(s) stored, %d error(s)",
        job.job_id, job.status, n_eq, n_fac, len(failed),
        extra={"job_id": job.job_id, "duration_ms": round((time.monotonic() - started) * 1000)},
    )  # fmt: skip
    return outcome, facility_pks


# --- polling ------------------------------------------------------------------------------------


def voltmetrics_poll_jobs(*, client: VoltMetricsClient | None = None, limit: int = 200) -> dict:
    """Ask VoltMetrics about jobs still processing past VOLTMETRICS_POLL_AFTER (no callback),
    and fetch again the missing results of jobs whose retry is due.

    The statuses are asked, and then the results of every job found completed are fetched,
    ``VOLTMETRICS_FETCH_CONCURRENCY`` at a time, each result once in the pass however many of
    the jobs produced it. An outage stops the asking; what was answered before it is acted
    on, the rest is left for the next run."""
    if _off():
        return {"skipped": "integration off"}
    started = time.monotonic()
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
        # A job with failed items was completed by VoltMetrics: fetch those again, unasked.
        done = [job for job in jobs if job.failed_items]
        asking = [job for job in jobs if not job.failed_items]
        stats["polled"] = len(done)
        statuses = call_all(client, [job.job_id for job in asking], client.get_job)
        if statuses.interrupted is not None:
            stats["error"] = statuses.interrupted.message
        for job in asking:
            if job.job_id in statuses.answers:
                stats["polled"] += 1
                if _status_answered(job, statuses.answers[job.job_id], stats):
                    done.append(job)
            elif job.job_id in statuses.errors:
                stats["polled"] += 1
                _status_refused(job, statuses.errors[job.job_id], stats)
        if done:
            outcomes = _complete_jobs(done, client, started=started, isolate=True)
            for outcome in filter(None, outcomes):
                if outcome.get("error"):
                    stats["error"] = outcome["error"]
                if outcome["status"] in SETTLED:
                    stats[str(outcome["status"])] += 1
    finally:
        if own:
            client.close()
    return stats


def _status_answered(job: Job, answer, stats: dict) -> bool:
    """Act on a job's status; True when VoltMetrics completed it (its results are due)."""
    if answer.status == JobStatus.COMPLETED:
        return True
    if answer.status == JobStatus.FAILED:
        _job_fail(job, answer.error or "VoltMetrics reported the job failed")
        stats["failed"] += 1
    else:
        stats["processing"] += 1
    return False


def _status_refused(job: Job, exc: VoltMetricsError, stats: dict) -> None:
    if exc.status == 404:
        _job_fail(job, "VoltMetrics does not know this job")
        stats["failed"] += 1
    elif exc.kind == "rejected":
        Job.objects.filter(pk=job.pk).update(last_error=exc.message[:MAX_ERROR])
    else:
        # The status answer stayed malformed: ask again later, like a missing result.
        retried = _retry_later(job, f"job status: {exc.message}", timezone.now())
        job.save(update_fields=[*RETRY_FIELDS, "completed_at"])
        stats["processing" if retried else "failed"] += 1


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
