"""``manage.py recompute_risk``."""

import io
from datetime import date

import pytest
from django.core.management import CommandError, call_command

from voltmetrics.models import FacilityAssessment, FacilitySnapshot, PortfolioAssessment
from voltmetrics.services import utc_today

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command("recompute_risk", "--no-progress", *args, stdout=out)
    return out.getvalue()


def test_recomputes_everything_and_prints_a_summary(world):
    out = run()
    assert "Recomputed 2 facilities, 3 equipment; 10 snapshots back-filled;" in out
    assert f"as of {utc_today().isoformat()}; model version 1.0" in out
    assert FacilityAssessment.objects.count() == 2
    assert PortfolioAssessment.objects.get().payload["total_equipment"] == 3
    # Back-filled months follow the records known now: a second run computes them again.
    assert "; 10 snapshots back-filled;" in run()


def test_one_facility_as_of_a_past_date(world):
    out = run("--facility", "fac_beta", "--as-of", "2024-06-15")
    assert "Recomputed 1 facilities, 1 equipment;" in out
    assert "as of 2024-06-15; model version 1.0" in out
    row = FacilityAssessment.objects.get()
    assert row.facility.external_id == "fac_beta" and row.as_of == date(2024, 6, 15)
    history = row.payload["historical_risk"]
    assert [h["month"] for h in history] == [
        "Jan 2024", "Feb 2024", "Mar 2024", "Apr 2024", "May 2024", "Jun 2024"]  # fmt: skip
    assert history[-1]["risk_score"] == row.risk_score
    assert [f["month"] for f in row.payload["forecast"]] == ["Jul 2024", "Aug 2024", "Sep 2024"]
    assert set(
        FacilitySnapshot.objects.filter(facility__external_id="fac_beta").values_list(
            "month", flat=True
        )
    ) == {date(2024, 1, 31), date(2024, 2, 29), date(2024, 3, 31), date(2024, 4, 30),
          date(2024, 5, 31)}  # fmt: skip


def test_repeatable_facility_option(world):
    out = run("--facility", "fac_alpha", "--facility", "fac_beta", "--as-of", "2025-03-15")
    assert "Recomputed 2 facilities, 3 equipment;" in out


def test_unknown_facility_is_an_error(world):
    with pytest.raises(CommandError, match="Unknown facility id\\(s\\): nope"):
        run("--facility", "fac_alpha", "--facility", "nope")
    assert not FacilityAssessment.objects.exists()


@pytest.mark.parametrize("bad", ["2025-13-01", "15/03/2025", "yesterday"])
def test_bad_date_is_an_error(world, bad):
    with pytest.raises(CommandError, match="--as-of must be a date as YYYY-MM-DD"):
        run("--as-of", bad)


def test_waits_for_a_running_recompute(world, monkeypatch):
    import threading

    from voltmetrics import lock, tasks

    monkeypatch.setattr(lock, "LOCK_POLL_SECONDS", 0.05)
    held = threading.Event()
    release = threading.Event()

    def hold():
        with tasks.recompute_lock():
            held.set()
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(5)
    err = io.StringIO()
    timer = threading.Timer(0.3, release.set)
    timer.start()
    try:
        out = io.StringIO()
        call_command("recompute_risk", "--no-progress", stdout=out, stderr=err)
    finally:
        release.set()
        holder.join(5)
    assert "Waiting for a running recompute to finish" in err.getvalue()
    assert "Recomputed 2 facilities, 3 equipment;" in out.getvalue()
    assert FacilityAssessment.objects.count() == 2


def test_gives_up_when_the_lock_stays_taken(world, monkeypatch):
    from voltmetrics import tasks
    from voltmetrics.management.commands import recompute_risk

    monkeypatch.setattr(recompute_risk, "RECOMPUTE_LOCK_TTL", 0)
    with tasks.recompute_lock():
        with pytest.raises(CommandError, match="Another recompute has held the lock"):
            run()
    assert not FacilityAssessment.objects.exists()
