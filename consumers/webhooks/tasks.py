"""Celery tasks of the webhook deliveries (queue ``events``): thin doors onto
:mod:`consumers.webhooks.engine`.

- ``deliver_subscription_task(subscription_id)``: send what waits for one subscription, in
  order (the engine holds its lock). A failed delivery's retry is queued with a countdown
  when it is at most :data:`COUNTDOWN_MAX` away; later ones, and any countdown lost with a
  worker, are started by the sweep once due.
- ``deliveries_sweep_task`` (beat, every minute): re-queues every subscription whose retry
  is due or for which events wait, and replays whose task was lost.
- ``deliver_one_task(delivery_id)``: one replay or test event.

:func:`queue_delivery` queues a subscription's task at most once per :data:`QUEUED_TTL`
while none has started (a cache key the task deletes when it starts).
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

from . import engine
from .selectors import subscriptions_due

log = logging.getLogger(__name__)

QUEUED_TTL = 120
COUNTDOWN_MAX = 900.0  # longer retries are left to the sweep (broker visibility timeout)


def _queued_key(subscription_id: int) -> str:
    return f"consumers:webhooks:queued:{subscription_id}"


def queue_delivery(subscription_id: int) -> bool:
    """Queue the subscription's delivery task unless one is queued and not started yet."""
    if cache.add(_queued_key(subscription_id), 1, QUEUED_TTL) is False:
        return False
    deliver_subscription_task.delay(subscription_id)
    return True


@shared_task(name="consumers.webhooks.tasks.deliver_subscription_task", acks_late=True,
             ignore_result=True)  # fmt: skip
def deliver_subscription_task(subscription_id: int) -> dict:
    cache.delete(_queued_key(subscription_id))
    result = engine.deliver_subscription(subscription_id)
    if result.stopped == "retry" and result.failures and result.retry_in is not None:
        if (
            result.retry_in <= COUNTDOWN_MAX
            and not deliver_subscription_task.app.conf.task_always_eager
        ):
            deliver_subscription_task.apply_async(
                (subscription_id,), countdown=max(0.0, result.retry_in)
            )
    elif result.stopped == "budget":
        queue_delivery(subscription_id)
    if result.sent or result.failures:
        log.info(
            "webhooks: subscription %s: %s delivered, %s failed attempt(s)%s",
            subscription_id, result.sent, result.failures,
            f"; {result.stopped}" if result.stopped else "",
        )  # fmt: skip
    return {"sent": result.sent, "failures": result.failures, "stopped": result.stopped}


@shared_task(name="consumers.webhooks.tasks.deliver_one_task", acks_late=True,
             ignore_result=True)  # fmt: skip
def deliver_one_task(delivery_id: int) -> dict:
    answer = engine.deliver_one(delivery_id)
    if answer is None:
        return {"sent": False}
    return {"sent": True, "status": answer.status, "error": answer.error}


@shared_task(name="consumers.webhooks.tasks.deliveries_sweep_task", acks_late=True,
             ignore_result=True)  # fmt: skip
def deliveries_sweep_task() -> dict:
    subscriptions, replays = subscriptions_due(timezone.now())
    queued = sum(queue_delivery(sid) for sid in subscriptions)
    for delivery_id in replays:
        deliver_one_task.delay(delivery_id)
    return {"subscriptions": queued, "replays": len(replays)}
