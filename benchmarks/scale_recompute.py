"""Scale benchmark, the recompute part: a full recompute split into chunks on one worker
process vs two (each ``--concurrency 1``), on the target portfolio (default 500×200).

Untimed first: the portfolio is imported (shared with the other sections), a single-process
``manage.py recompute_risk`` stores every figure, and the monthly task's snapshots of the
history months are written (the steady state of the nightly run, as in the recompute
section's run #3); then a second single-process recompute is timed as the reference (no
chunks, no broker). Then, for 1, 2, 1, 2 worker processes: the workers are
started (``celery worker -P prefork -c 1`` on a queue of the benchmark's own, broker
``BENCH_BROKER_URL``, default Redis db 15) and left to become ready; a child sends
``recompute_all_task`` and prints the wall clock just before; the driver polls the run's row
until it is finished. *wall s* is the run's ``finished_at`` (the commit of the portfolio) minus
that send time. After each run the stored figures (every assessment, snapshot and the
portfolio, computation times left out) are hashed in PostgreSQL; every run must equal the
single-process reference.

Target: two workers ≥ 1.6× one (best of two runs each).

This module is also the child program: ``python scale_recompute.py send AS_OF``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from common import ROOT, Part, Size, connect, log  # noqa: E402
from recompute_bench import (  # noqa: E402
    bench_env,
    ensure_portfolio,
    full_recompute,
    mark_outbox_done,
    run_self,
    settle,
)

TARGET_SPEEDUP = 1.6
BENCH_BROKER_URL = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/15")
QUEUE_PREFIX = "bench-scale."
CELERY = Path(sys.executable).with_name("celery")

# Every stored figure, computation times and ids left out, in a stable order.
_DIGEST = {
    "equipment": "SELECT md5(string_agg((to_jsonb(t) - 'id' - 'computed_at')::text, ',' "
    "ORDER BY equipment_id, source)) FROM voltmetrics_equipmentassessment t",
    "facilities": "SELECT md5(string_agg((to_jsonb(t) - 'id' - 'computed_at')::text, ',' "
    "ORDER BY facility_id, source)) FROM voltmetrics_facilityassessment t",
    "snapshots": "SELECT md5(string_agg((to_jsonb(t) - 'id' - 'computed_at')::text, ',' "
    "ORDER BY facility_id, month)) FROM voltmetrics_facilitysnapshot t",
    "portfolio": "SELECT md5(string_agg((to_jsonb(t) - 'id' - 'computed_at')::text, ',' "
    "ORDER BY source)) FROM voltmetrics_portfolioassessment t",
    "portfolio_snapshots": "SELECT md5(string_agg((to_jsonb(t) - 'id' - 'computed_at')::text, "
    "',' ORDER BY month)) FROM voltmetrics_portfoliosnapshot t",
}


def figures_digest(url: str) -> dict[str, str]:
    with connect(url) as conn:
        return {name: conn.execute(sql).fetchone()[0] for name, sql in _DIGEST.items()}


def worker_env(url: str) -> dict[str, str]:
    return bench_env(
        url, CELERY_BROKER_URL=BENCH_BROKER_URL, CELERY_QUEUE_PREFIX=QUEUE_PREFIX,
        CONN_MAX_AGE="0",
    )  # fmt: skip


def worker_queues() -> str:
    """The queues the benchmark's workers consume (the recompute tasks' queue)."""
    return ",".join(QUEUE_PREFIX + q for q in ("recompute", "default"))


def purge(url: str) -> None:
    import redis

    redis.Redis.from_url(BENCH_BROKER_URL).flushdb()


@dataclass
class Worker:
    process: subprocess.Popen
    log_path: Path

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_workers(url: str, count: int) -> list[Worker]:
    workers = []
    for i in range(count):
        log_path = BENCH / "data" / f".scale-worker-{i}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("wb") as out:
            proc = subprocess.Popen(
                [str(CELERY), "-A", "masterbus", "worker", "-l", "info", "-P", "prefork",
                 "-c", "1", "-Q", worker_queues(), "-n", f"scale{i}@%h",
                 "--without-heartbeat", "--without-mingle", "--without-gossip"],
                cwd=ROOT, env=worker_env(url), stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        workers.append(Worker(proc, log_path))
    until = time.monotonic() + 120
    for w in workers:
        while " ready." not in w.output():
            if w.process.poll() is not None or time.monotonic() > until:
                sys.stderr.write(w.output()[-5000:])
                raise RuntimeError("a benchmark worker did not start")
            time.sleep(0.2)
    return workers


def stop_workers(workers: list[Worker]) -> None:
    for w in workers:
        w.process.terminate()
    for w in workers:
        try:
            w.process.wait(60)
        except subprocess.TimeoutExpired:
            w.process.kill()
            w.process.wait(10)


def last_run_id(url: str) -> int:
    with connect(url) as conn:
        return conn.execute("SELECT coalesce(max(id), 0) FROM voltmetrics_recomputerun").fetchone()[
            0
        ]


def wait_finished(url: str, after: int, workers: list[Worker], timeout: float = 1800) -> dict:
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        with connect(url) as conn:
            row = conn.execute(
                "SELECT id, status, extract(epoch FROM finished_at), chunks_total, facilities,"
                " equipment FROM voltmetrics_recomputerun WHERE id > %s ORDER BY id DESC LIMIT 1",
                (after,),
            ).fetchone()
        if row and row[1] != "running":
            if row[1] != "finished":
                raise RuntimeError(f"recompute run {row[0]} ended {row[1]}")
            return {"run": row[0], "finished": float(row[2]), "chunks": row[3],
                    "facilities": row[4], "equipment": row[5]}  # fmt: skip
        if any(w.process.poll() is not None for w in workers):
            raise RuntimeError("a benchmark worker exited")
        time.sleep(0.05)
    raise RuntimeError("the recompute did not finish in time")


def timed_split(url: str, workers_n: int, as_of: date) -> dict:
    settle(url)
    purge(url)
    workers = start_workers(url, workers_n)
    try:
        time.sleep(2)  # let the pool processes settle after "ready"
        before = last_run_id(url)
        _, sent = run_self_scale("send", as_of.isoformat(), env=worker_env(url))
        done = wait_finished(url, before, workers)
    finally:
        stop_workers(workers)
    done["workers"] = workers_n
    done["wall_s"] = done["finished"] - sent["sent"]
    done["digest"] = figures_digest(url)
    return done


def run_self_scale(mode: str, *args: str, env: dict[str, str]):
    from common import run_child
    from recompute_bench import child_result

    res = run_child([sys.executable, str(Path(__file__).resolve()), mode, *args], env=env)
    return res, child_result(res, mode)


@dataclass
class RecomputePart:
    reference_s: float
    equipment: int
    runs: list[dict]
    digest_ok: bool

    def best(self, n: int) -> float:
        return min(r["wall_s"] for r in self.runs if r["workers"] == n)

    @property
    def speedup(self) -> float:
        return self.best(1) / self.best(2)

    @property
    def ok(self) -> bool:
        return self.digest_ok and self.speedup >= TARGET_SPEEDUP

    def rows(self) -> tuple[list[str], list[list[str]]]:
        headers = ["full recompute", "chunks", "equipment", "wall s", "equipment/s", "figures"]
        rows = [
            [
                "single process (`recompute_risk`, reference)",
                "—",
                f"{self.equipment:,}",
                f"{self.reference_s:.1f}",
                f"{self.equipment / self.reference_s:,.0f}",
                "—",
            ]
        ]
        for r in self.runs:
            rows.append([
                f"{r['workers']} worker process{'es' if r['workers'] > 1 else ''}",
                str(r["chunks"]), f"{r['equipment']:,}", f"{r['wall_s']:.1f}",
                f"{r['equipment'] / r['wall_s']:,.0f}",
                "equal" if r["digest"] == r["digest_ref"] else "DIFFERENT",
            ])  # fmt: skip
        return headers, rows

    def checks(self) -> list[tuple[str, bool, str]]:
        return [
            (f"two workers ≥ {TARGET_SPEEDUP}× one (best of each)", self.speedup >= TARGET_SPEEDUP,
             f"{self.best(1):.1f} s / {self.best(2):.1f} s = {self.speedup:.2f}×"),
            ("every run's figures equal the single-process recompute's", self.digest_ok,
             "equal" if self.digest_ok else "DIFFERENT"),
        ]  # fmt: skip


def run(url: str, *, size: Size, seed: int, as_of: str) -> Part:
    """The recompute part of ``benchmarks/run scale``."""
    r = measure(url, size=size, seed=seed, as_of=as_of)
    headers, rows = r.rows()
    lines = [
        f"Full recompute of the {size} portfolio ({r.equipment:,} equipment), split into chunks "
        f"of `RECOMPUTE_CHUNK_FACILITIES` facilities on 1 and 2 Celery worker processes "
        "(`-P prefork -c 1` each; 1, 2, 1, 2), wall time from sending `recompute_all_task` to "
        "the commit of the portfolio; PostgreSQL and Redis share the machine's cores. *figures*: "
        "every stored assessment, snapshot and the portfolio hashed in PostgreSQL (computation "
        "times left out) against the single-process reference.",
    ]
    return Part("Full recompute: one worker process vs two", lines, headers, rows, r.checks())


def measure(url: str, *, size: Size, seed: int, as_of: str) -> RecomputePart:
    import django

    django.setup()
    ensure_portfolio(url, size, seed=seed, as_of=as_of)
    today = datetime.now(UTC).date()
    log("single-process recompute (untimed) …")
    full_recompute(url, today)
    mark_outbox_done(url)
    # The steady state of the nightly run: the monthly task's snapshots of the history months
    # are stored, so no recompute back-fills any (as in the recompute section's run #3).
    log("monthly snapshots of the 5 history months (untimed) …")
    run_self("monthly", today.isoformat(), env=bench_env(url))
    log("single-process recompute (the reference) …")
    ref_res, info = full_recompute(url, today)
    reference = figures_digest(url)
    log(f"reference: {ref_res.wall_s:.1f} s, {info}")
    runs = []
    for n in (1, 2, 1, 2):
        log(f"split recompute on {n} worker process(es) …")
        r = timed_split(url, n, today)
        r["digest_ref"] = reference
        log(f"{n} worker(s): {r['wall_s']:.1f} s, {r['chunks']} chunks, "
            f"figures {'equal' if r['digest'] == reference else 'DIFFERENT'}")  # fmt: skip
        runs.append(r)
    for r in runs:
        r["digest_ref"] = reference
    digest_ok = all(r["digest"] == reference for r in runs)
    return RecomputePart(ref_res.wall_s, info["equipment"], runs, digest_ok)


# --- child program ----------------------------------------------------------------------------


def child_send(as_of_text: str) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "masterbus.settings")
    import django

    django.setup()
    from voltmetrics.tasks import recompute_all_task

    sent = time.time()
    recompute_all_task.apply_async(kwargs={"as_of": as_of_text})
    print("BENCH-RESULT " + json.dumps({"sent": sent}), flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["send"]:
        child_send(sys.argv[2])
    else:
        sys.exit("usage: scale_recompute.py send AS_OF")
