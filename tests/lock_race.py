"""Force the race a cache lock must survive: while its holder releases or extends it, the
lock expires and another holder takes it.

The takeover happens at the holder's first step on the lock key: a client-side delete or
touch (after it compared the token), or, on Redis, just before the atomic script (nothing can
come between its compare and its act). The other holder takes the lock through
``CacheLock.acquire`` in a thread, waiting at most half a second for it.
"""

from __future__ import annotations

import threading
import time

import redis
from django.core.cache import caches

from masterbus.locks import CacheLock

OTHER = "other-holder"


class Takeover:
    def __init__(self, monkeypatch, key: str, *, during: str, ttl: float = 60):
        assert during in ("release", "extend")
        self.key = key
        self.other = CacheLock(key, ttl, token=OTHER)
        self.happened = False
        self.acquired: list[bool | None] = []
        self.acquired_at = 0.0
        self._thread: threading.Thread | None = None
        backend = caches["default"]
        self._expire = backend.delete  # unpatched: the lock running out
        op = "delete" if during == "release" else "touch"
        real_op = getattr(backend, op)

        def client_side(k, *args, **kwargs):
            if k == key:
                self._take()
            return real_op(k, *args, **kwargs)

        monkeypatch.setattr(backend, op, client_side)
        real_eval = redis.Redis.eval
        command = "'del'" if during == "release" else "'pexpire'"

        def server_side(conn, script, numkeys, *keys_and_args):
            if command in script and str(keys_and_args[0]).endswith(":" + key):
                self._take()
            return real_eval(conn, script, numkeys, *keys_and_args)

        monkeypatch.setattr(redis.Redis, "eval", server_side)

    def _take(self) -> None:
        if self.happened:
            return
        self.happened = True
        self._expire(self.key)

        def take() -> None:
            self.acquired.append(self.other.acquire())
            self.acquired_at = time.monotonic()

        self._thread = threading.Thread(target=take)
        self._thread.start()
        self._thread.join(0.5)

    def finish(self) -> bool:
        """Wait for the other holder; whether it took the lock."""
        assert self.happened, "the lock was never released or extended"
        self._thread.join(5)
        return self.acquired == [True]

    def holds(self) -> bool:
        return caches["default"].get(self.key) == OTHER
