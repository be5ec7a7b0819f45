"""What staff do with subscriptions (the admin and ``manage.py create_subscription`` are thin
doors onto these): create one (its secret returned once), rotate its secret, pause and resume
it, switch it on and off, send it a test event, replay a delivery."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from masterbus import audit

from ..choices import PUBLIC_EVENT_TYPES, DeliveryStatus, EventType
from ..models import Delivery, Event, Portfolio, Subscription
from .payload import event_body
from .secrets import secret_rotate, secret_set_new
from .tasks import deliver_one_task, queue_delivery
from .transport import url_problem


def url_validate(url: str) -> str:
    url = (url or "").strip()
    problem = url_problem(url)
    if problem:
        raise ValidationError(f"{problem}.", code="url")
    return url


def event_types_validate(types: Iterable[str]) -> list[str]:
    types = list(dict.fromkeys(types or []))
    unknown = [t for t in types if t not in PUBLIC_EVENT_TYPES]
    if unknown:
        raise ValidationError(
            f"unknown event type(s) {', '.join(unknown)}; the types are "
            f"{', '.join(PUBLIC_EVENT_TYPES)}.",
            code="event_types",
        )
    return [t for t in PUBLIC_EVENT_TYPES if t in types]  # in the documented order


def portfolios_by_slug(slugs: Iterable[str]) -> list[Portfolio]:
    slugs = list(dict.fromkeys(slugs or []))
    found = {p.slug: p for p in Portfolio.objects.filter(slug__in=slugs)}
    unknown = [s for s in slugs if s not in found]
    if unknown:
        raise ValidationError(f"unknown portfolio(s) {', '.join(unknown)}.", code="portfolios")
    return [found[s] for s in slugs]


def newest_event_id() -> int:
    return Event.objects.aggregate(m=Max("id"))["m"] or 0


def subscription_create(
    *,
    url: str,
    event_types: Iterable[str] = (),
    portfolios: Iterable[Portfolio] = (),
    description: str = "",
    active: bool = True,
    user=None,
) -> tuple[Subscription, str]:
    """A new subscription, starting with the next event (nothing already written is sent);
    returns it and its secret, which is not shown again."""
    sub = Subscription(
        url=url_validate(url),
        event_types=event_types_validate(event_types),
        description=description or "",
        active=active,
        created_by=user if getattr(user, "pk", None) else None,
    )
    secret = secret_set_new(sub)
    with transaction.atomic(), audit.merged(Subscription):  # one history row, portfolios too
        sub.cursor = newest_event_id()
        sub.save()
        sub.portfolios.set(list(portfolios))
    return sub, secret


def subscription_rotate_secret(sub: Subscription) -> str:
    """A new secret (returned once); the old one is still sent alongside for 24 h."""
    return secret_rotate(sub)


def subscription_set_active(sub: Subscription, active: bool) -> None:
    """Switch a subscription on or off. Either way its cursor moves to the newest event: an
    inactive subscription hears nothing, and one switched back on starts from now."""
    if sub.active == active:
        return
    with transaction.atomic():
        Subscription.objects.filter(pk=sub.pk).update(active=active, cursor=newest_event_id())
        sub.refresh_from_db()
        audit.record(sub, reason="switched on" if active else "switched off")


def subscription_pause(sub: Subscription, reason: str = "paused by staff") -> bool:
    """Pause (events keep queuing); False when it was paused already."""
    with transaction.atomic():
        n = Subscription.objects.filter(pk=sub.pk, paused_at=None).update(
            paused_at=timezone.now(), paused_reason=reason[:500]
        )
        sub.refresh_from_db()
        if n:
            audit.record(sub, reason=reason)
    return bool(n)


def subscription_resume(sub: Subscription) -> bool:
    """Resume a paused subscription: what queued is sent in order, the event whose delivery
    failed first. False when it was not paused."""
    with transaction.atomic():
        n = Subscription.objects.filter(pk=sub.pk, paused_at__isnull=False).update(
            paused_at=None, paused_reason=""
        )
        sub.refresh_from_db()
        if n:
            audit.record(sub, reason="resumed")
    if n and sub.active:
        transaction.on_commit(lambda: queue_delivery(sub.pk))
    return bool(n)


def subscription_send_test(sub: Subscription) -> Delivery:
    """A ``test`` event to this subscription only, now, outside its order."""
    public_id = f"evt_test_{uuid.uuid4().hex[:16]}"
    body = event_body(
        public_id,
        EventType.TEST,
        timezone.now(),
        {"subscription_id": sub.pk, "message": "A test event sent by staff from MasterBus."},
    )
    delivery = Delivery.objects.create(
        subscription=sub, event=None, event_type=EventType.TEST, event_public_id=public_id,
        body=body, status=DeliveryStatus.PENDING, replay=True,
    )  # fmt: skip
    transaction.on_commit(lambda: deliver_one_task.delay(delivery.pk))
    return delivery


def delivery_replay(delivery: Delivery) -> Delivery:
    """The same body sent again, now, as a new delivery outside the subscription's order."""
    again = Delivery.objects.create(
        subscription_id=delivery.subscription_id, event_id=delivery.event_id,
        event_type=delivery.event_type, event_public_id=delivery.event_public_id,
        body=bytes(delivery.body), status=DeliveryStatus.PENDING, replay=True,
    )  # fmt: skip
    transaction.on_commit(lambda: deliver_one_task.delay(again.pk))
    return again
