"""API benchmark: the ThreatMap read endpoints under 8 concurrent clients vs a floor.

On the recompute section's portfolio (500×200, recomputed) plus one 500-equipment facility
(a 1×500 demo export, imported and recomputed untimed), gunicorn serves the project
(``gunicorn masterbus.wsgi -w 2``, DEBUG=0, Redis cache in db 14, flushed first) with
``DJANGO_SETTINGS_MODULE=benchmarks.floor_app.settings`` and ``BENCH_FLOOR=1``: the project's
URLconf plus ``/api/v1/bench-floor/<size>``, a DRF view behind the same middleware, the same
X-API-Key authentication, permission and throttle, answering a constant JSON body of
``size`` bytes. The floor of an endpoint is that view at the endpoint's response size.

- **cold**: the first request of an endpoint after FLUSHDB of the cache (the payload is built
  from PostgreSQL), 3 trials, workers already warm (process start-up is not measured);
- **warm**: ``wrk -t2 -c8`` (8 keep-alive connections, gunicorn's sync workers close each
  one after the response, as in production) for ``duration`` seconds per endpoint, then for its
  floor right after, in three rounds; the round with the median share of its floor is kept;
- **queries**: a child with the Django test client and ``CaptureQueriesContext`` counts the
  SQL queries of each endpoint, built (cache empty) and cached, for a 200-equipment vs the
  500-equipment facility (facility list: page 20 of 20 vs page 1 of 100).

Targets: throughput ≥ 40% of the floor, p99 ≤ 150 ms at 8 clients, constant query counts.

Also the child program: ``python api_bench.py queries KEY SMALL LARGE``.
"""

from __future__ import annotations

import http.client
import json
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from common import (  # noqa: E402
    DATA_DIR,
    RESULTS_DIR,
    ROOT,
    Size,
    checks_table,
    connect,
    demo_file,
    log,
    manage,
    mark,
    md_table,
    print_checks,
    results_head,
    run_child,
    text_table,
)
from recompute_bench import (  # noqa: E402
    BENCH_REDIS_URL,
    bench_env,
    child_result,
    ensure_portfolio,
    ensure_recomputed,
    flush_redis,
    mark_outbox_done,
)

TARGET_FLOOR_SHARE = 0.40
TARGET_P99_MS = 150.0
CLIENTS = 8
COLD_TRIALS = 3
ROUNDS = 3
LARGE = Size(1, 500)
LARGE_SEED = 7  # its one facility is active with 500 active equipment (checked)

# (name, path template); {fid} = the facility benchmarked (the 500-equipment one).
ENDPOINTS = [
    ("facility list (page 20, limit 20)", "/api/v1/facilities?page=20&limit=20"),
    ("facility detail", "/api/v1/facilities/{fid}"),
    ("equipment list (limit 50)", "/api/v1/facilities/{fid}/equipment?limit=50"),
    ("compliance", "/api/v1/facilities/{fid}/compliance"),
    ("risks", "/api/v1/facilities/{fid}/risks"),
    ("portfolio summary", "/api/v1/portfolio/summary"),
]
# Query-count variants: (label a, path a, label b, path b).
QUERY_VARIANTS = {
    "facility list (page 20, limit 20)": ("page 20 ×20", "/api/v1/facilities?page=20&limit=20",
                                          "page 1 ×100", "/api/v1/facilities?page=1&limit=100"),
    "portfolio summary": ("—", "/api/v1/portfolio/summary", "—", None),
}  # fmt: skip


# --- the server -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, url: str):
        self.port = free_port()
        env = bench_env(
            url,
            DJANGO_SETTINGS_MODULE="benchmarks.floor_app.settings",
            BENCH_FLOOR="1",
            ALLOWED_HOSTS="127.0.0.1",
        )
        gunicorn = Path(sys.executable).with_name("gunicorn")
        self.log_path = DATA_DIR / ".gunicorn.log"
        self.log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [str(gunicorn), "masterbus.wsgi", "-w", "2", "-b", f"127.0.0.1:{self.port}",
             "--chdir", str(ROOT), "--timeout", "60"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.log_path.read_text()[-3000:]}")
            try:
                status, _, _ = self.get("/health")
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("gunicorn did not answer /health within 60 s")
            time.sleep(0.3)

    def get(self, path: str, headers: dict | None = None) -> tuple[int, bytes, float]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            t0 = time.perf_counter()
            conn.request("GET", path, headers=headers or {})
            resp = conn.getresponse()
            body = resp.read()
            return resp.status, body, time.perf_counter() - t0
        finally:
            conn.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


