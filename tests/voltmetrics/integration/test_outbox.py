"""Draining the change outbox to VoltMetrics: item shapes, batches, dedupe, deleted records,
failures leave rows pending, a crash between send and commit loses nothing."""

import pytest
from django.utils import timezone

from equipment.models import Equipment
from facilities.models import RecordChange
from tests import factories as f
from voltmetrics.choices import JobKind, JobStatus, Source
from voltmetrics.integration import outbox
from voltmetrics.integration.jobs import voltmetrics_job_complete
from voltmetrics.integration.outbox import voltmetrics_drain_outbox
from voltmetrics.models import EquipmentAssessment, Job

from . import fake_voltmetrics as fv

pytestmark = pytest.mark.django_db


def pending():
    return RecordChange.objects.filter(pushed_at__isnull=True).count()


@pytest.fixture
def world(mirror):
    fac = f.facility(id="fac_a")
    eqs = [f.equipment("fac_a", id=f"eq_{i}") for i in range(1, 4)]
    mr = f.maintenance("eq_1", id="mr_1")
    mirror([fac], eqs, [mr])
    return fac, eqs, mr


def test_integration_off_skips_and_leaves_rows_pending(world, settings):
    settings.VOLTMETRICS_URL = ""
    before = pending()
    assert before == 5
    assert voltmetrics_drain_outbox() == {"skipped": "integration off"}
    assert pending() == before and not Job.objects.exists()


def test_drain_pushes_every_kind_as_jobs_and_marks_rows(vm, world):
    stats = voltmetrics_drain_outbox()
    assert stats == {"rows": 5, "items": 5, "jobs": 3, "skipped_deleted": 0, "error": ""}
    assert pending() == 0
    paths = [s.path for s in vm.requests("POST")]
    assert paths == ["/ingest/facility", "/ingest/equipment", "/ingest/maintenance"]
    jobs = {j.kind: j for j in Job.objects.all()}
    assert jobs[JobKind.EQUIPMENT].items == ["eq_1", "eq_2", "eq_3"]
    assert jobs[JobKind.FACILITY].items == ["fac_a"]
    assert jobs[JobKind.MAINTENANCE].items == ["mr_1"]
    for job in jobs.values():
        assert (job.status, job.attempts) == (JobStatus.PROCESSING, 1)
        assert job.job_id in vm.jobs
    calc = vm.requests("POST")[0].body["calculation_settings"]
    assert calc == {"algorithm_version": fv.ALGORITHM, "recalculate_all": False}
    # Nothing left: a second drain sends nothing.
    assert voltmetrics_drain_outbox()["jobs"] == 0
    assert len(vm.requests("POST")) == 3


def test_item_shapes_follow_the_contract(vm, world):
    voltmetrics_drain_outbox()
    eq = vm.ingested["equipment"]["eq_1"]
    assert set(eq) == {
        "id", "type", "manufacturer", "model", "install_date", "physical_data", "location",
        "conductors", "condition", "maintenance", "photos",
    }  # fmt: skip
    assert eq["type"] == "panel" and eq["install_date"] == "2005-03-15"
    assert {"voltage": "208Y/120V", "amperage": 225, "phases": 3}.items() <= eq[
        "physical_data"
    ].items()
    assert {"mount_type", "enclosure_type"} <= set(eq["physical_data"])
    assert eq["location"] == {
        "facility_id": "fac_a", "building": "Building 1", "room": "Electrical Room 3",
        "coordinates": None,
    }  # fmt: skip
    assert eq["conductors"] == [
        {"id": "cd_" + eq["conductors"][0]["id"][3:], "material": "copper", "size": "4/0",
         "connection_type": "lug"}
    ]  # fmt: skip
    assert eq["condition"] == {
        "corrosion_level": "none", "rust_level": "minimal", "temperature": None, "humidity": 45,
    }  # fmt: skip
    assert eq["maintenance"]["last_service_date"] == "2024-03-01"
    assert isinstance(eq["maintenance"]["service_interval_months"], int)
    assert eq["photos"] == []
    fac = vm.ingested["facility"]["fac_a"]
    assert fac == {
        "id": "fac_a",
        "name": fac["name"],
        "location": "123 Main St, Springfield, IL 62701",
        "coordinates": {"latitude": 39.78, "longitude": -89.65},
        "year_built": 1990,
        "environment": {
            "humidity_average": 45.0, "temperature_average": 72.0, "outdoor_exposure": "minimal",
        },
        "compliance": {"last_arc_flash_study": "2023-05-01", "last_infrared_scan": "2024-02-01"},
    }  # fmt: skip
    assert vm.ingested["maintenance"]["mr_1"] == {
        "id": "mr_1", "equipment_id": "eq_1", "type": "preventive", "date": "2024-03-01",
        "technician": "J. Doe", "findings": "ok", "actions_taken": "torqued lugs",
        "next_service_due": "2025-03-01",
    }  # fmt: skip


