"""What voltmetrics prunes (operations.md §3): record changes its consumers handled, and
VoltMetrics jobs and callback events.

**Record changes** (``facilities.RecordChange``, the change outbox) have two consumers, both
here: the recompute (``recomputed_at``, set by ``incremental.recompute_pending``) and the
VoltMetrics push (``pushed_at``, set by ``integration.outbox`` when VoltMetrics accepted the
job, or when the record is deleted or unknown). A change older than ``CHANGE_RETENTION_DAYS``
is pruned once every consumer handled it; an unhandled one never is:

- VoltMetrics configured (``VOLTMETRICS_URL``): recomputed *and* pushed.
- VoltMetrics off: nothing pushes, and turning the integration on later pushes every record
  that changed meanwhile (one item per record, built from the record as mirrored then). So a
  change is handled once it is recomputed and either pushed (earlier, while the integration
  was on) or followed by a later change of the same record, whose row stands for it: the
  record's latest row stays until it is pushed, the older ones go. The table stays as large
  as the number of records changed, not as the time that passed.

**Recompute runs** (split recomputes and their chunks) that ended before the same cut-off as
the jobs. **Jobs** finished (completed, or failed with no automatic retry due) and older than
``VOLTMETRICS_RETENTION_DAYS`` by submission and completion; a job still processing or
awaiting a retry is never pruned. **Callback events** received before the cut-off, except
those naming a job still processing.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q, QuerySet

from facilities.models import RecordChange
from masterbus.retention import Pruning, register_pruner

from .choices import JobStatus, RunStatus
from .integration import integration_enabled
from .models import Job, RecomputeChunk, RecomputeRun, WebhookEvent

CHANGE_RETENTION_FLOOR = 1
VOLTMETRICS_RETENTION_FLOOR = 2  # longer than a job's automatic retries (about a day)


def changes_handled(cutoff) -> QuerySet:
    """Record changes created before ``cutoff`` that every consumer has handled."""
    pushed = Q(pushed_at__isnull=False)
    if not integration_enabled():
        later = RecordChange.objects.filter(
            kind=OuterRef("kind"), external_id=OuterRef("external_id"), id__gt=OuterRef("id")
        )
        pushed |= Q(Exists(later))
    return RecordChange.objects.filter(created_at__lt=cutoff, recomputed_at__isnull=False).filter(
        pushed
    )


def jobs_finished(cutoff) -> QuerySet:
    return Job.objects.filter(
        status__in=[JobStatus.COMPLETED, JobStatus.FAILED],
        next_retry_at__isnull=True,
        submitted_at__lt=cutoff,
    ).filter(Q(completed_at__isnull=True) | Q(completed_at__lt=cutoff))


def callback_events_old(cutoff) -> QuerySet:
    processing = Job.objects.filter(job_id=OuterRef("job_id"), status=JobStatus.PROCESSING)
    return WebhookEvent.objects.filter(received_at__lt=cutoff).filter(~Exists(processing))


def recompute_runs_old(cutoff) -> QuerySet:
    """Recompute runs (and their chunks) that ended before ``cutoff``; a running one stays."""
    return RecomputeRun.objects.exclude(status=RunStatus.RUNNING).filter(finished_at__lt=cutoff)


def prune_changes(pruning: Pruning) -> None:
    pruning.delete(changes_handled(pruning.cutoff("CHANGE_RETENTION_DAYS")))


def prune_voltmetrics(pruning: Pruning) -> None:
    cutoff = pruning.cutoff("VOLTMETRICS_RETENTION_DAYS")
    pruning.delete(jobs_finished(cutoff))
    pruning.delete(callback_events_old(cutoff))
    runs = recompute_runs_old(cutoff)
    pruning.delete(RecomputeChunk.objects.filter(run__in=runs))  # raw deletes: no cascade
    pruning.delete(runs)


def register() -> None:
    register_pruner(
        "voltmetrics.changes",
        prune_changes,
        floors={"CHANGE_RETENTION_DAYS": CHANGE_RETENTION_FLOOR},
    )
    register_pruner(
        "voltmetrics.jobs",
        prune_voltmetrics,
        floors={"VOLTMETRICS_RETENTION_DAYS": VOLTMETRICS_RETENTION_FLOOR},
    )
