"""Token locks in the default cache: only the holder releases or extends its lock.

A lock is a cache key holding a random token, taken with ``cache.add`` (set if absent, with a
timeout, so a crashed holder's lock expires by itself). Releasing and extending compare the
token and act in one step, so a holder whose lock expired and was taken by another never
deletes or extends the other's lock:

- on Redis (django-redis), each is one Lua script, which Redis runs atomically;
- on any other cache (the in-process cache), every operation of this module runs under one
  process-wide mutex, which makes it atomic within the process — all the in-process cache
  is shared with.
"""

from __future__ import annotations

import logging
import threading
import uuid

from django.core.cache import caches

log = logging.getLogger(__name__)

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
_EXTEND = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
return 0
"""

_in_process = threading.Lock()


def _redis_backend(backend):
    try:
        from django_redis.cache import RedisCache
    except ImportError:  # pragma: no cover - django-redis is a dependency
        return False
    return isinstance(backend, RedisCache)


class CacheLock:
    """A lock under ``key`` in the default cache, expiring after ``ttl`` seconds."""

    def __init__(self, key: str, ttl: float, *, token: str | None = None):
        self.key = key
        self.ttl = ttl
        self.token = token or uuid.uuid4().hex

    def acquire(self) -> bool | None:
        """True when taken, False when another holder has it, None when the cache is
        unreachable (django-redis with IGNORE_EXCEPTIONS)."""
        backend = caches["default"]
        if _redis_backend(backend):
            return backend.add(self.key, self.token, self.ttl)
        with _in_process:
            return backend.add(self.key, self.token, self.ttl)

    def release(self) -> bool:
        """Delete the lock if it is still ours; True when it was."""
        return self._compare_and(_RELEASE, None)

    def extend(self, ttl: float | None = None) -> bool:
        """Restart the lock's expiry (``ttl`` or the lock's own) if it is still ours; True when
        it was. False also when the cache cannot be reached: treat the lock as lost."""
        return self._compare_and(_EXTEND, self.ttl if ttl is None else ttl)

    def _compare_and(self, script: str, ttl: float | None) -> bool:
        backend = caches["default"]
        if _redis_backend(backend):
            args = [backend.client.encode(self.token, allow_int=False)]
            if ttl is not None:
                args.append(max(1, int(ttl * 1000)))
            try:
                conn = backend.client.get_client(write=True)
                return bool(conn.eval(script, 1, backend.client.make_key(self.key), *args))
            except Exception:  # noqa: BLE001 - an outage: the lock expires by itself
                log.warning("cache lock %s: Redis unreachable", self.key, exc_info=True)
                return False
        with _in_process:
            try:
                if backend.get(self.key) != self.token:
                    return False
                if ttl is None:
                    backend.delete(self.key)
                    return True
                return bool(backend.touch(self.key, ttl))
            except Exception:  # noqa: BLE001
                log.warning("cache lock %s: cache unreachable", self.key, exc_info=True)
                return False
