"""Fetching results at scale, against the fake VoltMetrics on loopback: each result of a job
fetched once, at most VOLTMETRICS_FETCH_CONCURRENCY at a time over one keep-alive session; a
429's Retry-After holds every fetch and the throttled results still arrive; an outage midway
stops the fetching, keeps what arrived and leaves the rest to the poll; the figures stored are
those of the one-at-a-time path; a poll asks each result once for all the jobs that produced
it (an equipment's own job and its maintenance jobs)."""

from collections import Counter
from itertools import count

import pytest

from facilities.models import RecordChange
from tests import factories as f
from voltmetrics.choices import JobKind, JobStatus, Source
from voltmetrics.integration.client import CircuitBreaker
from voltmetrics.integration.jobs import voltmetrics_job_complete, voltmetrics_poll_jobs
from voltmetrics.integration.outbox import voltmetrics_drain_outbox
from voltmetrics.models import (
    EquipmentAssessment,
    FacilityAssessment,
    Job,
    PortfolioAssessment,
)
from voltmetrics.services import risk_recompute

from . import fake_voltmetrics as fv

pytestmark = pytest.mark.django_db

FACILITIES = 5
PER_FACILITY = 100  # 500 equipment in one job


def portfolio(facilities: int, per: int):
    facs = [f.facility(id=f"fac_s{i}") for i in range(facilities)]
    eqs = [f.equipment(fac["id"], id=f"{fac['id']}_eq{j:03d}") for fac in facs for j in range(per)]
    return facs, eqs


def equipment_job(vm, vm_settings, mirror, facilities=FACILITIES, per=PER_FACILITY) -> Job:
    """``facilities × per`` equipment mirrored, recomputed locally and pushed as one equipment
    job, which VoltMetrics has done (a score of its own for each)."""
    vm_settings.VOLTMETRICS_BATCH_SIZE = 1000  # one round, one request
    facs, eqs = portfolio(facilities, per)
    mirror(facs, eqs)
    risk_recompute()
    assert voltmetrics_drain_outbox()["error"] == ""
    assert not RecordChange.objects.filter(pushed_at__isnull=True).exists()
    job = Job.objects.get(kind=JobKind.EQUIPMENT)
    assert len(job.items) == facilities * per
    vm.scores.update({eq["id"]: 3 + (n * 37) % 97 for n, eq in enumerate(eqs)})
    vm.finish(job.job_id)
    return job


def result_gets(vm) -> list[fv.Seen]:
    return vm.requests("GET", "/results/")


def stored_scores() -> dict[str, int]:
    return dict(
        EquipmentAssessment.objects.filter(source=Source.VOLTMETRICS).values_list(
            "equipment__external_id", "risk_score"
        )
    )


def test_each_result_of_a_500_item_job_is_fetched_once_at_most_n_at_a_time(vm, vm_settings, mirror):
    vm_settings.VOLTMETRICS_FETCH_CONCURRENCY = 8
    job = equipment_job(vm, vm_settings, mirror)
    # Each answer takes a while (far longer than the client's own work on it), so the pool
    # fills up.
    vm.add_fault(fv.slow(0.05), path="GET /results/", times=None)
    vm.max_in_flight = 0

    outcome = voltmetrics_job_complete(job.job_id)

    assert outcome == {"status": "completed", "equipment": 500, "facilities": 0, "errors": 0}
    gets = Counter(s.path for s in result_gets(vm))
    assert len(gets) == 500 and set(gets.values()) == {1}
    assert vm.max_in_flight == 8  # the pool was full, and never more
    assert stored_scores() == vm.scores
    job.refresh_from_db()
    assert (job.status, job.failed_items, job.last_error) == (JobStatus.COMPLETED, {}, "")
    served = EquipmentAssessment.objects.filter(source=Source.VOLTMETRICS, served=True)
    assert served.count() == 500


