"""The outbound side of webhook deliveries (consumers.md §4): one POST, SSRF-safe.

A :class:`Sender` posts to one subscription's URL for as long as a delivery run lasts, over
one kept-alive connection (urllib3 pools, one connection each). Before connecting it resolves
the host and checks every address it may use: loopback, private, link-local, multicast,
reserved, unspecified and other non-global addresses are refused unless
``WEBHOOK_ALLOW_PRIVATE`` is set. The connection is then made to exactly the address that was
checked (the pool's host *is* that address), while the request carries the URL's name in its
``Host`` header and, for https, as the TLS server name, against which the certificate is
verified. A name that resolves to several addresses is tried address by address, each
checked. Redirects are never followed (a 3xx is an answer like any other, and a failure to
the caller); success is any 2xx within ``WEBHOOK_TIMEOUT_SECONDS``, connecting included.

An attempt always ends in an :class:`Answer`: the status code (None when none came), the
duration, the first 2 KB of the answer's body and the error, if any.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import certifi
import urllib3
from django.conf import settings
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

from masterbus.metrics.families import count_outbound

ANSWER_MAX = 2048  # bytes of the answer's body kept per attempt
DRAIN_MAX = 65536  # an answer longer than this is not read to the end: the connection closes
DEFAULT_PORTS = {"http": 80, "https": 443}

_ADDRESS_KINDS = (
    ("is_unspecified", "unspecified"),
    ("is_loopback", "loopback"),
    ("is_link_local", "link-local"),
    ("is_multicast", "multicast"),
    ("is_private", "private"),
    ("is_reserved", "reserved"),
)


class Refused(Exception):
    """The URL may not be posted to (its scheme, its addresses): no request was made."""


@dataclass(frozen=True)
class Answer:
    status: int | None
    duration_ms: int
    response: str = ""
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300 and not self.error


def address_refusal(address: str) -> str:
    """Why a delivery may not connect to ``address`` ("" when it may): its kind, unless
    WEBHOOK_ALLOW_PRIVATE."""
    if settings.WEBHOOK_ALLOW_PRIVATE:
        return ""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for attribute, kind in _ADDRESS_KINDS:
        if getattr(ip, attribute):
            return kind
    if not ip.is_global:
        return "not public"
    return ""


def url_problem(url: str) -> str:
    """Why ``url`` cannot be a subscription's URL ("" when it can): http(s) only, http only
    with WEBHOOK_ALLOW_HTTP, a host, no credentials, and no literal address that deliveries
    would refuse."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"not a valid URL ({exc})"
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        return "the URL must start with https:// (or http://)"
    if scheme == "http" and not settings.WEBHOOK_ALLOW_HTTP:
        return "the URL must use https (http is refused unless WEBHOOK_ALLOW_HTTP is set)"
    if not parts.hostname:
        return "the URL has no host"
    if parts.username is not None or parts.password is not None:
        return "the URL may not carry a user name or password"
    if port == 0:
        return "the URL's port must be 1–65535"
    try:
        literal = ipaddress.ip_address(parts.hostname)
    except ValueError:
        return ""
    kind = address_refusal(str(literal))
    if kind:
        return f"{parts.hostname} is a {kind} address (refused unless WEBHOOK_ALLOW_PRIVATE is set)"
    return ""


def _error_text(exc: BaseException, timeout: float) -> tuple[str, str]:
    """(the attempt's error, the metric's outcome) of a transport failure."""
    if isinstance(exc, ConnectTimeoutError | ReadTimeoutError | TimeoutError | socket.timeout):
        return f"timed out (no answer within {timeout:g} s)", "timeout"
    if isinstance(exc, NewConnectionError):
        return f"could not connect: {_reason(exc)}", "connection_error"
    if isinstance(exc, SSLError):
        return f"TLS error: {_reason(exc)}", "connection_error"
    if isinstance(exc, ProtocolError):
        return f"connection broken: {_reason(exc)}", "connection_error"
    return f"{type(exc).__name__}: {_reason(exc)}", "connection_error"


def _reason(exc: BaseException) -> str:
    inner = exc
    while inner.__context__ is not None and isinstance(inner, HTTPError):
        inner = inner.__context__
    text = str(getattr(inner, "reason", None) or inner) or type(inner).__name__
    return text[:500]


