"""A recompute split into chunks (voltmetrics.runs): the barrier in the database, chunks
delivered again, runs that lose their lock, and figures equal to a single-process recompute.
The tasks run eagerly here; tests/voltmetrics/test_runs_e2e.py runs them on real workers."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from facilities.models import Facility, RecordChange
from masterbus.locks import CacheLock
from voltmetrics import runs, services, tasks
from voltmetrics.choices import RunKind, RunStatus
from voltmetrics.lock import RECOMPUTE_LOCK_KEY, recompute_lock
from voltmetrics.models import (
    EquipmentAssessment,
    FacilityAssessment,
    PortfolioAssessment,
    RecomputeChunk,
    RecomputeRun,
)

from .conftest import AS_OF
from .stored import clear, stored

pytestmark = pytest.mark.django_db


def start(kind=RunKind.FULL, **what) -> RecomputeRun:
    with recompute_lock() as held:
        return runs.run_start(kind, held, as_of=AS_OF, **what)


def chunks(run) -> list[int]:
    return list(run.chunks.order_by("number").values_list("pk", flat=True))


def test_chunk_ranges_cover_every_id_in_contiguous_ranges():
    assert runs.chunk_ranges([], 2, None) == []
    assert runs.chunk_ranges([], 2, 7) == [(0, 7)]  # only deleted facilities: swept
    assert runs.chunk_ranges([5], 2, None) == [(0, 5)]
    assert runs.chunk_ranges([3, 4, 9, 12, 20], 2, 25) == [(0, 8), (9, 19), (20, 25)]
    pks = [2, 3, 5, 8, 13, 21, 34]
    ranges = runs.chunk_ranges(pks, 3, 40)
    for pk in range(0, 41):
        holders = [r for r in ranges if r[0] <= pk <= r[1]]
        assert len(holders) == 1, pk
    assert [sum(1 for p in pks if lo <= p <= hi) for lo, hi in ranges] == [3, 3, 1]


def test_a_split_full_recompute_stores_exactly_what_one_process_does(world, settings):
    services.risk_recompute(as_of=AS_OF)
    expected = stored()
    clear()
    settings.RECOMPUTE_CHUNK_FACILITIES = 1
    run = RecomputeRun.objects.get(pk=tasks.recompute_all_task(as_of=AS_OF.isoformat())["run"])
    assert (run.status, run.chunks_total, run.chunks_done) == (RunStatus.FINISHED, 2, 2)
    assert (run.facilities, run.equipment) == (2, 3)
    assert stored() == expected
    assert cache.get(RECOMPUTE_LOCK_KEY) is None  # the finish released the lock


def test_a_chunk_delivered_again_is_counted_once_and_the_finish_is_done_once(world, settings):
    settings.RECOMPUTE_CHUNK_FACILITIES = 1
    run = start()
    first, second = chunks(run)
    assert cache.get(RECOMPUTE_LOCK_KEY) == run.lock_token  # the run holds the lock
    out = runs.chunk_compute(first, worker="w1:1")
    assert (out.status, out.facilities, out.last) == ("computed", 1, False)
    again = runs.chunk_compute(first, worker="w2:2")
    assert (again.status, again.last) == ("finished before", False)
    assert runs.run_finish(run.pk) is None  # not every chunk has finished
    assert not PortfolioAssessment.objects.exists()
    assert runs.chunk_compute(second).last is True
    assert runs.run_finish(run.pk).status == RunStatus.FINISHED
    assert runs.run_finish(run.pk) is None  # asked twice: done once
    run.refresh_from_db()
    assert (run.chunks_done, run.facilities, run.equipment) == (2, 2, 3)
    assert RecomputeChunk.objects.get(pk=first).attempts == 1
    assert PortfolioAssessment.objects.get().payload["total_facilities"] == 2
    assert cache.get(RECOMPUTE_LOCK_KEY) is None


def test_a_chunk_killed_before_it_finished_is_computed_again(world, settings):
    settings.RECOMPUTE_CHUNK_FACILITIES = 1
    run = start()
    first, second = chunks(run)
    # As a worker killed in the middle leaves it: started, some batches maybe written.
    RecomputeChunk.objects.filter(pk=first).update(attempts=1, worker="gone:1")
    runs.chunk_compute(first)
    assert RecomputeChunk.objects.get(pk=first).attempts == 2
    runs.chunk_compute(second)
    runs.run_finish(run.pk)
    run.refresh_from_db()
    assert (run.status, run.facilities) == (RunStatus.FINISHED, 2)


def test_a_new_run_abandons_one_whose_lock_expired(world, settings):
    settings.RECOMPUTE_CHUNK_FACILITIES = 1
    old = start()
    cache.delete(RECOMPUTE_LOCK_KEY)  # expired
    new = start()
    old.refresh_from_db()
    assert old.status == RunStatus.ABANDONED and "lock expired" in old.note
    assert runs.chunk_compute(chunks(old)[0]).status == "skipped"
    assert not FacilityAssessment.objects.exists()
    assert cache.get(RECOMPUTE_LOCK_KEY) == new.lock_token


def test_a_chunk_whose_run_lost_the_lock_to_another_recompute_abandons_the_run(world):
    run = start()
    cache.delete(RECOMPUTE_LOCK_KEY)
    other = CacheLock(RECOMPUTE_LOCK_KEY, 60)
    assert other.acquire()
    out = runs.chunk_compute(chunks(run)[0])
    assert out.status == "abandoned"
    run.refresh_from_db()
    assert run.status == RunStatus.ABANDONED
    assert cache.get(RECOMPUTE_LOCK_KEY) == other.token  # the other's lock is left alone
    assert not FacilityAssessment.objects.exists()


def test_a_chunk_whose_lock_expired_unclaimed_takes_it_again(world):
    run = start()
    cache.delete(RECOMPUTE_LOCK_KEY)
    assert runs.chunk_compute(chunks(run)[0]).status == "computed"
    assert cache.get(RECOMPUTE_LOCK_KEY) == run.lock_token


def test_a_chunk_that_fails_abandons_its_run_and_releases_the_lock(world, settings, monkeypatch):
    settings.RECOMPUTE_CHUNK_FACILITIES = 1

    def broken(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(runs, "risk_recompute", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        tasks.recompute_all_task(as_of=AS_OF.isoformat())
    run = RecomputeRun.objects.get()
    assert run.status == RunStatus.ABANDONED and "disk full" in run.note
    assert cache.get(RECOMPUTE_LOCK_KEY) is None
    monkeypatch.undo()
    tasks.recompute_pending_task()  # the next recompute is not blocked
    assert FacilityAssessment.objects.count() == 2


def test_one_running_run_at_a_time_in_the_database(world):
    from django.db import IntegrityError, transaction

    run = start()
    with pytest.raises(IntegrityError), transaction.atomic():
        RecomputeRun.objects.create(
            kind=RunKind.FULL, as_of=AS_OF, algorithm_version="1.0", lock_token="x"
        )
    assert RecomputeRun.objects.filter(status=RunStatus.RUNNING).get() == run


def test_changes_in_many_facilities_are_recomputed_as_a_run(world, settings):
    pending = services.pending_changes(limit=100)
    services.recompute_changes(pending)
    expected = stored()
    clear()
    RecordChange.objects.update(recomputed_at=None)
    settings.RECOMPUTE_CHUNK_FACILITIES = 1
    result = tasks.recompute_pending_task()
    run = RecomputeRun.objects.get(pk=result["run"])
    assert (run.kind, run.status, run.chunks_total) == (RunKind.CHANGES, RunStatus.FINISHED, 2)
    assert sorted(run.change_ids) == sorted(pending.row_ids)
    assert not RecordChange.objects.filter(recomputed_at__isnull=True).exists()
    assert stored() == expected


def test_changes_that_arrive_during_a_run_wait_and_are_drained_after_it(
    world, settings, django_capture_on_commit_callbacks
):
    settings.RECOMPUTE_CHUNK_FACILITIES = 1
    settings.RECOMPUTE_DEBOUNCE_SECONDS = 0
    run = start()
    assert tasks.recompute_pending_task() is None  # waits: the run holds the lock
    assert RecordChange.objects.filter(recomputed_at__isnull=True).count() == 6
    for chunk_id in chunks(run):
        runs.chunk_compute(chunk_id)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.recompute_finish_task(run.pk)  # queues the drain of what waited
    assert not RecordChange.objects.filter(recomputed_at__isnull=True).exists()


def test_a_deleted_facility_drops_out_of_a_split_recompute(world, settings):
    from django.utils import timezone

    settings.RECOMPUTE_CHUNK_FACILITIES = 1
    tasks.recompute_all_task(as_of=AS_OF.isoformat())
    beta = Facility.objects.get(external_id="fac_beta")
    Facility.objects.filter(pk=beta.pk).update(deleted_at=timezone.now())
    tasks.recompute_all_task(as_of=AS_OF.isoformat())
    assert not FacilityAssessment.objects.filter(facility=beta).exists()
    assert not EquipmentAssessment.objects.filter(equipment__facility=beta).exists()
    assert PortfolioAssessment.objects.get().payload["total_facilities"] == 1