def figures() -> dict:
    """Every stored figure a completion writes or a recompute derives from it."""
    eq = {
        (row["equipment__external_id"], row["source"]): row
        for row in EquipmentAssessment.objects.values(
            "equipment__external_id",
            "source",
            "algorithm_version",
            "as_of",
            "risk_score",
            "rating",
            "primary_risk_factor",
            "factors",
            "nfpa_70b",
            "nfpa_70e",
            "maintenance_status",
            "served",
        )  # fmt: skip
    }
    vm_computed = dict(
        EquipmentAssessment.objects.filter(source=Source.VOLTMETRICS).values_list(
            "equipment__external_id", "computed_at"
        )
    )
    fac = {
        (row["facility__external_id"], row["source"]): row
        for row in FacilityAssessment.objects.values(
            "facility__external_id",
            "source",
            "risk_score",
            "risk_level",
            "equipment_count",
            "critical_equipment_count",
            "high_risk_equipment_count",
            "overall_compliance",
            "compliance_status",
            "payload",
        )  # fmt: skip
    }
    portfolio = dict(PortfolioAssessment.objects.values_list("source", "payload"))
    return {"equipment": eq, "vm_computed_at": vm_computed, "facilities": fac, "pf": portfolio}


def test_the_figures_stored_equal_the_one_at_a_time_paths(vm, vm_settings, mirror):
    job = equipment_job(vm, vm_settings, mirror)
    vm_settings.VOLTMETRICS_FETCH_CONCURRENCY = 1
    assert voltmetrics_job_complete(job.job_id)["equipment"] == 500
    assert vm.max_in_flight == 1
    sequential = figures()

    # The same job's results again, concurrently, from nothing stored.
    EquipmentAssessment.objects.filter(source=Source.VOLTMETRICS).delete()
    risk_recompute()
    assert not EquipmentAssessment.objects.filter(source=Source.VOLTMETRICS).exists()
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.PROCESSING, completed_at=None, results_fetched_at=None
    )
    vm_settings.VOLTMETRICS_FETCH_CONCURRENCY = 8
    vm.add_fault(fv.slow(0.005), path="GET /results/", times=None)
    vm.max_in_flight = 0
    assert voltmetrics_job_complete(job.job_id)["equipment"] == 500
    assert vm.max_in_flight > 1

    concurrent = figures()
    assert len(concurrent["equipment"]) == 1000  # local and VoltMetrics rows of each
    assert sum(r["served"] for r in concurrent["equipment"].values()) == 500
    assert concurrent == sequential


def test_a_429_holds_every_fetch_and_the_throttled_results_still_arrive(vm, vm_settings, mirror):
    vm_settings.VOLTMETRICS_FETCH_CONCURRENCY = 8
    vm_settings.VOLTMETRICS_BACKOFF_CAP = 5  # Retry-After is honoured up to the cap
    job = equipment_job(vm, vm_settings, mirror, facilities=1, per=80)
    throttled = ["fac_s0_eq040", "fac_s0_eq041"]
    for ext in throttled:
        vm.add_fault(fv.status(429, {"Retry-After": "1"}), path=f"GET /results/equipment/{ext}$")
    vm.add_fault(fv.slow(0.01), path="GET /results/", times=None)

    outcome = voltmetrics_job_complete(job.job_id)

    assert outcome == {"status": "completed", "equipment": 80, "facilities": 0, "errors": 0}
    assert stored_scores() == vm.scores
    gets = result_gets(vm)
    asked = Counter(s.path.rsplit("/", 1)[1] for s in gets)
    assert {ext: asked.pop(ext) for ext in throttled} == {ext: 2 for ext in throttled}
    assert set(asked.values()) == {1}
    first = min(s.at for s in gets if s.path.endswith(tuple(throttled)))
    for ext in throttled:
        t429, again = sorted(s.at for s in gets if s.path.endswith(ext))
        assert again - t429 >= 0.99  # the client waited Retry-After before asking again
    # Meanwhile no other fetch started: every thread waited out the Retry-After.
    held = [s for s in gets if first + 0.25 < s.at < first + 0.95]
    assert held == []


