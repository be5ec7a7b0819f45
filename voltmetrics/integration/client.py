"""The only HTTP to VoltMetrics (voltmetrics.md "The service's API").

:class:`VoltMetricsClient` is a ``requests.Session`` bound to ``{VOLTMETRICS_URL}/api/v1``
with the ``X-API-Key`` header. Timeouts, connection errors, 429 and 5xx are retried with
exponential backoff and jitter (``Retry-After`` honoured), a bounded number of times. A
circuit breaker whose state lives in the Django cache (Redis when configured, so web and
worker processes share it) stops calling after repeated failures. Every answer is validated
into a small typed object; anything else raises the one error type, :class:`VoltMetricsError`.
The API key never appears in logs, messages or reprs.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import orjson
import requests
from django.conf import settings
from django.core.cache import cache

from masterbus.http import RetryableError, backoff_delay, error_detail, retry_after_seconds
from voltmetrics.choices import JobStatus, Rating

log = logging.getLogger(__name__)

MAX_ANSWER_BYTES = 16 * 1024 * 1024
RATINGS = frozenset(Rating.values)
JOB_STATUSES = frozenset(JobStatus.values)


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


# --- validated answers --------------------------------------------------------------------------


@dataclass(frozen=True)
class IngestAnswer:
    job_id: str
    status: str
    count: int | None = None
    estimated_completion_time: str | None = None


@dataclass(frozen=True)
class JobAnswer:
    job_id: str
    status: str
    started_at: datetime | None = None
    completed_at: datetime | None = None
    calculation_type: str = ""
    items_processed: int | None = None
    algorithm_version: str = ""
    results_available: bool | None = None
    error: str = ""


@dataclass(frozen=True)
class EquipmentResultAnswer:
    equipment_id: str
    calculation_timestamp: datetime
    algorithm_version: str
    risk_score: int
    risk_rating: str
    risk_factors: list[dict] = field(default_factory=list)
    compliance: dict = field(default_factory=dict)
    raw: dict = field(default_factory=dict)


@dataclass(frozen=True)
class FacilityResultAnswer:
    facility_id: str
    calculation_timestamp: datetime
    algorithm_version: str
    risk_score: int | None
    risk_level: str
    overall_compliance: int | None
    raw: dict = field(default_factory=dict)


@dataclass(frozen=True)
class AlgorithmsAnswer:
    current_version: str
    available_versions: list[dict]


class _Invalid(Exception):
    pass


def _need(obj: dict, key: str, where: str):
    if key not in obj:
        raise _Invalid(f"{where}{key} is missing")
    return obj[key]


def _obj(value, where: str) -> dict:
    if not isinstance(value, dict):
        raise _Invalid(f"{where} must be an object")
    return value


def _str(value, where: str, *, empty: bool = False) -> str:
    if not isinstance(value, str) or (not empty and not value.strip()):
        raise _Invalid(f"{where} must be a {'' if empty else 'non-empty '}string")
    return value


def _int(value, where: str, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _Invalid(f"{where} must be an integer ≥ {minimum}")
    return value


def _number(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _Invalid(f"{where} must be a number")
    return float(value)


def _score(value, where: str) -> int:
    num = _number(value, where)
    if not 0 <= num <= 100:
        raise _Invalid(f"{where} {value!r} is outside 0–100")
    return int(round(num))


def _rating(value, where: str) -> str:
    if value not in RATINGS:
        raise _Invalid(f"{where} {value!r} is not one of {', '.join(Rating.values)}")
    return value


def _timestamp(value, where: str, *, nullable: bool = False) -> datetime | None:
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        raise _Invalid(f"{where} must be an ISO 8601 timestamp")
    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    except ValueError:
        raise _Invalid(f"{where} {value[:60]!r} is not an ISO 8601 timestamp") from None
    if ts.tzinfo is None:
        raise _Invalid(f"{where} must carry a UTC offset")
    return ts.astimezone(UTC)


def _job_status(value, where: str) -> str:
    if value not in JOB_STATUSES:
        raise _Invalid(f"{where} {value!r} is not one of {', '.join(JobStatus.values)}")
    return value


def parse_ingest(data, count_key: str | None) -> IngestAnswer:
    data = _obj(data, "the answer")
    count = None
    if count_key is not None and count_key in data:
        count = _int(data[count_key], count_key)
    eta = data.get("estimated_completion_time")
    if eta is not None:
        _str(eta, "estimated_completion_time", empty=True)
    return IngestAnswer(
        job_id=_str(_need(data, "job_id", ""), "job_id")[:200],
        status=_job_status(_need(data, "status", ""), "status"),
        count=count,
        estimated_completion_time=eta,
    )


def parse_job(data, job_id: str) -> JobAnswer:
    data = _obj(data, "the answer")
    got = _str(_need(data, "job_id", ""), "job_id")
    if got != job_id:
        raise _Invalid(f"job_id {got!r} is not the job asked for ({job_id!r})")
    items = data.get("items_processed")
    avail = data.get("results_available")
    if avail is not None and not isinstance(avail, bool):
        raise _Invalid("results_available must be a boolean")
    error = data.get("error")
    if isinstance(error, dict):
        error = ": ".join(str(error[k]) for k in ("code", "message") if error.get(k))
    elif error is not None and not isinstance(error, str):
        raise _Invalid("error must be a string or an object")
    return JobAnswer(
        job_id=got,
        status=_job_status(_need(data, "status", ""), "status"),
        started_at=_timestamp(data.get("started_at"), "started_at", nullable=True),
        completed_at=_timestamp(data.get("completed_at"), "completed_at", nullable=True),
        calculation_type=_str(data.get("calculation_type") or "", "calculation_type", empty=True),
        items_processed=None if items is None else _int(items, "items_processed"),
        algorithm_version=_str(
            data.get("algorithm_version") or "", "algorithm_version", empty=True
        ),
        results_available=avail,
        error=(error or "")[:2000],
    )


def parse_equipment_result(data, equipment_id: str) -> EquipmentResultAnswer:
    data = _obj(data, "the answer")
    got = _str(_need(data, "equipment_id", ""), "equipment_id")
    if got != equipment_id:
        raise _Invalid(f"equipment_id {got!r} is not the equipment asked for ({equipment_id!r})")
    risk = _obj(_need(data, "risk_assessment", ""), "risk_assessment")
    factors_raw = _need(risk, "risk_factors", "risk_assessment.")
    if not isinstance(factors_raw, list):
        raise _Invalid("risk_assessment.risk_factors must be a list")
    factors = []
    for i, f in enumerate(factors_raw):
        where = f"risk_assessment.risk_factors[{i}]"
        f = _obj(f, where)
        weight = _number(_need(f, "weight", f"{where}."), f"{where}.weight")
        if weight < 0:
            raise _Invalid(f"{where}.weight must not be negative")
        factors.append(
            {
                "factor": _str(_need(f, "factor", f"{where}."), f"{where}.factor")[:32],
                "score": _score(_need(f, "score", f"{where}."), f"{where}.score"),
                "weight": weight,
                "description": _str(
                    _need(f, "description", f"{where}."), f"{where}.description", empty=True
                ),
            }
        )
    compliance = data.get("compliance") or {}
    _obj(compliance, "compliance")
    if "nfpa_70b" in compliance and compliance["nfpa_70b"] is not None:
        _obj(compliance["nfpa_70b"], "compliance.nfpa_70b")
    return EquipmentResultAnswer(
        equipment_id=got,
        calculation_timestamp=_timestamp(
            _need(data, "calculation_timestamp", ""), "calculation_timestamp"
        ),
        algorithm_version=_str(_need(data, "algorithm_version", ""), "algorithm_version")[:32],
        risk_score=_score(
            _need(risk, "risk_score", "risk_assessment."), "risk_assessment.risk_score"
        ),
        risk_rating=_rating(
            _need(risk, "risk_rating", "risk_assessment."), "risk_assessment.risk_rating"
        ),
        risk_factors=factors,
        compliance=compliance,
        raw=data,
    )


def parse_facility_result(data, facility_id: str) -> FacilityResultAnswer:
    data = _obj(data, "the answer")
    got = _str(_need(data, "facility_id", ""), "facility_id")
    if got != facility_id:
        raise _Invalid(f"facility_id {got!r} is not the facility asked for ({facility_id!r})")
    summary = _obj(_need(data, "risk_summary", ""), "risk_summary")
    score = _need(summary, "risk_score", "risk_summary.")
    level = _need(summary, "risk_level", "risk_summary.")
    comp = _obj(_need(data, "compliance_summary", ""), "compliance_summary")
    for key in ("nfpa_70b_compliance", "nfpa_70e_compliance"):
        if comp.get(key) is not None:
            _score(comp[key], f"compliance_summary.{key}")
    overall = _need(comp, "overall_compliance", "compliance_summary.")
    return FacilityResultAnswer(
        facility_id=got,
        calculation_timestamp=_timestamp(
            _need(data, "calculation_timestamp", ""), "calculation_timestamp"
        ),
        algorithm_version=_str(_need(data, "algorithm_version", ""), "algorithm_version")[:32],
        risk_score=None if score is None else _score(score, "risk_summary.risk_score"),
        risk_level="" if level is None else _rating(level, "risk_summary.risk_level"),
        overall_compliance=None
        if overall is None
        else _score(overall, "compliance_summary.overall_compliance"),
        raw=data,
    )


def parse_algorithms(data) -> AlgorithmsAnswer:
    data = _obj(data, "the answer")
    versions = _need(data, "available_versions", "")
    if not isinstance(versions, list):
        raise _Invalid("available_versions must be a list")
    for i, v in enumerate(versions):
        _str(
            _need(_obj(v, f"available_versions[{i}]"), "version", ""),
            f"available_versions[{i}].version",
        )
    return AlgorithmsAnswer(
        current_version=_str(_need(data, "current_version", ""), "current_version"),
        available_versions=versions,
    )


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
            try:
                status, raw = self._once(method, path, payload)
            except RetryableError as exc:
                if attempt + 1 >= attempts:
                    self.breaker.failure()
                    raise VoltMetricsError(
                        f"{method} {path} failed after {attempts} attempt(s): {exc.message}",
                        kind="unavailable",
                        status=exc.status,
                    ) from None
                wait = self._delay(attempt, exc.wait)
                log.warning(
                    "VoltMetrics %s %s: %s; retry %d/%d in %.2fs",
                    method, path, exc.message, attempt + 1, self.max_retries, wait,
                )  # fmt: skip
                self.sleep(wait)
                if not self.breaker.allow():
                    raise VoltMetricsError(
                        f"{method} {path}: circuit breaker open", kind="unavailable"
                    ) from None
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
                data = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise VoltMetricsError(
                    f"{method} {path}: the answer is not valid JSON ({exc})",
                    kind="invalid",
                    status=status,
                ) from None
            try:
                return parse(data)
            except _Invalid as exc:
                raise VoltMetricsError(
                    f"{method} {path}: invalid answer: {exc}", kind="invalid", status=status
                ) from None
        raise AssertionError("unreachable")  # pragma: no cover

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
