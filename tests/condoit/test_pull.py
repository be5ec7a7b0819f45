"""The pull door against a fake Condoit export API on loopback (condoit-source.md §2.2)."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from io import StringIO
from urllib.parse import parse_qs

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.db import connection

from condoit.client import CondoitClient, CondoitError
from condoit.pull import (
    LOCK_KEY,
    PullLocked,
    PullNotConfigured,
    condoit_pull,
    max_updated_at,
)
from condoit.tasks import condoit_pull_task
from equipment.models import Equipment, MaintenanceRecord
from facilities.choices import SyncSource, SyncStatus
from facilities.models import Facility, RejectedRecord, SyncCursor, SyncRun
from tests import factories as f
from tests.condoit.fake_condoit import TOKEN, body, fake_condoit, slow, status

TX = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def condoit(settings):
    with fake_condoit() as fake:
        settings.CONDOIT_URL = fake.server.url_for("")
        settings.CONDOIT_TOKEN = TOKEN
        settings.CONDOIT_PAGE_LIMIT = 2
        settings.CONDOIT_MAX_RETRIES = 3
        settings.CONDOIT_BACKOFF_BASE = 0.001
        settings.CONDOIT_BACKOFF_CAP = 0.01
        settings.CONDOIT_CONNECT_TIMEOUT = 2
        settings.CONDOIT_READ_TIMEOUT = 5
        yield fake


def seed(fake, n_facilities=5):
    """n facilities (updatedAt one hour apart), one equipment and one record per facility."""
    facs, eqs, mrs = [], [], []
    for i in range(n_facilities):
        ts = f"2025-01-01T{i:02d}:00:00Z"
        fac = f.facility(updatedAt=ts)
        eq = f.equipment(fac["id"], updatedAt=f"2025-01-02T{i:02d}:00:00Z")
        mr = f.maintenance(eq["id"], updatedAt=f"2025-01-03T{i:02d}:00:00Z")
        facs.append(fac), eqs.append(eq), mrs.append(mr)
    fake.add("facilities", *facs)
    fake.add("equipment", *eqs)
    fake.add("maintenance-records", *mrs)
    return facs, eqs, mrs


def ids(model):
    return sorted(model.objects.values_list("external_id", flat=True))


def mark(resource):
    return SyncCursor.objects.get(resource=resource).high_water_mark


# --- happy path -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_pages_through_every_resource_parents_first(condoit):
    facs, eqs, mrs = seed(condoit, 5)

    run = condoit_pull()

    assert run.status == SyncStatus.SUCCEEDED, run.error
    assert run.source == SyncSource.PULL
    assert (run.created, run.updated, run.unchanged, run.rejected) == (15, 0, 0, 0)
    assert ids(Facility) == sorted(r["id"] for r in facs)
    assert ids(Equipment) == sorted(r["id"] for r in eqs)
    assert ids(MaintenanceRecord) == sorted(r["id"] for r in mrs)
    # limit 2 -> 3 pages per resource, parents first, every page with limit=2, no mark yet
    assert [(s.resource, s.page) for s in condoit.seen] == [
        (r, p) for r in ("facilities", "equipment", "maintenance-records") for p in (1, 2, 3)
    ]
    assert all(s.args["limit"] == "2" for s in condoit.seen)
    assert all("updatedSince" not in s.args for s in condoit.seen)
    assert all(s.authorization == f"Bearer {TOKEN}" for s in condoit.seen)
    assert mark("facilities") == utc(2025, 1, 1, 4)
    assert mark("equipment") == utc(2025, 1, 2, 4)
    assert mark("maintenance-records") == utc(2025, 1, 3, 4)
    assert cache.get(LOCK_KEY) is None  # released


@pytest.mark.django_db
def test_next_pull_sends_the_mark_url_encoded_and_sees_only_the_boundary(condoit):
    seed(condoit, 3)
    condoit_pull()
    condoit.seen.clear()

    run = condoit_pull()

    assert run.status == SyncStatus.SUCCEEDED
    # Only the boundary record of each resource (updatedSince is inclusive), unchanged.
    assert (run.created, run.updated, run.unchanged) == (0, 0, 3)
    first = condoit.requests_for("facilities")[0]
    assert "updatedSince=2025-01-01T02%3A00%3A00%2B00%3A00" in first.query_string
    assert parse_qs(first.query_string)["updatedSince"] == ["2025-01-01T02:00:00+00:00"]
    assert datetime.fromisoformat(first.args["updatedSince"]) == mark("facilities")
    assert Facility.objects.count() == 3


@pytest.mark.django_db
def test_offsets_are_compared_as_instants(condoit):
    early_by_instant = f.facility(updatedAt="2025-01-01T10:00:00+05:00")  # 05:00Z
    latest = f.facility(updatedAt="2025-01-01T06:00:00Z")  # 06:00Z
    western = f.facility(updatedAt="2025-01-01T01:30:00-03:00")  # 04:30Z
    condoit.add("facilities", early_by_instant, latest, western)

    run = condoit_pull(resources=["facilities"])

    assert run.created == 3
    # As strings "2025-01-01T10:00:00+05:00" is the max; as instants 06:00Z is.
    assert mark("facilities") == utc(2025, 1, 1, 6)
    # The fake serves by instant: 04:30Z, 05:00Z, 06:00Z.
    served = [s.page for s in condoit.seen]
    assert served == [1, 2]

    newer = f.facility(updatedAt="2025-01-01T11:30:00+05:00")  # 06:30Z
    condoit.add("facilities", newer)
    condoit.seen.clear()
    run = condoit_pull(resources=["facilities"])

    assert (run.created, run.unchanged) == (1, 1)  # the 06:00Z boundary again, and the new one
    assert datetime.fromisoformat(condoit.seen[0].args["updatedSince"]) == utc(2025, 1, 1, 6)
    assert mark("facilities") == utc(2025, 1, 1, 6, 30)
    assert Facility.objects.count() == 4


def test_max_updated_at_ignores_unparseable_and_naive():
    items = [
        {"updatedAt": "2025-01-01T10:00:00+05:00"},
        {"updatedAt": "2025-01-01T06:00:00Z"},
        {"updatedAt": "2025-01-01T23:00:00"},  # naive: ignored
        {"updatedAt": "yesterday"},
        {"updatedAt": 12},
        "not a record",
    ]
    assert max_updated_at(items) == utc(2025, 1, 1, 6)
    assert max_updated_at([]) is None


# --- retries --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_5xx_is_retried_then_the_page_lands(condoit):
    facs, _, _ = seed(condoit, 5)
    condoit.add_fault(status(503), resource="facilities", page=2, times=2)

    run = condoit_pull()

    assert run.status == SyncStatus.SUCCEEDED, run.error
    assert [s.page for s in condoit.requests_for("facilities")] == [1, 2, 2, 2, 3]
    assert ids(Facility) == sorted(r["id"] for r in facs)


@pytest.mark.django_db
def test_429_honours_retry_after_capped(condoit, settings):
    settings.CONDOIT_BACKOFF_CAP = 5
    seed(condoit, 1)
    condoit.add_fault(status(429, {"Retry-After": "3"}), resource="facilities", times=1)
    condoit.add_fault(status(429, {"Retry-After": "1000"}), resource="equipment", times=1)
    slept = []

    run = condoit_pull(client=CondoitClient(sleep=slept.append))

    assert run.status == SyncStatus.SUCCEEDED, run.error
    assert slept == [3.0, 5.0]  # as asked, then capped by CONDOIT_BACKOFF_CAP
    assert len(condoit.requests_for("facilities")) == 2
    assert Equipment.objects.count() == 1


def test_backoff_is_exponential_with_jitter_and_capped(settings):
    client = CondoitClient(base_url="http://127.0.0.1:9", token="t", backoff_base=1, backoff_cap=6)
    for attempt, ceiling in [(0, 1), (1, 2), (2, 4), (3, 6), (10, 6)]:
        delays = {client._delay(attempt, None) for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1  # jitter


@pytest.mark.django_db
def test_timeout_is_retried_then_succeeds(condoit, settings):
    settings.CONDOIT_READ_TIMEOUT = 0.3
    seed(condoit, 1)
    condoit.add_fault(slow(1.5), resource="facilities", page=1, times=1)

    run = condoit_pull()

    assert run.status == SyncStatus.SUCCEEDED, run.error
    assert len(condoit.requests_for("facilities")) == 2
    assert Facility.objects.count() == 1


@pytest.mark.django_db
def test_timeouts_exhausting_the_retries_fail_the_run(condoit, settings):
    settings.CONDOIT_READ_TIMEOUT = 0.2
    settings.CONDOIT_MAX_RETRIES = 1
    seed(condoit, 1)
    condoit.add_fault(slow(1.0), resource="facilities", times=None)

    run = condoit_pull()

    assert run.status == SyncStatus.FAILED
    assert "facilities" in run.error and "timed out" in run.error and "2 attempt" in run.error
    assert Facility.objects.count() == 0


@pytest.mark.django_db
def test_connection_refused_fails_the_run_after_retries(settings):
    settings.CONDOIT_URL = "http://127.0.0.1:9"  # discard port: nothing listens
    settings.CONDOIT_TOKEN = TOKEN
    settings.CONDOIT_MAX_RETRIES = 2
    settings.CONDOIT_BACKOFF_BASE = 0.001
    slept = []

    run = condoit_pull(client=CondoitClient(sleep=slept.append))

    assert run.status == SyncStatus.FAILED
    assert "connection error" in run.error and "3 attempt" in run.error
    assert len(slept) == 2


# --- errors that stop the run ---------------------------------------------------------------


@TX
def test_403_stops_the_run_with_the_error_and_keeps_what_was_committed(condoit):
    facs, _, _ = seed(condoit, 3)
    condoit.add_fault(status(403), resource="equipment", times=None)

    run = condoit_pull()

    assert run.status == SyncStatus.FAILED
    assert "equipment" in run.error and "403" in run.error and "injected 403" in run.error
    assert len(condoit.requests_for("equipment")) == 1  # not retried
    assert condoit.requests_for("maintenance-records") == []  # the run stopped
    assert ids(Facility) == sorted(r["id"] for r in facs)
    assert Equipment.objects.count() == 0
    assert run.created == 3 and run.finished_at is not None
    assert mark("facilities") == utc(2025, 1, 1, 2)
    assert SyncCursor.objects.get(resource="equipment").high_water_mark is None


@pytest.mark.django_db
def test_wrong_token_is_a_401_and_never_logged(condoit, settings, caplog):
    settings.CONDOIT_TOKEN = "wrong-secret-token"
    seed(condoit, 1)
    caplog.set_level(logging.DEBUG)

    run = condoit_pull()

    assert run.status == SyncStatus.FAILED
    assert "401" in run.error and "unauthorized" in run.error
    assert "wrong-secret-token" not in run.error
    assert "wrong-secret-token" not in caplog.text
    assert "wrong-secret-token" not in repr(CondoitClient())


@TX
@pytest.mark.parametrize(
    "page_body, message",
    [
        ("not json {", "not valid JSON"),
        ('{"data": []}', '{"items": [...], "nextCursor": ...}'),
        ('{"items": {}, "nextCursor": null}', '{"items": [...], "nextCursor": ...}'),
        ('{"items": []}', '{"items": [...], "nextCursor": ...}'),
        ("[]", '{"items": [...], "nextCursor": ...}'),
        ('{"items": [], "nextCursor": 7}', "nextCursor must be"),
    ],
)
def test_a_malformed_page_fails_the_run_and_writes_nothing_from_it(condoit, page_body, message):
    facs, _, _ = seed(condoit, 5)
    condoit.add_fault(body(page_body), resource="facilities", page=2, times=None)

    run = condoit_pull()

    assert run.status == SyncStatus.FAILED
    assert message in run.error and run.error.startswith("facilities")
    assert len(condoit.requests_for("facilities")) == 2  # a malformed page is not retried
    assert ids(Facility) == sorted(r["id"] for r in facs[:2])  # page 1 only
    assert mark("facilities") == utc(2025, 1, 1, 1)
    assert run.created == 2


# --- resume without loss or duplication ------------------------------------------------------


@TX
def test_an_interrupted_pull_resumes_from_the_mark_without_loss_or_duplicates(condoit, settings):
    settings.CONDOIT_MAX_RETRIES = 2
    facs, eqs, mrs = seed(condoit, 7)
    # Two facilities share the page-2 boundary instant, to exercise the inclusive resume.
    facs[4]["updatedAt"] = facs[3]["updatedAt"] = "2025-01-01T03:00:00Z"
    condoit.add_fault(status(500), resource="facilities", page=3, times=None)

    first = condoit_pull()

    assert first.status == SyncStatus.FAILED
    assert "500" in first.error and "3 attempt" in first.error
    assert ids(Facility) == sorted(r["id"] for r in facs[:4])  # pages 1-2 committed
    assert mark("facilities") == utc(2025, 1, 1, 3)
    assert first.created == 4

    condoit.clear_faults()
    condoit.seen.clear()
    second = condoit_pull()

    assert second.status == SyncStatus.SUCCEEDED, second.error
    resumed = condoit.requests_for("facilities")[0]
    assert datetime.fromisoformat(resumed.args["updatedSince"]) == utc(2025, 1, 1, 3)
    # facs[3] (03:00Z) seen again and unchanged; facs[4] (also 03:00Z) first time; then 5, 6.
    assert second.created == 3 + 7 + 7 and second.unchanged == 1
    assert ids(Facility) == sorted(r["id"] for r in facs)
    assert ids(Equipment) == sorted(r["id"] for r in eqs)
    assert ids(MaintenanceRecord) == sorted(r["id"] for r in mrs)
    assert Facility.objects.count() == 7  # exactly once each
    assert mark("facilities") == utc(2025, 1, 1, 6)
    assert mark("maintenance-records") == utc(2025, 1, 3, 6)


@pytest.mark.django_db
def test_full_pull_rereads_everything_and_never_moves_the_mark_back(condoit):
    seed(condoit, 3)
    condoit_pull()
    SyncCursor.objects.filter(resource="facilities").update(high_water_mark=utc(2030, 1, 1))
    condoit.seen.clear()

    run = condoit_pull(full=True)

    assert run.status == SyncStatus.SUCCEEDED
    assert "full" in run.label
    assert all("updatedSince" not in s.args for s in condoit.seen)
    assert (run.created, run.updated, run.unchanged) == (0, 0, 9)
    assert mark("facilities") == utc(2030, 1, 1)


# --- bad records ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_bad_records_are_rejected_with_reasons_and_the_rest_lands(condoit):
    good = f.facility(updatedAt="2025-01-01T00:00:00Z")
    bad_lat = f.facility(latitude=123.0, updatedAt="2025-01-01T01:00:00Z")
    no_offset = f.facility(updatedAt="2025-01-01T02:00:00")
    eq = f.equipment(good["id"], updatedAt="2025-01-02T00:00:00Z")
    orphan = f.equipment("fac_nowhere", updatedAt="2025-01-02T01:00:00Z")
    mr = f.maintenance(eq["id"], updatedAt="2025-01-03T00:00:00Z")
    bad_type = f.maintenance(eq["id"], type="sorcery", updatedAt="2025-01-03T01:00:00Z")
    condoit.add("facilities", good, bad_lat, no_offset, "not even an object")
    condoit.add("equipment", eq, orphan)
    condoit.add("maintenance-records", mr, bad_type)

    run = condoit_pull()

    assert run.status == SyncStatus.PARTIAL
    assert (run.created, run.rejected) == (3, 5)
    assert ids(Facility) == [good["id"]]
    assert ids(Equipment) == [eq["id"]]
    assert ids(MaintenanceRecord) == [mr["id"]]
    reasons = {r.record_id: (r.field, r.reason) for r in run.rejections.all()}
    assert reasons[bad_lat["id"]][0] == "latitude"
    assert reasons[no_offset["id"]][0] == "updatedAt"
    assert reasons[orphan["id"]] == ("facilityId", "references unknown facility 'fac_nowhere'")
    assert reasons[bad_type["id"]][0] == "type"
    assert "" in reasons  # the non-object
    assert RejectedRecord.objects.get(record_id=orphan["id"]).raw.startswith("{")
    # The unparseable-offset record does not move the mark; the others do, as instants.
    assert mark("facilities") == utc(2025, 1, 1, 1)


@pytest.mark.django_db
def test_a_child_rejected_for_a_missing_parent_lands_once_the_parent_arrives(condoit):
    late_fac = f.facility(updatedAt="2025-01-05T00:00:00Z")
    eq = f.equipment(late_fac["id"], updatedAt="2025-01-02T00:00:00Z")
    mr = f.maintenance(eq["id"], updatedAt="2025-01-03T00:00:00Z")
    condoit.add("equipment", eq)
    condoit.add("maintenance-records", mr)

    first = condoit_pull()
    assert first.rejected == 2 and Equipment.objects.count() == 0
    assert mark("equipment") == utc(2025, 1, 2)  # moved past the orphan

    condoit.add("facilities", late_fac)  # created in Condoit after we read facilities
    second = condoit_pull()

    assert second.status == SyncStatus.SUCCEEDED, second.error
    assert ids(Equipment) == [eq["id"]]
    assert ids(MaintenanceRecord) == [mr["id"]]
    assert not RejectedRecord.objects.filter(rerun_at__isnull=True).exists()
    third = condoit_pull()
    assert third.created == 0 and third.rejected == 0


# --- the lock -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_held_lock_refuses_a_second_pull(condoit):
    seed(condoit, 1)
    cache.add(LOCK_KEY, "someone-else", 60)
    runs_before = SyncRun.objects.count()

    with pytest.raises(PullLocked, match="another Condoit pull is running"):
        condoit_pull()

    assert condoit.seen == []
    assert SyncRun.objects.count() == runs_before
    assert cache.get(LOCK_KEY) == "someone-else"  # not ours: left alone


@TX
def test_two_concurrent_pulls_never_run_at_once(condoit):
    seed(condoit, 2)
    entered, release = threading.Event(), threading.Event()

    def hold(request):
        entered.set()
        release.wait(10)

    condoit.add_fault(hold, resource="facilities", page=1, times=1)
    result = {}

    def first_pull():
        try:
            result["run"] = condoit_pull()
        finally:
            connection.close()

    worker = threading.Thread(target=first_pull)
    worker.start()
    try:
        assert entered.wait(10), "the first pull never reached Condoit"
        with pytest.raises(PullLocked):
            condoit_pull()
    finally:
        release.set()
        worker.join(30)
    assert result["run"].status == SyncStatus.SUCCEEDED
    assert Facility.objects.count() == 2
    assert len(condoit.requests_for("facilities")) == 1  # only the first pull asked
    assert cache.get(LOCK_KEY) is None
    assert condoit_pull().status == SyncStatus.SUCCEEDED  # free again


@pytest.mark.django_db
def test_an_unconfigured_pull_refuses(settings):
    settings.CONDOIT_URL = ""
    settings.CONDOIT_TOKEN = "x"
    with pytest.raises(PullNotConfigured, match="CONDOIT_URL and CONDOIT_TOKEN"):
        condoit_pull()
    with pytest.raises(CondoitError, match="CONDOIT_URL and CONDOIT_TOKEN"):
        CondoitClient()
    assert not SyncRun.objects.exists()


# --- the doors: task and command ------------------------------------------------------------


@pytest.mark.django_db
def test_task_pulls_and_does_not_raise_on_a_held_lock(condoit):
    seed(condoit, 1)
    run_pk = condoit_pull_task.apply().get()  # in-process, whatever the broker
    assert SyncRun.objects.get(pk=run_pk).status == SyncStatus.SUCCEEDED
    assert Facility.objects.count() == 1

    cache.add(LOCK_KEY, "someone-else", 60)
    assert condoit_pull_task.apply(kwargs={"full": True}).get() is None


@pytest.mark.django_db
def test_sync_condoit_command_prints_progress_and_a_summary(condoit):
    seed(condoit, 3)
    out = StringIO()

    call_command("sync_condoit", stdout=out)

    text = out.getvalue()
    run = SyncRun.objects.get()
    assert "facilities: page 1, 2 record(s) (2 so far)" in text
    assert "facilities: page 2, 1 record(s) (3 so far)" in text
    assert "maintenance-records: page 2, 1 record(s) (3 so far)" in text
    assert (
        f"Sync run #{run.pk} (succeeded): created 9, updated 0, unchanged 0, rejected 0, "
        "deleted 0" in text
    )

    out = StringIO()
    call_command("sync_condoit", "--full", stdout=out)
    assert "created 0, updated 0, unchanged 9" in out.getvalue()


@pytest.mark.django_db
def test_sync_condoit_command_fails_with_the_error(condoit):
    seed(condoit, 1)
    condoit.add_fault(status(404), resource="equipment", times=None)
    out = StringIO()

    with pytest.raises(CommandError, match="Condoit pull failed: equipment: Condoit answered 404"):
        call_command("sync_condoit", stdout=out)
    assert "(failed)" in out.getvalue()


@pytest.mark.django_db
def test_sync_condoit_command_refuses_without_configuration(settings):
    settings.CONDOIT_URL = ""
    with pytest.raises(CommandError, match="not configured"):
        call_command("sync_condoit", stdout=StringIO())


@pytest.mark.django_db
def test_beat_schedule_is_seeded():
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    task = PeriodicTask.objects.get(name="Condoit pull")
    assert task.task == "facilities.tasks.condoit_pull_task"
    assert task.enabled
    assert (task.interval.every, task.interval.period) == (15, IntervalSchedule.MINUTES)
