"""Metrics benchmark: ``GET /metrics`` on the 500×200 portfolio.

On the recompute section's portfolio (500×200, imported untimed; 100,000 equipment and
~400,000 change-outbox rows), a child process (DEBUG=0, Redis cache in db 14) asks
``/metrics`` through the Django test client (every middleware, the bearer token), in two
states of the change outbox — every imported row still pending (the worst case: the pending
aggregates scan the partial indexes) and every row handled — each:

- **uncached**: the application gauges' cache entry deleted before each request
  (``COLD_TRIALS`` requests): what a scrape costs once per ``METRICS_CACHE_SECONDS``;
- **cached**: ``WARM_TRIALS`` requests in a row (a scrape within the period).

It reports the median and worst time and the SQL query count of each. Targets: ≤ 10 queries
in both states, and ≤ 50 ms cached or not in the steady state (the outbox drained, as it is
a minute after any change). Right after a bulk import the pending aggregates read every
pending row (~400,000): that time is reported, without a target.

Also the child program: ``python metrics_bench.py child``.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

from common import (
    RESULTS_DIR,
    ROOT,
    Size,
    checks_table,
    log,
    md_table,
    print_checks,
    results_head,
    run_child,
    text_table,
)
from recompute_bench import (
    bench_env,
    child_result,
    ensure_portfolio,
    flush_redis,
    mark_outbox_done,
    settle,
)

COLD_TRIALS = 15
WARM_TRIALS = 50
TARGET_MS = 50.0
TARGET_QUERIES = 10
TOKEN = "benchmark-metrics-token-" + "x" * 24


def run(url: str, *, size: Size, seed: int, as_of: str) -> bool:
    pf = ensure_portfolio(url, size, seed=seed, as_of=as_of)
    env = bench_env(url, METRICS_TOKEN=TOKEN, ALLOWED_HOSTS="testserver")
    states = {}
    for state in ("outbox pending", "outbox handled"):
        if state == "outbox handled":
            log(f"marked {mark_outbox_done(url):,} outbox rows handled")
        # Fresh statistics and no dead rows, as autovacuum leaves them between scrapes (the
        # server here may run without it: the report says).
        settle(url)
        flush_redis()
        log(f"/metrics, {state}: {COLD_TRIALS} uncached, {WARM_TRIALS} cached requests …")
        res = run_child([sys.executable, str(Path(__file__).resolve()), "child"], env=env)
        states[state] = child_result(res, "metrics")
    checks = verdicts(states)
    headers, rows = table(states)
    print(text_table(headers, rows))
    print_checks(checks)
    lines = results_head("metrics", "Metrics", url, unit="times")
    lines += [
        f"- portfolio: {size} ({pf.counts}); `/metrics` through the Django test client in a "
        "child process (every middleware, the bearer token), Redis cache",
        "",
        md_table(headers, rows),
        "",
        *checks_table(checks),
        "",
    ]
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "metrics.md").write_text("\n".join(lines))
    log(f"wrote {(RESULTS_DIR / 'metrics.md').relative_to(ROOT)}")
    return all(ok for _, ok, _ in checks)


def table(states: dict) -> tuple[list[str], list[list[str]]]:
    headers = ["outbox", "scrape", "requests", "median ms", "worst ms", "queries"]
    rows = []
    for state, got in states.items():
        for kind in ("uncached", "cached"):
            r = got[kind]
            rows.append([state, kind, str(len(r["ms"])), f"{statistics.median(r['ms']):.1f}",
                         f"{max(r['ms']):.1f}", str(max(r["queries"]))])  # fmt: skip
    return headers, rows


def verdicts(states: dict) -> list[tuple[str, bool, str]]:
    """Time targets hold in the steady state (the outbox drained, as it is a minute after
    any change); right after a bulk import the pending aggregates read every pending row
    (reported, no time target). The query count holds in both."""
    out = []
    for state, got in states.items():
        for kind in ("uncached", "cached"):
            r = got[kind]
            median = statistics.median(r["ms"])
            if state == "outbox handled":
                out.append((f"{state}, {kind}: median ≤ {TARGET_MS:g} ms", median <= TARGET_MS,
                            f"{median:.1f} ms"))  # fmt: skip
            q = max(r["queries"])
            out.append((f"{state}, {kind}: ≤ {TARGET_QUERIES} queries", q <= TARGET_QUERIES,
                        str(q)))  # fmt: skip
    return out


def child() -> None:
    sys.path.insert(0, str(ROOT))
    import json

    import django

    django.setup()
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from masterbus.metrics.application import CACHE_KEY

    client = Client()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}
    assert client.get("/metrics", **auth).status_code == 200  # first-request set-up

    def measure(trials: int, *, uncached: bool) -> dict:
        ms, queries = [], []
        for _ in range(trials):
            if uncached:
                cache.delete(CACHE_KEY)
            with CaptureQueriesContext(connection) as ctx:
                t0 = time.perf_counter()
                r = client.get("/metrics", **auth)
                ms.append((time.perf_counter() - t0) * 1000)
            if r.status_code != 200:
                raise RuntimeError(f"/metrics answered {r.status_code}")
            queries.append(len(ctx.captured_queries))
        return {"ms": ms, "queries": queries}

    out = {"uncached": measure(COLD_TRIALS, uncached=True)}
    out["cached"] = measure(WARM_TRIALS, uncached=False)
    print("BENCH-RESULT " + json.dumps(out), flush=True)


if __name__ == "__main__":
    if sys.argv[1:] == ["child"]:
        child()
        sys.exit(0)
    raise SystemExit("usage: python metrics_bench.py child")
