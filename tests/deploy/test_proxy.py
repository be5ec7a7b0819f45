"""The shipped reverse proxy, run for real on loopback: nginx with deploy/nginx/masterbus.conf
(only its addresses and paths replaced) in front of gunicorn with deploy/gunicorn.conf.py.

A sync gunicorn worker serves one connection from its first byte to its last, so a few
clients sending a body slowly hold every worker and /health starves. nginx reads each body
completely before passing the request on, so behind it the same clients hold only nginx
connections. The control runs the same clients straight at gunicorn and sees /health time
out: the test can fail.
"""

import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
SITE_CONF = ROOT / "deploy" / "nginx" / "masterbus.conf"
GUNICORN_CONF = ROOT / "deploy" / "gunicorn.conf.py"


def _binary(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin:/sbin")


NGINX = _binary("nginx")
OPENSSL = _binary("openssl")

pytestmark = [
    pytest.mark.proxy,
    pytest.mark.skipif(
        NGINX is None or OPENSSL is None,
        reason="needs the nginx and openssl binaries (Debian packages nginx, openssl; "
        ".ci/run installs them)",
    ),
]

WORKERS = 2
SLOW_CLIENTS = 4  # more than there are workers
QUICK = 2.0  # seconds: a probe answered within this is "quick"
PROBE_CSS = "body { color: #123456; }\n"


_handed_out: set[int] = set()


def free_port() -> int:
    """A free loopback port, never one handed out before in this process (the kernel may
    give the same ephemeral port twice in a row once the probing socket is closed)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port


def replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"the shipped config no longer has exactly one {old!r}"
    return text.replace(old, new)


def render_site(upstream: int, http_port: int, https_port: int, root: Path) -> str:
    text = SITE_CONF.read_text()
    for old, new in [
        ("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream};"),
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;"),
        ("/etc/ssl/masterbus/fullchain.pem;", f"{root / 'cert.pem'};"),
        ("/etc/ssl/masterbus/privkey.pem;", f"{root / 'key.pem'};"),
        ("alias /srv/masterbus/staticfiles/;", f"alias {root / 'static'}/;"),
    ]:
        text = replace_once(text, old, new)
    return text


def main_conf(root: Path) -> str:
    """What nginx.conf around the site file is for the test: in the foreground, everything
    (pid, logs, temporary files) under ``root``."""
    user = "user root;\n" if os.geteuid() == 0 else ""  # else workers run as nobody
    temps = "\n".join(
        f"    {kind}_temp_path {root / 'temp' / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"daemon off;\n{user}worker_processes 1;\npid {root / 'nginx.pid'};\n"
        f"error_log {root / 'error.log'} warn;\n"
        "events { worker_connections 256; }\n"
        "http {\n"
        "    default_type application/octet-stream;\n"
        "    types { text/css css; application/javascript js; }\n"
        f"    access_log {root / 'access.log'};\n{temps}\n"
        f"    include {root / 'masterbus.conf'};\n"
        "}\n"
    )


def stop(proc: subprocess.Popen, sig: int) -> None:
    """Stop a process started in its own session, then anything left in its group."""
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(sig)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def get(port: int, path: str, *, timeout: float = QUICK, tls: bool = False, headers=None):
    """GET over a fresh connection: (status, headers, body, seconds)."""
    if tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=context)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    started = time.monotonic()
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, resp.headers, body, time.monotonic() - started
    finally:
        conn.close()


def wait_until_up(port: int, proc: subprocess.Popen, log: Path, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while True:
        assert proc.poll() is None, f"exited early:\n{log.read_text()[-3000:]}"
        with contextlib.suppress(OSError):
            if get(port, "/health")[0] == 200:
                return
        assert time.monotonic() < deadline, f"no /health within {within} s:\n{log.read_text()}"
        time.sleep(0.2)


def raw_exchange(port: int, head: bytes, chunks=(), pause=0.0, timeout=QUICK) -> bytes:
    """Send a request head and body chunks on one socket; return everything answered."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(head)
        with contextlib.suppress(OSError):  # nginx may refuse the rest of an over-long body
            for chunk in chunks:
                time.sleep(pause)
                s.sendall(chunk)
        answer = b""
        with contextlib.suppress(ConnectionResetError):
            while not complete(answer) and (data := s.recv(65536)):
                answer += data
        return answer


def complete(answer: bytes) -> bool:
    """A whole response with a Content-Length (nginx may keep reading a refused body)."""
    head, found, body = answer.partition(b"\r\n\r\n")
    length = re.search(rb"(?im)^content-length: *(\d+)", head)
    return bool(found and length and len(body) >= int(length[1]))


def parse(answer: bytes) -> tuple[int, dict, bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


def post_head(length: int | None, request_id: str, path: str = "/api/v1/auth/token") -> bytes:
    size = "Transfer-Encoding: chunked" if length is None else f"Content-Length: {length}"
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"X-Request-ID: {request_id}\r\nConnection: close\r\n{size}\r\n\r\n"
    ).encode()


class SlowClients:
    """``count`` connections each POSTing a 100 KB body to the token endpoint (which reads
    the body before anything else), one byte a second."""

    def __init__(self, port: int, count: int = SLOW_CLIENTS):
        self.port, self.count = port, count
        self.sockets: list[socket.socket] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._trickle, daemon=True)

    def __enter__(self):
        try:
            for n in range(self.count):
                s = socket.create_connection(("127.0.0.1", self.port), timeout=QUICK)
                self.sockets.append(s)
                s.sendall(post_head(100_000, f"slow-{n}") + b"{")
        except BaseException:
            self.__exit__()
            raise
        self.thread.start()
        return self

    def _trickle(self):
        while not self.stopping.wait(1.0):
            for s in self.sockets:
                with contextlib.suppress(OSError):
                    s.send(b" ")

    def unanswered(self) -> bool:
        """Every connection is still open and has had no answer."""
        for s in self.sockets:
            s.setblocking(False)
            try:
                s.recv(1, socket.MSG_PEEK)
                return False  # an answer, or the connection was closed
            except BlockingIOError:
                pass  # nothing to read yet
            finally:
                s.setblocking(True)
        return True

    def __exit__(self, *exc):
        self.stopping.set()
        if self.thread.is_alive():
            self.thread.join(timeout=5)
        for s in self.sockets:
            s.close()


