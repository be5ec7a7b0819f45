"""Celery queues per workload (docs/deployment.md, "Queues").

Every task of the project is routed by name to one of :data:`QUEUES`, in one table:
``CELERY_TASK_ROUTES`` in masterbus/settings.py, a :class:`QueueRoutes`. A task the table
does not name (Celery's own) goes to ``default``.

``CELERY_QUEUE_PREFIX`` (default empty) is prepended to every queue name on the broker: the
routes, the default queue and the queues a worker consumes by default. The routes read it
when a task is sent, so a test that starts workers under a prefix of their own sends its
tasks to them by overriding the setting. Metrics and ``manage.py status`` label each queue
with its logical name, without the prefix.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

INGEST = "ingest"
RECOMPUTE = "recompute"
VOLTMETRICS = "voltmetrics"
PHOTOS = "photos"
EVENTS = "events"
DEFAULT = "default"
# Logical names, in the order docs and ``manage.py status`` list them.
QUEUES = (INGEST, RECOMPUTE, VOLTMETRICS, PHOTOS, EVENTS, DEFAULT)


def queue_name(queue: str, prefix: str | None = None) -> str:
    """The broker's name of the logical ``queue``: CELERY_QUEUE_PREFIX (or ``prefix``)
    prepended."""
    if prefix is None:
        prefix = getattr(settings, "CELERY_QUEUE_PREFIX", "")
    return f"{prefix}{queue}"


def task_queues(prefix: str):
    """kombu Queues of every logical queue under ``prefix``: what a worker started without
    ``--queues`` consumes. Each queue has a direct exchange and a routing key of its own name,
    as Celery gives a queue it creates when a task is routed to it."""
    from kombu import Exchange, Queue

    return tuple(
        Queue(name, Exchange(name, type="direct"), routing_key=name)
        for name in (queue_name(q, prefix) for q in QUEUES)
    )


class QueueRoutes:
    """The routing table: task name → logical queue. Celery calls it as a router (a callable
    in ``task_routes``) for every task sent; it answers the prefixed queue. It is not a
    mapping on purpose: Celery would use a mapping's queue names as they are, unprefixed."""

    def __init__(self, table: dict[str, str]):
        unknown = sorted({q for q in table.values() if q not in QUEUES})
        if unknown:
            raise ImproperlyConfigured(
                f"CELERY_TASK_ROUTES names unknown queues {unknown}; the queues are {QUEUES}"
            )
        self.table = dict(table)

    def queue_for(self, task: str) -> str:
        """The logical queue of ``task`` (``default`` for a task the table does not name)."""
        return self.table.get(task, DEFAULT)

    def tasks_of(self, queue: str) -> list[str]:
        return sorted(name for name, q in self.table.items() if q == queue)

    def __call__(self, name, args=None, kwargs=None, options=None, task=None, **kw) -> dict:
        return {"queue": queue_name(self.queue_for(name))}

    def __repr__(self) -> str:
        return f"QueueRoutes({self.table!r})"
