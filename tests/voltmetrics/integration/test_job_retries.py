"""Faulty answers while completing a job: an item whose answer stays malformed, or is out of
range, fails alone with its reason and never replaces a good stored result; the poll fetches
what is missing again with backoff, up to VOLTMETRICS_JOB_RETRIES times, then leaves the job
failed; a status answer that stays malformed is retried the same way; an outage while
fetching keeps what was fetched."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from tests import factories as f
from voltmetrics.choices import JobKind, JobStatus, Source
from voltmetrics.integration.jobs import voltmetrics_job_complete, voltmetrics_poll_jobs
from voltmetrics.integration.outbox import voltmetrics_drain_outbox
from voltmetrics.models import EquipmentAssessment, Job
from voltmetrics.services import risk_recompute

from . import fake_voltmetrics as fv

pytestmark = pytest.mark.django_db


@pytest.fixture
def job(vm, mirror):
    """The equipment job of eq_1 and eq_2, pushed an hour ago and done by VoltMetrics, its
    results not fetched yet; a good VoltMetrics result (score 60) of both is stored and
    served from an earlier push."""
    mirror(
        [f.facility(id="fac_a")], [f.equipment("fac_a", id="eq_1"), f.equipment("fac_a", id="eq_2")]
    )
    risk_recompute()
    assert voltmetrics_drain_outbox()["error"] == ""
    Job.objects.update(submitted_at=timezone.now() - timedelta(hours=1))
    job = Job.objects.get(kind=JobKind.EQUIPMENT)
    vm.scores.update(eq_1=60, eq_2=60)
    vm.finish(job.job_id)
    assert voltmetrics_job_complete(job.job_id)["status"] == JobStatus.COMPLETED
    assert {vm_row(e).risk_score for e in ("eq_1", "eq_2")} == {60}
    Job.objects.exclude(pk=job.pk).update(status=JobStatus.COMPLETED)
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.PROCESSING, completed_at=None, results_fetched_at=None
    )
    job.refresh_from_db()
    return job


def vm_row(ext):
    return EquipmentAssessment.objects.get(equipment__external_id=ext, source=Source.VOLTMETRICS)


def result_gets(vm, ext):
    return len(vm.requests("GET", f"/results/equipment/{ext}$"))


def now_iso():
    return datetime.now(UTC).isoformat()


def test_an_item_that_stays_malformed_fails_alone_and_keeps_the_good_result(vm, job):
    good = vm_row("eq_1")
    vm.bodies["eq_1"] = '{"equipment_id": "eq_1", "risk_assess'  # garbled every time
    vm.scores["eq_2"] = 75
    outcome = voltmetrics_job_complete(job.job_id)
    assert (outcome["status"], outcome["equipment"], outcome["errors"]) == ("processing", 1, 1)
    assert result_gets(vm, "eq_1") == 1 + 3  # asked again twice (VOLTMETRICS_MAX_RETRIES)
    job.refresh_from_db()
    assert list(job.failed_items) == ["eq_1"]
    assert "not valid JSON" in job.failed_items["eq_1"]
    assert "after 3 attempts" in job.failed_items["eq_1"]
    assert job.failed_items["eq_1"] in job.last_error
    assert (job.status, job.retries, job.results_fetched_at) == (JobStatus.PROCESSING, 1, None)
    after = vm_row("eq_1")
    assert (after.risk_score, after.computed_at) == (good.risk_score, good.computed_at)
    assert after.served is True
    assert vm_row("eq_2").risk_score == 75  # the good item of the same job is stored


def test_an_out_of_range_answer_is_rejected_at_once(vm, job):
    good = {e: vm_row(e) for e in ("eq_1", "eq_2")}
    vm.bodies["eq_1"] = fv.equipment_result("eq_1", 140, now_iso())
    bad = fv.equipment_result("eq_2", 50, now_iso())
    bad["risk_assessment"]["risk_rating"] = "Severe"
    vm.bodies["eq_2"] = bad
    outcome = voltmetrics_job_complete(job.job_id)
    assert outcome["errors"] == 2
    assert (result_gets(vm, "eq_1"), result_gets(vm, "eq_2")) == (2, 2)  # once each, no retry
    job.refresh_from_db()
    assert "risk_assessment.risk_score 140 is outside 0–100" in job.failed_items["eq_1"]
    assert "'Severe' is not one of" in job.failed_items["eq_2"]
    for ext, row in good.items():
        after = vm_row(ext)
        assert (after.risk_score, after.rating, after.computed_at) == (
            row.risk_score, row.rating, row.computed_at,
        )  # fmt: skip


def test_missing_results_are_fetched_again_with_backoff_then_the_job_fails(vm, job, vm_settings):
    vm_settings.VOLTMETRICS_POLL_AFTER = 60
    vm.scores.update(eq_1=80, eq_2=80)
    vm.bodies["eq_2"] = {"equipment_id": "eq_2"}  # risk_assessment missing, every time
    before = timezone.now()
    stats = voltmetrics_poll_jobs()
    assert (stats["polled"], stats["processing"], stats["failed"]) == (1, 1, 0)
    job.refresh_from_db()
    assert (job.status, job.retries) == (JobStatus.PROCESSING, 1)
    assert "risk_assessment is missing" in job.failed_items["eq_2"]
    assert before + timedelta(seconds=60) <= job.next_retry_at
    assert job.next_retry_at <= timezone.now() + timedelta(seconds=72)
    assert vm_row("eq_1").risk_score == 80 and vm_row("eq_2").risk_score == 60

    # Not due yet: left alone.
    calls = len(vm.seen)
    assert voltmetrics_poll_jobs()["polled"] == 0 and len(vm.seen) == calls

    # Due: only the missing result is asked for, and the next wait doubles.
    Job.objects.filter(pk=job.pk).update(next_retry_at=timezone.now())
    before = timezone.now()
    voltmetrics_poll_jobs()
    asked = [s.path for s in vm.seen[calls:]]
    assert asked == ["/results/equipment/eq_2"] * 3
    job.refresh_from_db()
    assert (job.status, job.retries) == (JobStatus.PROCESSING, 2)
    assert before + timedelta(seconds=120) <= job.next_retry_at
    assert job.next_retry_at <= timezone.now() + timedelta(seconds=144)

    # The last retry (VOLTMETRICS_JOB_RETRIES = 2) fails too: the job is left failed for staff.
    Job.objects.filter(pk=job.pk).update(next_retry_at=timezone.now())
    assert voltmetrics_poll_jobs()["failed"] == 1
    job.refresh_from_db()
    assert (job.status, job.retries, job.next_retry_at) == (JobStatus.FAILED, 2, None)
    assert job.results_fetched_at is not None
    assert list(job.failed_items) == ["eq_2"] and "eq_2" in job.last_error
    assert vm_row("eq_2").risk_score == 60  # the good result stays
    Job.objects.filter(pk=job.pk).update(next_retry_at=timezone.now() - timedelta(days=1))
    assert voltmetrics_poll_jobs()["polled"] == 0  # failed jobs are not polled


def test_a_retry_that_succeeds_completes_the_job(vm, job):
    vm.scores.update(eq_1=80, eq_2=90)
    vm.bodies["eq_2"] = "<html>502 Bad Gateway</html>"
    voltmetrics_poll_jobs()
    job.refresh_from_db()
    assert (job.status, list(job.failed_items)) == (JobStatus.PROCESSING, ["eq_2"])
    del vm.bodies["eq_2"]
    Job.objects.filter(pk=job.pk).update(next_retry_at=timezone.now())
    assert voltmetrics_poll_jobs()["completed"] == 1
    job.refresh_from_db()
    assert (job.status, job.failed_items, job.last_error) == (JobStatus.COMPLETED, {}, "")
    assert job.results_fetched_at is not None and job.next_retry_at is None
    assert (vm_row("eq_1").risk_score, vm_row("eq_2").risk_score) == (80, 90)
    assert vm_row("eq_2").served is True


def test_a_status_answer_that_stays_malformed_is_retried_then_fails(vm, job, vm_settings):
    vm_settings.VOLTMETRICS_JOB_RETRIES = 1
    fault = vm.add_fault(fv.raw('{"job_id": "'), path=r"GET /jobs/", times=None)
    stats = voltmetrics_poll_jobs()
    assert (stats["processing"], stats["failed"]) == (1, 0)
    job.refresh_from_db()
    assert (job.status, job.retries) == (JobStatus.PROCESSING, 1)
    assert (
        job.last_error.startswith("job status: GET /jobs/") and "not valid JSON" in job.last_error
    )
    assert fault.used == 3  # asked again twice by the client first
    Job.objects.filter(pk=job.pk).update(next_retry_at=timezone.now())
    assert voltmetrics_poll_jobs()["failed"] == 1
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and "not valid JSON" in job.last_error


def test_an_outage_while_fetching_keeps_what_was_fetched(vm, job):
    vm.scores.update(eq_1=80, eq_2=90)
    fault = vm.add_fault(fv.status(503), path="GET /results/equipment/eq_2", times=None)
    outcome = voltmetrics_job_complete(job.job_id)
    assert "503" in outcome["error"]
    job.refresh_from_db()
    assert (job.status, job.retries, job.next_retry_at) == (JobStatus.PROCESSING, 0, None)
    assert list(job.failed_items) == ["eq_2"] and "503" in job.last_error
    assert vm_row("eq_1").risk_score == 80  # stored, not fetched again
    vm.faults.remove(fault)
    calls = len(vm.seen)
    assert voltmetrics_poll_jobs()["completed"] == 1
    assert [s.path for s in vm.seen[calls:]] == ["/results/equipment/eq_2"]
    assert vm_row("eq_2").risk_score == 90
