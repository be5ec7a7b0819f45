"""A fake VoltMetrics on loopback (pytest-httpserver), following voltmetrics.md.

``POST /api/v1/ingest/{equipment,facility,maintenance}`` answer 202 with a new job id;
``GET /api/v1/jobs/{id}`` reports the job (processing until :meth:`FakeVoltMetrics.finish`
is called, or at once with ``auto_complete``); ``GET /api/v1/results/equipment/{id}`` and
``/results/facility/{id}`` answer the latest result of what was ingested; ``GET
/api/v1/algorithms``. Every call needs ``X-API-Key``. Faults are injected with
:meth:`FakeVoltMetrics.add_fault` (500s, slow answers, 429, bad JSON, custom bodies), or
with ``garble_every = N``: every Nth call is answered with a garbled body (in turn cut short,
so not valid JSON, and stripped to its first field, so fields are missing). Each call is
listed in ``seen`` with when it arrived; how many were being answered at once at most is
``max_in_flight``.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from masterbus.api.signatures import sign

API_KEY = "test-voltmetrics-key"
WEBHOOK_SECRET = "test-voltmetrics-webhook-secret"
ALGORITHM = "vm-2.3.1"


def _rating(score: int) -> str:
    if score < 40:
        return "Low"
    if score < 70:
        return "Medium"
    if score < 85:
        return "High"
    return "Critical"


def _json(body, status: int = 200, headers=None) -> Response:
    return Response(
        json.dumps(body), status=status, content_type="application/json", headers=headers
    )


def _error(status: int, code: str, message: str, headers=None) -> Response:
    return _json({"error": {"code": code, "message": message, "details": None}}, status, headers)


@dataclass
class Seen:
    method: str
    path: str
    body: dict | None
    api_key: str
    at: float = 0.0  # time.monotonic() when the call arrived


@dataclass
class Fault:
    pattern: re.Pattern
    times: int | None
    response: Callable[[Request], Response | None]
    used: int = 0


@dataclass
class FakeJob:
    job_id: str
    kind: str
    items: list[str]
    status: str = "processing"
    completed_at: str | None = None
    error: str | None = None


@dataclass
class FakeVoltMetrics:
    server: HTTPServer
    api_key: str = API_KEY
    auto_complete: bool = False
    jobs: dict[str, FakeJob] = field(default_factory=dict)
    ingested: dict[str, dict[str, dict]] = field(
        default_factory=lambda: {"equipment": {}, "facility": {}, "maintenance": {}}
    )
    # Score per equipment/facility id (default 42); result bodies to answer verbatim.
    scores: dict[str, int] = field(default_factory=dict)
    bodies: dict[str, object] = field(default_factory=dict)
    calculated_at: dict[str, str] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    # Every Nth call (0: none) is answered with a garbled body; those calls are listed.
    garble_every: int = 0
    garbled: list[Seen] = field(default_factory=list)
    # Calls being answered now, and the most there ever were at once.
    in_flight: int = 0
    max_in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _calls: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self):
        self.server.expect_request(re.compile(r"^/api/v1/.*$")).respond_with_handler(self._handle)

    @property
    def url(self) -> str:
        return self.server.url_for("").rstrip("/")

    # --- control ----------------------------------------------------------------------------

    def add_fault(self, response, *, path: str = r".*", times: int | None = 1) -> Fault:
        fault = Fault(re.compile(path), times, response)
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def finish(self, job_id: str, *, status: str = "completed", error: str | None = None):
        job = self.jobs[job_id]
        job.status = status
        job.error = error
        job.completed_at = datetime.now(UTC).isoformat()
        for item in job.items:
            self.calculated_at[item] = job.completed_at
            if job.kind == "maintenance":
                eq = self.ingested["maintenance"][item]["equipment_id"]
                self.calculated_at[eq] = job.completed_at
        return job

    def requests(self, method: str | None = None, path: str | None = None) -> list[Seen]:
        return [
            s
            for s in self.seen
            if (method is None or s.method == method) and (path is None or re.search(path, s.path))
        ]

    def callback(
        self,
        job_id: str,
        *,
        event_type: str = "calculation_complete",
        event_id: str | None = None,
        secret: str = WEBHOOK_SECRET,
        t: int | None = None,
    ) -> tuple[bytes, str]:
        """A signed callback body and its X-VoltMetrics-Signature header."""
        job = self.jobs.get(job_id)
        body = json.dumps(
            {
                "event_id": event_id or f"evt_{job_id}_{event_type}",
                "event_type": event_type,
                "timestamp": datetime.now(UTC).isoformat(),
                "job_id": job_id,
                "job_type": job.kind if job else "equipment",
                "items_processed": len(job.items) if job else 0,
                "status": "completed" if event_type == "calculation_complete" else "failed",
                "results_url": f"{self.url}/api/v1/jobs/{job_id}",
            }
        ).encode()
        return body, sign(secret, body, t)

    # --- the API ----------------------------------------------------------------------------

    def _handle(self, request: Request) -> Response:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return self._handle_one(request)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _handle_one(self, request: Request) -> Response:
        path = request.path[len("/api/v1") :]
        try:
            body = json.loads(request.get_data()) if request.get_data() else None
        except ValueError:
            body = None
        seen = Seen(
            request.method, path, body, request.headers.get("X-API-Key", ""), time.monotonic()
        )
        with self._lock:
            self.seen.append(seen)
            faults = list(self.faults)
        if request.headers.get("X-API-Key") != self.api_key:
            return _error(401, "UNAUTHORIZED", "missing or wrong API key")
        for fault in faults:
            if not fault.pattern.search(f"{request.method} {path}"):
                continue
            with self._lock:
                if fault.times is not None and fault.used >= fault.times:
                    continue
                fault.used += 1
            answer = fault.response(request)
            if answer is not None:
                return answer
        response = self._answer(request, path, body)
        if self.garble_every:
            with self._lock:
                n = next(self._calls)
                if n % self.garble_every:
                    return response
                self.garbled.append(seen)
            return _garble(response, cut=(n // self.garble_every) % 2 == 1)
        return response

    def _answer(self, request: Request, path: str, body) -> Response:
        if request.method == "POST" and path.startswith("/ingest/"):
            return self._ingest(path.rsplit("/", 1)[-1], body)
        if request.method != "GET":
            return _error(405, "METHOD_NOT_ALLOWED", "method not allowed")
        if m := re.fullmatch(r"/jobs/([^/]+)", path):
            return self._job(m.group(1))
        if m := re.fullmatch(r"/results/(equipment|facility)/([^/]+)", path):
            return self._result(m.group(1), m.group(2))
        if path == "/algorithms":
            return _json(
                {
                    "current_version": ALGORITHM,
                    "available_versions": [
                        {"version": ALGORITHM, "released_date": "2025-01-01", "description": "x"}
                    ],
                }
            )
        return _error(404, "NOT_FOUND", f"no route {path}")

    def _ingest(self, kind: str, body) -> Response:
        key = {
            "equipment": "equipment",
            "facility": "facility",
            "maintenance": "maintenance_records",
        }
        if kind not in key or not isinstance(body, dict) or key[kind] not in body:
            return _error(400, "VALIDATION_ERROR", "bad ingest body")
        if not isinstance(body.get("calculation_settings"), dict):
            return _error(400, "VALIDATION_ERROR", "calculation_settings missing")
        items = body[key[kind]]
        items = [items] if kind == "facility" else items
        job_id = f"job_{next(self._ids)}"
        with self._lock:
            for item in items:
                self.ingested[kind][item["id"]] = item
            self.jobs[job_id] = FakeJob(job_id, kind, [i["id"] for i in items])
        if self.auto_complete:
            self.finish(job_id)
        answer = {
            "job_id": job_id,
            "status": "processing",
            "estimated_completion_time": datetime.now(UTC).isoformat(),
        }
        if kind == "equipment":
            answer["equipment_count"] = len(items)
        if kind == "maintenance":
            answer["record_count"] = len(items)
        return _json(answer, 202)

    def _job(self, job_id: str) -> Response:
        job = self.jobs.get(job_id)
        if job is None:
            return _error(404, "NOT_FOUND", "no such job")
        answer = {
            "job_id": job.job_id,
            "status": job.status,
            "started_at": datetime.now(UTC).isoformat(),
            "completed_at": job.completed_at,
            "calculation_type": job.kind,
            "items_processed": len(job.items) if job.status == "completed" else 0,
            "algorithm_version": ALGORITHM,
            "results_available": job.status == "completed",
        }
        if job.error:
            answer["error"] = job.error
        return _json(answer)

    def _result(self, kind: str, ext: str) -> Response:
        if ext in self.bodies:
            raw = self.bodies[ext]
            return Response(raw if isinstance(raw, str) else json.dumps(raw), status=200,
                            content_type="application/json")  # fmt: skip
        known = self.ingested["equipment" if kind == "equipment" else "facility"]
        if ext not in known and not (kind == "equipment" and ext in self.calculated_at):
            return _error(404, "NOT_FOUND", f"no result for {ext}")
        score = self.scores.get(ext, 42)
        ts = self.calculated_at.get(ext) or datetime.now(UTC).isoformat()
        if kind == "equipment":
            return _json(equipment_result(ext, score, ts))
        return _json(facility_result(ext, score, ts))


def _garble(response: Response, *, cut: bool) -> Response:
    """The same answer, garbled: cut in half (not valid JSON) or with only its first field."""
    data = response.get_data()
    try:
        parsed = None if cut else json.loads(data)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and parsed:
        data = json.dumps(dict([next(iter(parsed.items()))])).encode()
    else:
        data = data[: len(data) // 2]
    return Response(data, status=response.status_code, content_type="application/json")


def equipment_result(ext: str, score: int, ts: str, **over) -> dict:
    body = {
        "equipment_id": ext,
        "calculation_timestamp": ts,
        "algorithm_version": ALGORITHM,
        "risk_assessment": {
            "risk_score": score,
            "risk_rating": _rating(score) if isinstance(score, int) else "Low",
            "risk_factors": [
                {"factor": "age", "score": 80, "description": "old", "weight": 0.35},
                {"factor": "condition", "score": 20, "description": "fine", "weight": 0.15},
            ],
        },
        "compliance": {"nfpa_70b": {"status": "up_to_date", "compliance_percentage": 100}},
    }
    body.update(over)
    return body


def facility_result(ext: str, score: int, ts: str) -> dict:
    return {
        "facility_id": ext,
        "calculation_timestamp": ts,
        "algorithm_version": ALGORITHM,
        "risk_summary": {"risk_score": score, "risk_level": _rating(score), "total_equipment": 3},
        "compliance_summary": {
            "overall_compliance": 88,
            "nfpa_70b_compliance": 90,
            "nfpa_70e_compliance": 85,
        },
    }


@contextlib.contextmanager
def fake_voltmetrics(**kwargs) -> Iterator[FakeVoltMetrics]:
    """A fresh threaded server per use (a slow handler must not block a retry)."""
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    try:
        yield FakeVoltMetrics(server, **kwargs)
    finally:
        server.clear()
        server.stop()


# --- canned faults --------------------------------------------------------------------------


def status(code: int, headers: dict | None = None):
    return lambda request: _error(code, f"HTTP_{code}", f"injected {code}", headers)


def raw(text: str, code: int = 200):
    return lambda request: Response(text, status=code, content_type="application/json")


def answer(body: dict, code: int = 200):
    return lambda request: _json(body, code)


def slow(seconds: float):
    """Sleep, then let the normal answer through (a client with a shorter timeout gives up)."""

    def handler(request: Request) -> None:
        threading.Event().wait(seconds)
        return None

    return handler
