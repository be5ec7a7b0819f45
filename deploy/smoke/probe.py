"""HTTP checks of ``bin/prod-smoke`` against a running gunicorn (standard library only).

    python deploy/smoke/probe.py health  --base URL [--timeout S]
    python deploy/smoke/probe.py figures --base URL --key KEY --expect N [--timeout S]
    python deploy/smoke/probe.py metrics --base URL --token TOKEN [--queues Q1,Q2,…]

Every request carries ``X-Forwarded-Proto: https``, as nginx sends it (production mode
redirects plain HTTP to HTTPS, except the probes). Exit status 0 when the check passes, 1
when it fails (with the reason on stderr).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import urllib.error
import urllib.request

PULL_TASK = "condoit_pull_task"
RECOMPUTE_TASK = "recompute"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a redirect is an answer to look at, not to follow


_opener = urllib.request.build_opener(_NoRedirect)


def get(url: str, headers: dict[str, str] | None = None, timeout: float = 10) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"X-Forwarded-Proto": "https", **(headers or {})})
    try:
        with _opener.open(request, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


def health(args) -> int:
    until = time.monotonic() + args.timeout
    last = "no answer"
    while time.monotonic() < until:
        try:
            status, body = get(f"{args.base}/health", timeout=2)
            if status == 200:
                print(f"  /health: {status} {body.strip()}")
                return 0
            last = f"{status} {body[:200]}"
        except OSError as exc:
            last = str(exc)
        time.sleep(0.3)
    print(f"/health did not answer 200 within {args.timeout}s: {last}", file=sys.stderr)
    return 1


def figures(args) -> int:
    """Wait until GET /api/v1/facilities lists ``expect`` facilities, all with a risk score."""
    start = time.monotonic()
    url = f"{args.base}/api/v1/facilities?limit=100"
    last = ""
    shown, shown_at = None, 0.0
    while (elapsed := time.monotonic() - start) < args.timeout:
        try:
            status, body = get(url, {"X-API-Key": args.key})
        except OSError as exc:
            status, body = 0, str(exc)
        if status == 200:
            data = json.loads(body)
            items = data.get("facilities", [])
            scored = [i for i in items if i.get("risk_score") is not None]
            last = f"{data.get('total')} facilities listed, {len(scored)} with figures"
            if data.get("total") == args.expect and len(scored) == args.expect:
                print(f"  {elapsed:5.1f}s: {last}")
                for item in items:
                    print(
                        f"    {item['id']}  {item['name']}: risk {item['risk_score']} "
                        f"({item['risk_level']}), {item['compliance_status']}, "
                        f"{item['equipment_count']} equipment"
                    )
                return 0
        else:
            last = f"HTTP {status}: {body[:200]}"
        # Progress: every change, and every 10 s anyway.
        if last != shown or elapsed - shown_at >= 10:
            print(f"  {elapsed:5.1f}s: {last}", flush=True)
            shown, shown_at = last, elapsed
        time.sleep(1)
    print(f"the figures did not reach the API within {args.timeout}s ({last})", file=sys.stderr)
    return 1


_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})?\s+(?P<value>\S+)")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def samples(text: str):
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if m:
            labels = dict(_LABEL.findall(m.group("labels") or ""))
            try:
                value = float(m.group("value"))
            except ValueError:
                continue
            yield m.group("name"), labels, value, line


def metrics(args) -> int:
    failures = []
    status, _ = get(f"{args.base}/metrics")
    print(f"  /metrics without the token: {status}")
    if status != 401:
        failures.append(f"/metrics without the token answered {status}, not 401")
    status, body = get(f"{args.base}/metrics", {"Authorization": f"Bearer {args.token}"})
    print(f"  /metrics with the token: {status}")
    if status != 200:
        failures.append(f"/metrics with the token answered {status}: {body[:200]}")
        body = ""
    found = {"pull": None, "recompute": None, "last_pull": None}
    queues = {}
    for name, labels, value, line in samples(body):
        if name == "masterbus_queue_length":
            queues[labels.get("queue", "")] = line
        elif name == "masterbus_task_runs_total" and labels.get("state") == "succeeded":
            task = labels.get("task", "")
            if PULL_TASK in task and value > 0:
                found["pull"] = line
            elif RECOMPUTE_TASK in task and value > 0:
                found["recompute"] = found["recompute"] or line
        elif (
            name == "masterbus_condoit_last_success_timestamp_seconds"
            and labels.get("door") == "pull"
            and value > 0
        ):
            found["last_pull"] = line
    for line in [*found.values(), *queues.values()]:
        if line:
            print(f"    {line}")
    if body and args.save:
        with open(args.save, "w") as fh:
            fh.write(body)
        print(f"  the whole answer: {args.save}")
    if status == 200:
        if not found["pull"]:
            failures.append(
                'no masterbus_task_runs_total{task=~".*condoit_pull_task",state="succeeded"} > 0'
            )
        if not found["recompute"]:
            failures.append(
                'no masterbus_task_runs_total{task=~".*recompute.*",state="succeeded"} > 0'
            )
        if not found["last_pull"]:
            failures.append('no masterbus_condoit_last_success_timestamp_seconds{door="pull"} > 0')
        expected = sorted(q for q in (args.queues or "").split(",") if q)
        if expected and sorted(queues) != expected:
            failures.append(
                f"masterbus_queue_length reports the queues {sorted(queues)}, not {expected}"
            )
    for failure in failures:
        print(failure, file=sys.stderr)
    return 1 if failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="check", required=True)
    p = sub.add_parser("health")
    p.add_argument("--base", required=True)
    p.add_argument("--timeout", type=float, default=60)
    p.set_defaults(run=health)
    p = sub.add_parser("figures")
    p.add_argument("--base", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--expect", type=int, required=True)
    p.add_argument("--timeout", type=float, default=120)
    p.set_defaults(run=figures)
    p = sub.add_parser("metrics")
    p.add_argument("--base", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--save", help="write the answer to this file")
    p.add_argument("--queues", help="comma-separated: masterbus_queue_length reports these")
    p.set_defaults(run=metrics)
    args = parser.parse_args()
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
