"""The webhooks' application gauges (operations.md §1), two queries whatever the number of
events: per active subscription, the events waiting for it and whether it is paused."""

from __future__ import annotations

from masterbus.metrics.application import Sample

from ..models import Subscription
from .selectors import queue_depths


def webhook_samples() -> list[Sample]:
    subs = list(Subscription.objects.filter(active=True).values_list("pk", "paused_at"))
    depths = queue_depths([pk for pk, _ in subs])
    samples = []
    for pk, paused_at in subs:
        labels = {"subscription": str(pk)}
        samples.append(Sample("masterbus_webhook_deliveries_pending", labels, depths.get(pk, 0)))
        samples.append(
            Sample("masterbus_webhook_subscription_paused", labels, int(paused_at is not None))
        )
    return samples
