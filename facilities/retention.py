"""What facilities prunes (operations.md §3): sync runs with their rejected records, and
processed Condoit event ids.

- A sync run older than ``SYNC_RUN_RETENTION_DAYS`` (by its start) goes with its rejected
  records, except the last ``KEEP_RUNS_PER_SOURCE`` runs of each source (the doors — file,
  pull, push — and re-runs) and any run holding a rejection not re-run yet (``rerun_at``
  empty: never re-run, or it could not be). A re-run marks the rejection re-run whatever
  came of it; a record rejected again is a new rejection on the re-run's own sync run, which
  is then the run kept for it.
- A processed event id older than ``PROCESSED_EVENT_RETENTION_DAYS`` (by its receipt): Condoit
  retries a delivery for less than the floor, so a repeat is still recognised.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, QuerySet

from masterbus.retention import Pruning, register_pruner

from .choices import SyncSource
from .models import ProcessedEvent, RejectedRecord, SyncRun

KEEP_RUNS_PER_SOURCE = 20
SYNC_RUN_RETENTION_FLOOR = 7
PROCESSED_EVENT_RETENTION_FLOOR = 7


def sync_runs_prunable(cutoff) -> QuerySet:
    """Sync runs started before ``cutoff`` that retention lets go."""
    keep: list[int] = []
    for source in SyncSource.values:
        keep += (
            SyncRun.objects.filter(source=source)
            .order_by("-started_at", "-id")
            .values_list("pk", flat=True)[:KEEP_RUNS_PER_SOURCE]
        )
    open_rejections = RejectedRecord.objects.filter(sync_run=OuterRef("pk"), rerun_at__isnull=True)
    return (
        SyncRun.objects.filter(started_at__lt=cutoff)
        .exclude(pk__in=keep)
        .filter(~Exists(open_rejections))
    )


def prune_sync_runs(pruning: Pruning) -> None:
    runs = sync_runs_prunable(pruning.cutoff("SYNC_RUN_RETENTION_DAYS"))
    pruning.delete(RejectedRecord.objects.filter(sync_run__in=runs.values("pk")))
    # Their rejections are gone now; a run is deleted only when none is left.
    any_rejection = RejectedRecord.objects.filter(sync_run=OuterRef("pk"))
    pruning.delete(runs, guard=~Exists(any_rejection))


def prune_processed_events(pruning: Pruning) -> None:
    cutoff = pruning.cutoff("PROCESSED_EVENT_RETENTION_DAYS")
    pruning.delete(ProcessedEvent.objects.filter(received_at__lt=cutoff))


def register() -> None:
    register_pruner(
        "facilities.sync_runs",
        prune_sync_runs,
        floors={"SYNC_RUN_RETENTION_DAYS": SYNC_RUN_RETENTION_FLOOR},
    )
    register_pruner(
        "facilities.processed_events",
        prune_processed_events,
        floors={"PROCESSED_EVENT_RETENTION_DAYS": PROCESSED_EVENT_RETENTION_FLOOR},
    )
