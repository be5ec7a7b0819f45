"""masterbus.locks.CacheLock: only the holder releases or extends its lock, on the
in-process cache and on Redis."""

import time

from django.core.cache import caches
from django.test import override_settings

from masterbus.locks import CacheLock
from tests.lock_race import OTHER, Takeover

KEY = "tests:lock"


def stored():
    return caches["default"].get(KEY)


def test_acquire_is_exclusive_and_release_frees_it(cache_backend):
    first, second = CacheLock(KEY, 60), CacheLock(KEY, 60)
    assert first.acquire() is True
    assert second.acquire() is False
    assert second.release() is False and stored() == first.token
    assert first.release() is True
    assert stored() is None
    assert second.acquire() is True


def test_release_leaves_a_lock_another_holder_took_meanwhile(cache_backend, monkeypatch):
    lock = CacheLock(KEY, 60)
    assert lock.acquire()
    race = Takeover(monkeypatch, KEY, during="release")
    lock.release()
    assert race.finish()
    assert stored() == OTHER
    assert lock.release() is False and stored() == OTHER
    assert race.other.release() is True and stored() is None


def test_extend_never_extends_a_lock_another_holder_took(cache_backend, monkeypatch):
    lock = CacheLock(KEY, 60)
    assert lock.acquire()
    race = Takeover(monkeypatch, KEY, during="extend")
    lock.extend()
    assert race.finish()
    assert lock.extend() is False
    assert stored() == OTHER


def test_an_expired_lock_taken_by_another_is_not_released_by_the_first(cache_backend):
    first = CacheLock(KEY, 1)
    assert first.acquire()
    assert first.extend(1) is True
    time.sleep(1.2)
    second = CacheLock(KEY, 60)
    assert second.acquire() is True
    assert first.extend() is False
    assert first.release() is False
    assert stored() == second.token


def test_extend_restarts_the_expiry(cache_backend):
    lock = CacheLock(KEY, 1)
    assert lock.acquire()
    assert lock.extend(60) is True
    time.sleep(1.2)
    assert stored() == lock.token
    assert CacheLock(KEY, 60).acquire() is False


UNREACHABLE_REDIS = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2,
                    "IGNORE_EXCEPTIONS": True},
    }
}  # fmt: skip


def test_an_unreachable_cache_takes_no_lock_and_never_raises(settings):
    settings.DJANGO_REDIS_IGNORE_EXCEPTIONS = True
    with override_settings(CACHES=UNREACHABLE_REDIS):
        lock = CacheLock(KEY, 60)
        assert lock.acquire() is None
        assert lock.extend() is False
        assert lock.release() is False
