"""Celery tasks of masterbus: thin doors onto its services."""

from __future__ import annotations

import logging

from celery import shared_task

log = logging.getLogger(__name__)


@shared_task(name="masterbus.prune", acks_late=True, ignore_result=True)
def prune_task() -> dict:
    """Nightly retention (beat): prune every table that grows with time
    (``masterbus.retention.prune``). A retention setting below its floor is logged as an
    error and raised: nothing is deleted."""
    from masterbus.retention import RetentionRefused, prune

    try:
        result = prune()
    except RetentionRefused as exc:
        log.error("%s", exc)
        raise
    return result.as_dict()
