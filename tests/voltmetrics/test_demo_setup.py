"""demo_setup computes the figures under the recompute lock, like every other recompute:
it waits while another recompute runs, and gives up clearly when the lock stays taken."""

import io
import threading

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from voltmetrics import lock, tasks
from voltmetrics.management.commands import demo_setup
from voltmetrics.models import FacilityAssessment

pytestmark = pytest.mark.django_db


def run_demo(**streams):
    call_command("demo_setup", facilities=1, equipment_per_facility=2, **streams)


def test_waits_for_a_running_recompute(monkeypatch):
    monkeypatch.setattr(lock, "LOCK_POLL_SECONDS", 0.05)
    held, release = threading.Event(), threading.Event()
    released = {}

    def hold():
        with tasks.recompute_lock():
            held.set()
            release.wait(10)
            released["at"] = timezone.now()

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(5)
    out, err = io.StringIO(), io.StringIO()

    def release_once_waiting():  # however long the import before the lock takes
        for _ in range(1500):
            if "Waiting" in err.getvalue():
                break
            threading.Event().wait(0.02)
        release.set()

    timer = threading.Thread(target=release_once_waiting)
    timer.start()
    try:
        run_demo(stdout=out, stderr=err)
    finally:
        release.set()
        holder.join(5)
    assert "Waiting for a running recompute to finish" in err.getvalue()
    assert "Computed risk and compliance: 1 facilities," in out.getvalue()
    # Computed only once the other recompute had let go of the lock.
    computed = FacilityAssessment.objects.get()
    assert computed.computed_at >= released["at"]


def test_gives_up_clearly_when_the_lock_stays_taken(monkeypatch):
    monkeypatch.setattr(demo_setup, "RECOMPUTE_LOCK_TTL", 0)
    out = io.StringIO()
    with tasks.recompute_lock():
        with pytest.raises(CommandError, match="Another recompute has held the lock"):
            run_demo(stdout=out, stderr=io.StringIO())
    assert not FacilityAssessment.objects.exists()
    assert "MasterBus demo is ready" not in out.getvalue()


def test_the_full_recompute_covers_the_imports_changes_and_only_those():
    from datetime import timedelta

    from facilities.models import RecordChange
    from voltmetrics.incremental import pending_mark_covered

    out = io.StringIO()
    run_demo(stdout=out, stderr=io.StringIO())
    changes = RecordChange.objects.count()
    assert changes > 0
    assert not RecordChange.objects.filter(recomputed_at__isnull=True).exists()
    assert f"{changes} imported changes covered by it" in out.getvalue()
    # A change recorded after a full recompute started is left for the next drain.
    later = RecordChange.objects.create(
        kind="equipment", external_id="eq_later", facility_external_id="", source="staff"
    )
    assert pending_mark_covered(later.created_at - timedelta(seconds=1)) == 0
    later.refresh_from_db()
    assert later.recomputed_at is None
