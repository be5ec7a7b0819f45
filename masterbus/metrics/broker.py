"""``masterbus_queue_length{queue}``: messages waiting per Celery queue, asked of the broker
(Redis or RabbitMQ, through kombu: a passive declare reports the count without creating
anything). With tasks run eagerly there is no broker and no series; a broker that does not
answer within 2 s leaves the family empty (``/ready`` reports it down)."""

from __future__ import annotations

import logging

from django.conf import settings

from .application import Sample

log = logging.getLogger(__name__)


def queue_names() -> list[str]:
    from masterbus.celery import app

    names = {settings.CELERY_TASK_DEFAULT_QUEUE, *app.amqp.queues.keys()}
    return sorted(n for n in names if n)


def queue_lengths() -> list[Sample]:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return []
    from masterbus.celery import app

    samples = []
    try:
        with app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            channel = conn.default_channel
            for name in queue_names():
                try:
                    ok = channel.queue_declare(queue=name, passive=True)
                    waiting = ok.message_count
                except Exception as exc:  # RabbitMQ: a queue never declared yet
                    if "NOT_FOUND" not in str(exc) and "404" not in str(exc):
                        raise
                    waiting = 0
                    channel = conn.channel()  # a failed passive declare closes the channel
                samples.append(Sample("masterbus_queue_length", {"queue": name}, waiting))
    except Exception as exc:
        log.warning("Queue lengths unavailable: %s", type(exc).__name__)
        return []
    return samples
