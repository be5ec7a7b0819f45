"""Celery tasks of the risk pipeline, the debounced recompute and the beat schedule."""

from datetime import date

import pytest
from django.core.cache import cache
from django.db import transaction
from django_celery_beat.models import PeriodicTask

from facilities.choices import ChangeSource, RecordKind
from facilities.models import RecordChange
from facilities.services import changes_record
from voltmetrics import engine, tasks
from voltmetrics.inputs import facility_records
from voltmetrics.models import (
    EquipmentAssessment,
    FacilityAssessment,
    FacilitySnapshot,
    PortfolioSnapshot,
    RecomputeRun,
)
from voltmetrics.services import model_current, previous_month_end, risk_recompute

from .conftest import AS_OF

pytestmark = pytest.mark.django_db

FEB = date(2025, 2, 28)


def facility_inputs():
    return {r.facility.id: r.facility for batch in facility_records() for r in batch}


# --- recompute ----------------------------------------------------------------------------------


def test_recompute_pending_task_drains_the_outbox(world):
    result = tasks.recompute_pending_task.delay().get()
    assert result == {"passes": 1, "facilities": 2, "equipment": 3, "run": None}
    assert not RecordChange.objects.filter(recomputed_at__isnull=True).exists()
    assert EquipmentAssessment.objects.count() == 3
    # Nothing pending: a no-op.
    assert tasks.recompute_pending_task() == {
        "passes": 0, "facilities": 0, "equipment": 0, "run": None
    }  # fmt: skip


def test_recompute_pending_task_skips_while_another_recompute_runs(world):
    with tasks.recompute_lock():
        assert tasks.recompute_pending_task() is None
    assert RecordChange.objects.filter(recomputed_at__isnull=True).count() == 6
    assert not EquipmentAssessment.objects.exists()
    # The lock is released afterwards.
    assert tasks.recompute_pending_task()["facilities"] == 2


def test_recompute_lock_is_exclusive():
    with tasks.recompute_lock():
        with pytest.raises(tasks.RecomputeLocked):
            with tasks.recompute_lock():
                pass
    with tasks.recompute_lock():
        pass


def test_recompute_all_task_takes_an_iso_date(world):
    result = tasks.recompute_all_task(as_of="2025-03-15")
    run = RecomputeRun.objects.get(pk=result["run"])  # eager: its chunks ran already
    assert (run.kind, run.status, run.as_of) == ("full", "finished", AS_OF)
    assert (run.facilities, run.equipment, run.chunks_done) == (2, 3, run.chunks_total)
    assert set(FacilityAssessment.objects.values_list("as_of", flat=True)) == {AS_OF}
    # A full recompute leaves the outbox alone (the drain marks its own rows).
    assert RecordChange.objects.filter(recomputed_at__isnull=True).count() == 6


def test_recompute_facilities_task_recomputes_them_and_the_portfolio(world):
    from facilities.models import Facility

    pk = Facility.objects.get(external_id="fac_beta").pk
    assert tasks.recompute_facilities_task.delay([pk]).get() == {"facilities": 1, "equipment": 1}
    assert list(FacilityAssessment.objects.values_list("facility_id", flat=True)) == [pk]


def test_recompute_facilities_task_retries_while_another_recompute_runs(world):
    from celery.exceptions import Retry

    from facilities.models import Facility

    pk = Facility.objects.get(external_id="fac_beta").pk
    with tasks.recompute_lock():
        with pytest.raises(Retry):
            tasks.recompute_facilities_task.apply(args=[[pk]], throw=True)
    assert not FacilityAssessment.objects.exists()


# --- recompute_soon -------------------------------------------------------------------------------


@pytest.fixture
def queued(monkeypatch):
    calls = []
    real = tasks.recompute_pending_task.apply_async

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(tasks.recompute_pending_task, "apply_async", spy)
    return calls