# --- wrk -----------------------------------------------------------------------------------

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not m:
        raise ValueError(f"cannot parse wrk latency {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


@dataclass
class Load:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    non2xx: int
    socket_errors: str


def wrk(port: int, path: str, key: str, seconds: float) -> Load:
    cmd = ["wrk", "-t2", f"-c{CLIENTS}", f"-d{max(1, round(seconds))}s", "--latency",
           "--timeout", "5s", "-H", f"X-API-Key: {key}", f"http://127.0.0.1:{port}{path}"]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60).stdout
    try:
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
        p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
        requests = int(re.search(r"(\d+) requests in", out).group(1))
    except AttributeError:
        raise RuntimeError(f"cannot parse wrk output:\n{out}") from None
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return Load(rps, p50, p99, requests, int(non2xx.group(1)) if non2xx else 0,
                errors.group(1).strip() if errors else "")  # fmt: skip


# --- the section ----------------------------------------------------------------------------


@dataclass
class EndpointResult:
    name: str
    path: str
    size: int = 0
    cold_ms: list[float] = field(default_factory=list)
    warm: Load | None = None
    floor: Load | None = None
    queries: dict = field(default_factory=dict)
    rounds: list = field(default_factory=list)  # (endpoint Load, floor Load) per round

    @property
    def share(self) -> float:
        return self.warm.rps / self.floor.rps

    @property
    def queries_constant(self) -> bool:
        q = self.queries
        if q.get("b") is None:
            return True
        return q["a"]["built"] == q["b"]["built"] and q["a"]["cached"] == q["b"]["cached"]



def prepare_large(url: str, pf, today, *, as_of: str) -> dict:
    """Import the 1×500 facility (untimed), recompute it and the portfolio."""
    if "large" in pf.extra:
        return pf.extra["large"]
    import import_bench

    path = demo_file(LARGE, seed=LARGE_SEED, as_of=as_of, url=url)
    res, counts = import_bench.run_import(url, path)
    with path.open("rb") as fh:
        fac = json.load(fh)["facilities"][0]
    ext = fac["id"]
    manage("recompute_risk", "--no-progress", "--facility", ext, "--as-of", today.isoformat(),
           env=bench_env(url))  # fmt: skip
    mark_outbox_done(url)
    with connect(url) as conn:
        n = conn.execute(
            "SELECT fa.equipment_count FROM voltmetrics_facilityassessment fa "
            "JOIN facilities_facility f ON f.id = fa.facility_id "
            "WHERE f.external_id = %s AND fa.source = 'local'", [ext]
        ).fetchone()  # fmt: skip
    if fac.get("deletedAt") or not n or n[0] < 450:
        raise RuntimeError(f"the 1×500 facility {ext} is not a 500-equipment facility: {n}")
    pf.extra["large"] = {"id": ext, "equipment": n[0], "import": counts}
    log(f"large facility {ext}: {n[0]} counted equipment ({counts})")
    return pf.extra["large"]


def pick_small(url: str) -> dict:
    with connect(url) as conn:
        ext, n = conn.execute(
            "SELECT f.external_id, fa.equipment_count FROM voltmetrics_facilityassessment fa "
            "JOIN facilities_facility f ON f.id = fa.facility_id "
            "WHERE fa.source = 'local' AND f.deleted_at IS NULL AND fa.equipment_count <= 200 "
            "ORDER BY fa.equipment_count DESC, f.id LIMIT 1"
        ).fetchone()  # fmt: skip
    return {"id": ext, "equipment": n}


def make_key() -> str:
    from masterbus.services import api_key_create

    _, raw = api_key_create(name=f"benchmark {datetime.now(UTC):%Y-%m-%d %H:%M}",
                            scopes=["threatmap:read"], rate_limit=1_000_000_000)  # fmt: skip
    return raw