class Sender:
    """POSTs to one URL over kept-alive connections to checked addresses. Not thread-safe."""

    def __init__(self, url: str, *, timeout: float | None = None):
        self.url = url
        self.timeout = float(settings.WEBHOOK_TIMEOUT_SECONDS if timeout is None else timeout)
        parts = urlsplit(url)
        self.scheme = parts.scheme.lower()
        self.hostname = (parts.hostname or "").rstrip(".")
        self.port = parts.port or DEFAULT_PORTS.get(self.scheme, 0)
        self.target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        default = DEFAULT_PORTS.get(self.scheme)
        host = f"[{self.hostname}]" if ":" in self.hostname else self.hostname
        self.host_header = host if self.port == default else f"{host}:{self.port}"
        self._addresses: list[str] | None = None
        self._pools: dict[str, urllib3.HTTPConnectionPool] = {}
        self._working: str | None = None  # the address the last successful connection used

    def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()

    def __enter__(self) -> Sender:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- addresses -----------------------------------------------------------------------

    def addresses(self) -> list[str]:
        """The addresses this URL may be posted to, checked, in the resolver's order (cached
        for the Sender's life); :class:`Refused` when there is none."""
        if self._addresses is not None:
            return self._addresses
        problem = url_problem(self.url)
        if problem:
            raise Refused(problem)
        try:
            infos = socket.getaddrinfo(self.hostname, self.port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise Refused(f"could not resolve {self.hostname}: {exc}") from None
        allowed, refused = [], []
        for family, *_rest, sockaddr in infos:
            if family not in (socket.AF_INET, socket.AF_INET6):
                continue
            address = sockaddr[0]
            kind = address_refusal(address)
            if kind:
                refused.append(f"{address} ({kind})")
            elif address not in allowed:
                allowed.append(address)
        if not allowed:
            listed = ", ".join(dict.fromkeys(refused)) or "nothing"
            raise Refused(
                f"{self.hostname} resolves to {listed}: refused (deliveries go to public "
                "addresses only unless WEBHOOK_ALLOW_PRIVATE is set)"
            )
        self._addresses = allowed
        return allowed

    def _pool(self, address: str) -> urllib3.HTTPConnectionPool:
        pool = self._pools.get(address)
        if pool is None:
            common = {"port": self.port, "maxsize": 1, "block": False, "retries": False}
            if self.scheme == "https":
                pool = urllib3.HTTPSConnectionPool(
                    address, server_hostname=self.hostname, assert_hostname=self.hostname,
                    cert_reqs="CERT_REQUIRED", ca_certs=certifi.where(), **common,
                )  # fmt: skip
            else:
                pool = urllib3.HTTPConnectionPool(address, **common)
            self._pools[address] = pool
        return pool

    # --- one attempt ---------------------------------------------------------------------

    def post(self, body: bytes, headers: dict[str, str]) -> Answer:
        """One POST of ``body``; never raises for what the network or the receiver does."""
        started = time.monotonic()
        deadline = started + self.timeout

        def elapsed_ms() -> int:
            return round((time.monotonic() - started) * 1000)

        try:
            addresses = self.addresses()
        except Refused as exc:
            count_outbound("webhook", "connection_error")
            return Answer(None, elapsed_ms(), "", f"refused: {exc}")
        ordered = addresses
        if self._working in addresses:
            ordered = [self._working] + [a for a in addresses if a != self._working]
        headers = {**headers, "Host": self.host_header}
        last_error, outcome = "", "connection_error"
        for address in ordered:
            left = deadline - time.monotonic()
            if left <= 0:
                last_error, outcome = f"timed out (no answer within {self.timeout:g} s)", "timeout"
                break
            try:
                resp = self._pool(address).urlopen(
                    "POST", self.target, body=body, headers=headers, retries=False,
                    redirect=False, assert_same_host=False,
                    timeout=urllib3.Timeout(total=left), preload_content=False,
                    release_conn=False,
                )  # fmt: skip
            except NewConnectionError as exc:  # nothing was sent: the next address may answer
                last_error, outcome = _error_text(exc, self.timeout)
                continue
            except Exception as exc:  # noqa: BLE001 - every failure is an attempt's answer
                last_error, outcome = _error_text(exc, self.timeout)
                break
            self._working = address
            return self._answer(resp, started, deadline)
        count_outbound("webhook", outcome)
        return Answer(None, elapsed_ms(), "", last_error)

    def _answer(self, resp, started: float, deadline: float) -> Answer:
        status = resp.status
        error = ""
        text = b""
        try:
            text = resp.read(ANSWER_MAX, decode_content=False)
            remaining = resp.length_remaining
            if time.monotonic() > deadline:
                error = f"timed out (no answer within {self.timeout:g} s)"
            elif remaining is not None and remaining <= DRAIN_MAX:
                resp.drain_conn()
            else:
                resp.close()  # chunked or long: not read to the end; the connection closes
        except Exception as exc:  # noqa: BLE001
            error, _ = _error_text(exc, self.timeout)
            resp.close()
        finally:
            resp.release_conn()
        duration = round((time.monotonic() - started) * 1000)
        if error and "timed out" in error:
            count_outbound("webhook", "timeout")
        elif 200 <= status < 300 and not error:
            count_outbound("webhook", "ok")
        else:
            count_outbound("webhook", "http_error")
        if not error and not 200 <= status < 300:
            error = f"HTTP {status}" + (
                " (redirects are not followed)" if 300 <= status < 400 else ""
            )
        return Answer(status, duration, text.decode("utf-8", "replace"), error)
