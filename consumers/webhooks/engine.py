"""Delivering a subscription's events, in order, at least once (consumers.md §4).

:func:`deliver_subscription` is what a delivery task runs. It holds the subscription's lock
(a PostgreSQL session advisory lock, so a worker killed mid-delivery frees it at once; a
cache lock elsewhere), so two workers never send for the same subscription. Then:

1. the **head**: a delivery of this subscription being retried (``pending``). Until its
   ``next_attempt_at`` nothing else is sent; when due it is attempted first.
2. the **queue**: the events after the subscription's ``cursor`` that it gets, in id order,
   one POST each over a kept-alive connection. Successes are recorded in batches (a
   delivery, its attempt, and the cursor moved past it, every :data:`FLUSH_EVERY` events or
   :data:`FLUSH_SECONDS`, in one short transaction); a crash between a POST and its record
   sends those events again (at least once).
3. a **failure** records the delivery as ``pending`` with its attempt and schedules its
   retry (``WEBHOOK_RETRY_SCHEDULE``, ±10 % jitter); the run stops, so later events wait.
   After the last retry the delivery is ``failed`` and the subscription paused (its events
   keep queuing; resuming sends them, the failed one first). A 410 marks the delivery
   ``gone`` and disables the subscription at once.

The cursor only moves past an event once it was delivered, or when the subscription is
disabled (then to the newest event: an inactive subscription hears nothing).

Replays and test events (:func:`deliver_one`) are single attempts outside this order.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Max
from django.db.models.functions import Greatest
from django.utils import timezone

from masterbus import audit
from masterbus.locks import CacheLock

from ..choices import DeliveryStatus
from ..models import Delivery, DeliveryAttempt, Event, Subscription, event_public_id
from .payload import Signer, event_body
from .secrets import signing_secrets
from .selectors import events_waiting, head_delivery
from .transport import Answer, Sender

log = logging.getLogger(__name__)

BATCH = 500  # events read per query
FLUSH_EVERY = 50  # successes recorded per transaction at most …
FLUSH_SECONDS = 0.25  # … or after this long
RUN_SECONDS = 30.0  # a run stops after this long, and is queued again (fairness)
EARLY = timedelta(milliseconds=50)  # a retry task this early is on time (timer skew)
# pg_try_advisory_lock(class, subscription id): "WHKS".
LOCK_CLASS = 0x57484B53
CACHE_LOCK_TTL = 600


@dataclass
class RunResult:
    sent: int = 0  # events delivered
    failures: int = 0  # failed attempts
    stopped: str = ""  # "" (nothing left), inactive, paused, retry, failed, gone, busy, budget
    retry_in: float | None = None  # seconds until the head's next attempt

    def add(self, other: RunResult) -> None:
        self.sent += other.sent
        self.failures += other.failures
        self.stopped = other.stopped
        self.retry_in = other.retry_in


@contextlib.contextmanager
def subscription_lock(subscription_id: int) -> Iterator[bool]:
    """Yields whether this process now holds the subscription (released on exit)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_CLASS, subscription_id])
            held = bool(cur.fetchone()[0])
        if not held:
            yield False
            return
        try:
            yield True
        finally:
            try:
                with connection.cursor() as cur:
                    cur.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_CLASS, subscription_id])
            except Exception:  # noqa: BLE001 - a broken session: closing it frees the lock
                log.warning("webhooks: could not unlock subscription %s", subscription_id)
                connection.close()
        return
    lock = CacheLock(f"consumers:webhooks:deliver:{subscription_id}", CACHE_LOCK_TTL)
    if lock.acquire() is False:
        yield False
        return
    try:
        yield True
    finally:
        lock.release()


def deliver_subscription(subscription_id: int) -> RunResult:
    """Send what waits for the subscription, in order, until nothing is left, a delivery
    fails, or :data:`RUN_SECONDS` pass. After releasing the lock it looks once more for
    events that arrived meanwhile (a task that found the lock taken left them to us)."""
    total = RunResult()
    while True:
        with subscription_lock(subscription_id) as held:
            if not held:
                total.stopped = "busy"
                return total
            result = _run(subscription_id)
        total.add(result)
        if result.stopped:
            return total
        sub = Subscription.objects.filter(pk=subscription_id, active=True, paused_at=None).first()
        if sub is None or not events_waiting(sub).exists():
            return total


