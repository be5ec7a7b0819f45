"""The dashboard's operations half: sync health per Condoit door, pending changes, recomputes,
VoltMetrics, queues and webhook subscriptions.

The figures ``manage.py status`` and ``/metrics`` show come from the same application gauges
(``masterbus.metrics.application``, through their shared cache of at most
``METRICS_CACHE_SECONDS`` ≤ 15 s), and an item is red exactly when :func:`masterbus.status.status`
gives its line an alert — one set of thresholds (masterbus/status.py, docs/alerts.yml). What
no gauge carries (runs and rejects of the last 24 hours, the last error per door, rejected
records per door) is read here, at each render, in a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db.models import Count, F, Q, Sum, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from consumers.models import Subscription
from facilities.choices import SyncSource, SyncStatus
from facilities.models import RecordChange, RejectedRecord, SyncRun
from masterbus.metrics.application import Sample, cached_samples
from masterbus.status import Status, ago, status
from voltmetrics.choices import JobStatus, RunKind
from voltmetrics.models import Job, PortfolioSnapshot, RecomputeRun

from .links import Links

DOORS = (SyncSource.PULL, SyncSource.PUSH, SyncSource.FILE)
WINDOW = timedelta(hours=24)


@dataclass
class Door:
    """One Condoit door's health."""

    door: str
    label: str
    configured: bool = True
    last_success: datetime | None = None
    last_success_ago: str = ""
    lag: list[tuple[str, str]] = field(default_factory=list)  # pull: (resource, age)
    runs: int = 0  # started in the last 24 h
    failed: int = 0
    rejected: int = 0  # records rejected by those runs
    waiting: int = 0  # rejected records of this door not re-run yet
    last_error: str = ""
    last_error_at: datetime | None = None
    last_error_url: str = ""
    runs_url: str = ""
    failed_url: str = ""
    waiting_url: str = ""
    alert: str = ""


@dataclass
class Row:
    """A named figure, its link and its alert ("" when within its threshold)."""

    label: str
    value: str
    url: str = ""
    alert: str = ""
    detail: str = ""


@dataclass
class Operations:
    at: datetime
    doors: list[Door]
    rejected_total: int
    rejected_url: str
    changes: list[Row]
    recomputes: list[Row]
    behind: str
    voltmetrics: Row
    jobs: list[Row]
    queues: list[Row]
    subscriptions: list[Row]
    paused: int
    paused_url: str
    unreadable: list[Row]

    @property
    def alerts(self) -> int:
        rows = [*self.changes, *self.recomputes, self.voltmetrics, *self.queues,
                *self.subscriptions, *self.unreadable]  # fmt: skip
        return sum(1 for d in self.doors if d.alert) + sum(1 for r in rows if r.alert)


def _by(samples: list[Sample], family: str, label: str = "") -> dict[str, float]:
    return {s.labels.get(label, "") if label else "": s.value for s in samples
            if s.family == family}  # fmt: skip


def _at(ts: float) -> datetime | None:
    return datetime.fromtimestamp(ts, UTC) if ts else None