def test_an_outage_midway_keeps_what_arrived_and_the_poll_fetches_the_rest(
    vm, vm_settings, mirror, end_cool_down
):
    vm_settings.VOLTMETRICS_FETCH_CONCURRENCY = 8
    vm_settings.VOLTMETRICS_POLL_AFTER = 0
    job = equipment_job(vm, vm_settings, mirror, facilities=2, per=100)
    targets = set(job.items)
    arrived: list[str] = []
    calls = count(1)
    down = fv.status(503)

    def outage(request):  # the first 50 results are answered, then VoltMetrics is down
        if next(calls) > 50:
            return down(request)
        arrived.append(request.path.rsplit("/", 1)[1])
        return None

    fault = vm.add_fault(outage, path="GET /results/", times=None)
    vm.add_fault(fv.slow(0.005), path="GET /results/", times=None)

    outcome = voltmetrics_job_complete(job.job_id)

    assert "503" in outcome["error"] and outcome["equipment"] == 50
    assert CircuitBreaker().state() == "open"
    # Nothing half-stored: exactly the results that arrived are stored, and every other one
    # is listed as not fetched, for later.
    assert set(stored_scores()) == set(arrived) and len(arrived) == 50
    assert stored_scores() == {ext: vm.scores[ext] for ext in arrived}
    job.refresh_from_db()
    assert (job.status, job.retries, job.results_fetched_at) == (JobStatus.PROCESSING, 0, None)
    assert set(job.failed_items) == targets - set(arrived)
    assert all(reason.startswith("not fetched: ") for reason in job.failed_items.values())
    assert "503" in job.last_error
    # The remaining fetches stopped: only those in flight when it went down were asked.
    failing = {s.path for s in result_gets(vm)} - {f"/results/equipment/{e}" for e in arrived}
    assert 1 <= len(failing) <= 2 * 8

    # VoltMetrics is back; after the breaker's cool-down the poll fetches the rest, once each.
    vm.faults.remove(fault)
    seen = len(vm.seen)
    stats = voltmetrics_poll_jobs()  # still cooling down: nothing is asked
    assert (stats["processing"], stats["completed"]) == (1, 0)
    assert "circuit breaker open" in stats["error"] and len(vm.seen) == seen
    end_cool_down()
    assert voltmetrics_poll_jobs()["completed"] == 1
    again = Counter(s.path.rsplit("/", 1)[1] for s in vm.seen[seen:] if "/results/" in s.path)
    assert set(again) == targets - set(arrived) and set(again.values()) == {1}
    job.refresh_from_db()
    assert (job.status, job.failed_items, job.last_error) == (JobStatus.COMPLETED, {}, "")
    assert stored_scores() == vm.scores


def test_a_poll_asks_each_result_once_for_all_the_jobs_that_produced_it(vm, vm_settings, mirror):
    """An equipment's result is produced by its own job and by each job holding one of its
    maintenance records: the poll that completes them asks it once."""
    vm_settings.VOLTMETRICS_BATCH_SIZE = 7
    vm_settings.VOLTMETRICS_POLL_AFTER = 0
    vm_settings.VOLTMETRICS_FETCH_CONCURRENCY = 4
    facs, eqs = portfolio(2, 11)
    maintenance = [f.maintenance(eq["id"], id=f"mr_{eq['id']}_{k}") for k in range(3) for eq in eqs]
    mirror(facs, eqs, maintenance)
    vm.auto_complete = True
    while voltmetrics_drain_outbox()["jobs"]:
        pass
    kinds = Counter(Job.objects.values_list("kind", flat=True))
    assert kinds == {JobKind.FACILITY: 2, JobKind.EQUIPMENT: 4, JobKind.MAINTENANCE: 10}
    vm.max_in_flight = 0

    stats = voltmetrics_poll_jobs()

    assert stats == {"polled": 16, "completed": 16, "failed": 0, "processing": 0, "error": ""}
    gets = Counter(s.path for s in result_gets(vm))
    assert set(gets.values()) == {1} and len(gets) == 22 + 2
    assert vm.max_in_flight <= 4
    assert len(stored_scores()) == 22
    assert FacilityAssessment.objects.filter(source=Source.VOLTMETRICS).count() == 2

    # A maintenance job completed on its own (its callback) asks each of its equipment once,
    # however many of their records it holds.
    mj = Job.objects.filter(kind=JobKind.MAINTENANCE).order_by("id").first()
    before = len(vm.seen)
    outcome = voltmetrics_job_complete(mj.job_id, force=True)
    equipment = {m.rsplit("_", 1)[0].removeprefix("mr_") for m in mj.items}
    assert outcome["equipment"] == len(equipment)
    assert sorted(s.path for s in vm.seen[before:]) == sorted(
        f"/results/equipment/{e}" for e in equipment
    )
