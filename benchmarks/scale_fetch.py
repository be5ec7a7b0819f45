"""Scale benchmark, part "fetch": a 500-item job's results fetched one at a time vs
concurrently, against the VoltMetrics stand-in answering every request after ``SLOW_MS``.

The driver starts ``deploy/smoke/voltmetrics_standin.py --slow-ms 20`` on loopback and a child
process (Django settings, DEBUG=0, the Redis cache of the other sections: the circuit
breaker's state is read and written there on every call, as in production) that pushes one
equipment job of ``ITEMS`` items through MasterBus's client (``VoltMetricsClient``; untimed),
asks its status, then times ``voltmetrics.integration.fetch.fetch_results`` over its items —
the code a job's completion runs — with a concurrency of 1 (one after another) and of
``VOLTMETRICS_FETCH_CONCURRENCY`` (default 8), ``TRIALS`` times each, in turn; the median
trial of each is reported. The stand-in counts the result GETs (each result must be asked
once), the most requests it answered at once and the connections opened (one keep-alive
session: at most as many as threads).

Target: concurrent results/s ≥ 5× sequential. Also checked: every result asked exactly once
in every trial, at most the concurrency in flight, and the same answers both ways.

Also the child program: ``python scale_fetch.py child ITEMS CONCURRENCY TRIALS``.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

BENCH = Path(__file__).resolve().parent
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from common import DATA_DIR, ROOT, Part, log, ratio, run_child, text_table  # noqa: E402

STANDIN = ROOT / "deploy" / "smoke" / "voltmetrics_standin.py"
API_KEY = "benchmark-voltmetrics-key"
ITEMS = 500
SLOW_MS = 20
CONCURRENCY = 8  # VOLTMETRICS_FETCH_CONCURRENCY's default
TRIALS = 3
TARGET_RATIO = 5.0


def run(url: str, *, env: dict[str, str], items: int = ITEMS, slow_ms: float = SLOW_MS,
        concurrency: int = CONCURRENCY, trials: int = TRIALS) -> Part:  # fmt: skip
    """Measure with a stand-in of our own; ``env`` is the child's environment."""
    with standin(slow_ms) as vm_url:
        log(f"fetch: {items} results, {slow_ms:g} ms each, concurrency 1 vs {concurrency}, "
            f"{trials} trials each …")  # fmt: skip
        res = run_child(
            [sys.executable, str(Path(__file__).resolve()), "child", str(items), str(concurrency),
             str(trials)],
            env={**env, "VOLTMETRICS_URL": vm_url, "VOLTMETRICS_API_KEY": API_KEY,
                 "VOLTMETRICS_FETCH_CONCURRENCY": str(concurrency)},
        )  # fmt: skip
    got = child_output(res)
    return report(got, items=items, slow_ms=slow_ms, concurrency=concurrency, trials=trials)


def child_output(res) -> dict:
    for line in res.stdout.splitlines():
        if line.startswith("BENCH-RESULT "):
            return json.loads(line[len("BENCH-RESULT ") :])
    sys.stderr.write(res.stdout[-5000:] + res.stderr[-5000:])
    raise RuntimeError(f"fetch child failed (exit {res.returncode})")


