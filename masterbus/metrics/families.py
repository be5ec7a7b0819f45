"""The process-level metric families (operations.md §1, first table).

Each process counts its own; under gunicorn or Celery prefork, prometheus-client's
multiprocess mode writes them to ``PROMETHEUS_MULTIPROC_DIR`` (which must be set in the
process's environment before it starts) and ``/metrics`` adds every process up.
Label values are bounded: routes are URL patterns, methods a fixed set, tasks registered names.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

http_requests = Counter(
    "masterbus_http_requests_total",
    "HTTP requests answered, by URL pattern, method and status code.",
    ["route", "method", "status"],
)
http_duration = Histogram(
    "masterbus_http_request_duration_seconds",
    "Time to answer an HTTP request, by URL pattern and method.",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
cache_requests = Counter(
    "masterbus_cache_requests_total",
    "ThreatMap payload reads from the cache: hit, miss (built now) or stale (served while "
    "rebuilt).",
    ["result"],
)
task_runs = Counter(
    "masterbus_task_runs_total",
    "Celery task runs by task and outcome (succeeded, failed, retried).",
    ["task", "state"],
)
task_duration = Histogram(
    "masterbus_task_duration_seconds",
    "Celery task run time, by task.",
    ["task"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0),
)
outbound_requests = Counter(
    "masterbus_outbound_requests_total",
    "Requests to other systems by system (condoit, voltmetrics, webhook) and outcome (ok, "
    "http_error, timeout, connection_error, bad_body).",
    ["system", "outcome"],
)

OUTBOUND_SYSTEMS = ("condoit", "voltmetrics", "webhook")
OUTBOUND_OUTCOMES = ("ok", "http_error", "timeout", "connection_error", "bad_body")
CACHE_RESULTS = ("hit", "miss", "stale")


def count_cache(result: str) -> None:
    """One ThreatMap payload read: ``hit``, ``miss`` or ``stale``."""
    if result not in CACHE_RESULTS:
        raise ValueError(f"cache result {result!r} is not one of {CACHE_RESULTS}")
    cache_requests.labels(result).inc()


def count_outbound(system: str, outcome: str) -> None:
    """One request to ``system`` (one of :data:`OUTBOUND_SYSTEMS`) ended in ``outcome`` (one
    of :data:`OUTBOUND_OUTCOMES`); any other label value is a programming error (the label
    sets of operations.md §1 are closed)."""
    if system not in OUTBOUND_SYSTEMS or outcome not in OUTBOUND_OUTCOMES:
        raise ValueError(f"outbound label ({system!r}, {outcome!r}) is not in operations §1")
    outbound_requests.labels(system, outcome).inc()
