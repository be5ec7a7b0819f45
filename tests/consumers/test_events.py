"""Events (consumers.md §2): written in the transaction of the change they record, set-based,
none for an unchanged recompute."""

from datetime import date, datetime

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from consumers import events as consumer_events
from consumers.choices import EventType
from consumers.models import Event
from equipment.models import Equipment
from facilities.models import Facility, SyncRun
from tests import factories as f
from tests.voltmetrics import conftest as pipeline
from tests.voltmetrics.conftest import AS_OF
from voltmetrics.choices import Source
from voltmetrics.integration.client import CircuitBreaker
from voltmetrics.models import EquipmentAssessment, FacilityAssessment, ModelVersion
from voltmetrics.services import risk_recompute
from voltmetrics.versions import model_version_copy, model_version_publish

pytestmark = pytest.mark.django_db

# The risk pipeline's small portfolio (tests/voltmetrics), not the ThreatMap world.
records = pipeline.records
world = pipeline.world


def of_type(kind: str) -> list[Event]:
    return list(Event.objects.filter(type=kind).order_by("id"))


def stored_facility(ext: str) -> FacilityAssessment:
    return FacilityAssessment.objects.get(facility__external_id=ext, source=Source.LOCAL)


def stored_equipment(ext: str) -> EquipmentAssessment:
    return EquipmentAssessment.objects.get(equipment__external_id=ext, source=Source.LOCAL)


def test_the_first_recompute_tells_every_figure_it_sets(world):
    risk_recompute(as_of=AS_OF)

    risk = {e.data["facility_id"]: e for e in of_type(EventType.FACILITY_RISK_CHANGED)}
    assert set(risk) == {"fac_alpha", "fac_beta"}
    for ext, event in risk.items():
        fa = stored_facility(ext)
        assert event.facility_id == fa.facility_id
        assert event.data == {
            "facility_id": ext,
            "name": Facility.objects.get(external_id=ext).name,
            "before": {"risk_score": None, "risk_level": None},
            "after": {"risk_score": fa.risk_score, "risk_level": fa.risk_level},
            "as_of": AS_OF.isoformat(),
            "model_version": fa.algorithm_version,
        }
    compliance = {e.data["facility_id"]: e for e in of_type(EventType.FACILITY_COMPLIANCE_CHANGED)}
    assert set(compliance) == {"fac_alpha", "fac_beta"}
    fa = stored_facility("fac_alpha")
    assert compliance["fac_alpha"].data["after"] == {
        "overall": fa.overall_compliance,
        "status": fa.compliance_status,
    }
    equipment = {e.data["equipment_id"]: e for e in of_type(EventType.EQUIPMENT_RISK_CHANGED)}
    counted = set(
        EquipmentAssessment.objects.filter(source=Source.LOCAL).values_list(
            "equipment__external_id", flat=True
        )
    )
    assert set(equipment) == counted and counted
    xfmr = equipment["eq_xfmr"]
    ea = stored_equipment("eq_xfmr")
    assert xfmr.data == {
        "equipment_id": "eq_xfmr",
        "facility_id": "fac_alpha",
        "name": "Transformer T1",
        "type": Equipment.objects.get(external_id="eq_xfmr").type,
        "before": {"risk_score": None, "risk_rating": None},
        "after": {"risk_score": ea.risk_score, "risk_rating": ea.rating},
        "source": "local",
    }
    assert xfmr.facility_id == Facility.objects.get(external_id="fac_alpha").pk
    # Ids are handed out in order, and every event carries its creation time.
    ids = list(Event.objects.values_list("id", flat=True))
    assert ids == sorted(ids)


def test_an_unchanged_recompute_writes_no_event(world):
    risk_recompute(as_of=AS_OF)
    before = Event.objects.count()
    risk_recompute(as_of=AS_OF)
    assert Event.objects.count() == before


