"""Celery tasks of the equipment app: thin doors onto equipment.photos.

Ingestion leaves new photos, and photos whose URL changed, ``pending``; the beat task
``photos_fetch_pending_task`` (every 10 minutes) queues one ``photo_fetch_task`` per pending
photo. Transient failures (timeouts, connection errors, 429, 5xx) are retried with backoff;
the photo shows ``failed`` with the last error meanwhile, so the beat does not queue it twice.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.core.cache import cache

from . import photos

log = logging.getLogger(__name__)

QUEUED_KEY = "equipment:photo-fetch-queued:{}"
# A queued mark expires by itself in case its task is lost.
QUEUED_TTL = 30 * 60


@shared_task(bind=True, acks_late=True, ignore_result=True)
def photo_fetch_task(self, photo_id: int):
    """Fetch one photo. Returns its status; never raises for anything the host sends."""
    try:
        outcome = photos.photo_fetch(photo_id=int(photo_id))
    except Exception:  # database trouble and the like: logged, never a crashed worker
        log.exception("photo %s: fetch failed unexpectedly", photo_id)
        cache.delete(QUEUED_KEY.format(photo_id))
        return "error"
    if outcome.retryable and self.request.retries < settings.PHOTO_FETCH_MAX_RETRIES:
        delay = settings.PHOTO_FETCH_RETRY_DELAY * (2**self.request.retries)
        log.info("photo %s: %s; retrying in %s s", photo_id, outcome.error, delay)
        # throw=False: the retry is queued and this run ends normally (eagerly, apply() runs
        # the retry at once from the returned Retry).
        return self.retry(
            countdown=delay, max_retries=settings.PHOTO_FETCH_MAX_RETRIES, throw=False
        )
    cache.delete(QUEUED_KEY.format(photo_id))
    if outcome.error:
        log.info("photo %s: %s (%s)", photo_id, outcome.status, outcome.error)
    return outcome.status


@shared_task(acks_late=True, ignore_result=True)
def photos_fetch_pending_task(limit: int | None = None) -> int:
    """Queue a fetch for each pending photo (at most PHOTO_FETCH_BATCH per run); a photo
    already queued is not queued again. Returns how many were queued."""
    limit = settings.PHOTO_FETCH_BATCH if limit is None else int(limit)
    queued = 0
    for pk in photos.photos_pending(limit=limit):
        if not cache.add(QUEUED_KEY.format(pk), 1, timeout=QUEUED_TTL):
            continue
        try:
            photo_fetch_task.delay(pk)
        except Exception:
            cache.delete(QUEUED_KEY.format(pk))
            log.exception("photo %s: could not queue the fetch", pk)
            continue
        queued += 1
    if queued:
        log.info("queued %s photo fetches", queued)
    return queued
