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

Each announcement also has an ``in_transaction`` signal, delivered once, at the moment of
the announcement, on the writer's connection and inside its transaction. Its receivers write
in that transaction (the consumers' events: a transactional outbox, so there is no change
without its event and no event without its change). They must be set-based — a few
statements whatever the number of changes — and must not call out of the database.

Signals and their keyword arguments:

- ``records_changed(count)``: mirrored records changed; ``count`` rows were added to the
  change outbox (``facilities.RecordChange``) in the same transaction.
- ``figures_changed(facility_ids, portfolio)``: stored risk figures changed for these
  facilities (Condoit ids; possibly none) and, when ``portfolio`` is true, the portfolio's.
  Announced at once and at the commit.
- ``photo_fetched(facility_id)``: a photo of equipment in this facility (Condoit id) was
  stored or replaced. Announced at once and at the commit.
- ``risk_changed(facilities, equipment, as_of, model_version)``: the recompute changed these
  served figures (lists of :class:`FacilityRiskChange` / :class:`EquipmentRiskChange`, only
  the changed ones). In the transaction only.
- ``sync_run_finished(run)``: a sync run of a door ended (``facilities.SyncRun``).
  In the transaction only.
- ``model_version_published(version, published_at)``: staff published a risk-model version.
  In the transaction only.
- ``voltmetrics_status_changed(status, since)``: the VoltMetrics breaker opened
  (``degraded``) or closed (``available``). In the transaction only (autocommit: at once).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.dispatch import Signal


class Announcement(Signal):
    """A signal sent through :func:`announce`; ``at_once`` also delivers it immediately.

    ``in_transaction`` is its twin for receivers that write in the writer's transaction;
    ``after_commit=False`` makes an announcement that only has those."""

    def __init__(self, *, at_once: bool = False, after_commit: bool = True):
        super().__init__()
        self.at_once = at_once
        self.after_commit = after_commit
        self.in_transaction = Signal()


@dataclass(frozen=True, slots=True)
class FacilityRiskChange:
    facility_pk: int
    facility_id: str
    name: str
    before: dict  # {"risk_score", "risk_level", "overall", "status"} (None when never assessed)
    after: dict


@dataclass(frozen=True, slots=True)
class EquipmentRiskChange:
    equipment_pk: int
    facility_pk: int
    before: dict | None  # {"risk_score", "risk_rating", "maintenance_status"}
    after: dict  # the same, and "next_due" (a date or None)
    source: str
    # (equipment Condoit id, facility Condoit id, name, type) when the writer has them at hand
    identity: tuple[str, str, str, str] | None = None


records_changed = Announcement()
figures_changed = Announcement(at_once=True)
photo_fetched = Announcement(at_once=True)
risk_changed = Announcement(after_commit=False)
sync_run_finished = Announcement(after_commit=False)
model_version_published = Announcement(after_commit=False)
voltmetrics_status_changed = Announcement(after_commit=False)


def announce(signal: Announcement, **kwargs) -> None:
    """Deliver ``signal`` with ``kwargs`` to its in-transaction receivers now, then once the
    current transaction commits (and at once, too, for an ``at_once`` announcement inside a
    transaction)."""
    signal.in_transaction.send(sender=None, **kwargs)
    if not signal.after_commit:
        return
    in_transaction = transaction.get_connection().in_atomic_block
    if signal.at_once and in_transaction:
        signal.send(sender=None, **kwargs)
    transaction.on_commit(lambda: signal.send(sender=None, **kwargs))