def test_a_changed_equipment_tells_its_before_and_after(world, import_export):
    risk_recompute(as_of=AS_OF)
    old = stored_equipment("eq_beta")
    last = Event.objects.order_by("-id").values_list("id", flat=True).first()
    # Beta's panel becomes old, corroded and overloaded: its rating climbs.
    worse = f.equipment(
        "fac_beta",
        id="eq_beta",
        name="Panel B",
        installDate="1960-01-01",
        observations={"corrosion": "severe", "rust": "severe", "wear": "severe"},
        loadPercent=110,
        updatedAt="2025-03-10T00:00:00Z",
    )
    import_export(equipment=[worse])
    risk_recompute(as_of=AS_OF)

    new = Event.objects.filter(id__gt=last, type__startswith="equipment.")
    changed = [e for e in new if e.type == EventType.EQUIPMENT_RISK_CHANGED]
    assert [e.data["equipment_id"] for e in changed] == ["eq_beta"]
    now = stored_equipment("eq_beta")
    assert old.rating != now.rating
    assert changed[0].data["before"] == {"risk_score": old.risk_score, "risk_rating": old.rating}
    assert changed[0].data["after"] == {"risk_score": now.risk_score, "risk_rating": now.rating}
    fac = Event.objects.filter(id__gt=last, type=EventType.FACILITY_RISK_CHANGED)
    beta_before, beta_after = (
        fac.get().data["before"]["risk_score"],
        stored_facility("fac_beta").risk_score,
    )
    assert beta_before != beta_after and fac.get().data["after"]["risk_score"] == beta_after


def test_maintenance_becoming_overdue_is_told_once(world):
    risk_recompute(as_of=date(2024, 6, 1))  # three months after the panel's service
    panel = stored_equipment("eq_panel")
    assert panel.maintenance_status != "overdue"
    later = AS_OF
    risk_recompute(as_of=later)
    overdue = {e.data["equipment_id"]: e.data for e in of_type("equipment.maintenance_overdue")}
    panel = stored_equipment("eq_panel")
    assert panel.maintenance_status == "overdue"
    assert overdue["eq_panel"] == {
        "equipment_id": "eq_panel",
        "facility_id": "fac_alpha",
        "name": "Panel A",
        "next_due": panel.next_due.isoformat(),
        "days_overdue": (later - panel.next_due).days,
    }
    count = len(overdue)
    risk_recompute(as_of=date(2025, 4, 1))  # still overdue: not told again
    assert len(of_type("equipment.maintenance_overdue")) == count


def test_no_change_without_its_event_and_no_event_without_its_change(world, monkeypatch):
    """The events are written in the recompute's transaction: when writing them fails, the
    figures are not stored either; when storing the figures fails after the events were
    written, the events go too."""
    real = consumer_events.events_write

    def broken(rows, **kwargs):
        real(rows, **kwargs)
        raise RuntimeError("event store down")

    monkeypatch.setattr(consumer_events, "events_write", broken)
    with pytest.raises(RuntimeError, match="event store down"):
        risk_recompute(as_of=AS_OF)
    assert not Event.objects.exclude(type=EventType.SYNC_RUN_FINISHED).exists()
    assert not FacilityAssessment.objects.exists()
    assert not EquipmentAssessment.objects.exists()

    monkeypatch.setattr(consumer_events, "events_write", real)
    risk_recompute(as_of=AS_OF)
    assert Event.objects.filter(type=EventType.FACILITY_RISK_CHANGED).count() == 2


def _first_recompute_queries(import_export, per_facility: int, tag: str) -> tuple[int, int]:
    facilities = [f.facility(id=f"fac_{tag}{i}", name=f"Site {tag}{i}") for i in range(3)]
    equipment = [
        f.equipment(f"fac_{tag}{i}", id=f"eq_{tag}{i}_{j}", name=f"Panel {i}.{j}")
        for i in range(3)
        for j in range(per_facility)
    ]
    import_export(facilities=facilities, equipment=equipment)
    first = Event.objects.order_by("-id").values_list("id", flat=True).first() or 0
    pks = list(
        Facility.objects.filter(external_id__startswith=f"fac_{tag}").values_list("pk", flat=True)
    )
    with CaptureQueriesContext(connection) as ctx:
        risk_recompute(as_of=AS_OF, facility_pks=pks, portfolio=False)
    events = Event.objects.filter(id__gt=first, type=EventType.EQUIPMENT_RISK_CHANGED).count()
    return len(ctx.captured_queries), events


@pytest.mark.services  # COPY on PostgreSQL; SQLite's bulk_create splits by its variable limit
def test_events_are_written_set_based(db, import_export):
    """Writing 120 equipment events takes the same statements as writing 15."""
    few_queries, few = _first_recompute_queries(import_export, 5, "a")
    many_queries, many = _first_recompute_queries(import_export, 40, "b")
    assert (few, many) == (15, 120)
    assert many_queries == few_queries


