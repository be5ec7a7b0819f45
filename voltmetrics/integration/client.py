"""The only HTTP to VoltMetrics (voltmetrics.md "The service's API").

:class:`VoltMetricsClient` is a ``requests.Session`` bound to ``{VOLTMETRICS_URL}/api/v1``
with the ``X-API-Key`` header. Timeouts, connection errors, 429 and 5xx are retried with
exponential backoff and jitter (``Retry-After`` honoured), a bounded number of times. A
circuit breaker whose state lives in the Django cache (Redis when configured, so web and
worker processes share it) stops calling after repeated failures. Every answer is validated
into a small typed object (``answers``); anything else raises the one error type,
:class:`VoltMetricsError`. A malformed answer to a GET (bad JSON, a missing field: proxies and
overloaded services garble bodies) is asked again like a 5xx; an out-of-range one is not.
The API key never appears in logs, messages or reprs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import orjson
import requests
from django.conf import settings
from django.core.cache import cache

from masterbus.http import RetryableError, backoff_delay, error_detail, retry_after_seconds

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

    def success(self) -> None:
        if _cache_get(_K_OPEN_UNTIL) is None and not _cache_get(_K_FAILURES):
            return
        try:
            cache.delete_many([_K_FAILURES, _K_OPEN_UNTIL, _K_PROBE])
        except Exception:
            pass

    def failure(self) -> None:
        try:
            cache.add(_K_FAILURES, 0, timeout=self._ttl)
            count = cache.incr(_K_FAILURES)
        except Exception:
            return
        if count is not None and count >= self.threshold:
            was = self.state()
            cache.set(_K_OPEN_UNTIL, time.time() + self.cooldown, timeout=self._ttl)
            cache.delete(_K_PROBE)
            if was == "closed":
                log.warning(
                    "VoltMetrics circuit breaker open for %.0fs after %d failed calls",
                    self.cooldown, count,
                )  # fmt: skip

    def reset(self) -> None:
        cache.delete_many([_K_FAILURES, _K_OPEN_UNTIL, _K_PROBE])


def _cache_get(key):
    try:
        return cache.get(key)
    except Exception:
        return None


# --- the client -----------------------------------------------------------------------------------


class VoltMetricsClient:
    """Every argument defaults to its ``VOLTMETRICS_*`` setting; ``sleep`` is injectable so
    tests can observe the backoff without waiting."""

    def __init__(
        self,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        connect_timeout: float | None = None,
        read_timeout: float | None = None,
        max_retries: int | None = None,
        backoff_base: float | None = None,
        backoff_cap: float | None = None,
        breaker: CircuitBreaker | None = None,
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
    ):
        base_url = settings.VOLTMETRICS_URL if base_url is None else base_url
        api_key = settings.VOLTMETRICS_API_KEY if api_key is None else api_key
        if not base_url:
            raise VoltMetricsError("VOLTMETRICS_URL is not set", kind="rejected")
        self.base_url = base_url.rstrip("/") + "/api/v1"
        self.timeout = (
            settings.VOLTMETRICS_CONNECT_TIMEOUT if connect_timeout is None else connect_timeout,
            settings.VOLTMETRICS_READ_TIMEOUT if read_timeout is None else read_timeout,
        )
        self.max_retries = max(
            0, settings.VOLTMETRICS_MAX_RETRIES if max_retries is None else max_retries
        )
        self.backoff_base = (
            settings.VOLTMETRICS_BACKOFF_BASE if backoff_base is None else backoff_base
        )
        self.backoff_cap = settings.VOLTMETRICS_BACKOFF_CAP if backoff_cap is None else backoff_cap
        self.breaker = breaker or CircuitBreaker()
        self.sleep = sleep
        self.session = session or requests.Session()
        self.session.headers["X-API-Key"] = api_key
        self.session.headers["Accept"] = "application/json"
        self.session.headers["User-Agent"] = "MasterBus-VoltMetrics/1"

    def __repr__(self) -> str:  # never show the key
        return f"<VoltMetricsClient {self.base_url}>"

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> VoltMetricsClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

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
        attempts = self.max_retries + 1
        for attempt in range(attempts):
            last = attempt + 1 >= attempts
            try:
                status, raw = self._once(method, path, payload)
            except RetryableError as exc:
                if last:
                    self.breaker.failure()
                    raise VoltMetricsError(
                        f"{method} {path} failed after {attempts} attempt(s): {exc.message}",
                        kind="unavailable",
                        status=exc.status,
                    ) from None
                self._pause(method, path, exc.message, attempt, exc.wait)
                continue
            # The service answered: it is up, whatever it said.
            self.breaker.success()
            if not 200 <= status < 300:
                raise VoltMetricsError(
                    f"{method} {path}: VoltMetrics answered {status}{error_detail(raw)}",
                    kind="rejected",
                    status=status,
                )
            try:
                return _decode(raw, parse)
            except Invalid as exc:
                # Only a GET is safe to ask again; an out-of-range answer would not change.
                if method != "GET" or not exc.retry or last:
                    tried = f" (after {attempt + 1} attempts)" if attempt else ""
                    raise VoltMetricsError(
                        f"{method} {path}: {exc.message}{tried}", kind="invalid", status=status
                    ) from None
                self._pause(method, path, f"malformed answer: {exc.message}", attempt, None)
        raise AssertionError("unreachable")  # pragma: no cover

    def _pause(self, method: str, path: str, why: str, attempt: int, asked: float | None):
        wait = self._delay(attempt, asked)
        log.warning(
            "VoltMetrics %s %s: %s; retry %d/%d in %.2fs",
            method, path, why[:300], attempt + 1, self.max_retries, wait,
        )  # fmt: skip
        self.sleep(wait)
        if not self.breaker.allow():
            raise VoltMetricsError(f"{method} {path}: circuit breaker open", kind="unavailable")

    def _delay(self, attempt: int, asked: float | None) -> float:
        if asked is not None:  # Retry-After, already capped
            return asked
        return backoff_delay(attempt, self.backoff_base, self.backoff_cap)

    def _once(self, method: str, path: str, payload: bytes | None) -> tuple[int, bytes]:
        headers = {"Content-Type": "application/json"} if payload is not None else None
        try:
            resp = self.session.request(
                method,
                self.base_url + path,
                data=payload,
                headers=headers,
                timeout=self.timeout,
                stream=True,
                allow_redirects=False,
            )
        except requests.Timeout:
            raise RetryableError("timed out") from None
        except requests.ConnectionError as exc:
            raise RetryableError(f"connection error ({type(exc).__name__})") from None
        except requests.RequestException as exc:
            raise VoltMetricsError(
                f"request to VoltMetrics failed: {type(exc).__name__}", kind="rejected"
            ) from None
        with resp:
            status = resp.status_code
            if status == 429:
                wait = retry_after_seconds(resp.headers.get("Retry-After"), self.backoff_cap)
                raise RetryableError("429 Too Many Requests", 429, wait)
            if status >= 500:
                raise RetryableError(f"{status} {resp.reason or 'server error'}", status)
            try:
                raw = _read(resp)
            except requests.Timeout:
                raise RetryableError("timed out reading the answer") from None
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
                raise RetryableError(
                    f"connection broke while reading ({type(exc).__name__})"
                ) from None
            except requests.RequestException as exc:
                raise VoltMetricsError(
                    f"could not read VoltMetrics' answer: {type(exc).__name__}", kind="invalid"
                ) from None
        return status, raw


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


def _read(resp: requests.Response) -> bytes:
    chunks, size = [], 0
    for chunk in resp.iter_content(chunk_size=65536):
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise VoltMetricsError(
                f"VoltMetrics' answer is larger than {MAX_ANSWER_BYTES} bytes", kind="invalid"
            )
        chunks.append(chunk)
    return b"".join(chunks)


def breaker_state() -> str:
    return CircuitBreaker().state()
