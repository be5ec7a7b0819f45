"""A recompute split into chunks of facilities, each a separate task on any worker.

A run (``RecomputeRun``) fixes what every chunk computes with: the date, the model version,
the facilities and, after changes, the changed records. Its chunks (``RecomputeChunk``) are
ranges of facility ids, ``RECOMPUTE_CHUNK_FACILITIES`` facilities each. A chunk stores its
facilities' figures batch by batch (one transaction per batch, so no facility is ever
half-written), then marks itself finished and counts itself on the run in one transaction.
The chunk that finds every chunk finished asks for the run's finish, which puts the
portfolio together once, marks the run finished and releases the recompute lock.

The barrier is these two tables, not a Celery chord: a chord needs a result backend (the
broker may be RabbitMQ; results are not kept), and a chord's counter does not survive a
header task that is delivered twice. Here a chunk re-delivered after its worker died (tasks
are acknowledged late) computes its facilities again from the records — the same figures —
and is counted once (``finished_at`` is set only once); a finish asked for twice does its
work once (the run's row is locked and its status checked).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone

from facilities.models import Facility, RecordChange
from masterbus.heartbeats import beat

from .batch_load import ChangedRecords
from .choices import RunKind, RunStatus
from .current import model_params, model_version_current, utc_today
from .incremental import pending_mark_recomputed
from .lock import HeldLock, run_lock
from .models import ModelVersion, RecomputeChunk, RecomputeRun
from .portfolio import portfolio_recompute
from .services import risk_recompute


def chunk_size() -> int:
    return max(1, int(getattr(settings, "RECOMPUTE_CHUNK_FACILITIES", 50)))


def split_wanted(facilities: int) -> bool:
    """Whether a recompute of this many facilities is split into chunks (more than one)."""
    return facilities > chunk_size()


def chunk_ranges(pks: list[int], size: int, upto: int | None) -> list[tuple[int, int]]:
    """Contiguous id ranges from 0 to ``upto`` (at least the last of ``pks``, sorted), ``size``
    of ``pks`` in each; ids without a pk in ``pks`` (deleted facilities) fall in one too."""
    upto = max([*pks[-1:], *([upto] if upto is not None else [])], default=None)
    if upto is None:
        return []
    starts = [pks[i] for i in range(0, len(pks), size)] or [0]
    starts[0] = 0
    ends = [s - 1 for s in starts[1:]] + [upto]
    return list(zip(starts, ends, strict=True))


def run_start(
    kind: str,
    held: HeldLock,
    *,
    as_of=None,
    facility_pks: list[int] | None = None,
    changed: ChangedRecords | None = None,
    change_ids: list[int] | None = None,
) -> RecomputeRun:
    """Create a run and its chunks; the run takes over ``held`` (the recompute lock).

    A run still marked running is abandoned: its lock expired (we hold it now), so its
    remaining chunks must not write over this run's figures.
    """
    version = model_version_current()
    if facility_pks is None:
        # Every facility existing now: the active ones are computed, the deleted ones swept.
        # One created meanwhile is left to the recompute after its changes.
        active = Facility.objects.filter(deleted_at__isnull=True).order_by("pk")
        pks = list(active.values_list("pk", flat=True))
        upto = Facility.objects.aggregate(m=Max("pk"))["m"]
        ranges = chunk_ranges(pks, chunk_size(), upto)
    else:
        pks = sorted(set(facility_pks))
        ranges = chunk_ranges(pks, chunk_size(), None)
    now = timezone.now()
    with transaction.atomic():
        RecomputeRun.objects.filter(status=RunStatus.RUNNING).update(
            status=RunStatus.ABANDONED,
            finished_at=now,
            note="Abandoned: its lock expired and another recompute started",
        )
        run = RecomputeRun.objects.create(
            kind=kind,
            as_of=as_of or utc_today(),
            algorithm_version=version.version,
            facility_pks=None if facility_pks is None else pks,
            changed=None
            if changed is None
            else {"facilities": sorted(changed.facilities), "equipment": sorted(changed.equipment)},
            change_ids=list(change_ids or []),
            lock_token=held.hand_over(),
            chunks_total=len(ranges),
        )
        RecomputeChunk.objects.bulk_create(
            RecomputeChunk(run=run, number=i, pk_from=lo, pk_to=hi)
            for i, (lo, hi) in enumerate(ranges, start=1)
        )
    return run


def run_abandon(run_id: int, note: str) -> None:
    """Give a running run up and release its lock (its chunks that still arrive do nothing)."""
    run = RecomputeRun.objects.filter(pk=run_id).first()
    if run is None:
        return
    RecomputeRun.objects.filter(pk=run_id, status=RunStatus.RUNNING).update(
        status=RunStatus.ABANDONED, finished_at=timezone.now(), note=note[:2000]
    )
    run_lock(run.lock_token).release()


@dataclass(frozen=True)
class ChunkOutcome:
    status: str  # "computed", "finished before", "skipped" (run not running), "abandoned"
    facilities: int = 0
    equipment: int = 0
    last: bool = False  # every chunk of the run is finished: ask for the finish


def _facilities(run: RecomputeRun, chunk: RecomputeChunk) -> list[int]:
    """The chunk's facilities; deleted ones too, so their figures are swept."""
    lo, hi = chunk.pk_from, chunk.pk_to
    if run.facility_pks is None:
        qs = Facility.objects.filter(pk__gte=lo, pk__lte=hi)
        return list(qs.order_by("pk").values_list("pk", flat=True))
    return [p for p in run.facility_pks if lo <= p <= hi]


