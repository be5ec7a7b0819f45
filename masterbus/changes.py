"""Change announcements: the one way a lower layer says "this changed".

Writers (Condoit ingestion, staff edits, recomputes, VoltMetrics results, photo fetches) call
:func:`announce` with one of the signals below; higher layers subscribe in their
``AppConfig.ready()``: the recompute (``voltmetrics``) listens to ``records_changed``, the
ThreatMap cache (``threatmap``) to ``figures_changed`` and ``photo_fetched``. A module never
imports the layer that reacts to its changes (docs/architecture.md).

Receivers are called once the current transaction commits (``transaction.on_commit``; at
once outside a transaction), so a rolled-back change is never announced. An announcement
made ``at_once`` is also delivered immediately, inside the transaction: readers on the
writer's own connection (a request or test in one transaction) see the new state at once,
and other processes are told again at the commit. Receivers must therefore be idempotent and
cheap — invalidate, schedule — and never do the work themselves.

Signals and their keyword arguments:

- ``records_changed(count)``: mirrored records changed; ``count`` rows were added to the
  change outbox (``facilities.RecordChange``) in the same transaction.
- ``figures_changed(facility_ids, portfolio)``: stored risk figures changed for these
  facilities (Condoit ids; possibly none) and, when ``portfolio`` is true, the portfolio's.
  Announced at once and at the commit.
- ``photo_fetched(facility_id)``: a photo of equipment in this facility (Condoit id) was
  stored or replaced. Announced at once and at the commit.
"""

from __future__ import annotations

from django.db import transaction
from django.dispatch import Signal


class Announcement(Signal):
    """A signal sent through :func:`announce`; ``at_once`` also delivers it immediately."""

    def __init__(self, *, at_once: bool = False):
        super().__init__()
        self.at_once = at_once


records_changed = Announcement()
figures_changed = Announcement(at_once=True)
photo_fetched = Announcement(at_once=True)


def announce(signal: Announcement, **kwargs) -> None:
    """Deliver ``signal`` with ``kwargs`` once the current transaction commits (and at once,
    too, for an ``at_once`` announcement inside a transaction)."""
    in_transaction = transaction.get_connection().in_atomic_block
    if signal.at_once and in_transaction:
        signal.send(sender=None, **kwargs)
    transaction.on_commit(lambda: signal.send(sender=None, **kwargs))
