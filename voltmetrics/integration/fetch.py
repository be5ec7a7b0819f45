"""Asking VoltMetrics many things at once: a job's results, the poll's job statuses.

:func:`call_all` makes one call per key, each key once, at most
``VOLTMETRICS_FETCH_CONCURRENCY`` in flight, on a bounded pool of threads sharing the client's
one keep-alive session (whose connection pool is as large), and hands every answer back to the
calling thread. The threads only do HTTP — the client's retries, ``Retry-After`` and circuit
breaker included — and never touch the ORM: Django's database connections are per thread, so
storing stays with the caller, on its connection, in its transaction.

- A 429 with ``Retry-After`` holds every thread's next call until it runs out
  (:meth:`~voltmetrics.integration.client.VoltMetricsClient.held_for`); the call that got it
  is asked again by the client, after that wait.
- An error that is the key's own (VoltMetrics refused it, or its answer stayed malformed or
  was out of range) is kept for that key; the others go on.
- The first *unavailable* error (an outage: timeouts or 5xx past the retries, the breaker
  open) stops the rest: calls not started are not made, calls in flight finish. Their keys are
  listed as not asked, so the caller keeps what it got and leaves the rest for later.

With a concurrency of 1 the calls are made one after another in the calling thread. While the
circuit breaker is not closed (half-open after the cool-down: one probe at a time), the first
call is made alone before the others.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Callable, Hashable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from django.conf import settings

from .client import (
    EquipmentResultAnswer,
    FacilityResultAnswer,
    VoltMetricsClient,
    VoltMetricsError,
    breaker_announcements_deferred,
)

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")

EQUIPMENT = "equipment"
FACILITY = "facility"
Target = tuple[str, str]  # (EQUIPMENT or FACILITY, the record's Condoit id)
Result = EquipmentResultAnswer | FacilityResultAnswer

_END = object()


@dataclass
class Calls(Generic[K, T]):
    """What :func:`call_all` got, per key."""

    answers: dict[K, T] = field(default_factory=dict)
    errors: dict[K, VoltMetricsError] = field(default_factory=dict)  # the key's own fault
    unasked: list[K] = field(default_factory=list)  # cut short by the outage, in key order
    interrupted: VoltMetricsError | None = None  # the outage that stopped the calls

    @property
    def asked(self) -> int:
        return len(self.answers) + len(self.errors)


def concurrency_setting() -> int:
    return max(1, settings.VOLTMETRICS_FETCH_CONCURRENCY)


def call_all(
    client: VoltMetricsClient,
    keys: Iterable[K],
    call: Callable[[K], T],
    *,
    concurrency: int | None = None,
) -> Calls[K, T]:
    """``call(key)`` for every distinct key (in order as far as the pool allows), at most
    ``concurrency`` (default ``VOLTMETRICS_FETCH_CONCURRENCY``) at a time. ``call`` raises
    :class:`VoltMetricsError` for a failure; any other exception stops the calls and is raised
    here once the threads are done."""
    keys = list(dict.fromkeys(keys))
    out: Calls[K, T] = Calls()
    if not keys:
        return out
    width = min(concurrency_setting() if concurrency is None else max(1, concurrency), len(keys))
    lock = threading.Lock()
    stop = threading.Event()
    todo = iter(keys)

    def ask(key: K) -> None:
        try:
            answer = call(key)
        except VoltMetricsError as exc:
            with lock:
                if not exc.unavailable:
                    out.errors[key] = exc
                    return
                if out.interrupted is None:
                    out.interrupted = exc
            stop.set()
            return
        with lock:
            out.answers[key] = answer

    def work() -> None:
        try:
            while not stop.is_set():
                with lock:
                    key = next(todo, _END)
                if key is _END:
                    return
                wait = client.held_for()
                if wait > 0:
                    client.sleep(wait)
                if stop.is_set():
                    return
                ask(key)
        except BaseException:
            stop.set()
            raise

    with breaker_announcements_deferred():
        if width > 1 and client.breaker.state() != "closed":
            # After an outage the half-open breaker lets one call through: that one goes
            # first, alone, and the others follow once it has closed the breaker.
            ask(next(todo))
        if width == 1:
            work()
        else:
            with ThreadPoolExecutor(max_workers=width, thread_name_prefix="voltmetrics") as pool:
                # Each thread runs in a copy of this context: log lines keep the task's ids.
                workers = [pool.submit(contextvars.copy_context().run, work) for _ in range(width)]
            for worker in workers:
                worker.result()  # re-raises an unexpected error of a thread
    out.unasked = [k for k in keys if k not in out.answers and k not in out.errors]
    return out


def fetch_results(
    client: VoltMetricsClient, targets: Iterable[Target], *, concurrency: int | None = None
) -> Calls[Target, Result]:
    """Each target's result (``GET /results/{kind}/{id}``), each asked once."""
    get = {EQUIPMENT: client.get_equipment_result, FACILITY: client.get_facility_result}
    calls = call_all(client, targets, lambda t: get[t[0]](t[1]), concurrency=concurrency)
    log.debug(
        "VoltMetrics results: %d fetched, %d failed, %d not asked",
        len(calls.answers), len(calls.errors), len(calls.unasked),
    )  # fmt: skip
    return calls
