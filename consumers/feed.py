"""The event feed (consumers.md §3): events in id order after a given one, limited to the
principal's portfolios."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db import connection
from django.db.models import Max, Min

from masterbus.access import FacilityScope

from .models import Event, PortfolioFacility, event_public_id
from .shape import event_item

EVENT_ID_RE = re.compile(r"\Aevt_([0-9]{16})\Z")


class FeedError(ValueError):
    """A bad ``after``: the message names the problem."""


@dataclass(frozen=True)
class FeedPage:
    events: list[dict]
    next_after: str | None
    truncated: bool


def event_body(event: Event) -> dict:
    """An event as consumers read it (§2): the feed's item and a webhook's body."""
    return event_item(event_public_id(event.id), event.type, event.created_at, event.data)


def parse_event_id(text: str) -> int:
    m = EVENT_ID_RE.match(text)
    if not m:
        raise FeedError(f'"{text}" is not an event id (evt_ and 16 digits).')
    return int(m.group(1))


def last_issued_event_id() -> int:
    """The highest event id ever handed out (pruned or not yet committed ones included)."""
    table = Event._meta.db_table
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
            (seq,) = cur.fetchone()
            cur.execute(f"SELECT last_value, is_called FROM {seq}")  # noqa: S608 (a name)
            value, called = cur.fetchone()
            return int(value) if called else 0
        if connection.vendor == "sqlite":
            cur.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
            row = cur.fetchone()
            return int(row[0]) if row else 0
    return Event.objects.aggregate(m=Max("id"))["m"] or 0


def event_feed(
    *, after: str | None, limit: int, types: tuple[str, ...], scope: FacilityScope | None
) -> FeedPage:
    """Up to ``limit`` events after ``after`` (all kept events when None), of ``types`` (all
    when empty), visible in ``scope`` (every event when None; a bound principal sees only the
    events of its portfolios' facilities)."""
    after_pk = 0 if after is None else parse_event_id(after)
    truncated = False
    if after_pk:
        if after_pk > last_issued_event_id():
            raise FeedError(f"Event {after} was never issued.")
        oldest = Event.objects.aggregate(m=Min("id"))["m"]
        # Events between it and the oldest kept one were pruned: the consumer missed some.
        truncated = oldest is not None and oldest > after_pk + 1
    qs = Event.objects.filter(id__gt=after_pk).exclude(type="test")
    if types:
        qs = qs.filter(type__in=types)
    if scope is not None:
        qs = qs.filter(
            facility_id__in=PortfolioFacility.objects.filter(
                portfolio_id__in=scope.portfolio_ids
            ).values("facility_id")
        )
    rows = list(qs.order_by("id")[:limit])
    events = [event_body(e) for e in rows]
    next_after = event_public_id(rows[-1].id) if rows else after
    return FeedPage(events, next_after, truncated)
