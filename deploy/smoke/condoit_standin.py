"""A Condoit stand-in for ``bin/prod-smoke``: Condoit's export API on loopback.

    python deploy/smoke/condoit_standin.py --token TOKEN --port-file FILE \
        [--facilities 3] [--equipment-per-facility 20] [--seed 13]

Serves a generated demo portfolio (``condoit.demo``, the same generator as
``manage.py generate_demo_portfolio``) the way Condoit's pull API does
(condoit-source.md §2.2): ``GET /api/export/{facilities|equipment|maintenance-records}
?updatedSince=&cursor=&limit=`` with ``Authorization: Bearer <token>``; pages
``{"items": […], "nextCursor": …|null}``, items ordered by (``updatedAt`` as an instant,
``id``), ``updatedSince`` inclusive, ``limit`` 1…200; errors as ``{"error": {…}}``.

Standard library only (plus the pure ``condoit.demo`` package): no Django. Binds 127.0.0.1
on ``--port`` (0: any free port) and writes the port to ``--port-file`` once it listens.
SIGTERM (or SIGINT) stops it cleanly, exit status 0.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import signal
import sys
import threading
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from condoit.demo import generate_portfolio  # noqa: E402  (pure: no Django)

RESOURCE_OF = {
    "facility": "facilities",
    "equipment": "equipment",
    "maintenanceRecord": "maintenance-records",
}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _instant(value) -> datetime:
    try:
        ts = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return _EPOCH
    return ts if ts.tzinfo is not None else _EPOCH


def _key(record: dict) -> tuple[datetime, str]:
    return (_instant(record.get("updatedAt")), str(record.get("id")))


def _cursor(key: tuple[datetime, str]) -> str:
    raw = json.dumps({"t": key[0].isoformat(), "id": key[1]}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _after(cursor: str) -> tuple[datetime, str]:
    data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    return (datetime.fromisoformat(data["t"]), str(data["id"]))


def portfolio(facilities: int, per: int, seed: int, as_of: date) -> dict[str, list]:
    """Each resource's records as (key, record) pairs in the contract's order."""
    by_resource: dict[str, list] = {r: [] for r in RESOURCE_OF.values()}
    for kind, record in generate_portfolio(
        facilities=facilities, equipment_per_facility=per, seed=seed, as_of=as_of
    ):
        by_resource[RESOURCE_OF[kind]].append((_key(record), record))
    for pairs in by_resource.values():
        pairs.sort(key=lambda pair: pair[0])
    return by_resource


def make_handler(records: dict[str, list], token: str):
    class Handler(BaseHTTPRequestHandler):
        server_version = "CondoitStandIn/1"

        def _send(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, code: str, message: str) -> None:
            self._send(status, {"error": {"code": code, "message": message}})

        def do_GET(self):  # noqa: N802 (http.server's naming)
            url = urlsplit(self.path)
            parts = url.path.strip("/").split("/")
            if self.headers.get("Authorization") != f"Bearer {token}":
                return self._error(401, "unauthorized", "missing or wrong bearer token")
            if len(parts) != 3 or parts[:2] != ["api", "export"] or parts[2] not in records:
                return self._error(404, "not_found", f"no resource at {url.path}")
            args = {k: v[-1] for k, v in parse_qs(url.query).items()}
            try:
                limit = int(args.get("limit", "100"))
            except ValueError:
                return self._error(400, "bad_request", "limit must be an integer")
            if not 1 <= limit <= 200:
                return self._error(400, "bad_request", "limit must be between 1 and 200")
            since = None
            if "updatedSince" in args:
                try:
                    since = datetime.fromisoformat(args["updatedSince"])
                except ValueError:
                    return self._error(400, "bad_request", "updatedSince is not ISO 8601")
                if since.tzinfo is None:
                    return self._error(400, "bad_request", "updatedSince must carry an offset")
            after = None
            if args.get("cursor"):
                try:
                    after = _after(args["cursor"])
                except (ValueError, KeyError, TypeError):
                    return self._error(400, "bad_request", "cursor is not valid")
            chosen = [
                (k, r)
                for k, r in records[parts[2]]
                if (since is None or k[0] >= since) and (after is None or k > after)
            ]
            page = chosen[:limit]
            more = len(chosen) > limit
            self._send(
                200,
                {
                    "items": [r for _, r in page],
                    "nextCursor": _cursor(page[-1][0]) if more else None,
                },
            )

        def log_message(self, format, *args):  # noqa: A002 (http.server's signature)
            sys.stderr.write(f"condoit-standin: {self.address_string()} {format % args}\n")

    return Handler


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--token", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--facilities", type=int, default=3)
    parser.add_argument("--equipment-per-facility", type=int, default=20)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--as-of", default=None, help="YYYY-MM-DD (default: today, UTC)")
    args = parser.parse_args()
    as_of = date.fromisoformat(args.as_of) if args.as_of else datetime.now(UTC).date()

    records = portfolio(args.facilities, args.equipment_per_facility, args.seed, as_of)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(records, args.token))
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
    counts = ", ".join(f"{len(v)} {k}" for k, v in records.items())
    sys.stderr.write(f"condoit-standin: serving {counts} on http://127.0.0.1:{port}\n")
    sys.stderr.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    sys.stderr.write("condoit-standin: stopped\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
