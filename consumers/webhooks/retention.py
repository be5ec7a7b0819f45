"""What the webhooks prune (operations.md §3), after ``EVENT_RETENTION_DAYS`` (floor 2, declared
by masterbus.pruners):

- **deliveries** finished (succeeded, failed, gone) before the cut-off, with their attempts;
  a delivery still being retried is kept whatever its age;
- **events** written before the cut-off, except those a subscription still needs: every
  event after the smallest cursor of the active subscriptions (paused ones included) is
  kept, however old, so a subscription paused for longer than the retention still gets what
  queued when it is resumed. Inactive subscriptions keep nothing (they start from the newest
  event when switched on again).
"""

from __future__ import annotations

from django.db.models import Exists, Min, OuterRef

from masterbus.retention import Pruning, register_pruner

from ..choices import DeliveryStatus
from ..models import Delivery, DeliveryAttempt, Event, Subscription

SETTING = "EVENT_RETENTION_DAYS"


def prune_deliveries(pruning: Pruning) -> None:
    cutoff = pruning.cutoff(SETTING)
    finished = Delivery.objects.filter(finished_at__lt=cutoff).exclude(
        status=DeliveryStatus.PENDING
    )
    pruning.delete(DeliveryAttempt.objects.filter(delivery__in=finished.values("pk")))
    attempts = DeliveryAttempt.objects.filter(delivery=OuterRef("pk"))
    pruning.delete(finished, guard=~Exists(attempts))


def prune_events(pruning: Pruning) -> None:
    events = Event.objects.filter(created_at__lt=pruning.cutoff(SETTING))
    needed_after = Subscription.objects.filter(active=True).aggregate(m=Min("cursor"))["m"]
    if needed_after is not None:
        events = events.filter(id__lte=needed_after)
    pruning.delete(events)


def register() -> None:
    register_pruner("consumers.deliveries", prune_deliveries, floors={SETTING: 2})
    register_pruner("consumers.events", prune_events, floors={SETTING: 2})
