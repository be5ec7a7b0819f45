"""Deliveries benchmark: webhook deliveries per second from one Celery worker process
(``celery worker -P prefork -c 1`` on the ``events`` queue, broker ``BENCH_BROKER_URL``, cache
``BENCH_REDIS_URL``) to a receiver on loopback that answers 200 at once (a threaded HTTP/1.1
server in the driver, counting requests and connections).

A child process (Django settings, DEBUG=0) makes one subscription; then, per trial, it writes
``EVENTS`` events in one transaction: its commit queues the subscription's delivery task, as
any change's commit does. The driver times from that commit until the subscription's cursor
reaches the last event (every delivery recorded), ``TRIALS`` times after a warm-up of
``WARMUP`` events; the median trial is reported.

Target: ≥ 300 deliveries/s. Also checked: every event received exactly once per trial, in id
order, and each verified with the subscription's secret (``standardwebhooks``); one
connection per delivery run (kept alive). The receiver answers head and body in one write
(``TCP_NODELAY``), as production servers do: otherwise the client's delayed ACK adds 40 ms to
every answer.

Also the child program: ``python deliveries_bench.py child create URL`` and
``python deliveries_bench.py child write SUBSCRIPTION_ID N``.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

BENCH = Path(__file__).resolve().parent
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from common import ROOT, Part, child_env, connect, log, run_child, text_table  # noqa: E402

EVENTS = 3000
WARMUP = 100
TRIALS = 3
TARGET_PER_SECOND = 300.0
BENCH_REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
BENCH_BROKER_URL = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/15")
QUEUE_PREFIX = "bench-deliveries."
CELERY = Path(sys.executable).with_name("celery")
RUN_SECONDS = 30  # consumers.webhooks.engine.RUN_SECONDS: a run then queues itself again


# --- the receiver -------------------------------------------------------------------------------


class Receiver:
    def __init__(self):
        self.lock = threading.Lock()
        self.received: list[tuple[dict, bytes]] = []
        self.connections = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # the answer's head and body in one go

            def setup(self):
                super().setup()
                with receiver.lock:
                    receiver.connections += 1

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.received.append((dict(self.headers.items()), body))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def take(self) -> tuple[list[tuple[dict, bytes]], int]:
        with self.lock:
            got, self.received = self.received, []
            conns, self.connections = self.connections, 0
        return got, conns


# --- the driver ---------------------------------------------------------------------------------


def env(url: str) -> dict[str, str]:
    return child_env(
        url, celery_eager=False, REDIS_URL=BENCH_REDIS_URL, CELERY_BROKER_URL=BENCH_BROKER_URL,
        CELERY_QUEUE_PREFIX=QUEUE_PREFIX, WEBHOOK_ALLOW_HTTP="true", WEBHOOK_ALLOW_PRIVATE="true",
    )  # fmt: skip


def run_self(*args: str, url: str) -> dict:
    res = run_child([sys.executable, str(Path(__file__).resolve()), "child", *args], env=env(url))
    for line in res.stdout.splitlines():
        if line.startswith("BENCH-RESULT "):
            return json.loads(line[len("BENCH-RESULT ") :])
    sys.stderr.write(res.stdout[-5000:] + res.stderr[-5000:])
    raise RuntimeError(f"deliveries child {args[0]} failed (exit {res.returncode})")


def flush_broker() -> None:
    import redis

    redis.Redis.from_url(BENCH_BROKER_URL).flushdb()
    redis.Redis.from_url(BENCH_REDIS_URL).flushdb()


def start_worker(url: str) -> tuple[subprocess.Popen, Path]:
    log_path = BENCH / "data" / ".deliveries-worker.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as out:
        proc = subprocess.Popen(
            [str(CELERY), "-A", "masterbus", "worker", "-l", "info", "-P", "prefork", "-c", "1",
             "-Q", QUEUE_PREFIX + "events", "-n", "deliveries@%h", "--without-heartbeat",
             "--without-mingle", "--without-gossip"],
            cwd=ROOT, env=env(url), stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    until = time.monotonic() + 120
    while " ready." not in log_path.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > until:
            sys.stderr.write(log_path.read_text(errors="replace")[-5000:])
            raise RuntimeError("the benchmark worker did not start")
        time.sleep(0.2)
    return proc, log_path


def stop_worker(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def wait_delivered(url: str, sub_id: int, last_id: int, proc, timeout: float = 600) -> float:
    """time.time() when the subscription's cursor reached ``last_id``."""
    until = time.monotonic() + timeout
    with connect(url, autocommit=True) as conn:
        while time.monotonic() < until:
            cursor = conn.execute(
                "SELECT cursor FROM consumers_subscription WHERE id = %s", [sub_id]
            ).fetchone()[0]
            if cursor >= last_id:
                return time.time()
            if proc.poll() is not None:
                raise RuntimeError("the benchmark worker exited")
            time.sleep(0.02)
    raise RuntimeError(f"deliveries not finished within {timeout:.0f} s")