class _Run:
    """One locked pass over a subscription."""

    def __init__(self, sub: Subscription):
        self.sub = sub
        self.result = RunResult()
        self.signer = Signer(signing_secrets(sub))
        self.buffer: list[tuple[int, str, str, bytes, datetime, Answer]] = []
        self.flushed_at = time.monotonic()

    def send(self, sender: Sender, public_id: str, body: bytes) -> tuple[datetime, Answer]:
        at = timezone.now()
        answer = sender.post(body, self.signer.headers(public_id, body, at))
        return at, answer

    def succeeded(self, event_id, type_, public_id, body, at, answer) -> None:
        self.buffer.append((event_id, type_, public_id, body, at, answer))
        self.result.sent += 1
        if len(self.buffer) >= FLUSH_EVERY or time.monotonic() - self.flushed_at > FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        self.flushed_at = time.monotonic()
        if not self.buffer:
            return
        rows, self.buffer = self.buffer, []
        sid = self.sub.pk
        with transaction.atomic():
            deliveries = Delivery.objects.bulk_create(
                [
                    Delivery(
                        subscription_id=sid,
                        event_id=event_id,
                        event_type=type_,
                        event_public_id=public_id,
                        body=body,
                        status=DeliveryStatus.SUCCEEDED,
                        attempts=1,
                        finished_at=at,
                    )  # fmt: skip
                    for event_id, type_, public_id, body, at, _ in rows
                ]
            )
            DeliveryAttempt.objects.bulk_create(
                [
                    _attempt(d, at, answer)
                    for d, (*_, at, answer) in zip(deliveries, rows, strict=True)
                ]
            )
            Subscription.objects.filter(pk=sid).update(
                cursor=Greatest(F("cursor"), rows[-1][0]),
                last_success_at=rows[-1][4],
                consecutive_failures=0,
            )


def _attempt(delivery: Delivery, at: datetime, answer: Answer) -> DeliveryAttempt:
    return DeliveryAttempt(
        delivery=delivery, at=at, status_code=answer.status, duration_ms=answer.duration_ms,
        response=answer.response, error=answer.error[:1000],
    )  # fmt: skip


def retry_delay(attempts: int, rng=random) -> float | None:
    """Seconds before the next attempt of a delivery that failed ``attempts`` times (±10 %),
    or None when its retries are exhausted."""
    schedule = settings.WEBHOOK_RETRY_SCHEDULE
    if attempts > len(schedule):
        return None
    return max(0.0, float(schedule[attempts - 1]) * rng.uniform(0.9, 1.1))


def _run(subscription_id: int) -> RunResult:
    sub = Subscription.objects.filter(pk=subscription_id).first()
    if sub is None or not sub.active:
        return RunResult(stopped="inactive")
    if sub.paused_at is not None:
        return RunResult(stopped="paused")
    run = _Run(sub)
    started = time.monotonic()
    with Sender(sub.url) as sender:
        head = head_delivery(sub.pk)
        if head is not None:
            now = timezone.now()
            if head.next_attempt_at is not None and head.next_attempt_at > now + EARLY:
                return RunResult(
                    stopped="retry", retry_in=(head.next_attempt_at - now).total_seconds()
                )
            at, answer = run.send(sender, head.event_public_id, bytes(head.body))
            if not answer.ok:
                return _failed(run, head, at, answer)
            _head_succeeded(sub, head, at, answer)
            run.result.sent += 1
        portfolio_ids = list(sub.portfolios.values_list("pk", flat=True))
        after = Subscription.objects.values_list("cursor", flat=True).get(pk=sub.pk)
        while True:
            sub.cursor = after
            rows = list(
                events_waiting(sub, portfolio_ids).values_list("id", "type", "created_at", "data")[
                    :BATCH
                ]
            )
            if not rows:
                break
            for event_id, type_, created_at, data in rows:
                public_id = event_public_id(event_id)
                body = event_body(public_id, type_, created_at, data)
                at, answer = run.send(sender, public_id, body)
                if not answer.ok:
                    run.flush()
                    delivery = Delivery.objects.create(
                        subscription_id=sub.pk, event_id=event_id, event_type=type_,
                        event_public_id=public_id, body=body, status=DeliveryStatus.PENDING,
                    )  # fmt: skip
                    return _failed(run, delivery, at, answer)
                run.succeeded(event_id, type_, public_id, body, at, answer)
                after = event_id
                if time.monotonic() - started > RUN_SECONDS:
                    run.flush()
                    run.result.stopped = "budget"
                    return run.result
            if len(rows) < BATCH:
                break
    run.flush()
    return run.result


