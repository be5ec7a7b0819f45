"""Celery tasks of the VoltMetrics integration: thin doors taking ids, calling services.

Beat runs ``voltmetrics_drain_outbox_task`` every minute and ``voltmetrics_poll_jobs_task``
every five minutes (seeded schedules; names are stable)."""

from __future__ import annotations

import logging

from celery import shared_task

log = logging.getLogger(__name__)


@shared_task(acks_late=True, ignore_result=True)
def voltmetrics_drain_outbox_task() -> dict:
    from .outbox import voltmetrics_drain_outbox

    return voltmetrics_drain_outbox()


@shared_task(acks_late=True, ignore_result=True)
def voltmetrics_poll_jobs_task() -> dict:
    from .jobs import voltmetrics_poll_jobs

    return voltmetrics_poll_jobs()


@shared_task(acks_late=True, ignore_result=True)
def voltmetrics_handle_callback(event_id: str) -> str:
    from .jobs import voltmetrics_callback_handle

    outcome = voltmetrics_callback_handle(event_id)
    log.info("VoltMetrics callback %s: %s", event_id, outcome)
    return outcome


@shared_task(acks_late=True, ignore_result=True)
def voltmetrics_complete_job_task(job_id: str) -> dict:
    from .jobs import voltmetrics_job_complete

    return voltmetrics_job_complete(job_id)
