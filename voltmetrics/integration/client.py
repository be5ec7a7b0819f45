"""The only HTTP to VoltMetrics (voltmetrics.md "The service's API").

:class:`VoltMetricsClient` is a ``requests.Session`` bound to ``{VOLTMETRICS_URL}/api/v1``
with the ``X-API-Key`` header. Timeouts, connection errors, 429 and 5xx are retried with
exponential backoff and jitter (``Retry-After`` honoured), a bounded number of times. A
circuit breaker whose state lives in the Django cache (Redis when configured, so web and
worker processes share it) stops calling after repeated failures. One client may be used
from several threads at once (``fetch.py`` does, for a job's results): its session keeps
``VOLTMETRICS_FETCH_CONCURRENCY`` keep-alive connections, and it remembers a 429's
``Retry-After`` (:meth:`VoltMetricsClient.held_for`) so that the threads sharing it wait that
long before their next request. Every answer is validated
into a small typed object (``answers``); anything else raises the one error type,
:class:`VoltMetricsError`. A malformed answer to a GET (bad JSON, a missing field: proxies and
overloaded services garble bodies) is asked again like a 5xx; an out-of-range one is not.
The API key never appears in logs, messages or reprs.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import orjson
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from requests.adapters import HTTPAdapter

from masterbus.changes import announce, voltmetrics_status_changed
from masterbus.http import RetryableError, error_detail
from masterbus.http_client import ServiceClient

from .answers import (
    AlgorithmsAnswer,
    EquipmentResultAnswer,
    FacilityResultAnswer,
    IngestAnswer,
    Invalid,
    JobAnswer,
    parse_algorithms,
    parse_equipment_result,
    parse_facility_result,
    parse_ingest,
    parse_job,
)

__all__ = [
    "AlgorithmsAnswer",
    "CircuitBreaker",
    "EquipmentResultAnswer",
    "FacilityResultAnswer",
    "IngestAnswer",
    "JobAnswer",
    "VoltMetricsClient",
    "VoltMetricsError",
    "breaker_state",
]

log = logging.getLogger(__name__)

MAX_ANSWER_BYTES = 16 * 1024 * 1024


class VoltMetricsError(Exception):
    """A call to VoltMetrics failed for good, or its answer was not valid.

    ``kind`` says what to do about it:
    - ``"unavailable"``: timeouts, connection errors, 429/5xx after the retries, or the circuit
      breaker open — try again later, nothing is wrong with the data;
    - ``"rejected"``: VoltMetrics refused the request (another 4xx);
    - ``"invalid"``: the answer was malformed or out of range (bad JSON, missing fields, wrong
      types, a score outside 0–100, an unknown rating or job status).
    """

    def __init__(self, message: str, *, kind: str = "unavailable", status: int | None = None):
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.status = status

    @property
    def unavailable(self) -> bool:
        return self.kind == "unavailable"


# --- circuit breaker ----------------------------------------------------------------------------

_K_FAILURES = "voltmetrics:breaker:failures"
_K_OPEN_UNTIL = "voltmetrics:breaker:open_until"
_K_PROBE = "voltmetrics:breaker:probe"
# When the breaker first opened after the last success (how long VoltMetrics has been down).
_K_DOWN_SINCE = "voltmetrics:breaker:down_since"


class CircuitBreaker:
    """Consecutive failed calls ≥ threshold → open for the cool-down; then half-open: one
    process at a time may probe, a success closes it, a failure opens it again.

    State is two cache keys, so every process sharing the cache shares the breaker. A cache
    outage reads as "closed" (the calls themselves still time out and are retried)."""

    def __init__(self, *, threshold: int | None = None, cooldown: float | None = None):
        self.threshold = max(
            1, settings.VOLTMETRICS_BREAKER_THRESHOLD if threshold is None else threshold
        )
        self.cooldown = settings.VOLTMETRICS_BREAKER_COOLDOWN if cooldown is None else cooldown
        self._ttl = int(max(3600, self.cooldown * 10))

    def state(self, now: float | None = None) -> str:
        """ "closed", "open" or "half-open"."""
        until = _cache_get(_K_OPEN_UNTIL)
        if until is None:
            return "closed"
        now = time.time() if now is None else now
        return "open" if now < float(until) else "half-open"

    def allow(self) -> bool:
        state = self.state()
        if state == "closed":
            return True
        if state == "open":
            return False
        # Half-open: a single probe at a time, across processes.
        try:
            return bool(cache.add(_K_PROBE, 1, timeout=max(1, int(self.cooldown))))
        except Exception:  # cache down: let the call through
            return True

    def down_since(self) -> float | None:
        """Unix time the breaker first opened since the last successful call, or None."""
        since = _cache_get(_K_DOWN_SINCE)
        return None if since is None else float(since)

    def success(self) -> None:
        was_open = _cache_get(_K_OPEN_UNTIL) is not None
        if not was_open and not _cache_get(_K_FAILURES):
            return
        try:
            cache.delete_many([_K_FAILURES, _K_OPEN_UNTIL, _K_PROBE, _K_DOWN_SINCE])
        except Exception:
            return
        if was_open:
            _announce_status("available")

    def failure(self) -> None:
        try:
            cache.add(_K_FAILURES, 0, timeout=self._ttl)
            count = cache.incr(_K_FAILURES)
        except Exception:
            return
        if count is not None and count >= self.threshold:
            was = self.state()
            cache.set(_K_OPEN_UNTIL, time.time() + self.cooldown, timeout=self._ttl)
            cache.add(_K_DOWN_SINCE, time.time(), timeout=None)
            cache.delete(_K_PROBE)
            if was == "closed":
                log.warning(
                    "VoltMetrics circuit breaker open for %.0fs after %d failed calls",
                    self.cooldown, count,
                )  # fmt: skip
                _announce_status("degraded")

    def reset(self) -> None:
        cache.delete_many([_K_FAILURES, _K_OPEN_UNTIL, _K_PROBE, _K_DOWN_SINCE])


# Set while a job's results are fetched by several threads (fetch.call_all): the breaker's
# status changes are announced by the calling thread once they are done, on its connection,
# never from a fetch thread (which must not touch the database).
_deferred: contextvars.ContextVar[list | None] = contextvars.ContextVar(
    "voltmetrics_breaker_deferred", default=None
)


def _announce_status(status: str) -> None:
    since = timezone.now()
    pending = _deferred.get()
    if pending is not None:
        pending.append((status, since))
        return
    announce(voltmetrics_status_changed, status=status, since=since)


@contextmanager
def breaker_announcements_deferred():
    """Announce the breaker's status changes made inside (by any thread running in a copy of
    this context) when the block ends, from the calling thread."""
    pending: list = []
    token = _deferred.set(pending)
    try:
        yield
    finally:
        _deferred.reset(token)
        for status, since in pending:
            announce(voltmetrics_status_changed, status=status, since=since)


def _cache_get(key):
    try:
        return cache.get(key)
    except Exception:
        return None


# --- the client -----------------------------------------------------------------------------------


class VoltMetricsClient(ServiceClient):
    """Every argument defaults to its ``VOLTMETRICS_*`` setting (``VOLTMETRICS_URL``,
    ``VOLTMETRICS_API_KEY``; the timeouts, ``VOLTMETRICS_MAX_RETRIES`` and
    ``VOLTMETRICS_BACKOFF_BASE``/``_CAP`` through :class:`~masterbus.http_client.ServiceClient`,
    which takes the other arguments, ``sleep`` and ``session`` among them). ``pool_size``
    (``VOLTMETRICS_FETCH_CONCURRENCY``) is how many keep-alive connections its own session
    keeps: as many as threads fetch at once."""

    settings_prefix = "VOLTMETRICS"
    system = "voltmetrics"
    service = "VoltMetrics"
    whose = "VoltMetrics'"
    answer = "answer"
    user_agent = "MasterBus-VoltMetrics/1"
    log = log
    log_detail_max = 300

    def __init__(
        self,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        breaker: CircuitBreaker | None = None,
        pool_size: int | None = None,
        **options: Any,
    ):
        base_url = settings.VOLTMETRICS_URL if base_url is None else base_url
        api_key = settings.VOLTMETRICS_API_KEY if api_key is None else api_key
        if not base_url:
            raise VoltMetricsError("VOLTMETRICS_URL is not set", kind="rejected")
        super().__init__(
            base_url=base_url.rstrip("/") + "/api/v1",
            credential={"X-API-Key": api_key},
            **options,
        )
        self.breaker = breaker or CircuitBreaker()
        size = settings.VOLTMETRICS_FETCH_CONCURRENCY if pool_size is None else pool_size
        self.pool_size = max(1, size)
        if options.get("session") is None:
            adapter = HTTPAdapter(pool_connections=1, pool_maxsize=self.pool_size)
            self.session.mount("http://", adapter)
            self.session.mount("https://", adapter)
        self._hold_lock = threading.Lock()
        self._hold_until = 0.0  # time.monotonic(): no new request before (a 429's Retry-After)

    def held_for(self) -> float:
        """Seconds until VoltMetrics' last ``Retry-After`` (on a 429) runs out, or 0: callers
        sharing this client wait that long before their next request."""
        with self._hold_lock:
            return max(0.0, self._hold_until - time.monotonic())

    def _hold(self, seconds: float) -> None:
        with self._hold_lock:
            self._hold_until = max(self._hold_until, time.monotonic() + seconds)

    def _failure(self, message: str, status: int | None) -> VoltMetricsError:
        # No answer at all: the request was refused on our side; an unreadable answer is
        # invalid (its status is not kept).
        return VoltMetricsError(message, kind="rejected" if status is None else "invalid")

    # --- the API --------------------------------------------------------------------------

    def ingest_equipment(self, items: list[dict], settings_: dict) -> IngestAnswer:
        body = {"equipment": items, "calculation_settings": settings_}
        return self._call(
            "POST", "/ingest/equipment", lambda d: parse_ingest(d, "equipment_count"), body
        )

    def ingest_facility(self, item: dict, settings_: dict) -> IngestAnswer:
        body = {"facility": item, "calculation_settings": settings_}
        return self._call("POST", "/ingest/facility", lambda d: parse_ingest(d, None), body)

    def ingest_maintenance(self, records: list[dict], settings_: dict) -> IngestAnswer:
        body = {"maintenance_records": records, "calculation_settings": settings_}
        return self._call(
            "POST", "/ingest/maintenance", lambda d: parse_ingest(d, "record_count"), body
        )

    def get_job(self, job_id: str) -> JobAnswer:
        return self._call("GET", f"/jobs/{_seg(job_id)}", lambda d: parse_job(d, job_id))

    def get_equipment_result(self, equipment_id: str) -> EquipmentResultAnswer:
        return self._call(
            "GET",
            f"/results/equipment/{_seg(equipment_id)}",
            lambda d: parse_equipment_result(d, equipment_id),
        )

    def get_facility_result(self, facility_id: str) -> FacilityResultAnswer:
        return self._call(
            "GET",
            f"/results/facility/{_seg(facility_id)}",
            lambda d: parse_facility_result(d, facility_id),
        )

    def get_algorithms(self) -> AlgorithmsAnswer:
        return self._call("GET", "/algorithms", parse_algorithms)

    # --- transport ------------------------------------------------------------------------

    def _call(self, method: str, path: str, parse: Callable[[Any], Any], body=None):
        if not self.breaker.allow():
            raise VoltMetricsError(f"{method} {path}: circuit breaker open", kind="unavailable")
        payload = None if body is None else orjson.dumps(body)
        headers = {"Content-Type": "application/json"} if payload is not None else None
        url = self.base_url + path

        def attempt(tried: int):
            if tried > 1 and not self.breaker.allow():
                raise VoltMetricsError(f"{method} {path}: circuit breaker open", kind="unavailable")
            try:
                resp, raw = self._send(method, url, MAX_ANSWER_BYTES, data=payload, headers=headers)
            except RetryableError as exc:
                if exc.status == 429 and exc.wait:
                    self._hold(exc.wait)  # this call's own retry waits it in the retry loop
                raise
            # The service answered: it is up, whatever it said.
            self.breaker.success()
            status = resp.status_code
            if not 200 <= status < 300:
                raise VoltMetricsError(
                    f"{method} {path}: VoltMetrics answered {status}{error_detail(raw)}",
                    kind="rejected",
                    status=status,
                )
            try:
                answer = _decode(raw, parse)
            except Invalid as exc:
                self.count("bad_body")
                # Only a GET is safe to ask again; an out-of-range answer would not change.
                if method == "GET" and exc.retry:
                    raise _Malformed(exc.message, status) from None
                raise VoltMetricsError(
                    f"{method} {path}: {exc.message}{_after(tried)}", kind="invalid", status=status
                ) from None
            self.count("ok")
            return answer

        try:
            return self._with_retries(f"{method} {path}", attempt)
        except _Malformed as exc:
            raise VoltMetricsError(
                f"{method} {path}: {exc.detail}{_after(self.max_retries + 1)}",
                kind="invalid",
                status=exc.status,
            ) from None
        except RetryableError as exc:
            self.breaker.failure()
            raise VoltMetricsError(
                f"{method} {path} failed after {self.max_retries + 1} attempt(s): {exc.message}",
                kind="unavailable",
                status=exc.status,
            ) from None


class _Malformed(RetryableError):
    """A GET answered with a garbled body (bad JSON, a missing field): asked again like a 5xx,
    and invalid once the retries run out."""

    def __init__(self, detail: str, status: int):
        super().__init__(f"malformed answer: {detail}", status)
        self.detail = detail


def _after(tried: int) -> str:
    return f" (after {tried} attempts)" if tried > 1 else ""


def _decode(raw: bytes, parse: Callable[[Any], Any]):
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise Invalid(f"the answer is not valid JSON ({exc})") from None
    try:
        return parse(data)
    except Invalid as exc:
        raise Invalid(f"invalid answer: {exc.message}", retry=exc.retry) from None


def _seg(value: str) -> str:
    return quote(str(value), safe="")


def breaker_state() -> str:
    return CircuitBreaker().state()
