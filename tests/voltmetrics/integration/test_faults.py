"""Garbled answers end to end: a Condoit import → the outbox drain → a VoltMetrics stand-in on
loopback that garbles every Nth answer → the poll (no callbacks) → results stored and served
by the API. No VoltMetrics result is lost and no job ends failed."""

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from equipment.models import Equipment
from facilities.models import Facility
from tests import factories as f
from voltmetrics.choices import JobStatus, Source
from voltmetrics.integration import tasks
from voltmetrics.integration.outbox import pending_count
from voltmetrics.models import FacilityAssessment, Job
from voltmetrics.services import risk_recompute

pytestmark = pytest.mark.django_db

FACILITIES = 3
PER_FACILITY = 12


def portfolio():
    facilities = [f.facility(id=f"fac_g{i}") for i in range(FACILITIES)]
    equipment = [
        f.equipment(fac["id"], id=f"{fac['id']}_eq{j}")
        for fac in facilities
        for j in range(PER_FACILITY)
    ]
    maintenance = [f.maintenance(eq["id"], id=f"mr_{eq['id']}") for eq in equipment[::5]]
    return facilities, equipment, maintenance


@pytest.mark.parametrize(
    ("every", "client_retries"),
    [
        (11, 3),  # a garbled answer is asked again by the client at once
        (7, 2),
        (5, 0),  # no client retry: every garbled answer is left to the job's retries
    ],
)
def test_every_nth_answer_garbled_loses_no_result(vm, vm_settings, mirror, every, client_retries):
    vm_settings.VOLTMETRICS_MAX_RETRIES = client_retries
    vm_settings.VOLTMETRICS_BATCH_SIZE = 5
    vm_settings.VOLTMETRICS_POLL_AFTER = 0
    vm_settings.VOLTMETRICS_JOB_RETRIES = 8
    facilities, equipment, maintenance = portfolio()
    mirror(facilities, equipment, maintenance)
    risk_recompute()  # the built-in engine serves until VoltMetrics answers
    scores = {eq["id"]: 3 + (n * 37) % 97 for n, eq in enumerate(equipment)}
    vm.scores.update(scores)
    vm.auto_complete = True
    vm.garble_every = every

    for _ in range(40):  # the beat drain, until everything was accepted
        tasks.voltmetrics_drain_outbox_task.delay()
        if not pending_count():
            break
    assert pending_count() == 0
    for _ in range(40):  # the beat poll, until no job is left processing
        tasks.voltmetrics_poll_jobs_task.delay()
        if not Job.objects.filter(status=JobStatus.PROCESSING).exists():
            break

    garbled = {(s.method, s.path.split("/")[1]) for s in vm.garbled}
    assert {("GET", "jobs"), ("GET", "results")} <= garbled, garbled
    jobs = list(Job.objects.values_list("status", "last_error"))
    assert jobs and all(status == JobStatus.COMPLETED for status, _ in jobs), jobs
    if not client_retries:
        assert Job.objects.filter(retries__gt=0).exists()  # the jobs' own retries were needed
    api = APIClient()
    api.force_authenticate(get_user_model().objects.create_user("reader", password="x"))
    served = {}
    for ext in scores:
        risk = api.get(f"/api/v1/equipment/{ext}").json()["risk_assessment"]
        served[ext] = (risk["source"], risk["risk_score"])
    assert served == {ext: (Source.VOLTMETRICS, score) for ext, score in scores.items()}
    assert Equipment.objects.count() == len(scores)
    assert FacilityAssessment.objects.filter(source=Source.VOLTMETRICS).count() == FACILITIES
    assert Facility.objects.count() == FACILITIES
