"""Condoit ingestion's application gauges (operations.md §1), three queries whatever the
portfolio size; registered in ``CondoitConfig.ready()``."""

from __future__ import annotations

from django.db.models import Count, Max
from django.utils import timezone

from facilities.choices import SyncSource, SyncStatus
from facilities.models import RejectedRecord, SyncCursor, SyncRun
from masterbus.metrics.application import Sample

from .pull import pull_configured

DOORS = (SyncSource.FILE, SyncSource.PULL, SyncSource.PUSH)
SUCCEEDED = (SyncStatus.SUCCEEDED, SyncStatus.PARTIAL)


def condoit_samples() -> list[Sample]:
    now = timezone.now()
    last = dict(
        SyncRun.objects.filter(source__in=DOORS, status__in=SUCCEEDED)
        .values_list("source")
        .annotate(last=Max("finished_at"))
        .order_by()
    )
    samples = []
    for door in DOORS:
        if door == SyncSource.PULL and not pull_configured():
            continue
        at = last.get(door.value)
        samples.append(
            Sample(
                "masterbus_condoit_last_success_timestamp_seconds",
                {"door": door.value},
                at.timestamp() if at else 0.0,
            )
        )
    for resource, mark in SyncCursor.objects.values_list("resource", "high_water_mark"):
        if mark is not None:
            age = max(0.0, (now - mark).total_seconds())
            samples.append(
                Sample("masterbus_condoit_high_water_age_seconds", {"resource": resource}, age)
            )
    # A re-run marks the records it took (``rerun_at``); one rejected again is a new
    # rejected record of the re-run's own sync run.
    rejected = dict(
        RejectedRecord.objects.filter(rerun_at__isnull=True)
        .values_list("kind")
        .annotate(n=Count("id"))
        .order_by()
    )
    samples += [
        Sample("masterbus_sync_rejected_records", {"kind": kind or "unknown"}, n)
        for kind, n in sorted(rejected.items())
    ]
    return samples
