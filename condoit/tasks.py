"""Celery tasks of Condoit ingestion: thin doors onto the services.

Task names are kept from when ingestion lived in the facilities app: the beat schedules in
the database (seeded by ``facilities/migrations/0002_beat_schedules.py``) and queued messages
name them."""

from __future__ import annotations

import logging

from celery import shared_task

log = logging.getLogger(__name__)


@shared_task(name="facilities.tasks.condoit_pull_task", acks_late=True, ignore_result=True)
def condoit_pull_task(full: bool = False) -> int | None:
    """Pull from Condoit's export API (beat runs it every 15 minutes).

    Returns the sync run's id, or None when the pull did not start (another pull holds the
    lock, or Condoit is not configured) — that is logged, never raised, so a busy or
    unconfigured source does not fill the worker with failed tasks.
    """
    from condoit.pull import PullRefused, condoit_pull

    try:
        run = condoit_pull(full=bool(full))
    except PullRefused as exc:
        log.info("Condoit pull skipped: %s", exc)
        return None
    fields = {"sync_run_id": run.pk, "duration_ms": _duration_ms(run)}
    if run.error:
        log.warning("Condoit pull run #%s %s: %s", run.pk, run.status, run.error, extra=fields)
    else:
        log.info(
            "Condoit pull run #%s %s: created %s, updated %s, unchanged %s, rejected %s, "
            "deleted %s",
            run.pk, run.status, run.created, run.updated, run.unchanged, run.rejected,
            run.deleted, extra=fields,
        )  # fmt: skip
    return run.pk


def _duration_ms(run) -> int | None:
    if run.started_at is None or run.finished_at is None:
        return None
    return round((run.finished_at - run.started_at).total_seconds() * 1000)
