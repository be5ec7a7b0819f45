"""Starting deliveries once events are committed (``consumers.events`` calls
:func:`deliveries_kick` on commit)."""

from __future__ import annotations

import logging

from django.db.models import Exists, OuterRef

from ..choices import DeliveryStatus
from ..models import Delivery, Subscription
from .tasks import queue_delivery

log = logging.getLogger(__name__)


def deliveries_kick() -> None:
    """Queue the delivery task of each active, unpaused subscription that is not waiting for
    a retry (at most one queued task each). Never raises: the per-minute sweep catches up
    with whatever this could not queue."""
    try:
        retrying = Delivery.objects.filter(
            subscription=OuterRef("pk"), status=DeliveryStatus.PENDING, replay=False
        )
        ids = list(
            Subscription.objects.filter(active=True, paused_at=None)
            .exclude(Exists(retrying))
            .values_list("pk", flat=True)
        )
        for sid in ids:
            queue_delivery(sid)
    except Exception:  # noqa: BLE001 - the events are committed; the sweep delivers them
        log.exception("webhooks: could not queue deliveries (the sweep will)")
