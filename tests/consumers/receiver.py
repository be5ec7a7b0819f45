"""A webhook receiver on loopback for the delivery tests: a threaded HTTP/1.1 server (kept-alive
connections) that records every request and answers what the test scripts.

``answers`` is a list of statuses (or ``(status, headers, body)``) used in turn, then
``default``; ``delay`` seconds before each answer; ``block``: a ``threading.Event`` the
handler waits on (after recording the request) before answering — every request, or only the
``block_at``-th (1-based) when that is set. ``connections`` counts the
connections accepted.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def event(self) -> dict:
        return orjson.loads(self.body)


@dataclass
class Receiver:
    url: str = ""
    answers: list = field(default_factory=list)
    default: int = 200
    delay: float = 0.0
    block: threading.Event | None = None
    block_at: int | None = None
    received: list[Received] = field(default_factory=list)
    connections: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ids(self) -> list[str]:
        with self.lock:
            return [r.headers["webhook-id"] for r in self.received]

    def wait_for(self, n: int, timeout: float = 30.0) -> list[Received]:
        until = time.monotonic() + timeout
        while time.monotonic() < until:
            with self.lock:
                if len(self.received) >= n:
                    return list(self.received)
            time.sleep(0.01)
        raise AssertionError(f"{len(self.received)} of {n} requests received")

    def next_answer(self):
        with self.lock:
            answer = self.answers.pop(0) if self.answers else self.default
        if isinstance(answer, int):
            return answer, {}, b"ok" if 200 <= answer < 300 else b"nope"
        return answer


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def _handler(receiver: Receiver):
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
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            with receiver.lock:
                receiver.received.append(
                    Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body,
                             time.monotonic())
                )  # fmt: skip
                n = len(receiver.received)
            if receiver.block is not None and receiver.block_at in (None, n):
                receiver.block.wait(60)
            if receiver.delay:
                time.sleep(receiver.delay)
            status, headers, answer = receiver.next_answer()
            try:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
            except OSError:
                pass

        do_GET = do_POST

    return Handler


@contextlib.contextmanager
def receiver_running(host: str = "127.0.0.1", **options) -> Iterator[Receiver]:
    receiver = Receiver(**options)
    server = _Server((host, 0), _handler(receiver))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    receiver.url = f"http://{host}:{server.server_address[1]}/hook"
    try:
        yield receiver
    finally:
        if receiver.block is not None:
            receiver.block.set()
        server.shutdown()
        server.server_close()