def _head_succeeded(sub: Subscription, head: Delivery, at: datetime, answer: Answer) -> None:
    with transaction.atomic():
        DeliveryAttempt.objects.bulk_create([_attempt(head, at, answer)])
        Delivery.objects.filter(pk=head.pk).update(
            status=DeliveryStatus.SUCCEEDED, attempts=F("attempts") + 1, finished_at=at,
            next_attempt_at=None,
        )  # fmt: skip
        Subscription.objects.filter(pk=sub.pk).update(
            cursor=Greatest(F("cursor"), head.event_id or 0),
            last_success_at=at,
            consecutive_failures=0,
        )


def _failed(run: _Run, delivery: Delivery, at: datetime, answer: Answer) -> RunResult:
    """Record a failed attempt of the head ``delivery`` and decide what follows: a retry, the
    delivery failed and the subscription paused, or (410) gone and disabled."""
    result = run.result
    result.failures += 1
    attempts = delivery.attempts + 1
    sub = run.sub
    update: dict = {"attempts": attempts}
    sub_update: dict = {"consecutive_failures": F("consecutive_failures") + 1}
    audit_reason = ""  # set when the subscription's recorded state changes
    if answer.status == 410:
        update.update(status=DeliveryStatus.GONE, finished_at=at, next_attempt_at=None)
        sub_update.update(active=False, cursor=Greatest(F("cursor"), _newest_event_id()))
        audit_reason = f"switched off by the deliveries: 410 Gone to {delivery.event_public_id}"
        result.stopped = "gone"
        log.warning(
            "webhooks: subscription %s answered 410 Gone to %s: disabled",
            sub.pk, delivery.event_public_id,
        )  # fmt: skip
    else:
        delay = retry_delay(attempts)
        if delay is None:
            update.update(status=DeliveryStatus.FAILED, finished_at=at, next_attempt_at=None)
            sub_update.update(
                paused_at=at,
                paused_reason=(
                    f"{delivery.event_public_id} failed {attempts} attempts; last: {answer.error}"
                )[:500],
            )
            audit_reason = f"paused by the deliveries: {sub_update['paused_reason']}"
            result.stopped = "failed"
            log.warning(
                "webhooks: subscription %s paused: %s failed %s attempts (%s)",
                sub.pk, delivery.event_public_id, attempts, answer.error,
            )  # fmt: skip
        else:
            update.update(next_attempt_at=at + timedelta(seconds=delay))
            result.stopped = "retry"
            result.retry_in = delay
    with transaction.atomic():
        DeliveryAttempt.objects.bulk_create([_attempt(delivery, at, answer)])
        Delivery.objects.filter(pk=delivery.pk).update(**update)
        Subscription.objects.filter(pk=sub.pk).update(**sub_update)
        if audit_reason:
            _record(sub, audit_reason)
    return result


def _record(sub: Subscription, reason: str) -> None:
    """A row in the subscription's audit history for a state the deliveries changed."""
    sub.refresh_from_db()
    audit.record(sub, reason=reason)


def _newest_event_id() -> int:
    return Event.objects.aggregate(m=Max("id"))["m"] or 0


def deliver_one(delivery_id: int) -> Answer | None:
    """One attempt of a replay or a test event (outside the subscription's order, no
    retries); a 410 disables the subscription as any 410 does. None when there is nothing to
    send (already sent, or gone)."""
    delivery = (
        Delivery.objects.select_related("subscription")
        .filter(pk=delivery_id, replay=True, status=DeliveryStatus.PENDING)
        .first()
    )
    if delivery is None:
        return None
    sub = delivery.subscription
    signer = Signer(signing_secrets(sub))
    body = bytes(delivery.body)
    with Sender(sub.url) as sender:
        at = timezone.now()
        answer = sender.post(body, signer.headers(delivery.event_public_id, body, at))
    if answer.ok:
        status = DeliveryStatus.SUCCEEDED
    elif answer.status == 410:
        status = DeliveryStatus.GONE
    else:
        status = DeliveryStatus.FAILED
    with transaction.atomic():
        DeliveryAttempt.objects.bulk_create([_attempt(delivery, at, answer)])
        Delivery.objects.filter(pk=delivery.pk).update(
            status=status, attempts=F("attempts") + 1, finished_at=at
        )
        if status == DeliveryStatus.GONE:
            Subscription.objects.filter(pk=sub.pk).update(
                active=False, cursor=Greatest(F("cursor"), _newest_event_id())
            )
            if sub.active:
                _record(
                    sub,
                    f"switched off by the deliveries: 410 Gone to {delivery.event_public_id}",
                )
    return answer
