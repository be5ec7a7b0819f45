"""The recompute on PostgreSQL outside a transaction overlaps its database work with the
engine (masterbus.overlap): the stored figures must be exactly those of the inline path."""

from __future__ import annotations

import io
import threading
from datetime import date

import pytest
from django.core.management import call_command

from voltmetrics import services
from voltmetrics.inputs import MIN_FACILITY_BATCH, facility_batches
from voltmetrics.models import (
    FacilityAssessment,
    PortfolioAssessment,
)
from voltmetrics.services import risk_recompute

from .stored import clear, stored

pytestmark = [pytest.mark.services]
TX = pytest.mark.django_db(transaction=True, serialized_rollback=True)
AS_OF = date(2025, 6, 30)
FACILITIES = 2 * MIN_FACILITY_BATCH + 5  # three batches: one is scored while others load/write


@pytest.fixture
def portfolio(tmp_path):
    path = tmp_path / "demo.json"
    call_command(
        "generate_demo_portfolio", facilities=FACILITIES, equipment_per_facility=4, seed=11,
        as_of=date(2025, 6, 1), out=str(path), stdout=io.StringIO(), stderr=io.StringIO(),
    )  # fmt: skip
    call_command("import_condoit", str(path), "--no-progress", stdout=io.StringIO())
    clear()  # what the import's own (eager) recompute stored


def _spy_writes(monkeypatch) -> list[str]:
    threads = []
    write = services._write_batch

    def spy(*args, **kwargs):
        threads.append(threading.current_thread().name)
        return write(*args, **kwargs)

    monkeypatch.setattr(services, "_write_batch", spy)
    return threads


@TX
def test_overlapped_recompute_stores_exactly_what_the_inline_one_does(
    portfolio, monkeypatch, settings
):
    threads = _spy_writes(monkeypatch)
    sizes = [len(b) for b in facility_batches(batch_size=None)]
    assert sizes == [MIN_FACILITY_BATCH, MIN_FACILITY_BATCH, 5]
    stats = risk_recompute(as_of=AS_OF)
    assert stats.facilities == FACILITIES
    assert len(threads) == 3 and all(t.startswith("recompute") for t in threads)
    overlapped = stored()
    assert len(overlapped["facilities"]) == FACILITIES
    assert len(overlapped["equipment"]) == stats.equipment > 0

    clear()
    settings.DB_OVERLAP = False
    threads.clear()
    risk_recompute(as_of=AS_OF)
    assert threads == [threading.current_thread().name] * 3
    inline = stored()
    assert inline == overlapped


@TX
def test_a_failed_batch_write_fails_the_recompute_and_writes_nothing_of_that_batch(
    portfolio, monkeypatch
):
    calls = []
    write = services._write_batch

    def second_fails(out, as_of):
        calls.append(len(out.facility_pks))
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return write(out, as_of)

    monkeypatch.setattr(services, "_write_batch", second_fails)
    with pytest.raises(RuntimeError, match="disk full"):
        risk_recompute(as_of=AS_OF)
    # The first batch committed on its own; nothing of the second one was written.
    assert calls == [MIN_FACILITY_BATCH, MIN_FACILITY_BATCH]
    assert FacilityAssessment.objects.count() == MIN_FACILITY_BATCH
    assert not PortfolioAssessment.objects.exists()
