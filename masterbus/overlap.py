"""Overlap database round trips with Python work: one background thread, its own connection.

A long job alternates between Python work (parsing a file, running the risk engine) and
waiting for PostgreSQL (COPY, upserts, the next batch's reads). :class:`Background` runs the
database side on one worker thread with its own connection, in submission order, so the
waits hide behind the Python work of the next batch (psycopg releases the GIL while it waits).

It is used only where it cannot change what is written or read:

- on PostgreSQL (SQLite has one writer, and the embedded default stays simple);
- outside an atomic block: work submitted from inside a transaction (a request, a test
  wrapped in a transaction, an admin action) would run on another connection that cannot see
  the caller's uncommitted rows, so there everything runs inline, in the same order;
- when ``DB_OVERLAP`` is on (the default; ``DB_OVERLAP=false`` turns it off).

Jobs run one at a time, in order, each seeing everything committed by the jobs before it.
:meth:`Background.submit` returns a :class:`concurrent.futures.Future`; ``result()`` re-raises
the job's exception in the caller's thread. A job runs in a copy of the submitter's context
variables (so its log lines carry the same request id). :meth:`Background.close` waits for every job and
closes the worker's connection.
"""

from __future__ import annotations

import contextvars
import sys
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

from django.conf import settings
from django.db import connection, connections

# While a worker waits for PostgreSQL the caller holds the GIL doing Python work; when the
# reply arrives the worker gets the GIL back only at the caller's next switch interval
# (5 ms by default), once per round trip. A shorter interval while overlapping keeps the
# worker's round trips short.
_SWITCH_INTERVAL = 0.0005


def overlap_available() -> bool:
    return (
        getattr(settings, "DB_OVERLAP", True)
        and connection.vendor == "postgresql"
        and not connection.in_atomic_block
    )


class Background:
    """Run database jobs in order on one worker thread (or inline where that is unsafe)."""

    def __init__(self, *, enabled: bool | None = None, name: str = "db-overlap"):
        self.enabled = overlap_available() if enabled is None else enabled
        self._executor = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix=name) if self.enabled else None
        )
        self._futures: list[Future] = []
        self._switch = None
        if self.enabled:
            self._switch = sys.getswitchinterval()
            sys.setswitchinterval(min(self._switch, _SWITCH_INTERVAL))

    def submit(self, fn: Callable[..., Any], /, *args, **kwargs) -> Future:
        if self._executor is None:
            fut: Future = Future()
            try:
                fut.set_result(fn(*args, **kwargs))
            except BaseException as exc:  # handed to whoever asks for the result
                fut.set_exception(exc)
            return fut
        # In the submitter's context: the job's log lines keep its request and task ids.
        fut = self._executor.submit(contextvars.copy_context().run, fn, *args, **kwargs)
        # Finished jobs are forgotten, except failures: close() reports them.
        self._futures = [f for f in self._futures if not f.done() or f.exception()] + [fut]
        return fut

    def drain(self) -> None:
        """Wait for every submitted job; re-raise the first failure."""
        futures, self._futures = self._futures, []
        first: BaseException | None = None
        for fut in futures:
            exc = fut.exception()
            if exc is not None and first is None:
                first = exc
        if first is not None:
            raise first

    def close(self, *, raise_errors: bool = True) -> None:
        """Wait for every job, close the worker's connection and stop the thread."""
        if self._executor is None:
            return
        try:
            if raise_errors:
                self.drain()
            else:
                wait(self._futures)
        finally:
            self._executor.submit(connections.close_all).result()
            self._executor.shutdown()
            self._executor = None
            if self._switch is not None:
                sys.setswitchinterval(self._switch)

    def __enter__(self) -> Background:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        # While another exception propagates, wait for the worker but keep that exception.
        self.close(raise_errors=exc_type is None)