def _changed(run: RecomputeRun) -> ChangedRecords | None:
    if run.changed is None:
        return None
    return ChangedRecords(
        facilities=frozenset(run.changed.get("facilities", ())),
        equipment=frozenset(run.changed.get("equipment", ())),
    )


def _model(run: RecomputeRun):
    return model_params(ModelVersion.objects.get(version=run.algorithm_version))


def _keep_lock(run: RecomputeRun) -> bool:
    """Restart the run's lock expiry; take it again if it expired and nobody took it."""
    lock = run_lock(run.lock_token)
    return lock.extend() or bool(lock.acquire())


def chunk_compute(chunk_id: int, *, worker: str = "") -> ChunkOutcome:
    """Compute one chunk of a running run (again, if a worker died in it before)."""
    chunk = RecomputeChunk.objects.select_related("run").filter(pk=chunk_id).first()
    if chunk is None or chunk.run.status != RunStatus.RUNNING:
        return ChunkOutcome("skipped")
    run = chunk.run
    outcome = "finished before"
    facilities = equipment = 0
    if chunk.finished_at is None:
        if not _keep_lock(run):
            run_abandon(run.pk, "Abandoned: another recompute holds the lock")
            return ChunkOutcome("abandoned")
        RecomputeChunk.objects.filter(pk=chunk.pk).update(
            started_at=timezone.now(), attempts=F("attempts") + 1, worker=worker[:200]
        )
        stats = risk_recompute(
            facility_pks=_facilities(run, chunk),
            as_of=run.as_of,
            model=_model(run),
            changed=_changed(run),
            portfolio=False,
        )
        facilities, equipment = stats.facilities, stats.equipment
        with transaction.atomic():
            counted = RecomputeChunk.objects.filter(pk=chunk.pk, finished_at__isnull=True).update(
                finished_at=timezone.now(), facilities=facilities, equipment=equipment
            )
            if counted:
                RecomputeRun.objects.filter(pk=run.pk).update(
                    chunks_done=F("chunks_done") + 1,
                    facilities=F("facilities") + facilities,
                    equipment=F("equipment") + equipment,
                )
        outcome = "computed"
    run.refresh_from_db(fields=["status", "chunks_done", "chunks_total"])
    last = run.status == RunStatus.RUNNING and run.chunks_done >= run.chunks_total
    return ChunkOutcome(outcome, facilities, equipment, last)


def run_finish(run_id: int) -> RecomputeRun | None:
    """Put the portfolio together once every chunk finished; mark the run finished, the
    changes it covered recomputed, and release the lock. None: not due (or done before)."""
    with transaction.atomic():
        run = RecomputeRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.status != RunStatus.RUNNING or run.chunks_done < run.chunks_total:
            return None
        portfolio_recompute(as_of=run.as_of, model=_model(run))
        if run.change_ids:
            pending_mark_recomputed(run.change_ids)
        run.status = RunStatus.FINISHED
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "finished_at"])
    if run.kind == RunKind.FULL:
        beat("recompute.full")  # masterbus_recompute_last_success_timestamp_seconds{kind="full"}
    run_lock(run.lock_token).release()
    return run


def changes_waiting() -> bool:
    return RecordChange.objects.filter(recomputed_at__isnull=True).exists()
