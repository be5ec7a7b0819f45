"""Last successes of recurring jobs (:class:`masterbus.models.Heartbeat`): one statement per
success (an upsert), read in one query by the metrics and ``manage.py status``."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from .models import Heartbeat


def beat(name: str, at: datetime | None = None) -> None:
    """Record that job ``name`` succeeded (now, or at ``at``)."""
    Heartbeat.objects.bulk_create(
        [Heartbeat(name=name, succeeded_at=at or timezone.now())],
        update_conflicts=True,
        unique_fields=["name"],
        update_fields=["succeeded_at"],
    )


def last_successes(prefix: str) -> dict[str, datetime]:
    """``{name without prefix: succeeded_at}`` of every job named ``prefix`` + something."""
    rows = Heartbeat.objects.filter(name__startswith=prefix).values_list("name", "succeeded_at")
    return {name[len(prefix) :]: at for name, at in rows}
