"""masterbus.overlap.Background: database jobs on a second connection, in order, or inline."""

from __future__ import annotations

import sys
import threading
from datetime import UTC, datetime

import pytest
from django.db import connection, transaction

from facilities.models import Facility
from masterbus.overlap import Background, overlap_available

T = datetime(2025, 1, 1, tzinfo=UTC)
TX = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def _backend_pid() -> int:
    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()" if connection.vendor == "postgresql" else "SELECT 1")
        return cur.fetchone()[0]


@pytest.mark.django_db
def test_inside_a_transaction_jobs_run_inline_in_order():
    """A test (or request) transaction: another connection could not see its rows."""
    assert connection.in_atomic_block
    seen = []
    with Background() as bg:
        assert not bg.enabled
        first = bg.submit(lambda: seen.append(("a", threading.get_ident())) or 1)
        failed = bg.submit(lambda: 1 / 0)
        second = bg.submit(lambda: seen.append(("b", threading.get_ident())) or 2)
    assert [name for name, _ in seen] == ["a", "b"]
    assert {ident for _, ident in seen} == {threading.get_ident()}
    assert (first.result(), second.result()) == (1, 2)
    with pytest.raises(ZeroDivisionError):
        failed.result()


@pytest.mark.django_db
def test_db_overlap_false_turns_it_off(settings):
    settings.DB_OVERLAP = False
    with transaction.atomic():
        pass
    assert not overlap_available()


@pytest.mark.services
@TX
def test_jobs_run_in_order_on_another_connection_and_see_each_others_commits():
    assert overlap_available()
    main_pid = _backend_pid()
    switch = sys.getswitchinterval()
    log = []

    def write(ext):
        with transaction.atomic():
            Facility.objects.create(
                external_id=ext, name=ext, condoit_created_at=T, condoit_updated_at=T
            )
        log.append(("write", ext, threading.current_thread().name, _backend_pid()))

    def read():
        names = sorted(Facility.objects.values_list("external_id", flat=True))
        log.append(("read", names, threading.current_thread().name, _backend_pid()))
        return names

    with Background(name="test-overlap") as bg:
        assert bg.enabled
        assert sys.getswitchinterval() < switch
        bg.submit(write, "fac_1")
        bg.submit(write, "fac_2")
        names = bg.submit(read).result()
    assert sys.getswitchinterval() == switch
    assert names == ["fac_1", "fac_2"]
    assert [entry[0] for entry in log] == ["write", "write", "read"]
    assert {entry[2].split("_")[0] for entry in log} == {"test-overlap"}
    worker_pids = {entry[3] for entry in log}
    assert len(worker_pids) == 1 and main_pid not in worker_pids
    # Committed by the worker, so visible here.
    assert Facility.objects.filter(external_id__in=["fac_1", "fac_2"]).count() == 2
    # The worker's connection was closed with the worker.
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [worker_pids.pop()])
        assert cur.fetchone()[0] == 0


@pytest.mark.services
@TX
def test_a_failed_job_reaches_the_caller_and_close_still_cleans_up():
    switch = sys.getswitchinterval()
    bg = Background()
    assert bg.enabled
    failing = bg.submit(lambda: 1 / 0)
    after = bg.submit(lambda: "ran")
    with pytest.raises(ZeroDivisionError):
        failing.result()
    assert after.result() == "ran"  # later jobs still run, in order
    with pytest.raises(ZeroDivisionError):
        bg.close()  # close() reports a failed job too: none is silently dropped
    assert sys.getswitchinterval() == switch
    bg.close()  # closing twice is harmless


@pytest.mark.services
@TX
def test_an_exception_in_the_caller_is_kept_while_the_worker_finishes():
    done = threading.Event()
    with pytest.raises(KeyError):
        with Background() as bg:
            bg.submit(lambda: 1 / 0)
            bg.submit(done.set)
            raise KeyError("the caller's own error")
    assert done.is_set()


def test_a_background_job_keeps_the_submitters_request_id():
    from masterbus.api.request_id import bind_request_id, get_request_id, reset_request_id

    token = bind_request_id("req-overlap-1")
    try:
        with Background(enabled=True) as bg:
            seen = bg.submit(lambda: (threading.current_thread().name, get_request_id())).result()
    finally:
        reset_request_id(token)
    assert seen[0] != threading.current_thread().name  # another thread, the same id
    assert seen[1] == "req-overlap-1"