def run(url: str, *, size: Size, seed: int, as_of: str, duration: float = 8.0) -> bool:
    import django

    django.setup()
    pf = ensure_portfolio(url, size, seed=seed, as_of=as_of)
    today = datetime.now(UTC).date()
    ensure_recomputed(url, pf, today)
    large = prepare_large(url, pf, today, as_of=as_of)
    small = pick_small(url)
    key = make_key()
    results = [EndpointResult(name, tmpl.format(fid=large["id"])) for name, tmpl in ENDPOINTS]

    log(f"query counts (child; {small['equipment']}- vs {large['equipment']}-equipment facility) …")
    res = run_child(
        [sys.executable, str(Path(__file__).resolve()), "queries", key, small["id"], large["id"]],
        env=bench_env(url, REDIS_URL="", ALLOWED_HOSTS="testserver"),
    )
    queries = child_result(res, "queries")
    for r in results:
        r.queries = queries[r.name]

    flush_redis()
    log(f"starting gunicorn (2 workers, cache {BENCH_REDIS_URL}) …")
    server = Server(url)
    try:
        hdr = {"X-API-Key": key}
        for _ in range(20):  # both workers: imports, URL resolver, DB connection
            status, _, _ = server.get("/api/v1/bench-floor/100", hdr)
            if status != 200:
                raise RuntimeError(f"floor answered {status}")
        log("cold requests (FLUSHDB before each) …")
        for r in results:
            for _ in range(COLD_TRIALS):
                flush_redis()
                status, body, dt = server.get(r.path, hdr)
                if status != 200:
                    raise RuntimeError(f"{r.path} answered {status}: {body[:300]!r}")
                r.cold_ms.append(dt * 1000)
            r.size = len(body)
        flush_redis()
        for r in results:  # warm the cache
            server.get(r.path, hdr)
        log(f"warm load: wrk, {CLIENTS} connections, {duration:g} s per run, {ROUNDS} rounds …")
        for rnd in range(ROUNDS):
            for r in results:
                if rnd == 0:
                    wrk(server.port, r.path, key, 1)  # warm-up
                    wrk(server.port, f"/api/v1/bench-floor/{r.size}", key, 1)
                w = wrk(server.port, r.path, key, duration)
                f = wrk(server.port, f"/api/v1/bench-floor/{r.size}", key, duration)
                log(f"  {r.name}: {w.rps:.0f} req/s (p99 {w.p99_ms:.1f} ms) vs floor "
                    f"{f.rps:.0f} req/s (p99 {f.p99_ms:.1f} ms): {w.rps / f.rps:.0%}")  # fmt: skip
                r.rounds.append((w, f))
        for r in results:
            # Each round pairs an endpoint with its floor measured right after it; the
            # median round by share is kept (the machine is shared: drift between rounds).
            r.warm, r.floor = sorted(r.rounds, key=lambda p: p[0].rps / p[1].rps)[len(r.rounds) // 2]
    finally:
        server.stop()

    text = report(results, url, small=small, large=large, seed=seed, as_of=as_of,
                  duration=duration, port=server.port)  # fmt: skip
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "api.md").write_text(text)
    log(f"wrote {(RESULTS_DIR / 'api.md').relative_to(ROOT)}")
    return all(ok for _, ok, _ in verdicts(results))


# --- reporting ------------------------------------------------------------------------------


def verdicts(results: list[EndpointResult]) -> list[tuple[str, bool, str]]:
    out = []
    for r in results:
        out.append((f"{r.name}: throughput ≥ {TARGET_FLOOR_SHARE:.0%} of floor",
                    r.share >= TARGET_FLOOR_SHARE, f"{r.share:.0%}"))  # fmt: skip
        out.append((f"{r.name}: p99 ≤ {TARGET_P99_MS:g} ms at {CLIENTS} clients",
                    r.warm.p99_ms <= TARGET_P99_MS, f"{r.warm.p99_ms:.1f} ms"))  # fmt: skip
        out.append((f"{r.name}: constant query count", r.queries_constant,
                    _query_text(r)))  # fmt: skip
        if r.warm.non2xx or r.floor.non2xx:
            out.append((f"{r.name}: every response 2xx", False,
                        f"{r.warm.non2xx} / floor {r.floor.non2xx} non-2xx"))  # fmt: skip
    return out


def _query_text(r: EndpointResult) -> str:
    q = r.queries
    a = f"{q['a']['built']}/{q['a']['cached']}"
    if q.get("b") is None:
        return a
    return f"{a} vs {q['b']['built']}/{q['b']['cached']}"


HEADERS = ["endpoint", "bytes", "cold ms (1st, median of 3)", "warm req/s", "p50 ms",
           "p99 ms", "floor req/s", "floor p99 ms", "share of floor", "queries built/cached"]  # fmt: skip


def rows(results: list[EndpointResult]) -> list[list[str]]:
    out = []
    for r in results:
        out.append([
            r.name, f"{r.size:,}",
            f"{r.cold_ms[0]:.0f}, {statistics.median(r.cold_ms):.0f}",
            f"{r.warm.rps:,.0f}", f"{r.warm.p50_ms:.1f}",
            f"{r.warm.p99_ms:.1f} {mark(r.warm.p99_ms <= TARGET_P99_MS)}",
            f"{r.floor.rps:,.0f}", f"{r.floor.p99_ms:.1f}",
            f"{r.share:.0%} {mark(r.share >= TARGET_FLOOR_SHARE)}",
            f"{_query_text(r)} {mark(r.queries_constant)}",
        ])  # fmt: skip
    return out


def query_rows(results: list[EndpointResult]) -> tuple[list[str], list[list[str]]]:
    headers = ["endpoint", "variant", "status", "queries (cache empty)", "queries (cached)"]
    out = []
    for r in results:
        for side in ("a", "b"):
            q = r.queries.get(side)
            if q is None:
                continue
            out.append([r.name, q["label"], str(q["status"]), str(q["built"]), str(q["cached"])])
    return headers, out


