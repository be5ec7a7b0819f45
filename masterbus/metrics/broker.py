"""``masterbus_queue_length{queue}``: messages waiting per Celery queue, asked of the broker
(Redis or RabbitMQ, through kombu: a passive declare reports the count without creating
anything). Every queue of masterbus/queues.py is reported, labelled with its logical name
(``ingest``, ``recompute``, …; CELERY_QUEUE_PREFIX is not part of the label), 0 when it is
empty or was never used. With tasks run eagerly there is no broker and no series; a broker
that does not answer within 2 s leaves the family empty (``/ready`` reports it down)."""

from __future__ import annotations

import logging

from django.conf import settings

from masterbus.queues import QUEUES, queue_name

from .application import Sample

log = logging.getLogger(__name__)


def queue_names() -> dict[str, str]:
    """``{label: the broker's queue name}`` of every queue."""
    return {queue: queue_name(queue) for queue in QUEUES}


def queue_lengths() -> list[Sample]:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return []
    from masterbus.celery import app

    samples = []
    try:
        with app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            channel = conn.default_channel
            for label, name in queue_names().items():
                try:
                    ok = channel.queue_declare(queue=name, passive=True)
                    waiting = ok.message_count
                except Exception as exc:  # RabbitMQ: a queue never declared yet
                    if "NOT_FOUND" not in str(exc) and "404" not in str(exc):
                        raise
                    waiting = 0
                    channel = conn.channel()  # a failed passive declare closes the channel
                samples.append(Sample("masterbus_queue_length", {"queue": label}, waiting))
    except Exception as exc:
        log.warning("Queue lengths unavailable: %s", type(exc).__name__)
        return []
    return samples
