"""The one recompute lock (``masterbus.locks.CacheLock``: released only by its holder).

Every recompute holds it, so the per-minute drain, the nightly full recompute, a publish's
recompute, the recompute after VoltMetrics results, ``manage.py recompute_risk`` and
``manage.py demo_setup`` never overlap (a recompute after changes reuses stored
per-equipment parts of unchanged equipment; it relies on no other recompute writing parts of
records it loaded before a change). A recompute split into chunks (``voltmetrics.runs``) is
handed the lock by the task that started it and releases it when its last chunk finishes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from masterbus.locks import CacheLock

RECOMPUTE_LOCK_KEY = "voltmetrics:recompute-lock"
# Longer than any recompute (or chunk of one) should take; a crashed worker's lock expires by
# itself. Each chunk of a split recompute restarts the expiry when it starts.
RECOMPUTE_LOCK_TTL = 60 * 60
LOCK_POLL_SECONDS = 1.0


class RecomputeLocked(Exception):
    pass


class HeldLock:
    """The recompute lock as held by a ``with recompute_lock()`` block."""

    def __init__(self, lock: CacheLock):
        self._lock = lock
        self.handed_over = False

    def hand_over(self) -> str:
        """Keep the lock past the block (a split recompute releases it when it finishes);
        returns its token."""
        self.handed_over = True
        return self._lock.token


def run_lock(token: str) -> CacheLock:
    """The recompute lock as held by a split recompute (its token)."""
    return CacheLock(RECOMPUTE_LOCK_KEY, RECOMPUTE_LOCK_TTL, token=token)


@contextmanager
def recompute_lock(
    *, wait: float = 0, on_wait: Callable[[], None] | None = None
) -> Iterator[HeldLock]:
    """Hold the recompute lock or raise RecomputeLocked (after waiting up to ``wait``
    seconds for it; ``on_wait`` is called once when it has to wait)."""
    lock = CacheLock(RECOMPUTE_LOCK_KEY, RECOMPUTE_LOCK_TTL)
    deadline = time.monotonic() + wait
    while not lock.acquire():
        if time.monotonic() >= deadline:
            raise RecomputeLocked
        if on_wait is not None:
            on_wait()
            on_wait = None
        time.sleep(LOCK_POLL_SECONDS)
    held = HeldLock(lock)
    try:
        yield held
    finally:
        if not held.handed_over:
            lock.release()  # only our own: one that expired and was taken by another stays