def report(results, url, *, small, large, seed, as_of, duration, port) -> str:
    checks = verdicts(results)
    print()
    print(f"API benchmark (gunicorn -w 2, {CLIENTS} concurrent clients, wrk; facility "
          f"{large['id']} with {large['equipment']} equipment)")  # fmt: skip
    print(text_table(HEADERS, rows(results)))
    print()
    print_checks(checks)
    print()
    print(text_table(*query_rows(results)))
    lines = [
        *results_head(
            "api",
            "API",
            url,
            unit="figures",
            shared="; the server, PostgreSQL, Redis and the load generator share the machine",
        ),
        f"- data: the recompute portfolio (`generate_demo_portfolio --seed {seed} --as-of "
        f"{as_of}`) plus one 1×500 facility (seed {LARGE_SEED}), recomputed; facility "
        f"endpoints use `{large['id']}` ({large['equipment']} equipment); query counts compare "
        f"it with `{small['id']}` ({small['equipment']} equipment)",
        "- server: `gunicorn masterbus.wsgi -w 2` (sync workers) on 127.0.0.1, DEBUG=0, "
        "Redis cache (flushed first), `benchmarks.floor_app.settings` with BENCH_FLOOR=1",
        f"- warm: `wrk -t2 -c{CLIENTS} -d{duration:g}s --latency`, header X-API-Key; each "
        f"endpoint then its floor, {ROUNDS} interleaved rounds, the round with the median "
        f"share of its floor kept (all rounds below); cold: "
        f"the first request after FLUSHDB of the cache, {COLD_TRIALS} trials",
        "- floor: `GET /api/v1/bench-floor/<bytes>`, a DRF view behind the same middleware, "
        "authentication, permission and throttle, answering a constant body of the endpoint's "
        "size",
        "",
        md_table(HEADERS, rows(results)),
        "",
        *checks_table(checks),
        "",
        "## SQL queries per request",
        "",
        "Counted with `CaptureQueriesContext` around the Django test client in a child process "
        "(local-memory cache, emptied before each variant): the first request builds the "
        "payload, the second is served from the cache. Authentication and the throttle's "
        "queries are included.",
        "",
        md_table(*query_rows(results)),
        "",
        "## Every round",
        "",
        md_table(["endpoint", *[f"round {i + 1}: req/s, p99 ms vs floor" for i in range(ROUNDS)]],
                 [[r.name, *[f"{w.rps:,.0f}, {w.p99_ms:.1f} vs {f.rps:,.0f}, {f.p99_ms:.1f} "
                             f"({w.rps / f.rps:.0%})" for w, f in r.rounds]]
                  for r in results]),  # fmt: skip
        "",
        "## wrk details",
        "",
        md_table(["endpoint", "requests", "non-2xx", "socket errors", "floor requests",
                  "floor socket errors"],
                 [[r.name, f"{r.warm.requests:,}", str(r.warm.non2xx), r.warm.socket_errors or
                   "none", f"{r.floor.requests:,}", r.floor.socket_errors or "none"]
                  for r in results]),  # fmt: skip
        "",
    ]
    return "\n".join(lines)


# --- child: query counts --------------------------------------------------------------------


def child_queries(key: str, small: str, large: str) -> None:
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.get("/api/v1/portfolio/summary", HTTP_X_API_KEY=key)  # first-request set-up

    def count(path: str) -> dict:
        cache.clear()
        with CaptureQueriesContext(connection) as built:
            r1 = client.get(path, HTTP_X_API_KEY=key)
        with CaptureQueriesContext(connection) as cached:
            r2 = client.get(path, HTTP_X_API_KEY=key)
        if r1.status_code != 200 or r2.status_code != 200:
            raise RuntimeError(f"{path}: {r1.status_code} {r2.status_code} {r1.content[:300]!r}")
        return {"status": r1.status_code, "built": len(built), "cached": len(cached),
                "sql": [q["sql"][:200] for q in built.captured_queries]}  # fmt: skip

    out = {}
    for name, tmpl in ENDPOINTS:
        if name in QUERY_VARIANTS:
            la, pa, lb, pb = QUERY_VARIANTS[name]
            out[name] = {"a": {"label": la, **count(pa)},
                         "b": None if pb is None else {"label": lb, **count(pb)}}  # fmt: skip
        else:
            out[name] = {
                "a": {"label": f"{small} (small)", **count(tmpl.format(fid=small))},
                "b": {"label": f"{large} (large)", **count(tmpl.format(fid=large))},
            }
    print("BENCH-RESULT " + json.dumps(out), flush=True)


if __name__ == "__main__":
    mode, *rest = sys.argv[1:]
    {"queries": child_queries}[mode](*rest)
    sys.exit(0)
