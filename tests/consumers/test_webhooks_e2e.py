"""Webhook deliveries on real Celery workers (PostgreSQL, Redis, the broker; queue ``events``):
a retry queued with its countdown, and a worker killed with SIGKILL in the middle of a
delivery — after another worker starts and the sweep runs, the event is delivered, nothing is
lost and the order is kept (at least once: what the killed worker had not recorded is sent
again)."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from django.db import transaction
from standardwebhooks import Webhook

from consumers.choices import EventType
from consumers.events import events_write
from consumers.models import Delivery, Event, Subscription, event_public_id
from consumers.webhooks.tasks import deliveries_sweep_task
from masterbus.queues import EVENTS
from tests.celery_worker import celery_worker

from .receiver import receiver_running

pytestmark = [pytest.mark.e2e, pytest.mark.services]

ENV = {
    "WEBHOOK_ALLOW_HTTP": "true",
    "WEBHOOK_ALLOW_PRIVATE": "true",
    "WEBHOOK_RETRY_SCHEDULE": "0.5,0.5,0.5",
    "WEBHOOK_TIMEOUT_SECONDS": "60",
}
RISK = EventType.FACILITY_RISK_CHANGED


def write(n: int, start: int = 0) -> list[int]:
    with transaction.atomic():  # committed: the kick queues the task for the worker
        events_write([(RISK, None, {"n": start + i}) for i in range(n)])
    return list(Event.objects.order_by("id").values_list("id", flat=True))


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_failed_delivery_is_retried_by_its_countdown(wh_settings, subscribe):
    with receiver_running(answers=[500]) as receiver:
        sub, secret = subscribe(receiver.url)
        with celery_worker(ENV, name="wh-retry", queues=[EVENTS]) as worker:
            ids = write(2)
            worker.wait_for(lambda: len(receiver.received) >= 3, "the retry and the next event")
            worker.wait_for(lambda: Subscription.objects.get(pk=sub.pk).cursor == ids[-1], "cursor")
        assert receiver.ids() == [event_public_id(i) for i in (ids[0], ids[0], ids[1])]
        for got in receiver.received:
            Webhook(secret).verify(got.body, got.headers)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_worker_killed_mid_delivery_loses_nothing_and_keeps_the_order(wh_settings, subscribe):
    block = threading.Event()
    with receiver_running(block=block, block_at=3) as receiver:
        sub, _ = subscribe(receiver.url)
        with celery_worker(ENV, name="wh-killed", queues=[EVENTS]) as first:
            ids = write(6)
            first.wait_for(lambda: len(receiver.received) >= 3, "the third delivery")
            time.sleep(0.2)  # the worker is waiting for the receiver's answer
            os.kill(first.process.pid, signal.SIGKILL)
            first.process.wait(10)
            block.set()
            with celery_worker(
                ENV, name="wh-after", queues=[EVENTS], prefix=first.prefix
            ) as second:

                def done():
                    if Subscription.objects.get(pk=sub.pk).cursor == ids[-1]:
                        return True
                    deliveries_sweep_task.delay()  # the beat's per-minute sweep, sooner
                    time.sleep(1)
                    return False

                second.wait_for(done, "every event delivered after the restart", deadline=60)
    got = [int(i[4:]) for i in receiver.ids()]
    killed_at = got.index(ids[2])
    before, after = got[: killed_at + 1], got[killed_at + 1 :]
    assert before == ids[:3]
    # After the restart: from the first event not recorded as delivered, every one, in order.
    assert after == ids[ids.index(after[0]) :] and after[0] <= ids[2]
    assert list(dict.fromkeys(got)) == ids  # nothing lost, order kept
    delivered = set(
        Delivery.objects.filter(subscription=sub, status="succeeded").values_list(
            "event_id", flat=True
        )
    )
    assert delivered == set(ids)