def test_a_finished_import_is_told_with_its_counts(db, import_export):
    import_export(facilities=[f.facility(id="fac_x", name="X")], equipment=[])
    run = SyncRun.objects.get()
    (event,) = of_type(EventType.SYNC_RUN_FINISHED)
    assert event.facility_id is None
    assert event.data == {
        "sync_run_id": run.pk,
        "source": run.source,
        "status": run.status,
        "counts": {"created": 1, "updated": 0, "unchanged": 0, "rejected": 0, "deleted": 0},
        "error": None,
    }


def test_publishing_a_model_version_is_told(db):
    draft = model_version_copy(source=ModelVersion.objects.get(version="1.0"))
    published = model_version_publish(draft=draft)
    (event,) = of_type(EventType.MODEL_VERSION_PUBLISHED)
    assert event.data["version"] == published.version
    assert datetime.fromisoformat(event.data["published_at"]) == published.published_at.replace(
        microsecond=0
    )


def test_the_breaker_opening_and_closing_is_told(db, settings):
    settings.VOLTMETRICS_BREAKER_THRESHOLD = 2
    breaker = CircuitBreaker()
    breaker.reset()
    breaker.failure()
    assert of_type(EventType.VOLTMETRICS_STATUS_CHANGED) == []
    breaker.failure()
    breaker.failure()  # already open: told once
    breaker.success()
    breaker.success()  # already closed: not told again
    told = [e.data["status"] for e in of_type(EventType.VOLTMETRICS_STATUS_CHANGED)]
    assert told == ["degraded", "available"]
    breaker.reset()


def test_a_served_voltmetrics_result_changing_its_rating_is_told(world):
    """VoltMetrics' figure is served for the transformer: a newer result with another rating
    is an equipment.risk_changed with source voltmetrics; a new score in the same rating is
    not."""
    from datetime import UTC, timedelta

    from django.utils import timezone

    from voltmetrics.integration.answers import EquipmentResultAnswer
    from voltmetrics.integration.results import store_equipment

    risk_recompute(as_of=AS_OF)
    eq = Equipment.objects.get(external_id="eq_xfmr")
    now = timezone.now()
    EquipmentAssessment.objects.create(
        equipment=eq, source=Source.VOLTMETRICS, algorithm_version="vm-2", as_of=AS_OF,
        risk_score=50, rating="Medium", served=True, computed_at=now - timedelta(hours=2),
    )  # fmt: skip
    last = Event.objects.order_by("-id").values_list("id", flat=True).first()

    def answer(score, rating, minutes):
        return EquipmentResultAnswer(
            equipment_id="eq_xfmr",
            calculation_timestamp=(now - timedelta(minutes=minutes)).astimezone(UTC),
            algorithm_version="vm-2",
            risk_score=score,
            risk_rating=rating,
        )

    with transaction.atomic():
        store_equipment([answer(55, "Medium", 30)], now)  # same rating: not told
    assert not Event.objects.filter(id__gt=last).exists()
    with transaction.atomic():
        store_equipment([answer(88, "Critical", 10)], now)
    (event,) = Event.objects.filter(id__gt=last)
    assert event.type == EventType.EQUIPMENT_RISK_CHANGED
    assert event.data["before"] == {"risk_score": 55, "risk_rating": "Medium"}
    assert event.data["after"] == {"risk_score": 88, "risk_rating": "Critical"}
    assert (event.data["source"], event.data["equipment_id"]) == ("voltmetrics", "eq_xfmr")
    assert event.data["name"] == "Transformer T1" and event.facility_id == eq.facility_id


@pytest.mark.services
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_events_become_visible_in_id_order():
    """A writer holding uncommitted events makes the next writer wait for its commit, so a
    feed reader who saw an id never misses a smaller one committed later."""
    import threading
    import time as clock

    from django.db import connections

    first_written = threading.Event()
    release = threading.Event()
    order: list[tuple[str, int, float]] = []

    def writer(name, before=None, hold=None):
        try:
            if before:
                before.wait(5)
            with transaction.atomic():
                consumer_events.events_write([("sync.run_finished", None, {"by": name})])
                pk = Event.objects.filter(data__by=name).values_list("id", flat=True).get()
                if hold:
                    first_written.set()
                    hold.wait(5)
            order.append((name, pk, clock.monotonic()))
        finally:
            connections.close_all()

    a = threading.Thread(target=writer, args=("a",), kwargs={"hold": release})
    b = threading.Thread(target=writer, args=("b",), kwargs={"before": first_written})
    a.start()
    b.start()
    clock.sleep(0.5)
    assert order == []  # b waits for a's commit
    release.set()
    a.join(10)
    b.join(10)
    assert [name for name, *_ in order] == ["a", "b"]
    assert order[0][1] < order[1][1]
