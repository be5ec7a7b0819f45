"""Celery task metrics from Celery's signals, in the process that runs the task (a worker's
child, or the caller's process for an eager task)."""

from __future__ import annotations

import time

from celery import signals

from .families import task_duration, task_runs

_STARTED = "_masterbus_metrics_started"


@signals.task_prerun.connect(weak=False)
def _prerun(task=None, **kwargs):
    if task is not None:
        setattr(task.request, _STARTED, time.perf_counter())


@signals.task_postrun.connect(weak=False)
def _postrun(task=None, **kwargs):
    began = getattr(getattr(task, "request", None), _STARTED, None)
    if began is not None:
        setattr(task.request, _STARTED, None)
        task_duration.labels(_name(task)).observe(time.perf_counter() - began)


@signals.task_success.connect(weak=False)
def _succeeded(sender=None, **kwargs):
    task_runs.labels(_name(sender), "succeeded").inc()


@signals.task_failure.connect(weak=False)
def _failed(sender=None, **kwargs):
    task_runs.labels(_name(sender), "failed").inc()


@signals.task_retry.connect(weak=False)
def _retried(sender=None, **kwargs):
    task_runs.labels(_name(sender), "retried").inc()


def _name(task) -> str:
    return getattr(task, "name", None) or "unknown"


@signals.worker_process_shutdown.connect(weak=False)
def _process_gone(pid=None, **kwargs):
    """A prefork child exits: its live gauges (none today) leave the multiprocess files."""
    from .registry import mark_process_dead

    mark_process_dead(pid)
