"""The recompute's and the VoltMetrics integration's application gauges (operations.md §1),
four queries whatever the portfolio size (pinned by tests); registered in
``VoltmetricsConfig.ready()``."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, Min, Q
from django.utils import timezone

from facilities.choices import RecordKind
from facilities.models import RecordChange
from masterbus.heartbeats import last_successes
from masterbus.metrics.application import Sample

from .choices import JobStatus
from .integration import integration_enabled
from .models import Job, ModelVersion

RECOMPUTE_KINDS = ("full", "incremental", "snapshot")


def _changes(now) -> list[Sample]:
    """Outbox rows not yet handled, per consumer: the recompute always; VoltMetrics while it
    is configured (its drain leaves rows alone otherwise)."""
    consumers = {"recompute": "recomputed_at"}
    if integration_enabled():
        consumers["voltmetrics"] = "pushed_at"
    aggregates = {}
    for consumer, column in consumers.items():
        waiting = Q(**{f"{column}__isnull": True})
        aggregates[f"{consumer}_n"] = Count("id", filter=waiting)
        aggregates[f"{consumer}_oldest"] = Min("created_at", filter=waiting)
    unrecomputed = Q(recomputed_at__isnull=True)
    aggregates["equipment_behind"] = Count(
        "external_id", filter=unrecomputed & Q(kind=RecordKind.EQUIPMENT), distinct=True
    )
    aggregates["facilities_behind"] = Count(
        "facility_external_id", filter=unrecomputed & ~Q(facility_external_id=""), distinct=True
    )
    either = Q()
    for column in consumers.values():
        either |= Q(**{f"{column}__isnull": True})
    got = RecordChange.objects.filter(either).aggregate(**aggregates)
    samples = []
    for consumer in consumers:
        oldest = got[f"{consumer}_oldest"]
        age = max(0.0, (now - oldest).total_seconds()) if oldest else 0.0
        labels = {"consumer": consumer}
        samples.append(Sample("masterbus_changes_pending", labels, got[f"{consumer}_n"]))
        samples.append(Sample("masterbus_changes_oldest_pending_age_seconds", labels, age))
    samples.append(
        Sample("masterbus_assessments_behind", {"kind": "equipment"}, got["equipment_behind"])
    )
    samples.append(
        Sample("masterbus_assessments_behind", {"kind": "facility"}, got["facilities_behind"])
    )
    return samples


def voltmetrics_samples() -> list[Sample]:
    now = timezone.now()
    samples = _changes(now)
    last = last_successes("recompute.")
    for kind in RECOMPUTE_KINDS:
        at = last.get(kind)
        samples.append(
            Sample(
                "masterbus_recompute_last_success_timestamp_seconds",
                {"kind": kind},
                at.timestamp() if at else 0.0,
            )
        )
    if integration_enabled():
        from .integration.client import CircuitBreaker

        breaker = CircuitBreaker()
        available = 0.0 if breaker.state() == "open" else 1.0
        samples.append(Sample("masterbus_voltmetrics_available", {}, available))
        since = breaker.down_since() if not available else None
        samples.append(
            Sample("masterbus_voltmetrics_down_since_timestamp_seconds", {}, since or 0.0)
        )
        by_status = dict(
            Job.objects.filter(submitted_at__gte=now - timedelta(days=1))
            .values_list("status")
            .annotate(n=Count("id"))
            .order_by()
        )
        samples += [
            Sample("masterbus_voltmetrics_jobs", {"status": status}, by_status.get(status, 0))
            for status in JobStatus.values
        ]
    current = ModelVersion.objects.filter(is_current=True).values_list("version", flat=True).first()
    samples.append(Sample("masterbus_build_info", {"model_version": current or ""}, 1))
    return samples
