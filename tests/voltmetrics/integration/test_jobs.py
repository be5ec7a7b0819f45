"""Jobs: results stored with source voltmetrics, the served-result rule end to end, polling,
retry. Invalid answers and the automatic retries: test_job_retries.py."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from equipment.models import Equipment
from facilities.models import Facility
from facilities.services import mark_changed
from tests import factories as f
from voltmetrics.choices import JobKind, JobStatus, Source
from voltmetrics.integration.jobs import (
    voltmetrics_job_complete,
    voltmetrics_job_retry,
    voltmetrics_poll_jobs,
)
from voltmetrics.integration.outbox import voltmetrics_drain_outbox
from voltmetrics.models import EquipmentAssessment, FacilityAssessment, Job
from voltmetrics.services import risk_recompute

from . import fake_voltmetrics as fv

pytestmark = pytest.mark.django_db


@pytest.fixture
def pushed(vm, mirror):
    """One facility with two equipment (one with maintenance), mirrored, recomputed locally
    and pushed to VoltMetrics."""
    mirror(
        [f.facility(id="fac_a")],
        [f.equipment("fac_a", id="eq_1"), f.equipment("fac_a", id="eq_2")],
        [f.maintenance("eq_1", id="mr_1")],
    )
    risk_recompute()
    assert voltmetrics_drain_outbox()["error"] == ""
    return {j.kind: j for j in Job.objects.all()}


def vm_row(ext):
    return EquipmentAssessment.objects.get(equipment__external_id=ext, source=Source.VOLTMETRICS)


def local_row(ext):
    return EquipmentAssessment.objects.get(equipment__external_id=ext, source=Source.LOCAL)


def facility_local():
    return FacilityAssessment.objects.get(facility__external_id="fac_a", source=Source.LOCAL)


def test_a_fresh_result_is_stored_and_served(vm, pushed):
    job = pushed[JobKind.EQUIPMENT]
    vm.scores.update(eq_1=97, eq_2=91)
    vm.finish(job.job_id)
    outcome = voltmetrics_job_complete(job.job_id)
    assert outcome == {"status": "completed", "equipment": 2, "facilities": 0, "errors": 0}
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED and job.completed_at and job.results_fetched_at
    row = vm_row("eq_1")
    assert (row.risk_score, row.rating, row.algorithm_version) == (97, "Critical", fv.ALGORITHM)
    assert row.served is True and local_row("eq_1").served is False
    assert row.factors[0]["factor"] == "age" and row.primary_risk_factor == "age"
    # The facility aggregate is computed locally from the served (VoltMetrics) scores.
    fa = facility_local()
    assert fa.critical_equipment_count == 2
    assert fa.risk_score >= 91


def test_a_change_after_the_result_makes_local_served_again(vm, pushed):
    job = pushed[JobKind.EQUIPMENT]
    vm.scores.update(eq_1=97, eq_2=97)
    vm.finish(job.job_id)
    voltmetrics_job_complete(job.job_id)
    assert vm_row("eq_1").served
    mark_changed(
        Equipment, Equipment.objects.filter(external_id="eq_1").values_list("pk", flat=True)
    )
    risk_recompute()
    assert vm_row("eq_1").served is False and local_row("eq_1").served is True
    assert vm_row("eq_2").served is True  # untouched equipment keeps its VoltMetrics result
    assert facility_local().critical_equipment_count == 1


def test_a_result_older_than_24_hours_is_not_served(vm, pushed):
    job = pushed[JobKind.EQUIPMENT]
    old = (datetime.now(UTC) - timedelta(hours=25)).isoformat()
    for ext in ("eq_1", "eq_2"):
        vm.bodies[ext] = fv.equipment_result(ext, 97, old)
    # The records changed before that (otherwise "newer than the change" already loses).
    Equipment.objects.update(changed_at=timezone.now() - timedelta(hours=30))
    vm.finish(job.job_id)
    voltmetrics_job_complete(job.job_id)
    assert vm_row("eq_1").risk_score == 97
    assert vm_row("eq_1").served is False and local_row("eq_1").served is True


def test_a_transport_failure_while_fetching_keeps_the_job_processing(vm, pushed, vm_settings):
    job = pushed[JobKind.EQUIPMENT]
    vm.finish(job.job_id)
    vm.add_fault(fv.status(502), path="GET /results/", times=None)
    outcome = voltmetrics_job_complete(job.job_id)
    assert "502" in outcome["error"]
    job.refresh_from_db()
    assert job.status == JobStatus.PROCESSING and job.results_fetched_at is None
    assert "502" in job.last_error
    assert not EquipmentAssessment.objects.filter(source=Source.VOLTMETRICS).exists()


def test_maintenance_and_facility_jobs(vm, pushed):
    mj, fj = pushed[JobKind.MAINTENANCE], pushed[JobKind.FACILITY]
    vm.finish(mj.job_id)
    vm.finish(fj.job_id)
    assert voltmetrics_job_complete(mj.job_id)["equipment"] == 1  # the equipment of mr_1
    assert vm_row("eq_1").served
    assert voltmetrics_job_complete(fj.job_id)["facilities"] == 1
    fa = FacilityAssessment.objects.get(facility__external_id="fac_a", source=Source.VOLTMETRICS)
    assert (fa.risk_score, fa.risk_level, fa.overall_compliance) == (42, "Medium", 88)
    assert fa.algorithm_version == fv.ALGORITHM
    # VoltMetrics' facility figures are stored for comparison only.
    assert facility_local().algorithm_version != fv.ALGORITHM


def test_poll_completes_jobs_that_never_called_back(vm, pushed, vm_settings):
    vm_settings.VOLTMETRICS_POLL_AFTER = 60
    Job.objects.update(submitted_at=timezone.now() - timedelta(seconds=30))
    assert voltmetrics_poll_jobs()["polled"] == 0  # too young to poll
    Job.objects.update(submitted_at=timezone.now() - timedelta(seconds=120))
    eq_job, fac_job, mr_job = (
        pushed[k] for k in (JobKind.EQUIPMENT, JobKind.FACILITY, JobKind.MAINTENANCE)
    )
    vm.finish(eq_job.job_id)
    vm.finish(fac_job.job_id, status="failed", error="facility data incomplete")
    stats = voltmetrics_poll_jobs()
    assert stats == {"polled": 3, "completed": 1, "failed": 1, "processing": 1, "error": ""}
    assert Job.objects.get(pk=eq_job.pk).status == JobStatus.COMPLETED
    assert vm_row("eq_2").served
    failed = Job.objects.get(pk=fac_job.pk)
    assert (failed.status, failed.last_error) == (JobStatus.FAILED, "facility data incomplete")
    assert Job.objects.get(pk=mr_job.pk).status == JobStatus.PROCESSING


def test_poll_fails_a_job_voltmetrics_does_not_know(vm, pushed):
    Job.objects.filter(kind=JobKind.FACILITY).update(
        job_id="ghost", submitted_at=timezone.now() - timedelta(hours=1)
    )
    voltmetrics_poll_jobs()
    assert Job.objects.get(job_id="ghost").last_error == "VoltMetrics does not know this job"


def test_retry_resends_the_items_as_a_new_job(vm, pushed):
    job = pushed[JobKind.EQUIPMENT]
    vm.finish(job.job_id, status="failed", error="boom")
    Job.objects.filter(pk=job.pk).update(status=JobStatus.FAILED, last_error="boom")
    job.refresh_from_db()
    Job.objects.filter(pk=job.pk).update(failed_items={"eq_2": "bad"}, retries=2)
    job.refresh_from_db()
    old_id = job.job_id
    assert voltmetrics_job_retry(job) == "resent"
    job.refresh_from_db()
    assert job.job_id != old_id and job.job_id in vm.jobs
    assert (job.status, job.attempts, job.last_error) == (JobStatus.PROCESSING, 2, "")
    assert (job.failed_items, job.retries, job.next_retry_at) == ({}, 0, None)
    assert vm.jobs[job.job_id].items == ["eq_1", "eq_2"]
    vm.add_fault(fv.status(500), path="POST", times=None)
    assert voltmetrics_job_retry(job) == "failed"
    job.refresh_from_db()
    assert job.attempts == 3 and "retry failed" in job.last_error
    vm.finish(job.job_id)
    voltmetrics_job_complete(job.job_id)
    job.refresh_from_db()
    assert voltmetrics_job_retry(job) == "skipped"  # completed


def test_integration_off(settings, mirror):
    settings.VOLTMETRICS_URL = ""
    mirror([f.facility(id="fac_z")], [f.equipment("fac_z", id="eq_z")])
    assert voltmetrics_poll_jobs() == {"skipped": "integration off"}
    assert voltmetrics_job_complete("x") == {"skipped": "integration off"}
    risk_recompute()
    row = EquipmentAssessment.objects.get(equipment__external_id="eq_z")
    assert (row.source, row.served) == (Source.LOCAL, True)
    assert Facility.objects.count() == 1
