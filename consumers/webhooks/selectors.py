"""Which events a subscription gets (consumers.md §2, §4), and how many wait.

A subscription gets every event after its cursor whose type it asked for (all when its list
is empty). One bound to portfolios gets only facility and equipment events
(``FACILITY_EVENT_TYPES``) of facilities in those portfolios; system events (``sync.*``,
``model_version.*``, ``voltmetrics.*``) go to unbound subscriptions only.
"""

from __future__ import annotations

from django.db import connection
from django.db.models import Q, QuerySet

from ..choices import FACILITY_EVENT_TYPES, DeliveryStatus
from ..models import Delivery, Event, PortfolioFacility, Subscription


def subscription_filter(sub: Subscription, portfolio_ids: list[int] | None = None) -> Q:
    """The condition on events (after any cursor) that ``sub`` gets; ``portfolio_ids`` saves
    the query for its portfolios when the caller has them."""
    if portfolio_ids is None:
        portfolio_ids = list(sub.portfolios.values_list("pk", flat=True))
    condition = Q()
    if sub.event_types:
        condition &= Q(type__in=list(sub.event_types))
    if portfolio_ids:
        members = PortfolioFacility.objects.filter(portfolio_id__in=portfolio_ids).values(
            "facility_id"
        )
        condition &= Q(type__in=sorted(FACILITY_EVENT_TYPES), facility_id__in=members)
    return condition


def events_waiting(sub: Subscription, portfolio_ids: list[int] | None = None) -> QuerySet:
    """The events after ``sub``'s cursor that it gets, in id order."""
    return Event.objects.filter(
        Q(id__gt=sub.cursor) & subscription_filter(sub, portfolio_ids)
    ).order_by("id")


def queue_depth(sub: Subscription) -> int:
    """How many events wait for ``sub`` (the head being retried included)."""
    return events_waiting(sub).count()


_DEPTHS_SQL = """
SELECT s.id, (
  SELECT count(*) FROM consumers_event e
  WHERE e.id > s.cursor
    AND (jsonb_array_length(s.event_types) = 0
         OR e.type IN (SELECT jsonb_array_elements_text(s.event_types)))
    AND (NOT EXISTS (SELECT 1 FROM consumers_subscription_portfolios sp
                     WHERE sp.subscription_id = s.id)
         OR (e.type = ANY(%s) AND e.facility_id IN (
               SELECT pf.facility_id FROM consumers_portfoliofacility pf
               JOIN consumers_subscription_portfolios sp ON sp.portfolio_id = pf.portfolio_id
               WHERE sp.subscription_id = s.id)))
) FROM consumers_subscription s WHERE s.id = ANY(%s)
"""


def queue_depths(subscription_ids: list[int]) -> dict[int, int]:
    """Queue depth of each subscription, in one query on PostgreSQL."""
    ids = list(subscription_ids)
    if not ids:
        return {}
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute(_DEPTHS_SQL, [sorted(FACILITY_EVENT_TYPES), ids])
            return {sid: n for sid, n in cur.fetchall()}
    return {s.pk: queue_depth(s) for s in Subscription.objects.filter(pk__in=ids)}


def head_delivery(subscription_id: int) -> Delivery | None:
    """The delivery at the head of the subscription's queue being retried, if any."""
    return (
        Delivery.objects.filter(
            subscription_id=subscription_id, status=DeliveryStatus.PENDING, replay=False
        )
        .order_by("id")
        .first()
    )


def subscriptions_due(now, *, stale_after: float = 60.0) -> tuple[list[int], list[int]]:
    """What the sweep queues: ``(subscription ids, replay delivery ids)``.

    Subscriptions: active, not paused, and either their head's retry is due or (no head) an
    event waits for them. Replays and test events still unattempted ``stale_after`` seconds
    after they were asked for (their task was lost)."""
    from datetime import timedelta

    heads: dict[int, object] = {}
    for sid, at in Delivery.objects.filter(
        status=DeliveryStatus.PENDING, replay=False, subscription__active=True
    ).values_list("subscription_id", "next_attempt_at"):
        heads[sid] = at if sid not in heads or at is None else min(at, heads[sid] or at)
    due = []
    subs = Subscription.objects.filter(active=True, paused_at=None).prefetch_related("portfolios")
    for sub in subs:
        if sub.pk in heads:
            at = heads[sub.pk]
            if at is None or at <= now:
                due.append(sub.pk)
        elif events_waiting(sub, [p.pk for p in sub.portfolios.all()]).exists():
            due.append(sub.pk)
    replays = list(
        Delivery.objects.filter(
            status=DeliveryStatus.PENDING, replay=True, attempts=0,
            created_at__lte=now - timedelta(seconds=stale_after),
        ).values_list("pk", flat=True)[:1000]
    )  # fmt: skip
    return due, replays
