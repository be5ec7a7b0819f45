"""Recompute and store risk figures (risk-model.md §10–§11): the recompute's entry points.

The engine is pure; a recompute feeds it mirrored records and stores what it returns:
equipment and facility assessments, monthly snapshots (with back-fill) and the portfolio.
It works in facility batches, each loaded (``batch_load``: records from ``inputs`` and the
stored figures read back), computed (``figures``) and stored (``batch_store``); then the
portfolio (``portfolio``). Monthly snapshots: ``snapshots``; the change outbox a recompute
after changes drains: ``incremental``; the current model and today: ``current``. Their public
names are importable from here too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import partial

from django.utils import timezone

from facilities.models import Facility
from masterbus.gcpause import gc_paused
from masterbus.heartbeats import beat
from masterbus.overlap import Background

from . import engine
from .batch_load import VOLTMETRICS_FRESHNESS, ChangedRecords, batch_load
from .batch_load import stored_snapshots as _stored_snapshots
from .batch_store import BatchOutput
from .batch_store import compute_batch as _compute_batch
from .batch_store import equipment_row as _equipment_row
from .batch_store import write_batch as _write_batch
from .current import model_current, model_params, model_version_current, utc_today
from .engine import ModelParams
from .incremental import PendingChanges, pending_changes, pending_mark_recomputed
from .inputs import facility_batches
from .models import EquipmentAssessment, FacilityAssessment
from .portfolio import portfolio_recompute
from .snapshots import (
    SnapshotStats,
    previous_month_end,
    snapshot_month_write,
    snapshots_backfill,
    snapshots_fill,
)

__all__ = [
    "VOLTMETRICS_FRESHNESS",
    "ChangedRecords",
    "Progress",
    "RecomputeStats",
    "SnapshotStats",
    "model_current",
    "model_params",
    "model_version_current",
    "portfolio_recompute",
    "previous_month_end",
    "PendingChanges",
    "pending_changes",
    "recompute_changes",
    "recompute_pending",
    "risk_recompute",
    "snapshot_month_write",
    "snapshots_backfill",
    "snapshots_fill",
    "utc_today",
    # the batch steps under their earlier names (the benchmarks use them)
    "_compute_batch",
    "_equipment_row",
    "_stored_snapshots",
    "_write_batch",
]


@dataclass
class RecomputeStats:
    facilities: int = 0
    equipment: int = 0
    snapshots_backfilled: int = 0
    reused: int = 0  # equipment whose stored parts were reused (recompute after changes)
    seconds: float = 0.0
    as_of: date | None = None
    facility_pks: list[int] = field(default_factory=list)

    def add(self, out: BatchOutput) -> None:
        """Count one computed batch."""
        self.facilities += len(out.facility_pks)
        self.equipment += out.equipment
        self.reused += out.reused
        self.snapshots_backfilled += len(out.new_snapshots)
        self.facility_pks.extend(out.facility_pks)


Progress = Callable[[int, int], None]


def risk_recompute(
    *,
    facility_pks: Iterable[int] | None = None,
    as_of: date | None = None,
    progress: Progress | None = None,
    portfolio: bool = True,
    changed: ChangedRecords | None = None,
    model: ModelParams | None = None,
) -> RecomputeStats:
    """Recompute the given facilities (all active ones by default), then the portfolio.

    With ``changed`` (a recompute after changes), equipment outside it keep their stored
    per-equipment parts where those were computed at the same ``as_of`` by the same model
    version: only the changed equipment are assessed again, and each facility's figures are
    put together from the parts. Without it, everything is computed from the records.
    """
    started = timezone.now()
    as_of = as_of or utc_today()
    model = model or model_current()
    stats = RecomputeStats(as_of=as_of)
    pks = None if facility_pks is None else list(facility_pks)
    batches = facility_batches(facility_pks=pks, batch_size=None)
    # Only active facilities are recomputed, so only they count towards the progress total.
    total = sum(len(b) for b in batches)
    load = partial(
        batch_load,
        as_of=as_of,
        version=model.version,
        months=engine.history_points(as_of)[:-1],
        history_from=engine.history_points(as_of)[0],
        changed=changed,
    )

    # Reads of the next batch and writes of the previous one run on a second connection
    # while the engine works on this one (masterbus.overlap; inline where unsafe).
    with gc_paused(), Background(name="recompute") as bg:
        loading = bg.submit(load, batches[0]) if batches else None
        writing = None
        for i in range(len(batches)):
            inputs = loading.result()
            if i + 1 < len(batches):
                loading = bg.submit(load, batches[i + 1])
            out = _compute_batch(inputs, model, as_of)
            stats.add(out)
            if writing is not None:
                writing.result()
            writing = bg.submit(_write_batch, out, as_of)
            if progress:
                progress(stats.facilities, total)
        if writing is not None:
            writing.result()
    # Deleted facilities drop out of every figure: their own assessments and their
    # equipment's go (a full recompute sweeps every deleted facility).
    deleted = Facility.objects.filter(deleted_at__isnull=False)
    if pks is not None:
        deleted = deleted.filter(pk__in=pks)
    FacilityAssessment.objects.filter(facility__in=deleted).delete()
    EquipmentAssessment.objects.filter(equipment__facility__in=deleted).delete()
    if portfolio:
        portfolio_recompute(as_of=as_of, model=model)
    stats.seconds = (timezone.now() - started).total_seconds()
    if pks is None and changed is None and portfolio:
        beat("recompute.full")  # masterbus_recompute_last_success_timestamp_seconds{kind="full"}
    return stats


def recompute_pending(*, limit: int = 5000) -> RecomputeStats | None:
    """Recompute the facilities whose records changed (outbox rows not yet recomputed).

    Only the changed equipment are assessed again; the other equipment of those facilities
    keep their stored parts (``risk_recompute(changed=…)``). A changed facility record, or a
    change whose equipment cannot be found, recomputes its whole facility.
    """
    pending = pending_changes(limit=limit)
    if pending is None:
        beat("recompute.incremental")  # drained: nothing (more) waits
        return None
    return recompute_changes(pending)


def recompute_changes(pending: PendingChanges) -> RecomputeStats:
    """Recompute the facilities of some pending changes in this process, then mark them."""
    stats = risk_recompute(facility_pks=pending.facility_pks, changed=pending.changed)
    pending_mark_recomputed(pending.row_ids)
    return stats