def test_batches_and_dedupe(vm, mirror):
    fac = f.facility(id="fac_b")
    eqs = [f.equipment("fac_b", id=f"e{i}") for i in range(5)]
    mirror([fac], eqs)
    # e0 changes twice more: three outbox rows, one item.
    mirror([], [dict(eqs[0], name="Renamed", updatedAt="2025-02-01T00:00:00Z")])
    mirror([], [dict(eqs[0], name="Again", updatedAt="2025-02-02T00:00:00Z")])
    assert RecordChange.objects.filter(external_id="e0").count() == 3
    stats = voltmetrics_drain_outbox(batch_size=2)
    assert stats["error"] == "" and pending() == 0
    sent = [i["id"] for s in vm.requests("POST", "/ingest/equipment") for i in s.body["equipment"]]
    assert sorted(sent) == ["e0", "e1", "e2", "e3", "e4"]
    assert all(len(s.body["equipment"]) <= 2 for s in vm.requests("POST", "/ingest/equipment"))
    assert vm.ingested["equipment"]["e0"]["id"] == "e0"
    assert Equipment.objects.get(external_id="e0").name == "Again"


def test_deleted_records_are_skipped_but_marked_done(vm, mirror):
    fac = f.facility(id="fac_c")
    eq1, eq2 = f.equipment("fac_c", id="d1"), f.equipment("fac_c", id="d2")
    mirror([fac], [eq1, eq2])
    mirror([], [dict(eq2, deletedAt="2025-02-01T00:00:00Z", updatedAt="2025-02-01T00:00:00Z")])
    stats = voltmetrics_drain_outbox()
    assert stats["skipped_deleted"] == 1 and pending() == 0
    sent = [i["id"] for s in vm.requests("POST", "/ingest/equipment") for i in s.body["equipment"]]
    assert sent == ["d1"]


def test_a_failed_push_leaves_its_rows_pending_and_the_next_drain_sends_them(vm, world):
    vm.add_fault(fv.status(500), path="POST /ingest/equipment", times=None)
    stats = voltmetrics_drain_outbox()
    assert "500" in stats["error"]
    # The facility went through before the failure; equipment and maintenance wait.
    assert list(Job.objects.values_list("kind", flat=True)) == [JobKind.FACILITY]
    assert set(
        RecordChange.objects.filter(pushed_at__isnull=True).values_list("external_id", flat=True)
    ) == {"eq_1", "eq_2", "eq_3", "mr_1"}
    vm.clear_faults()
    assert voltmetrics_drain_outbox()["error"] == ""
    assert pending() == 0
    assert Job.objects.count() == 3


def test_an_open_breaker_sends_nothing(vm, world, vm_settings):
    vm_settings.VOLTMETRICS_MAX_RETRIES = 0
    vm.add_fault(fv.status(503), times=None)
    for _ in range(3):
        voltmetrics_drain_outbox()
    calls = len(vm.seen)
    stats = voltmetrics_drain_outbox()
    assert "circuit breaker open" in stats["error"]
    assert len(vm.seen) == calls and pending() == 5


def test_a_crash_after_sending_before_commit_loses_nothing_and_results_are_not_duplicated(
    vm, world, monkeypatch
):
    real = outbox.record_job
    calls = {"n": 0}

    def dies_once(**kw):
        calls["n"] += 1
        if calls["n"] == 2:  # the equipment batch was accepted by VoltMetrics…
            raise SystemExit("worker killed")  # …and the process dies before the commit
        return real(**kw)

    monkeypatch.setattr(outbox, "record_job", dies_once)
    with pytest.raises(SystemExit):
        voltmetrics_drain_outbox()
    # The whole round rolled back: the facility job too, every row still pending.
    assert pending() == 5 and not Job.objects.exists()
    assert len(vm.requests("POST", "/ingest/equipment")) == 1
    stats = voltmetrics_drain_outbox()
    assert stats["jobs"] == 3 and pending() == 0
    assert len(vm.requests("POST", "/ingest/equipment")) == 2  # the batch was re-sent
    job = Job.objects.get(kind=JobKind.EQUIPMENT)
    vm.finish(job.job_id)
    voltmetrics_job_complete(job.job_id)
    voltmetrics_job_complete(job.job_id, force=True)  # fetched twice
    assert len(vm.requests("GET", "/results/equipment/eq_1")) == 2
    for ext in ("eq_1", "eq_2", "eq_3"):
        assert (
            EquipmentAssessment.objects.filter(
                equipment__external_id=ext, source=Source.VOLTMETRICS
            ).count()
            == 1
        )
        assert EquipmentAssessment.objects.filter(equipment__external_id=ext).count() == 2


def test_rows_written_during_a_drain_wait_for_the_next(vm, world):
    voltmetrics_drain_outbox()
    RecordChange.objects.create(
        kind="equipment", external_id="eq_2", facility_external_id="fac_a", source="staff"
    )
    stats = voltmetrics_drain_outbox()
    assert (stats["jobs"], stats["items"]) == (1, 1)
    assert RecordChange.objects.filter(pushed_at__lte=timezone.now()).count() == 6