def _door_runs(since: datetime) -> tuple[dict[str, dict], dict[str, SyncRun], dict[str, int]]:
    """Per door: runs, failures and rejects since ``since``; its latest failed run; its
    rejected records not re-run. Three queries, whatever the number of runs."""
    per_door = {
        row["source"]: row
        for row in SyncRun.objects.filter(source__in=DOORS, started_at__gte=since)
        .values("source")
        .annotate(
            runs=Count("pk"),
            failed=Count("pk", filter=Q(status=SyncStatus.FAILED)),
            rejected=Sum("rejected", default=0),
        )
        .order_by()
    }
    newest_first = Window(RowNumber(), partition_by=F("source"),
                          order_by=[F("started_at").desc(), F("pk").desc()])  # fmt: skip
    last_failed = {
        run.source: run
        for run in SyncRun.objects.filter(source__in=DOORS, status=SyncStatus.FAILED)
        .annotate(newest=newest_first)
        .filter(newest=1)
        .only("source", "error", "finished_at", "started_at")
    }
    waiting = dict(
        RejectedRecord.objects.filter(rerun_at__isnull=True, sync_run__source__in=DOORS)
        .values_list("sync_run__source")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return per_door, last_failed, waiting


def operations(links: Links | None = None, *, now: datetime | None = None) -> Operations:
    links = links or Links()
    now = now or timezone.now()
    failures: list[str] = []
    samples = cached_samples(failures)
    st: Status = status(samples, now=now.timestamp(), failures=failures)
    alert = {line.key: line.alert for line in st.lines}
    since = now - WINDOW
    since_param = since.isoformat(timespec="seconds")
    per_door, last_failed, waiting = _door_runs(since)

    last = _by(samples, "masterbus_condoit_last_success_timestamp_seconds", "door")
    marks = _by(samples, "masterbus_condoit_high_water_age_seconds", "resource")
    doors = []
    for source in DOORS:
        door = Door(source.value, source.label, configured=source.value in last)
        ts = last.get(source.value, 0.0)
        door.last_success = _at(ts)
        door.last_success_ago = ago(now.timestamp() - ts) if ts else ""
        if source == SyncSource.PULL:
            door.lag = [(resource, ago(age)) for resource, age in sorted(marks.items())]
        counts = per_door.get(source.value, {})
        door.runs = counts.get("runs", 0)
        door.failed = counts.get("failed", 0)
        door.rejected = counts.get("rejected", 0) or 0
        door.waiting = waiting.get(source.value, 0)
        run = last_failed.get(source.value)
        if run is not None:
            door.last_error = run.error or "failed"
            door.last_error_at = run.finished_at or run.started_at
            door.last_error_url = links.change(SyncRun, run.pk)
        door.runs_url = links.changelist(
            SyncRun, source__exact=source.value, started_at__gte=since_param
        )
        door.failed_url = links.changelist(
            SyncRun, source__exact=source.value, status__exact=SyncStatus.FAILED.value
        )
        door.waiting_url = links.changelist(
            RejectedRecord, sync_run__source__exact=source.value, rerun_at__isnull="True"
        )
        door.alert = alert.get(f"condoit.{source.value}", "")
        doors.append(door)

    rejected = _by(samples, "masterbus_sync_rejected_records", "kind")

    pending = _by(samples, "masterbus_changes_pending", "consumer")
    oldest = _by(samples, "masterbus_changes_oldest_pending_age_seconds", "consumer")
    change_urls = {
        "recompute": links.changelist(RecordChange, pending="yes"),
        "voltmetrics": links.changelist(RecordChange, pushed_at__isnull="True"),
    }
    changes = [
        Row(
            consumer,
            f"{int(n):,} pending",
            change_urls.get(consumer, ""),
            alert.get(f"changes.{consumer}", ""),
            f"oldest {ago(oldest.get(consumer, 0.0))}" if n else "",
        )
        for consumer, n in sorted(pending.items())
    ]

    recomputed = _by(samples, "masterbus_recompute_last_success_timestamp_seconds", "kind")
    recompute_urls = {
        "full": links.changelist(RecomputeRun, kind__exact=RunKind.FULL.value),
        "incremental": links.changelist(RecomputeRun, kind__exact=RunKind.CHANGES.value),
        "snapshot": links.changelist(PortfolioSnapshot, backfilled__exact="0"),
    }
    recomputes = []
    for kind in ("full", "incremental", "snapshot"):
        ts = recomputed.get(kind, 0.0)
        when = f"{ago(now.timestamp() - ts)} ago" if ts else "never"
        stamp = _at(ts)
        recomputes.append(
            Row(kind, when, recompute_urls[kind], alert.get(f"recompute.{kind}", ""),
                f"{stamp:%Y-%m-%d %H:%M} UTC" if stamp else "")  # fmt: skip
        )
    behind = _by(samples, "masterbus_assessments_behind", "kind")
    behind_text = ", ".join(
        f"{int(n):,} {'facilities' if kind == 'facility' else kind}"
        for kind, n in sorted(behind.items())
    )

    available = _by(samples, "masterbus_voltmetrics_available")
    if not available:
        vm = Row("VoltMetrics", "not configured", detail="the built-in engine serves")
    elif available.get("") == 1:
        vm = Row("VoltMetrics", "available")
    else:
        since_down = _by(samples, "masterbus_voltmetrics_down_since_timestamp_seconds").get("")
        detail = f"for {ago(now.timestamp() - since_down)}" if since_down else ""
        vm = Row("VoltMetrics", "unavailable (circuit breaker open)", "",
                 alert.get("voltmetrics.available", ""), detail)  # fmt: skip
    by_status = _by(samples, "masterbus_voltmetrics_jobs", "status")
    jobs = [
        Row(s.label, f"{int(by_status[s.value]):,}",
            links.changelist(Job, status__exact=s.value, submitted_at__gte=since_param))
        for s in JobStatus if s.value in by_status
    ]  # fmt: skip

    lengths = _by(samples, "masterbus_queue_length", "queue")
    queues = []
    for line in st.lines:
        if line.key.startswith("queue."):
            queue = line.key.removeprefix("queue.")
            queues.append(Row(queue, f"{int(lengths[queue]):,} waiting", alert=line.alert))

    paused_flags = _by(samples, "masterbus_webhook_subscription_paused", "subscription")
    deliveries = _by(samples, "masterbus_webhook_deliveries_pending", "subscription")
    subscriptions = [
        Row(f"#{sub}", f"{int(deliveries.get(sub, 0)):,} deliveries pending",
            links.change(Subscription, sub) if sub.isdigit() else "",
            alert.get(f"subscription.{sub}", ""), "paused" if paused_flags.get(sub) else "")
        for sub in sorted(deliveries, key=lambda s: (len(s), s))
        if paused_flags.get(sub) or deliveries.get(sub)
    ]  # fmt: skip

    unreadable = [
        Row(line.text, "could not be read", alert=line.alert)
        for line in st.lines
        if line.key.startswith("unreadable.")
    ]
    return Operations(
        at=now,
        doors=doors,
        rejected_total=int(sum(rejected.values())),
        rejected_url=links.changelist(RejectedRecord, rerun_at__isnull="True"),
        changes=changes,
        recomputes=recomputes,
        behind=behind_text,
        voltmetrics=vm,
        jobs=jobs,
        queues=queues,
        subscriptions=subscriptions,
        paused=sum(1 for v in paused_flags.values() if v),
        paused_url=links.changelist(Subscription, paused_at__isempty="0"),
        unreadable=unreadable,
    )