def trial(url: str, receiver: Receiver, sub_id: int, secret: str, n: int, proc) -> dict:
    from standardwebhooks import Webhook

    receiver.take()
    wrote = run_self("write", str(sub_id), str(n), url=url)
    done = wait_delivered(url, sub_id, wrote["last_id"], proc)
    got, connections = receiver.take()
    ids = [h.get("webhook-id") for h, _ in got]
    expected = [f"evt_{i:016d}" for i in range(wrote["first_id"], wrote["last_id"] + 1)]
    hook = Webhook(secret)
    verified = 0
    for headers, body in got:
        hook.verify(body, headers)
        verified += 1
    seconds = done - wrote["committed_at"]
    return {
        "events": n, "seconds": seconds, "per_second": n / seconds, "received": len(got),
        "in_order_once": ids == expected, "verified": verified, "connections": connections,
    }  # fmt: skip


def run(url: str, *, events: int = EVENTS, trials: int = TRIALS) -> Part:
    flush_broker()
    with Receiver() as receiver:
        made = run_self("create", receiver.url, url=url)
        sub_id, secret = made["id"], made["secret"]
        proc, _ = start_worker(url)
        try:
            log(f"deliveries: warm-up, {WARMUP} events …")
            trial(url, receiver, sub_id, secret, WARMUP, proc)
            results = []
            for i in range(trials):
                log(f"deliveries: trial {i + 1}/{trials}, {events} events …")
                results.append(trial(url, receiver, sub_id, secret, events, proc))
                log(f"  {results[-1]['per_second']:.0f} deliveries/s")
        finally:
            stop_worker(proc)
    return report(results, events=events)


def report(results: list[dict], *, events: int) -> Part:
    med = sorted(results, key=lambda r: r["per_second"])[len(results) // 2]
    headers = ["trial", "events", "wall s", "deliveries/s", "received", "in order, once",
               "signatures verified", "connections"]  # fmt: skip
    rows = [
        [str(i + 1), str(r["events"]), f"{r['seconds']:.2f}", f"{r['per_second']:.0f}",
         str(r["received"]), "yes" if r["in_order_once"] else "no", str(r["verified"]),
         str(r["connections"])]
        for i, r in enumerate(results)
    ]  # fmt: skip
    checks = [
        (f"deliveries/s ≥ {TARGET_PER_SECOND:g} (median trial)",
         med["per_second"] >= TARGET_PER_SECOND, f"{med['per_second']:.0f}/s"),
        ("every event received once, in id order, every trial",
         all(r["in_order_once"] and r["received"] == r["events"] for r in results),
         f"{sum(r['received'] for r in results)} of {sum(r['events'] for r in results)}"),
        ("every signature verified", all(r["verified"] == r["events"] for r in results),
         str(sum(r["verified"] for r in results))),
        (f"one kept-alive connection per delivery run (a run lasts ≤ {RUN_SECONDS:g} s)",
         all(r["connections"] <= math.ceil(r["seconds"] / RUN_SECONDS) for r in results),
         str(max(r["connections"] for r in results))),
    ]  # fmt: skip
    lines = [
        f"{events} events written in one transaction for one subscription, delivered by one "
        "Celery worker process (`-P prefork -c 1`, queue `events`) to a receiver on loopback "
        "answering 200 at once; timed from the commit (which queues the delivery task) until "
        f"the subscription's cursor passed the last event (every delivery and attempt "
        f"recorded); the median of {len(results)} trials after a warm-up of {WARMUP} events.",
    ]
    print(text_table(headers, rows))
    return Part("Webhook deliveries, one worker process (`deliveries`)", lines, headers, rows,
                checks)  # fmt: skip


# --- the child ----------------------------------------------------------------------------------


def child(args: list[str]) -> None:
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import transaction

    from consumers.choices import EventType
    from consumers.events import events_write
    from consumers.models import Event
    from consumers.webhooks.services import subscription_create

    if args[0] == "create":
        sub, secret = subscription_create(url=args[1], description="deliveries benchmark")
        print("BENCH-RESULT " + json.dumps({"id": sub.pk, "secret": secret}), flush=True)
        return
    n = int(args[2])
    rows = [
        (EventType.FACILITY_RISK_CHANGED, None,
         {"facility_id": f"fac_{i}", "name": f"Facility {i}",
          "before": {"risk_score": 40, "risk_level": "Medium"},
          "after": {"risk_score": 71, "risk_level": "High"},
          "as_of": "2026-01-01", "model_version": "2026.1"})
        for i in range(n)
    ]  # fmt: skip
    before = Event.objects.order_by("-id").values_list("id", flat=True).first() or 0
    with transaction.atomic():
        events_write(rows)
    committed_at = time.time()
    ids = list(Event.objects.filter(id__gt=before).values_list("id", flat=True))
    out = {"first_id": ids[0], "last_id": ids[-1], "committed_at": committed_at}
    print("BENCH-RESULT " + json.dumps(out), flush=True)


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "child":
        child(sys.argv[2:])
        sys.exit(0)
    raise SystemExit("usage: python deliveries_bench.py child create URL | write SUB_ID N")
