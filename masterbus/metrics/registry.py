"""What ``/metrics`` serves: this process's families, or every process's in multiprocess mode,
followed by the application gauges."""

from __future__ import annotations

import os

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess

from .application import ApplicationCollector


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def render() -> bytes:
    """The Prometheus text exposition of every family."""
    if multiprocess_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        registry.register(_ProcessFamilies())
    registry.register(ApplicationCollector())
    return generate_latest(registry)


class _ProcessFamilies:
    """The default registry's families (this process only)."""

    def collect(self):
        yield from REGISTRY.collect()


def mark_process_dead(pid: int | None) -> None:
    """Drop a finished process's live gauges from the multiprocess files (gunicorn's
    ``child_exit`` hook, Celery's ``worker_process_shutdown``)."""
    if pid and multiprocess_dir():
        multiprocess.mark_process_dead(pid)
