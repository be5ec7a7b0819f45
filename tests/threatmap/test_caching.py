"""Cached payloads: ETag / Last-Modified / 304, invalidation by recompute and by the model
version, and answering from the database when the cache is unreachable."""

from email.utils import parsedate_to_datetime

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from threatmap import cache as tm_cache
from voltmetrics.models import FacilityAssessment
from voltmetrics.services import risk_recompute

pytestmark = pytest.mark.django_db

PATHS = [
    "/api/v1/facilities",
    "/api/v1/facilities/fac_zeta",
    "/api/v1/facilities/fac_zeta/equipment",
    "/api/v1/equipment/eq_z1",
    "/api/v1/facilities/fac_zeta/compliance",
    "/api/v1/facilities/fac_zeta/risks",
    "/api/v1/portfolio/summary",
]


@pytest.mark.parametrize("path", PATHS)
def test_etag_and_304(client, world, path):
    r = client.get(path)
    etag = r["ETag"]
    assert etag.startswith('"') and etag.endswith('"')
    assert parsedate_to_datetime(r["Last-Modified"])
    again = client.get(path, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == etag
    assert client.get(path, HTTP_IF_NONE_MATCH=f'"other", W/{etag}').status_code == 304
    assert client.get(path, HTTP_IF_NONE_MATCH='"other"').status_code == 200


def test_last_modified_is_last_updated(client, world):
    r = client.get("/api/v1/facilities/fac_zeta")
    stamp = parsedate_to_datetime(r["Last-Modified"])
    assert stamp.strftime("%Y-%m-%dT%H:%M:%SZ") == r.json()["last_updated"]


def test_second_request_is_served_from_the_cache(client, world):
    path = "/api/v1/facilities/fac_zeta/equipment"
    first = client.get(path)
    with CaptureQueriesContext(connection) as ctx:
        second = client.get(path)
    assert second.content == first.content
    # Only the 404 check of the facility remains (the selector's five queries are gone).
    assert len(ctx) == 1


def _rename(import_export, records, ext, name):
    rec = next(e for e in records["equipment"] if e["id"] == ext)
    import_export(equipment=[dict(rec, name=name, updatedAt="2025-06-01T00:00:00Z")])


def test_recompute_invalidates_facility_list_and_portfolio(client, world, import_export, records):
    before = {p: client.get(p) for p in PATHS}
    _rename(import_export, records, "eq_z1", "Panel Renamed")
    risk_recompute()
    detail = client.get("/api/v1/equipment/eq_z1")
    assert detail.json()["name"] == "Panel Renamed"
    assert detail.json()["last_updated"] >= before["/api/v1/equipment/eq_z1"].json()["last_updated"]
    names = [e["name"] for e in client.get(PATHS[2]).json()["equipment"]]
    assert "Panel Renamed" in names
    due = client.get(PATHS[4]).json()["nfpa_70b"]["next_inspections_due"]
    assert "Panel Renamed" in [d["equipment_name"] for d in due]


def test_every_payload_is_rebuilt_after_a_recompute(client, world):
    for p in PATHS:
        client.get(p)
    risk_recompute()
    for p in PATHS:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(p).status_code == 200
        assert len(ctx) >= 2, p  # the selector ran again (a cached hit costs ≤ 1 query)


def test_recompute_of_one_facility_keeps_the_others_cached(client, world):
    other = client.get("/api/v1/facilities/fac_alpha")
    risk_recompute(facility_pks=[FacilityAssessment.objects.get(
        facility__external_id="fac_zeta").facility_id], portfolio=False)  # fmt: skip
    with CaptureQueriesContext(connection) as ctx:
        again = client.get("/api/v1/facilities/fac_alpha")
    assert again.content == other.content and len(ctx) == 1


def test_model_version_tag_is_part_of_the_key(client, world, monkeypatch):
    path = "/api/v1/portfolio/summary"
    client.get(path)
    monkeypatch.setattr(tm_cache, "model_version_tag", lambda: "2.0:99")
    with CaptureQueriesContext(connection) as ctx:
        client.get(path)
    assert len(ctx) >= 3  # rebuilt from the database


def test_deleted_facility_is_404_even_while_cached(client, world):
    from facilities.models import Facility

    assert client.get("/api/v1/facilities/fac_alpha").status_code == 200
    Facility.objects.filter(external_id="fac_alpha").update(deleted_at="2025-06-01T00:00:00Z")
    assert client.get("/api/v1/facilities/fac_alpha").status_code == 404


UNREACHABLE_REDIS = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2,
                    "IGNORE_EXCEPTIONS": True},
    }
}  # fmt: skip


@pytest.mark.parametrize("path", PATHS)
def test_cache_down_answers_from_the_database(client, world, path, settings):
    expected = client.get(path)
    settings.DJANGO_REDIS_IGNORE_EXCEPTIONS = True
    with override_settings(CACHES=UNREACHABLE_REDIS):
        r = client.get(path)
        assert r.status_code == 200, r.content
        assert r.json() == expected.json()
        assert r["ETag"] == expected["ETag"]
        tm_cache.cache_invalidate_facility("fac_zeta")  # must not raise either
        tm_cache.cache_invalidate_portfolio()
