"""``manage.py status``: the operator's one-screen view (operations.md §5), read from the same
application gauges as ``/metrics`` (computed now, not cached), each compared with the
threshold of its alert in docs/alerts.yml.

The thresholds below are the one source in Python: the admin dashboard (``console``) turns an
item red exactly when :func:`status` gives its line an alert (lines carry a ``key`` for it),
and tests/masterbus/test_thresholds.py checks docs/alerts.yml uses the same numbers."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .metrics.application import Sample, collect_samples, release
from .queues import QUEUES

# The alert thresholds of docs/alerts.yml (seconds, or messages).
PULL_MAX_AGE = 3600
CHANGE_MAX_AGE = 15 * 60
VOLTMETRICS_MAX_DOWN = 30 * 60
FULL_RECOMPUTE_MAX_AGE = 26 * 3600
QUEUE_MAX = 10_000


@dataclass
class Line:
    section: str
    text: str
    alert: str = ""  # why this line is past its alert threshold; "" when it is not
    # What the line is about, stable for other readers of the status (the admin dashboard):
    # "condoit.pull", "changes.recompute", "recompute.full", "voltmetrics.available",
    # "queue.ingest", "subscription.3", "unreadable.condoit", …
    key: str = ""


@dataclass
class Status:
    at: float
    header: str
    lines: list[Line] = field(default_factory=list)

    @property
    def alerts(self) -> list[Line]:
        return [line for line in self.lines if line.alert]

    def render(self) -> str:
        out = [self.header]
        section = None
        for line in self.lines:
            if line.section != section:
                section = line.section
                out.append(section)
            mark = f"  ALERT: {line.alert}" if line.alert else ""
            out.append(f"  {line.text}{mark}")
        if self.alerts:
            out.append(f"ATTENTION: {len(self.alerts)} check(s) past their alert threshold")
        else:
            out.append("OK: nothing past its alert threshold")
        return "\n".join(out)


def ago(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _when(ts: float, now: float) -> str:
    if not ts:
        return "never"
    stamp = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")
    return f"{stamp} UTC ({ago(now - ts)} ago)"


def _last_success(
    section: str, name: str, ts: float, now: float, limit: float, key: str
) -> Line:
    """ "<name>: last success …", an alert when ``limit`` (seconds) is set and the last
    success is older, or there was none."""
    late = limit and (not ts or now - ts > limit)
    what = "pull" if section == "Condoit" else f"{name} {section.lower()}"
    alert = f"no successful {what} for more than {ago(limit)}" if late else ""
    return Line(section, f"{name}: last success {_when(ts, now)}", alert, key)


def _by(samples: list[Sample], family: str, label: str | None = None) -> dict[str, float]:
    return {
        (s.labels.get(label, "") if label else ""): s.value for s in samples if s.family == family
    }


def status(
    samples: list[Sample] | None = None,
    now: float | None = None,
    failures: list[str] | None = None,
) -> Status:
    """The status from ``samples`` (default: every provider's, computed now) and the providers
    that could not be read (``failures``, "<provider>: <error>")."""
    failures = list(failures or ())
    samples = collect_samples(failures) if samples is None else samples
    now = time.time() if now is None else now
    model = next((s.labels.get("model_version", "") for s in samples
                  if s.family == "masterbus_build_info"), "")  # fmt: skip
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d %H:%M:%S")
    st = Status(now, f"MasterBus {release()} (model {model or '?'}) — status at {stamp} UTC")
    add = st.lines.append
    for failure in failures:  # e.g. the database is down: nothing below can be trusted
        add(Line("Unreadable", failure, "could not be read",
                 f"unreadable.{failure.partition(':')[0]}"))  # fmt: skip

    doors = _by(samples, "masterbus_condoit_last_success_timestamp_seconds", "door")
    for door in ("pull", "push", "file"):
        if door not in doors:
            if door == "pull":
                add(Line("Condoit", "pull: not configured (CONDOIT_URL, CONDOIT_TOKEN)",
                         key="condoit.pull"))  # fmt: skip
            continue
        limit = PULL_MAX_AGE if door == "pull" else 0
        add(_last_success("Condoit", door, doors[door], now, limit, f"condoit.{door}"))
    marks = _by(samples, "masterbus_condoit_high_water_age_seconds", "resource")
    if marks:
        lag = ", ".join(f"{r} {ago(a)}" for r, a in sorted(marks.items()))
        add(Line("Condoit", f"pull high-water age: {lag}", key="condoit.lag"))
    rejected = _by(samples, "masterbus_sync_rejected_records", "kind")
    total = int(sum(rejected.values()))
    detail = ", ".join(f"{k} {int(n)}" for k, n in sorted(rejected.items()))
    add(
        Line("Condoit", f"rejected records not re-run: {total}" + (f" ({detail})" if total else ""),
             key="condoit.rejected")
    )  # fmt: skip

    pending = _by(samples, "masterbus_changes_pending", "consumer")
    oldest = _by(samples, "masterbus_changes_oldest_pending_age_seconds", "consumer")
    voltmetrics_up = _by(samples, "masterbus_voltmetrics_available").get("") == 1
    for consumer, n in sorted(pending.items()):
        age = oldest.get(consumer, 0.0)
        # VoltMetrics' backlog is its own alert only while it answers (while it is down,
        # the unavailability is the alert).
        counts = consumer != "voltmetrics" or voltmetrics_up
        late = counts and age > CHANGE_MAX_AGE
        alert = f"oldest older than {ago(CHANGE_MAX_AGE)}" if late else ""
        text = f"{consumer}: {int(n)} pending" + (f", oldest {ago(age)}" if n else "")
        add(Line("Changes", text, alert, f"changes.{consumer}"))

    recomputes = _by(samples, "masterbus_recompute_last_success_timestamp_seconds", "kind")
    for kind in ("full", "incremental", "snapshot"):
        if kind not in recomputes:
            continue
        limit = FULL_RECOMPUTE_MAX_AGE if kind == "full" else 0
        add(_last_success("Recompute", kind, recomputes[kind], now, limit, f"recompute.{kind}"))
    behind = _by(samples, "masterbus_assessments_behind", "kind")
    if behind:
        add(Line("Recompute", "behind their records: " + ", ".join(
            f"{int(n)} {'facilities' if kind == 'facility' else kind}"
        for kind, n in sorted(behind.items())), key="recompute.behind"))  # fmt: skip

    available = _by(samples, "masterbus_voltmetrics_available")
    if not available:
        add(Line("VoltMetrics", "not configured (VOLTMETRICS_URL): the built-in engine serves",
                 key="voltmetrics.available"))  # fmt: skip
    else:
        since = _by(samples, "masterbus_voltmetrics_down_since_timestamp_seconds").get("", 0.0)
        if available.get("") == 1:
            add(Line("VoltMetrics", "available", key="voltmetrics.available"))
        else:
            down = now - since if since else 0.0
            alert = f"unavailable for more than {ago(VOLTMETRICS_MAX_DOWN)}" if (
                down > VOLTMETRICS_MAX_DOWN) else ""  # fmt: skip
            text = "unavailable (circuit breaker open)" + (f" for {ago(down)}" if since else "")
            add(Line("VoltMetrics", text, alert, "voltmetrics.available"))
        jobs = _by(samples, "masterbus_voltmetrics_jobs", "status")
        add(Line("VoltMetrics", "jobs in the last day: " + ", ".join(
            f"{status} {int(n)}" for status, n in sorted(jobs.items())),
            key="voltmetrics.jobs"))  # fmt: skip

    queues = _by(samples, "masterbus_queue_length", "queue")
    if not queues:
        add(Line("Queues", "no broker answer (tasks run eagerly, or the broker is down)",
                 key="queues"))  # fmt: skip
    # In the order of masterbus/queues.py (ingest … default); any other label after them.
    order = {name: i for i, name in enumerate(QUEUES)}
    for queue, n in sorted(queues.items(), key=lambda q: (order.get(q[0], len(order)), q[0])):
        alert = f"more than {QUEUE_MAX:,} waiting" if n > QUEUE_MAX else ""
        add(Line("Queues", f"{queue}: {int(n):,} waiting", alert, f"queue.{queue}"))

    paused = [s for s in _by(samples, "masterbus_webhook_subscription_paused", "subscription")
              .items() if s[1]]  # fmt: skip
    waiting = _by(samples, "masterbus_webhook_deliveries_pending", "subscription")
    if not waiting and not paused:
        add(Line("Webhook subscriptions", "none", key="subscriptions"))
    for sub, n in sorted(waiting.items()):
        alert = "paused" if dict(paused).get(sub) else ""
        add(Line("Webhook subscriptions", f"{sub}: {int(n)} deliveries pending", alert,
                 f"subscription.{sub}"))  # fmt: skip
    return st
