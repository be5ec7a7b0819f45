"""A file import on PostgreSQL outside a transaction validates and writes each batch on a
second connection while the next one is parsed (masterbus.overlap). What it stores, counts
and rejects must be exactly what the inline import does."""

from __future__ import annotations

import json
import threading

import pytest

from condoit import ingest
from condoit.files import import_file
from equipment.models import Conductor, Equipment, MaintenanceRecord
from facilities.choices import SyncStatus
from facilities.models import Facility, RecordChange, RejectedRecord, SyncRun
from tests import factories as f

pytestmark = [pytest.mark.services]
TX = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def _lines(path, rows) -> None:
    lines = [json.dumps({"kind": k, "record": r}) for k, r in rows]
    lines.insert(3, '{"kind": "facility", "record": {not json')  # rejected while parsing
    path.write_text("\n".join(lines) + "\n")


def _records():
    """Seven facilities, their equipment (one bad), maintenance (one bad, two before their
    equipment: deferred), ids repeated in later batches."""
    facs = [f.facility(id=f"fac_{i}") for i in range(7)]
    eqs = [f.equipment(fac["id"], id=f"eq_{i}") for i, fac in enumerate(facs)]
    eqs[3]["installDate"] = "not a date"
    mrs = [f.maintenance(eq["id"], id=f"mr_{i}") for i, eq in enumerate(eqs)]
    mrs[5]["performedAt"] = None
    early = [f.maintenance("eq_6", id="mr_early_a"), f.maintenance("eq_5", id="mr_early_b")]
    # The same ids again in later batches: a newer version, and a byte-identical copy.
    newer = {**facs[2], "name": "Renamed", "updatedAt": "2030-01-01T00:00:00Z"}
    return (
        [("maintenanceRecord", m) for m in early]
        + [("facility", r) for r in facs]
        + [("facility", newer), ("facility", facs[4])]
        + [("equipment", r) for r in eqs]
        + [("maintenanceRecord", m) for m in mrs]
        + [("equipment", eqs[1])]
    )


def _state() -> dict:
    run = SyncRun.objects.order_by("-pk").first()
    return {
        "status": run.status,
        "counts": (run.created, run.updated, run.unchanged, run.rejected, run.deleted),
        "rejected": sorted(
            RejectedRecord.objects.filter(sync_run=run).values_list(
                "kind", "record_id", "field", "line"
            )
        ),
        "facilities": sorted(Facility.objects.values_list("external_id", "content_hash")),
        "equipment": sorted(
            Equipment.objects.values_list("external_id", "content_hash", "facility__external_id")
        ),
        "conductors": Conductor.objects.count(),
        "maintenance": sorted(
            MaintenanceRecord.objects.values_list("external_id", "equipment__external_id")
        ),
        "changes": sorted(RecordChange.objects.values_list("kind", "external_id")),
    }


def _wipe() -> None:
    for model in (RecordChange, RejectedRecord, SyncRun, MaintenanceRecord, Equipment, Facility):
        model.objects.all().delete()


def _spy(monkeypatch) -> list[str]:
    names = []
    store = ingest.Ingestor._store_kind

    def spy(self, kind, prepared):
        names.append(threading.current_thread().name)
        return store(self, kind, prepared)

    monkeypatch.setattr(ingest.Ingestor, "_store_kind", spy)
    return names


@TX
def test_overlapped_import_stores_counts_and_rejects_exactly_like_the_inline_one(
    tmp_path, monkeypatch, settings
):
    path = tmp_path / "mixed.ndjson"
    _lines(path, _records())
    names = _spy(monkeypatch)
    import_file(path, batch_size=3)
    overlapped = _state()
    assert names and any(n.startswith("import") for n in names)
    assert overlapped["status"] == SyncStatus.PARTIAL
    assert {r[1] for r in overlapped["rejected"]} == {"", "eq_3", "mr_5", "mr_3"}
    assert ("", "line", 4) in {r[1:] for r in overlapped["rejected"]}
    assert ("mr_early_a", "eq_6") in overlapped["maintenance"]  # deferred, then written
    assert Facility.objects.get(external_id="fac_2").name == "Renamed"
    assert not [t for t in threading.enumerate() if t.name.startswith("import")]

    _wipe()
    settings.DB_OVERLAP = False
    names.clear()
    import_file(path, batch_size=3)
    assert set(names) == {threading.current_thread().name}
    assert _state() == overlapped


@TX
def test_a_batch_that_fails_to_write_fails_the_run_and_keeps_the_earlier_batches(
    tmp_path, monkeypatch
):
    path = tmp_path / "doc.json"
    facs = [f.facility(id=f"fac_{i}") for i in range(6)]
    f.write_export(path, facilities=facs)
    calls = []
    store = ingest.Ingestor._store_kind

    def second_fails(self, kind, prepared):
        calls.append(threading.current_thread().name)
        if len(calls) == 2:
            raise RuntimeError("connection reset")
        return store(self, kind, prepared)

    monkeypatch.setattr(ingest.Ingestor, "_store_kind", second_fails)
    with pytest.raises(RuntimeError, match="connection reset"):
        import_file(path, batch_size=2)
    assert calls[0].startswith("import")
    run = SyncRun.objects.get()
    assert run.status == SyncStatus.FAILED
    assert "connection reset" in run.error
    assert sorted(Facility.objects.values_list("external_id", flat=True)) == ["fac_0", "fac_1"]
    assert run.created == 2
    assert not [t for t in threading.enumerate() if t.name.startswith("import")]
