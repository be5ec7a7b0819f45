"""A VoltMetrics stand-in: VoltMetrics' API on loopback, for benchmarks and smoke runs.

    python deploy/smoke/voltmetrics_standin.py --api-key KEY --port-file FILE \
        [--port 0] [--slow-ms 0]

Serves what MasterBus's client uses (voltmetrics.md, "The service's API"), under
``/api/v1`` with the ``X-API-Key`` header:

- ``POST /ingest/equipment`` (``{"equipment": [item…]}``), ``/ingest/facility``
  (``{"facility": {…}}``), ``/ingest/maintenance`` (``{"maintenance_records": […]}``), each
  with ``calculation_settings``: 202 and a new job, completed at once;
- ``GET /jobs/{id}``: that job (404 for a job it never made);
- ``GET /results/equipment/{id}`` and ``GET /results/facility/{id}``: a result for any id,
  derived from the id alone (the same id always gets the same score), calculated when the
  stand-in started;
- ``GET /algorithms``.

Errors come as ``{"error": {"code", "message", "details"}}``. ``--slow-ms N`` delays every
API answer by N ms (a service that takes its time). HTTP/1.1 keep-alive: a client may send
many requests over one connection.

``GET /_standin/stats`` (no key) answers counters since the start or the last ``POST
/_standin/reset``: API requests by route, result GETs (and how many distinct results, so
repeats show), the most requests answered at once (``max_in_flight``) and the connections
opened.

Standard library only: no Django, nothing of MasterBus. Binds 127.0.0.1 on ``--port`` (0: any
free port) and writes the port to ``--port-file`` once it listens. SIGTERM (or SIGINT) stops
it cleanly, exit status 0.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import re
import signal
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

ALGORITHM = "standin-1.0.0"
MAX_BODY = 64 * 1024 * 1024
INGEST_KEYS = {
    "equipment": ("equipment", "equipment_count"),
    "facility": ("facility", None),
    "maintenance": ("maintenance_records", "record_count"),
}
RESULT = re.compile(r"/results/(equipment|facility)/([^/]+)")
JOB = re.compile(r"/jobs/([^/]+)")


def _rating(score: int) -> str:
    if score < 40:
        return "Low"
    if score < 70:
        return "Medium"
    if score < 85:
        return "High"
    return "Critical"


def _score(ident: str, salt: str = "") -> int:
    return int(hashlib.sha256(f"{salt}{ident}".encode()).hexdigest()[:8], 16) % 101


def equipment_result(ident: str, at: str) -> dict:
    score = _score(ident)
    return {
        "equipment_id": ident,
        "calculation_timestamp": at,
        "algorithm_version": ALGORITHM,
        "risk_assessment": {
            "risk_score": score,
            "risk_rating": _rating(score),
            "risk_factors": [
                {
                    "factor": "age",
                    "score": _score(ident, "age"),
                    "weight": 0.35,
                    "description": "years in service against the expected life",
                },
                {
                    "factor": "condition",
                    "score": _score(ident, "condition"),
                    "weight": 0.25,
                    "description": "observed corrosion, rust and wear",
                },
            ],
        },
        "compliance": {
            "nfpa_70b": {
                "status": "up_to_date" if score < 70 else "overdue",
                "compliance_percentage": 100 - score // 2,
            },
        },
    }


def facility_result(ident: str, at: str) -> dict:
    score = _score(ident)
    return {
        "facility_id": ident,
        "calculation_timestamp": at,
        "algorithm_version": ALGORITHM,
        "risk_summary": {"risk_score": score, "risk_level": _rating(score), "total_equipment": 0},
        "compliance_summary": {
            "overall_compliance": 100 - score // 2,
            "nfpa_70b_compliance": 100 - score // 3,
            "nfpa_70e_compliance": 100 - score // 4,
        },
    }


class State:
    """The jobs made and the counters, shared by the handler threads."""

    def __init__(self, api_key: str, slow: float):
        self.api_key = api_key
        self.slow = slow
        self.started = datetime.now(UTC).isoformat()
        self.lock = threading.Lock()
        self.jobs: dict[str, dict] = {}
        self.ids = itertools.count(1)
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.routes: Counter = Counter()
            self.results: Counter = Counter()
            self.in_flight = 0
            self.max_in_flight = 0
            self.connections = 0

    def stats(self) -> dict:
        with self.lock:
            return {
                "requests": sum(self.routes.values()),
                "routes": dict(self.routes),
                "result_gets": sum(self.results.values()),
                "distinct_results": len(self.results),
                "repeated_results": sum(n - 1 for n in self.results.values()),
                "max_in_flight": self.max_in_flight,
                "connections": self.connections,
                "jobs": len(self.jobs),
            }


def make_handler(state: State):
    class Handler(BaseHTTPRequestHandler):
        server_version = "VoltMetricsStandIn/1"
        protocol_version = "HTTP/1.1"  # keep-alive: every answer carries Content-Length
        # Headers and body go out in two writes: without TCP_NODELAY the second waits for the
        # client's delayed ACK (~40 ms per request on a kept-alive connection).
        disable_nagle_algorithm = True

        def setup(self):
            super().setup()
            with state.lock:
                state.connections += 1

        def _send(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, code: str, message: str) -> None:
            self._send(status, {"error": {"code": code, "message": message, "details": None}})

        def _body(self):
            try:
                size = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                size = -1
            if not 0 <= size <= MAX_BODY:
                self.close_connection = True
                return None
            raw = self.rfile.read(size) if size else b""
            try:
                return json.loads(raw) if raw else None
            except ValueError:
                return None

        def do_GET(self):  # noqa: N802 (http.server's naming)
            self._api("GET")

        def do_POST(self):  # noqa: N802
            self._api("POST")

        def _api(self, method: str) -> None:
            path = urlsplit(self.path).path
            body = self._body()  # read whatever came, so the connection can be used again
            if path.startswith("/_standin/"):
                return self._control(method, path)
            if not path.startswith("/api/v1/"):
                return self._error(404, "NOT_FOUND", f"no route {path}")
            route = path[len("/api/v1") :]
            with state.lock:
                state.in_flight += 1
                state.max_in_flight = max(state.max_in_flight, state.in_flight)
            try:
                if state.slow:
                    time.sleep(state.slow)
                self._answer(method, route, body)
            finally:
                with state.lock:
                    state.in_flight -= 1

        def _control(self, method: str, path: str) -> None:
            if method == "GET" and path == "/_standin/stats":
                return self._send(200, state.stats())
            if method == "POST" and path == "/_standin/reset":
                state.reset()
                return self._send(200, state.stats())
            return self._error(404, "NOT_FOUND", f"no route {path}")

        def _answer(self, method: str, route: str, body) -> None:
            kind = RESULT.fullmatch(route)
            label = f"/results/{kind.group(1)}/{{id}}" if kind else route
            if JOB.fullmatch(route):
                label = "/jobs/{id}"
            with state.lock:
                state.routes[f"{method} {label}"] += 1
                if method == "GET" and kind:
                    state.results[(kind.group(1), kind.group(2))] += 1
            if self.headers.get("X-API-Key") != state.api_key:
                return self._error(401, "UNAUTHORIZED", "missing or wrong API key")
            if method == "POST" and route.startswith("/ingest/"):
                return self._ingest(route.rsplit("/", 1)[-1], body)
            if method != "GET":
                return self._error(405, "METHOD_NOT_ALLOWED", "method not allowed")
            if kind:
                ident = unquote(kind.group(2))
                make = equipment_result if kind.group(1) == "equipment" else facility_result
                return self._send(200, make(ident, state.started))
            if m := JOB.fullmatch(route):
                job = state.jobs.get(unquote(m.group(1)))
                if job is None:
                    return self._error(404, "NOT_FOUND", "no such job")
                return self._send(200, job)
            if route == "/algorithms":
                return self._send(200, {
                    "current_version": ALGORITHM,
                    "available_versions": [{"version": ALGORITHM, "released_date": "2026-01-01",
                                            "description": "the stand-in's scores"}],
                })  # fmt: skip
            return self._error(404, "NOT_FOUND", f"no route {route}")

        def _ingest(self, kind: str, body) -> None:
            if kind not in INGEST_KEYS:
                return self._error(404, "NOT_FOUND", f"no ingest route for {kind!r}")
            key, count_key = INGEST_KEYS[kind]
            if not isinstance(body, dict) or key not in body:
                return self._error(400, "VALIDATION_ERROR", f"{key} is missing")
            if not isinstance(body.get("calculation_settings"), dict):
                return self._error(400, "VALIDATION_ERROR", "calculation_settings is missing")
            items = [body[key]] if kind == "facility" else body[key]
            if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
                return self._error(400, "VALIDATION_ERROR", f"{key} must hold objects")
            now = datetime.now(UTC).isoformat()
            with state.lock:
                job_id = f"job_{next(state.ids)}"
                state.jobs[job_id] = {
                    "job_id": job_id,
                    "status": "completed",
                    "started_at": now,
                    "completed_at": now,
                    "calculation_type": kind,
                    "items_processed": len(items),
                    "algorithm_version": ALGORITHM,
                    "results_available": True,
                }
            answer = {"job_id": job_id, "status": "processing", "estimated_completion_time": now}
            if count_key:
                answer[count_key] = len(items)
            self._send(202, answer)

        def log_message(self, format, *args):  # noqa: A002 (http.server's signature)
            pass  # thousands of requests a second: no line per request

    return Handler


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--slow-ms", type=float, default=0.0,
                        help="delay every API answer by this many milliseconds")  # fmt: skip
    args = parser.parse_args()
    if args.slow_ms < 0:
        parser.error("--slow-ms must be ≥ 0")

    state = State(args.api_key, args.slow_ms / 1000)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(state))
    server.daemon_threads = True

    def stop(signum, frame):
        # serve_forever() runs in this (the main) thread: shut it down from another one.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    port = server.server_address[1]
    tmp = f"{args.port_file}.part"
    with open(tmp, "w") as fh:
        fh.write(f"{port}\n")
    os.replace(tmp, args.port_file)
    sys.stderr.write(
        f"voltmetrics-standin: serving on http://127.0.0.1:{port} "
        f"(answers delayed {args.slow_ms:g} ms)\n"
    )
    sys.stderr.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    sys.stderr.write("voltmetrics-standin: stopped\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
