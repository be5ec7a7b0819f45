"""A fake Condoit export API on loopback (pytest-httpserver), following the contract.

``GET /api/export/<resource>?updatedSince=&cursor=&limit=`` with ``Authorization: Bearer``;
items ordered by (updatedAt as an instant, id); ``updatedSince`` inclusive, compared as an
instant; keyset cursors (opaque base64 of the last key served); ``limit`` 1…200; errors as
``{"error": {"code", "message"}}``. Faults are injected with :meth:`FakeCondoit.add_fault`.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

RESOURCES = ("facilities", "equipment", "maintenance-records")
TOKEN = "test-condoit-token"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class Seen:
    """One request the fake received."""

    resource: str
    args: dict[str, str]
    query_string: str
    authorization: str
    page: int  # 1 for a request without cursor, n for the request of the n-th page


@dataclass
class Fault:
    """Answer ``response`` (or call ``action``) for matching requests, ``times`` times."""

    resource: str | None
    page: int | None
    times: int | None  # None: forever
    response: Callable[[Request], Response | None]
    used: int = 0


def _instant(value) -> datetime:
    try:
        ts = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return _EPOCH
    return ts if ts.tzinfo is not None else _EPOCH


def _key(record) -> tuple[datetime, str]:
    """The contract's order: (updatedAt as an instant, id); a junk record sorts first."""
    if not isinstance(record, dict):
        return (_EPOCH, "")
    return (_instant(record.get("updatedAt")), str(record.get("id")))


def _error(status: int, code: str, message: str, headers=None) -> Response:
    return Response(
        json.dumps({"error": {"code": code, "message": message}}),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def _encode_cursor(key: tuple[datetime, str], page: int) -> str:
    raw = json.dumps({"t": key[0].isoformat(), "id": key[1], "p": page}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[tuple[datetime, str], int]:
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    data = json.loads(raw)
    return (datetime.fromisoformat(data["t"]), data["id"]), int(data["p"])


@dataclass
class FakeCondoit:
    server: HTTPServer
    token: str = TOKEN
    records: dict[str, list[dict]] = field(default_factory=lambda: {r: [] for r in RESOURCES})
    seen: list[Seen] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self):
        self.server.expect_request(
            re.compile(r"^/api/export/[^/]+$"), method="GET"
        ).respond_with_handler(self._handle)

    @property
    def url(self) -> str:
        return self.server.url_for("").rstrip("/")

    # --- data -------------------------------------------------------------------------------

    def add(self, resource: str, *records: dict) -> None:
        with self._lock:
            self.records[resource].extend(records)

    def add_fault(
        self,
        response: Callable[[Request], Response | None],
        *,
        resource: str | None = None,
        page: int | None = None,
        times: int | None = 1,
    ) -> Fault:
        fault = Fault(resource, page, times, response)
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def requests_for(self, resource: str) -> list[Seen]:
        return [s for s in self.seen if s.resource == resource]

    # --- the API ----------------------------------------------------------------------------

    def _handle(self, request: Request) -> Response:
        resource = request.path.rsplit("/", 1)[-1]
        args = {k: v for k, v in request.args.items()}
        page = 1
        after: tuple[datetime, str] | None = None
        cursor = args.get("cursor")
        if cursor:
            try:
                after, prev_page = _decode_cursor(cursor)
                page = prev_page + 1
            except (ValueError, KeyError, TypeError):
                return _error(400, "bad_request", "cursor is not valid")
        with self._lock:
            self.seen.append(
                Seen(
                    resource=resource,
                    args=args,
                    query_string=request.query_string.decode(),
                    authorization=request.headers.get("Authorization", ""),
                    page=page,
                )
            )
            faults = list(self.faults)
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return _error(401, "unauthorized", "missing or wrong bearer token")
        if resource not in RESOURCES:
            return _error(404, "not_found", f"no resource {resource}")
        for fault in faults:
            if fault.resource not in (None, resource) or fault.page not in (None, page):
                continue
            with self._lock:
                if fault.times is not None and fault.used >= fault.times:
                    continue
                fault.used += 1
            answer = fault.response(request)
            if answer is not None:
                return answer
        try:
            limit = int(args.get("limit", "100"))
        except ValueError:
            return _error(400, "bad_request", "limit must be an integer")
        if not 1 <= limit <= 200:
            return _error(400, "bad_request", "limit must be between 1 and 200")
        since = None
        if "updatedSince" in args:
            try:
                since = datetime.fromisoformat(args["updatedSince"])
            except ValueError:
                return _error(400, "bad_request", "updatedSince is not an ISO 8601 timestamp")
            if since.tzinfo is None:
                return _error(400, "bad_request", "updatedSince must carry an offset")
        with self._lock:
            items = list(self.records[resource])
        keyed = sorted(((_key(r), r) for r in items), key=lambda pair: pair[0])
        keyed = [
            (k, r)
            for k, r in keyed
            if (since is None or k[0] >= since) and (after is None or k > after)
        ]
        chunk = keyed[:limit]
        more = len(keyed) > limit
        body = {
            "items": [r for _, r in chunk],
            "nextCursor": _encode_cursor(chunk[-1][0], page) if more else None,
        }
        return Response(json.dumps(body), status=200, content_type="application/json")


@contextlib.contextmanager
def fake_condoit(token: str = TOKEN) -> Iterator[FakeCondoit]:
    """A fresh threaded server per use (a slow handler must not block a retry)."""
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    try:
        yield FakeCondoit(server, token=token)
    finally:
        server.clear()
        server.stop()


# --- canned faults --------------------------------------------------------------------------


def status(code: int, headers: dict | None = None) -> Callable[[Request], Response]:
    return lambda request: _error(code, f"http_{code}", f"injected {code}", headers)


def body(text: str, code: int = 200) -> Callable[[Request], Response]:
    return lambda request: Response(text, status=code, content_type="application/json")


def slow(seconds: float) -> Callable[[Request], None]:
    """Sleep, then let the normal answer through (a client with a shorter timeout gives up)."""

    def handler(request: Request) -> None:
        threading.Event().wait(seconds)
        return None

    return handler
