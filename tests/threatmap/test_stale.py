"""Stale-while-rebuild: after a change, the first request rebuilds the payload; requests
meanwhile get the previous one at once with ``X-Data-Stale: true`` (and its own ETag), never
more than one refresh cycle after the change (in-process cache and Redis)."""

import threading
import time

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from threatmap import cache as tm_cache
from threatmap import selectors
from voltmetrics.services import risk_recompute

PATH = "/api/v1/facilities/fac_zeta/equipment"
TX = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def reader() -> APIClient:
    c = APIClient()
    c.force_authenticate(get_user_model().objects.get(username="reader"))
    return c


def names(response) -> list[str]:
    return [e["name"] for e in response.json()["equipment"]]


def change(import_export, records):
    """Rename a panel and recompute: the facility's payloads are invalidated."""
    rec = next(e for e in records["equipment"] if e["id"] == "eq_z1")
    import_export(equipment=[dict(rec, name="Panel Renamed", updatedAt="2025-06-01T00:00:00Z")])
    risk_recompute()


class BlockedRebuild:
    """The equipment-list selector, held at its start until ``release``; counts its calls."""

    def __init__(self, monkeypatch):
        self.calls = 0
        self.started, self.release = threading.Event(), threading.Event()
        real = selectors.facility_equipment_list

        def blocked(**kwargs):
            self.calls += 1
            if self.calls == 1:
                self.started.set()
                self.release.wait(10)
            return real(**kwargs)

        monkeypatch.setattr(selectors, "facility_equipment_list", blocked)
        self.result = {}
        self.thread = threading.Thread(target=self._first_request)

    def _first_request(self):
        try:
            self.result["response"] = reader().get(PATH)
        finally:
            connection.close()

    def __enter__(self):
        self.thread.start()
        assert self.started.wait(10), "the first request never started rebuilding"
        return self

    def __exit__(self, *exc):
        self.release.set()
        self.thread.join(30)


@TX
def test_one_request_rebuilds_the_others_get_the_stale_payload_at_once(
    cache_backend, client, world, import_export, records, monkeypatch
):
    old = client.get(PATH)
    assert old.status_code == 200 and "X-Data-Stale" not in old
    change(import_export, records)

    with BlockedRebuild(monkeypatch) as rebuild:
        t0 = time.monotonic()
        stale = client.get(PATH)
        assert time.monotonic() - t0 < 5  # did not wait for the rebuild (held for 10 s)
        assert stale.status_code == 200
        assert stale["X-Data-Stale"] == "true"
        assert stale.content == old.content and stale["ETag"] == old["ETag"]
        assert "Panel Renamed" not in names(stale)
        # The stale payload's own ETag revalidates while it is served.
        not_modified = client.get(PATH, HTTP_IF_NONE_MATCH=old["ETag"])
        assert not_modified.status_code == 304 and not_modified.content == b""
        assert not_modified["X-Data-Stale"] == "true" and not_modified["ETag"] == old["ETag"]
        assert rebuild.calls == 1  # only the first request rebuilds

    fresh = rebuild.result["response"]
    assert fresh.status_code == 200 and "X-Data-Stale" not in fresh
    assert "Panel Renamed" in names(fresh) and fresh["ETag"] != old["ETag"]
    # Rebuilt and stored: the old ETag no longer matches; the payload is served fresh.
    again = client.get(PATH, HTTP_IF_NONE_MATCH=old["ETag"])
    assert again.status_code == 200 and "X-Data-Stale" not in again
    assert again.content == fresh.content
    assert client.get(PATH, HTTP_IF_NONE_MATCH=fresh["ETag"]).status_code == 304
    assert rebuild.calls == 1


@TX
def test_stale_is_served_for_at_most_one_refresh_cycle_after_the_change(
    cache_backend, client, world, import_export, records, monkeypatch, settings
):
    settings.THREATMAP_REFRESH_CYCLE_SECONDS = 60
    later = {"by": 0.0}
    monkeypatch.setattr(tm_cache, "_now", lambda: time.time() + later["by"])
    old = client.get(PATH)
    later["by"] = 3600  # built an hour before the change: the age counts from the change
    change(import_export, records)

    with BlockedRebuild(monkeypatch) as rebuild:
        later["by"] = 3600 + 30
        stale = client.get(PATH)
        assert stale["X-Data-Stale"] == "true" and stale.content == old.content
        later["by"] = 3600 + 90  # past one cycle: not served, this request rebuilds itself
        with CaptureQueriesContext(connection) as ctx:
            own = client.get(PATH)
        assert own.status_code == 200 and "X-Data-Stale" not in own
        assert "Panel Renamed" in names(own)
        assert rebuild.calls == 2 and len(ctx) >= 2

    assert "X-Data-Stale" not in rebuild.result["response"]


@pytest.mark.django_db
def test_a_warm_hit_costs_two_cache_calls_and_no_query(cache_backend, world, monkeypatch):
    from django.core.cache import caches

    def payload(build):
        return tm_cache.cached_payload(
            endpoint="facility-equipment",
            scope=tm_cache.facility_scope("fac_zeta"),
            params="probe",
            build=build,
        )

    built = payload(lambda: ({"equipment": []}, None))
    backend = caches["default"]
    calls, depth = [], [0]

    def counted(op, real):
        def call(*args, **kwargs):
            if not depth[0]:  # not the backend's own calls within one (locmem's get_many)
                calls.append(op)
            depth[0] += 1
            try:
                return real(*args, **kwargs)
            finally:
                depth[0] -= 1

        return call

    for op in ("get", "get_many", "add", "set", "incr", "touch", "delete"):
        monkeypatch.setattr(backend, op, counted(op, getattr(backend, op)))
    with CaptureQueriesContext(connection) as ctx:
        warm = payload(lambda: pytest.fail("rebuilt a current payload"))
    assert warm.body == built.body
    # The model-version tag, then the generation and the payload in one call (one MGET).
    assert calls == ["get", "get_many"]
    assert len(ctx) == 0


def test_a_generation_seeded_in_nanoseconds_restarts_exactly(cache_backend):
    from django.core.cache import cache

    scope = tm_cache.facility_scope("fac_legacy")
    cache.set("threatmap:gen:" + scope, time.time_ns(), None)  # as seeded before
    tm_cache.cache_invalidate_facility("fac_legacy")
    gen = tm_cache.generation(scope)
    assert gen < 2**53
    tm_cache.cache_invalidate_facility("fac_legacy")
    assert tm_cache.generation(scope) == gen + 1
    assert isinstance(cache.get(f"threatmap:gen-began:{scope}:{gen + 1}"), float)