def test_recompute_soon_runs_once_after_commit(world, queued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            for ext in ("eq_panel", "eq_xfmr"):
                changes_record(
                    kind=RecordKind.EQUIPMENT, items=[(ext, "fac_alpha")],
                    source=ChangeSource.STAFF,
                )  # fmt: skip
                tasks.recompute_soon()
            assert queued == []  # nothing before the commit
    # A burst makes one recompute, a debounce window after the first change.
    assert queued == [{"countdown": 5}]
    assert not RecordChange.objects.filter(recomputed_at__isnull=True).exists()
    assert EquipmentAssessment.objects.count() == 3


def test_recompute_soon_debounces_across_transactions(queued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        tasks.recompute_soon()
    with django_capture_on_commit_callbacks(execute=True):
        tasks.recompute_soon()
    assert len(queued) == 1
    cache.delete(tasks.RECOMPUTE_SOON_KEY)  # the window passed
    with django_capture_on_commit_callbacks(execute=True):
        tasks.recompute_soon()
    assert len(queued) == 2


def test_recompute_soon_queues_nothing_on_rollback(queued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                tasks.recompute_soon()
                raise RuntimeError("the change failed")
        except RuntimeError:
            pass
    assert callbacks == [] and queued == []


def test_recompute_soon_follows_the_setting(settings, queued, django_capture_on_commit_callbacks):
    settings.RECOMPUTE_DEBOUNCE_SECONDS = 12
    with django_capture_on_commit_callbacks(execute=True):
        tasks.recompute_soon()
    assert queued == [{"countdown": 12}]


# --- monthly snapshots ------------------------------------------------------------------------------


def test_previous_month_end():
    assert previous_month_end(date(2025, 3, 1)) == FEB
    assert previous_month_end(date(2024, 3, 31)) == date(2024, 2, 29)
    assert previous_month_end(date(2025, 1, 15)) == date(2024, 12, 31)


def test_snapshot_month_task_writes_the_month_that_ended(world):
    result = tasks.snapshot_month_task(month="2025-02-10")
    assert result == {"month": "2025-02-28", "facility_snapshots": 2, "portfolio_snapshots": 1}
    model = model_current()
    inputs = facility_inputs()
    snaps = FacilitySnapshot.objects.select_related("facility")
    assert {s.facility.external_id for s in snaps} == {"fac_alpha", "fac_beta"}
    for s in snaps:
        assert s.month == FEB and not s.backfilled and s.algorithm_version == "1.0"
        score, n, days, known = engine.facility_stats(inputs[s.facility.external_id], model, FEB)
        assert (s.risk_score, s.equipment_count, s.age_days_sum, s.age_known) == (
            score, n, days, known)  # fmt: skip
        assert s.equipment_age == engine.mean_age_years(days, known)
    port = PortfolioSnapshot.objects.get()
    assert port.month == FEB and not port.backfilled
    # The portfolio point aggregated from the facility ones (§7 trend rules)...
    scores = [s.risk_score for s in snaps if s.equipment_count > 0]
    assert port.risk_score == engine.round_half_up_ratio(sum(scores), len(scores))
    assert port.equipment_count == sum(s.equipment_count for s in snaps) == 3
    assert port.equipment_age == engine.mean_age_years(
        sum(s.age_days_sum for s in snaps), sum(s.age_known for s in snaps)
    )
    # ...equals the engine's portfolio figure over the same records.
    want = engine.portfolio_snapshot(inputs.values(), model, FEB)
    assert (port.risk_score, port.equipment_count, port.equipment_age) == (
        want["risk_score"], want["equipment_count"], want["equipment_age"])  # fmt: skip


def test_snapshot_month_task_overwrites_backfilled_rows(world):
    risk_recompute(as_of=AS_OF)  # back-fills Oct 2024 … Feb 2025
    backfilled = FacilitySnapshot.objects.get(facility__external_id="fac_alpha", month=FEB)
    assert backfilled.backfilled
    FacilitySnapshot.objects.filter(pk=backfilled.pk).update(risk_score=1)  # a stale figure
    PortfolioSnapshot.objects.filter(month=FEB).update(risk_score=1)

    tasks.snapshot_month_task(month=FEB.isoformat())

    assert FacilitySnapshot.objects.filter(month=FEB).count() == 2
    row = FacilitySnapshot.objects.get(facility__external_id="fac_alpha", month=FEB)
    assert row.pk == backfilled.pk and not row.backfilled
    assert row.risk_score == engine.facility_snapshot(
        facility_inputs()["fac_alpha"], model_current(), FEB)["risk_score"] != 1  # fmt: skip
    assert not FacilitySnapshot.objects.filter(month=FEB, backfilled=True).exists()
    port = PortfolioSnapshot.objects.get(month=FEB)
    assert not port.backfilled and port.risk_score != 1
    # Other months stay back-filled.
    assert FacilitySnapshot.objects.filter(month=date(2025, 1, 31), backfilled=True).count() == 2


def test_snapshot_month_task_refuses_a_month_not_ended():
    with pytest.raises(ValueError, match="has not ended"):
        tasks.snapshot_month_task(month="2999-01-01")


def test_backfill_snapshots_task_fills_missing_months(world):
    result = tasks.backfill_snapshots_task(months=6, as_of="2025-03-15")
    assert result["months"] == [
        "2024-10-31", "2024-11-30", "2024-12-31", "2025-01-31", "2025-02-28"]  # fmt: skip
    assert result["facility_snapshots"] == 10 and result["portfolio_snapshots"] == 5
    assert FacilitySnapshot.objects.filter(backfilled=True).count() == 10
    assert PortfolioSnapshot.objects.filter(backfilled=True).count() == 5
    # Only missing months are filled.
    FacilitySnapshot.objects.filter(facility__external_id="fac_beta", month=FEB).delete()
    again = tasks.backfill_snapshots_task(months=6, as_of="2025-03-15")
    assert again["facility_snapshots"] == 1 and again["portfolio_snapshots"] == 0
    assert FacilitySnapshot.objects.count() == 10


# --- beat -------------------------------------------------------------------------------------------


def test_beat_entries_exist_after_migrations():
    entries = {p.name: p for p in PeriodicTask.objects.select_related("interval", "crontab")}
    expect_interval = {
        "Recompute changed records": ("voltmetrics.tasks.recompute_pending_task", 1),
        "VoltMetrics outbox drain": (
            "voltmetrics.integration.tasks.voltmetrics_drain_outbox_task", 1),
        "VoltMetrics job poll": ("voltmetrics.integration.tasks.voltmetrics_poll_jobs_task", 5),
    }  # fmt: skip
    for name, (task, minutes) in expect_interval.items():
        p = entries[name]
        assert p.task == task and p.enabled
        assert (p.interval.every, p.interval.period) == (minutes, "minutes")
    nightly = entries["Nightly full recompute"]
    assert nightly.task == "voltmetrics.tasks.recompute_all_task"
    assert (nightly.crontab.minute, nightly.crontab.hour, nightly.crontab.day_of_month) == (
        "30", "2", "*")  # fmt: skip
    assert str(nightly.crontab.timezone) == "UTC"
    monthly = entries["Monthly risk snapshot"]
    assert monthly.task == "voltmetrics.tasks.snapshot_month_task"
    assert (monthly.crontab.minute, monthly.crontab.hour, monthly.crontab.day_of_month) == (
        "15", "0", "1")  # fmt: skip


def test_beat_task_paths_are_registered():
    from masterbus.celery import app

    app.loader.import_default_modules()
    for name in ("recompute_pending_task", "recompute_all_task", "snapshot_month_task",
                 "backfill_snapshots_task"):  # fmt: skip
        assert f"voltmetrics.tasks.{name}" in app.tasks
