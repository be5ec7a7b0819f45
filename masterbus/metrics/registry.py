"""What ``/metrics`` serves: this process's families, or every process's in multiprocess mode,
followed by the application gauges.

In multiprocess mode each process writes its counts to ``PROMETHEUS_MULTIPROC_DIR``. The
scrape adds up the files of every directory ``METRICS_MULTIPROC_DIRS`` names (globs,
comma-separated; default: ``PROMETHEUS_MULTIPROC_DIR`` alone), so a web service and the Celery
workers of the same host can each keep a directory of their own, emptied when that service
starts, and still be reported together (deploy/systemd: ``/run/masterbus/metrics/*``)."""

from __future__ import annotations

import glob
import os

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess

from .application import ApplicationCollector


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def multiprocess_dirs() -> list[str]:
    """The directories whose metric files a scrape adds up."""
    spec = os.environ.get("METRICS_MULTIPROC_DIRS") or multiprocess_dir() or ""
    dirs: set[str] = set()
    for pattern in filter(None, (p.strip() for p in spec.split(","))):
        dirs.update(d for d in glob.glob(pattern) if os.path.isdir(d))
    return sorted(dirs)


class _ProcessFiles:
    """Every process's families, from the metric files of :func:`multiprocess_dirs`."""

    def collect(self):
        files = [f for d in multiprocess_dirs() for f in glob.glob(os.path.join(d, "*.db"))]
        return multiprocess.MultiProcessCollector.merge(files, accumulate=True)


class _ProcessFamilies:
    """The default registry's families (this process only)."""

    def collect(self):
        yield from REGISTRY.collect()


def render() -> bytes:
    """The Prometheus text exposition of every family."""
    registry = CollectorRegistry()
    registry.register(_ProcessFiles() if multiprocess_dir() else _ProcessFamilies())
    registry.register(ApplicationCollector())
    return generate_latest(registry)


def mark_process_dead(pid: int | None) -> None:
    """Drop a finished process's live gauges from the multiprocess files (gunicorn's
    ``child_exit`` hook, Celery's ``worker_process_shutdown``)."""
    if pid and multiprocess_dir():
        multiprocess.mark_process_dead(pid)