class standin:  # noqa: N801 (a context manager used like a function)
    """The VoltMetrics stand-in on a free loopback port, stopped with SIGTERM afterwards."""

    def __init__(self, slow_ms: float):
        self.slow_ms = slow_ms

    def __enter__(self) -> str:
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        port_file = DATA_DIR / ".voltmetrics-standin.port"
        port_file.unlink(missing_ok=True)
        self.process = subprocess.Popen(
            [sys.executable, str(STANDIN), "--api-key", API_KEY, "--port-file", str(port_file),
             "--slow-ms", f"{self.slow_ms:g}"],
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        until = time.monotonic() + 30
        while not port_file.exists():
            if self.process.poll() is not None or time.monotonic() > until:
                self.__exit__()
                raise RuntimeError("the VoltMetrics stand-in did not start")
            time.sleep(0.05)
        return f"http://127.0.0.1:{port_file.read_text().strip()}"

    def __exit__(self, *exc) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process.stderr.close()


def report(got: dict, *, items: int, slow_ms: float, concurrency: int, trials: int) -> Part:
    modes = {"sequential": got["sequential"], "concurrent": got["concurrent"]}
    med = {mode: median_trial(runs) for mode, runs in modes.items()}
    headers = ["fetch", "concurrency", "wall s", "GETs", "results/s", "max in flight",
               "connections", "vs sequential"]  # fmt: skip
    rows = []
    for mode, t in med.items():
        rows.append([
            mode, str(t["concurrency"]), f"{t['seconds']:.2f}", str(t["gets"]),
            f"{t['results'] / t['seconds']:.0f}", str(t["max_in_flight"]), str(t["connections"]),
            ratio(med["sequential"]["seconds"] / t["seconds"]),
        ])  # fmt: skip
    speedup = med["sequential"]["seconds"] / med["concurrent"]["seconds"]
    every = [t for runs in modes.values() for t in runs]
    checks = [
        (f"concurrent ÷ sequential results/s ≥ {TARGET_RATIO:g}×", speedup >= TARGET_RATIO,
         ratio(speedup)),
        ("each result asked exactly once, every trial",
         all(t["gets"] == items and t["repeated"] == 0 and t["results"] == items for t in every),
         f"{min(t['gets'] for t in every)}–{max(t['gets'] for t in every)} GETs per trial"),
        (f"at most {concurrency} in flight",
         all(t["max_in_flight"] <= t["concurrency"] for t in every),
         str(max(t["max_in_flight"] for t in modes["concurrent"]))),
        (f"at most {concurrency} connections (one keep-alive session)",
         all(t["connections"] <= t["concurrency"] for t in every),
         str(max(t["connections"] for t in modes["concurrent"]))),
        ("the same results both ways", bool(got["same_answers"]), "yes" if got["same_answers"]
         else "no"),
    ]  # fmt: skip
    lines = [
        f"A {items}-item equipment job pushed to the VoltMetrics stand-in "
        f"(`deploy/smoke/voltmetrics_standin.py --slow-ms {slow_ms:g}`: every answer after "
        f"{slow_ms:g} ms), its status asked, then its results fetched by "
        "`voltmetrics.integration.fetch.fetch_results` (what a job's completion runs) one at a "
        f"time and {concurrency} at a time; the median of {trials} trials each. GETs, the most "
        "requests in flight and the connections opened are counted by the stand-in.",
    ]
    print(text_table(headers, rows))
    return Part("Fetching a job's results (`fetch`)", lines, headers, rows, checks)


def median_trial(runs: list[dict]) -> dict:
    return sorted(runs, key=lambda t: t["seconds"])[len(runs) // 2]


# --- the child ----------------------------------------------------------------------------------


def _stand_in(url: str, action: str) -> dict:
    request = urllib.request.Request(
        f"{url}/_standin/{action}", method="POST" if action == "reset" else "GET"
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def child(items: int, concurrency: int, trials: int) -> None:
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings

    from voltmetrics.integration.client import CircuitBreaker, VoltMetricsClient
    from voltmetrics.integration.fetch import EQUIPMENT, fetch_results

    url = settings.VOLTMETRICS_URL
    CircuitBreaker().reset()
    calc = {"algorithm_version": "standin-1.0.0", "recalculate_all": False}
    ids = [f"eq_scale_{n:05d}" for n in range(items)]
    out: dict = {"sequential": [], "concurrent": []}
    answers = {}
    for _ in range(trials):
        for mode, width in (("sequential", 1), ("concurrent", concurrency)):
            # A new client per trial, as a job's completion makes one: no warm connections.
            with VoltMetricsClient() as client:
                job = client.ingest_equipment([{"id": e, "type": "panel"} for e in ids], calc)
                status = client.get_job(job.job_id)
                assert status.status == "completed", status
                _stand_in(url, "reset")
                started = time.perf_counter()
                fetched = fetch_results(client, [(EQUIPMENT, e) for e in ids], concurrency=width)
                seconds = time.perf_counter() - started
            if fetched.errors or fetched.unasked:
                raise RuntimeError(
                    f"{mode}: {len(fetched.errors)} errors, {len(fetched.unasked)} not asked: "
                    f"{fetched.interrupted}"
                )
            seen = _stand_in(url, "stats")
            answers.setdefault(mode, fetched.answers)
            out[mode].append({
                "concurrency": width, "seconds": seconds, "results": len(fetched.answers),
                "gets": seen["result_gets"], "repeated": seen["repeated_results"],
                "max_in_flight": seen["max_in_flight"], "connections": seen["connections"],
            })  # fmt: skip
    out["same_answers"] = answers["sequential"] == answers["concurrent"]
    print("BENCH-RESULT " + json.dumps(out), flush=True)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "child":
        child(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
        sys.exit(0)
    raise SystemExit("usage: python scale_fetch.py child ITEMS CONCURRENCY TRIALS")
