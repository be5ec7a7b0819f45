"""Per key / per user rate limits and their headers (threatmap-api.md §Rate limits)."""

import time

import pytest
from django.core.cache import cache

from masterbus.api import throttling

from .conftest import READ, assert_envelope, bearer, key_header

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.api.urls")]


def rl(r):
    return int(r["X-RateLimit-Limit"]), int(r["X-RateLimit-Remaining"]), int(r["X-RateLimit-Reset"])


def test_headers_on_success_count_down(client, read_key):
    _, raw = read_key
    r1 = client.get(READ, **key_header(raw))
    r2 = client.get(READ, **key_header(raw))
    (limit, rem1, reset1), (_, rem2, reset2) = rl(r1), rl(r2)
    assert limit == 100
    assert rem1 == 99 and rem2 == 98 or reset2 != reset1  # a window may end in between
    now = time.time()
    assert now < reset2 <= now + 60
    assert reset2 % 60 == 0


@pytest.mark.parametrize(
    "path,method,status",
    [("/api/v1/nowhere", "get", 404), (READ, "delete", 405)],
)
def test_headers_on_errors_of_authenticated_requests(client, read_key, path, method, status):
    _, raw = read_key
    r = getattr(client, method)(path, **key_header(raw))
    assert r.status_code == status
    assert rl(r)[0] == 100


def test_headers_on_403_and_they_count(client, make_key):
    _, raw = make_key(["condoit:push"], rate_limit=5)
    r1 = client.get(READ, **key_header(raw))
    r2 = client.get(READ, **key_header(raw))
    assert r1.status_code == r2.status_code == 403
    assert rl(r1)[:2] == (5, 4) and rl(r2)[:2] == (5, 3) or rl(r1)[2] != rl(r2)[2]


def test_no_headers_without_authentication(client):
    r = client.get(READ)
    assert r.status_code == 401
    assert not r.has_header("X-RateLimit-Limit")


def test_429_past_the_keys_own_limit(client, make_key, read_key, monkeypatch):
    _, raw = make_key(rate_limit=3)
    # Pin the window so the test cannot straddle a minute boundary.
    start = int(time.time() // 60) * 60
    real_hit = throttling.rate_limit_hit
    monkeypatch.setattr(
        throttling, "rate_limit_hit", lambda b, lim, now=None: real_hit(b, lim, now=start + 30)
    )

    statuses = [client.get(READ, **key_header(raw)).status_code for _ in range(3)]
    r = client.get(READ, **key_header(raw))
    assert statuses == [200, 200, 200]
    err = assert_envelope(r, 429, "RATE_LIMITED")
    assert rl(r) == (3, 0, start + 60)
    assert 1 <= int(r["Retry-After"]) <= 60
    assert err["details"] == {"retry_after": int(r["Retry-After"])}
    # Other keys have their own counters.
    assert client.get(READ, **key_header(read_key[1])).status_code == 200


def test_signed_endpoint_keys_get_the_higher_default(client, make_key, settings):
    key, _ = make_key(["condoit:push"])
    assert key.effective_rate_limit == settings.API_SIGNED_RATE_LIMIT_PER_MINUTE == 6000
    key2, _ = make_key(["threatmap:read", "voltmetrics:callback"])
    assert key2.effective_rate_limit == 6000
    key3, _ = make_key(["condoit:push"], rate_limit=50)
    assert key3.effective_rate_limit == 50
    key4, _ = make_key(["threatmap:read"])
    assert key4.effective_rate_limit == 100


def test_default_limit_is_a_setting(client, read_key, settings):
    settings.API_RATE_LIMIT_PER_MINUTE = 7
    assert rl(client.get(READ, **key_header(read_key[1])))[0] == 7


def test_users_are_counted_per_user(client, user, staff):
    r1 = client.get(READ, **bearer(user))
    r2 = client.get(READ, **bearer(user))
    r3 = client.get(READ, **bearer(staff))
    assert rl(r1)[1] - rl(r2)[1] in (1, -99)  # the window may roll over in between
    assert rl(r3)[1] == 99


def test_counters_live_in_the_cache(client, read_key):
    key, raw = read_key
    r = client.get(READ, **key_header(raw))
    start = int(rl(r)[2]) - 60
    assert cache.get(f"ratelimit:key:{key.pk}:{start}") == 1


def test_cache_down_allows_and_still_sends_headers(client, read_key, monkeypatch):
    def broken(*args, **kwargs):
        raise ConnectionError("cache is down")

    monkeypatch.setattr(cache, "incr", broken)
    monkeypatch.setattr(cache, "add", broken)
    r1 = client.get(READ, **key_header(read_key[1]))
    r2 = client.get(READ, **key_header(read_key[1]))
    assert r1.status_code == r2.status_code == 200
    assert rl(r1)[0] == 100
    assert rl(r2)[1] in (rl(r1)[1] - 1, 99)  # counted per process


def test_cache_answering_none_falls_back_too(client, read_key, monkeypatch):
    # django-redis with IGNORE_EXCEPTIONS answers None instead of raising.
    monkeypatch.setattr(cache, "incr", lambda *a, **k: None)
    monkeypatch.setattr(cache, "add", lambda *a, **k: None)
    r = client.get(READ, **key_header(read_key[1]))
    assert r.status_code == 200 and rl(r)[0] == 100


@pytest.mark.services
def test_counters_are_shared_and_atomic_in_redis():
    """Many concurrent hits on one bucket (as from several processes) get distinct counts."""
    from concurrent.futures import ThreadPoolExecutor

    from django_redis import get_redis_connection

    now = time.time()
    with ThreadPoolExecutor(16) as pool:
        states = list(
            pool.map(lambda _: throttling.rate_limit_hit("shared", 1000, now=now), range(200))
        )
    assert sorted(s.count for s in states) == list(range(1, 201))
    start = int(now // 60) * 60
    redis = get_redis_connection("default")
    keys = redis.keys(f"*ratelimit:shared:{start}")
    assert len(keys) == 1 and int(redis.get(keys[0])) == 200
    assert 60 < redis.ttl(keys[0]) <= 65