class Nginx:
    def __init__(self, root: Path, upstream: int):
        self.root = root
        self.http_port, self.https_port = free_port(), free_port()
        (root / "temp").mkdir(parents=True)
        (root / "static").mkdir()
        (root / "static" / "probe.css").write_text(PROBE_CSS)
        subprocess.run(
            [OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
             "-keyout", root / "key.pem", "-out", root / "cert.pem"],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip
        (root / "masterbus.conf").write_text(
            render_site(upstream, self.http_port, self.https_port, root)
        )
        (root / "nginx.conf").write_text(main_conf(root))
        self.args = [NGINX, "-p", f"{root}/", "-e", root / "error.log", "-c", root / "nginx.conf"]
        self.proc = None

    def check(self) -> subprocess.CompletedProcess:
        return subprocess.run([*self.args, "-t"], capture_output=True, text=True, timeout=30)

    def start(self) -> None:
        self.log = self.root / "nginx.out"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                self.args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc, signal.SIGTERM)


class Gunicorn:
    """gunicorn with the shipped config, WORKERS sync workers on a free loopback port, on the
    embedded default (a temporary SQLite file, in-process cache, eager tasks); its access log
    records the forwarded headers it receives."""

    LOG_FORMAT = "%({x-request-id}i)s|%({x-forwarded-for}i)s|%({x-forwarded-proto}i)s|%({host}i)s"

    def __init__(self, root: Path):
        self.port = free_port()
        self.access_log = root / "gunicorn-access.log"
        self.log = root / "gunicorn.out"
        drop = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "MASTERBUS_ENV", "SECRET_KEY")
        env = {k: v for k, v in os.environ.items() if k not in drop}
        env.update(
            DATABASE_URL=f"sqlite:///{root / 'db.sqlite3'}",
            SECRET_KEY="proxy-test-" + "k" * 50,
            DJANGO_SETTINGS_MODULE="masterbus.settings",
            NUM_PROXIES="1",
            API_TOKEN_RATE_LIMIT_PER_MINUTE="1000",
        )
        gunicorn = Path(sys.executable).with_name("gunicorn")
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [str(gunicorn), "-c", str(GUNICORN_CONF), "-w", str(WORKERS),
                 "-b", f"127.0.0.1:{self.port}", "--access-logfile", str(self.access_log),
                 "--access-logformat", self.LOG_FORMAT],
                cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

    def received(self, request_id: str, within: float = 3.0) -> list[str] | None:
        """The forwarded headers gunicorn logged for ``request_id`` (None: never reached it)."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.access_log.exists():
                for line in self.access_log.read_text().splitlines():
                    if line.startswith(f"{request_id}|"):
                        return line.split("|")
            time.sleep(0.1)
        return None

    def stop(self) -> None:
        stop(self.proc, signal.SIGQUIT)  # quick shutdown


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    root = tmp_path_factory.mktemp("proxy")
    with contextlib.ExitStack() as cleanup:
        app = Gunicorn(root)
        cleanup.callback(app.stop)
        proxy = Nginx(root / "nginx", app.port)
        cleanup.callback(proxy.stop)
        checked = proxy.check()
        assert checked.returncode == 0, checked.stderr
        proxy.start()
        wait_until_up(app.port, app.proc, app.log)
        wait_until_up(proxy.http_port, proxy.proc, proxy.log, within=10)
        yield app, proxy


def test_rendered_config_passes_nginx_t(stack):
    _, proxy = stack
    checked = proxy.check()
    assert checked.returncode == 0, checked.stderr
    assert "test is successful" in checked.stderr
    # Bodies nginx lets through are exactly those MasterBus accepts.
    text = SITE_CONF.read_text()
    assert re.findall(r"client_max_body_size (\d+);", text) == [
        str(settings.MAX_REQUEST_BODY_BYTES)
    ]
    assert f'"max_bytes": {settings.MAX_REQUEST_BODY_BYTES}' in text


def test_slow_bodies_behind_nginx_leave_the_workers_free(stack):
    app, proxy = stack
    with SlowClients(proxy.http_port) as slow:
        time.sleep(1.5)  # the bodies are trickling in
        for _ in range(3):
            status, _, _, seconds = get(proxy.http_port, "/health")
            assert (status, seconds < QUICK) == (200, True)
            time.sleep(0.5)
        # nginx holds the slow requests; gunicorn has not seen them
        status, _, _, seconds = get(app.port, "/health")
        assert (status, seconds < QUICK) == (200, True)
        assert slow.unanswered()


def test_control_slow_bodies_straight_at_gunicorn_starve_it(stack):
    app, proxy = stack
    with SlowClients(app.port):
        time.sleep(1.0)
        with pytest.raises(TimeoutError):
            get(app.port, "/health")
    wait_until_up(app.port, app.proc, app.log, within=15)  # free again once they leave


def test_a_slow_body_that_completes_reaches_masterbus_whole(stack):
    app, proxy = stack
    answer = raw_exchange(
        proxy.http_port, post_head(2, "slow-complete-1"), chunks=(b"{", b"}"), pause=0.6
    )
    status, headers, body = parse(answer)
    assert status == 400
    assert json.loads(body)["error"]["code"] == "VALIDATION_ERROR"
    assert headers["x-request-id"] == "slow-complete-1"


def test_body_over_the_limit_is_refused_at_nginx(stack):
    app, proxy = stack
    limit = settings.MAX_REQUEST_BODY_BYTES
    # Declared too long: answered at once, without waiting for (or reading) the body.
    started = time.monotonic()
    status, headers, body = parse(raw_exchange(proxy.http_port, post_head(limit + 1, "big-1")))
    assert (status, time.monotonic() - started < QUICK) == (413, True)
    assert headers["content-type"] == "application/json"
    assert headers["x-request-id"] == "big-1"
    assert json.loads(body) == {
        "error": {
            "code": "PAYLOAD_TOO_LARGE",
            "message": f"Request body is larger than {limit} bytes",
            "details": {"max_bytes": limit},
            "request_id": "big-1",
        }
    }
    # Chunked, no length declared: refused once it grows past the limit.
    piece = 256 * 1024
    chunks = [b"%x\r\n" % piece + b" " * piece + b"\r\n"] * (limit // piece + 1) + [b"0\r\n\r\n"]
    status, _, body = parse(raw_exchange(proxy.http_port, post_head(None, "big-2"), chunks))
    assert (status, json.loads(body)["error"]["request_id"]) == (413, "big-2")
    # An id that is not sane is replaced, so the body stays valid JSON.
    status, headers, body = parse(raw_exchange(proxy.http_port, post_head(limit + 1, 'x"}')))
    assert status == 413
    assert re.fullmatch(r"[0-9a-f]{32}", json.loads(body)["error"]["request_id"])
    assert app.received("big-1", within=0.5) is None
    assert app.received("big-2", within=0.1) is None
    # Exactly the limit passes nginx and is answered by MasterBus.
    answer = raw_exchange(
        proxy.http_port, post_head(limit, "at-limit-1"), [b"{}" + b" " * (limit - 2)], timeout=15
    )
    status, _, body = parse(answer)
    assert (status, json.loads(body)["error"]["code"]) == (400, "VALIDATION_ERROR")


def test_forwarded_headers_tls_and_static(stack):
    app, proxy = stack
    status, headers, _, _ = get(
        proxy.https_port, "/health", tls=True,
        headers={"X-Forwarded-For": "203.0.113.7", "X-Request-ID": "fwd-https-1"},
    )  # fmt: skip
    assert (status, headers["X-Request-ID"]) == (200, "fwd-https-1")
    # nginx appends the peer's address (hence NUM_PROXIES=1) and says how the client came.
    assert app.received("fwd-https-1")[1:] == ["203.0.113.7, 127.0.0.1", "https", "127.0.0.1"]
    status, _, _, _ = get(proxy.http_port, "/health", headers={"X-Request-ID": "fwd-http-1"})
    assert status == 200
    assert app.received("fwd-http-1")[1:] == ["127.0.0.1", "http", "127.0.0.1"]
    status, headers, body, _ = get(proxy.http_port, "/static/probe.css")
    assert (status, body.decode(), headers["Content-Type"]) == (200, PROBE_CSS, "text/css")


def test_gunicorn_not_answering_is_a_503_envelope(tmp_path):
    proxy = Nginx(tmp_path, upstream=free_port())  # nothing listens there
    try:
        proxy.start()
        deadline = time.monotonic() + 10
        while True:
            try:
                status, headers, body, _ = get(
                    proxy.http_port, "/api/v1/facilities", headers={"X-Request-ID": "down-1"}
                )
                break
            except OSError:
                assert proxy.proc.poll() is None, proxy.log.read_text()
                assert time.monotonic() < deadline
                time.sleep(0.1)
    finally:
        proxy.stop()
    assert (status, headers["Retry-After"], headers["X-Request-ID"]) == (503, "5", "down-1")
    error = json.loads(body)["error"]
    assert (error["code"], error["request_id"]) == ("SERVICE_UNAVAILABLE", "down-1")
