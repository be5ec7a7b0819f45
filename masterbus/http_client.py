"""The ``requests`` side the outbound JSON clients (Condoit, VoltMetrics) share.

:class:`ServiceClient` is a ``requests.Session`` bound to one service's base URL with its
credential header, its timeouts and retry settings (read from ``<PREFIX>_CONNECT_TIMEOUT``,
``<PREFIX>_READ_TIMEOUT``, ``<PREFIX>_MAX_RETRIES``, ``<PREFIX>_BACKOFF_BASE`` and
``<PREFIX>_BACKOFF_CAP`` unless given), one attempt at a request (:meth:`ServiceClient._send`:
timeouts, connection errors, 429 and 5xx become :class:`~masterbus.http.RetryableError`, the
answer is read within a byte bound) and the retry loop around attempts
(:meth:`ServiceClient._with_retries`, logged). Each client keeps its own error type, its
messages and what an answer means.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Self, TypeVar

import requests
from django.conf import settings

from .http import RetryableError, RetryAfterOrBackoff, call_with_retries, retry_after_seconds
from .metrics.families import count_outbound

T = TypeVar("T")

CHUNK = 65536


class ServiceClient:
    """Subclasses set the class attributes below and implement :meth:`_failure`.

    ``sleep`` is injectable (and may be replaced on the instance) so tests can observe the
    backoff without waiting. The credential never appears in the repr."""

    settings_prefix: str  # "CONDOIT": CONDOIT_CONNECT_TIMEOUT, CONDOIT_MAX_RETRIES, …
    service: str  # "Condoit", in messages and logs
    whose: str  # "Condoit's"
    answer: str  # "response": what the service sends back, in messages
    user_agent: str
    log: logging.Logger
    system: str  # "condoit": the masterbus_outbound_requests_total label
    log_detail_max: int | None = None  # how much of a retry's reason a log line shows

    def __init__(
        self,
        *,
        base_url: str,
        credential: dict[str, str],
        connect_timeout: float | None = None,
        read_timeout: float | None = None,
        max_retries: int | None = None,
        backoff_base: float | None = None,
        backoff_cap: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
    ):
        self.base_url = base_url
        self.timeout = (
            self._setting("CONNECT_TIMEOUT", connect_timeout),
            self._setting("READ_TIMEOUT", read_timeout),
        )
        self.max_retries = max(0, self._setting("MAX_RETRIES", max_retries))
        self.backoff_base = self._setting("BACKOFF_BASE", backoff_base)
        self.backoff_cap = self._setting("BACKOFF_CAP", backoff_cap)
        self.sleep = sleep
        self.session = session or requests.Session()
        self.session.headers.update(credential)
        self.session.headers["Accept"] = "application/json"
        self.session.headers["User-Agent"] = self.user_agent

    def _setting(self, name: str, given: Any) -> Any:
        return getattr(settings, f"{self.settings_prefix}_{name}") if given is None else given

    def __repr__(self) -> str:  # never show the credential
        return f"<{type(self).__name__} {self.base_url}>"

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _failure(self, message: str, status: int | None) -> Exception:
        """The client's own error for a request that failed for good without a retry:
        ``status`` is None when no answer came (the request itself failed), else the status
        of an answer that could not be read."""
        raise NotImplementedError

    # --- retries --------------------------------------------------------------------------

    def _delay(self, attempt: int, asked: float | None) -> float:
        """Seconds to wait after failed attempt ``attempt`` (0-based) that asked ``asked``."""
        return RetryAfterOrBackoff(self.backoff_base, self.backoff_cap).delay(attempt, asked)

    def _with_retries(self, what: str, attempt: Callable[[int], T]) -> T:
        """``attempt(n)`` retried per :func:`masterbus.http.call_with_retries` with this
        client's settings; each retry logged as "<service> <what>: <why>; retry i/N in Xs".
        The last :class:`RetryableError` is raised when the retries run out."""
        return call_with_retries(
            attempt,
            max_retries=self.max_retries,
            backoff_base=self.backoff_base,
            backoff_cap=self.backoff_cap,
            sleep=lambda seconds: self.sleep(seconds),
            on_retry=lambda exc, n, wait: self._log_retry(what, exc, n, wait),
        )

    def _log_retry(self, what: str, exc: RetryableError, n: int, wait: float) -> None:
        why = exc.message[: self.log_detail_max]
        self.log.warning(
            "%s %s: %s; retry %d/%d in %.2fs",
            self.service, what, why, n, self.max_retries, wait,
        )  # fmt: skip

    # --- one attempt ----------------------------------------------------------------------

    def _send(
        self, method: str, url: str, max_bytes: int, **kwargs: Any
    ) -> tuple[requests.Response, bytes]:
        """One request without redirects: ``(response, body)`` for any status below 500 but
        429. Raises :class:`RetryableError` for a timeout, a connection error, 429 (with its
        ``Retry-After``, capped) and 5xx; the client's error for any other failure."""
        try:
            resp = self.session.request(
                method, url, timeout=self.timeout, stream=True, allow_redirects=False, **kwargs
            )
        except requests.Timeout:
            self.count("timeout")
            raise RetryableError("timed out") from None
        except requests.ConnectionError as exc:
            self.count("connection_error")
            raise RetryableError(f"connection error ({type(exc).__name__})") from None
        except requests.RequestException as exc:
            self.count("connection_error")
            raise self._failure(
                f"request to {self.service} failed: {type(exc).__name__}", None
            ) from None
        with resp:
            status = resp.status_code
            if not 200 <= status < 300:
                self.count("http_error")
            if status == 429:
                wait = retry_after_seconds(resp.headers.get("Retry-After"), self.backoff_cap)
                raise RetryableError("429 Too Many Requests", 429, wait)
            if status >= 500:
                raise RetryableError(f"{status} {resp.reason or 'server error'}", status)
            try:
                body = self._read(resp, max_bytes)
            except requests.Timeout:
                self.count("timeout")
                raise RetryableError(f"timed out reading the {self.answer}") from None
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
                self.count("connection_error")
                raise RetryableError(
                    f"connection broke while reading ({type(exc).__name__})"
                ) from None
            except requests.RequestException as exc:
                self.count("connection_error")
                raise self._failure(
                    f"could not read {self.whose} {self.answer}: {type(exc).__name__}", status
                ) from None
        return resp, body

    def count(self, outcome: str) -> None:
        """Count one request's outcome (masterbus_outbound_requests_total). :meth:`_send`
        counts transport failures and non-2xx answers; the client counts a 2xx answer once it
        has read it: ``ok``, or ``bad_body`` when it could not be used (bad JSON, missing
        fields, too large)."""
        count_outbound(self.system, outcome)

    def _read(self, resp: requests.Response, max_bytes: int) -> bytes:
        chunks, size = [], 0
        for chunk in resp.iter_content(chunk_size=CHUNK):
            size += len(chunk)
            if size > max_bytes:
                if 200 <= resp.status_code < 300:
                    self.count("bad_body")
                raise self._failure(
                    f"{self.whose} {self.answer} is larger than {max_bytes} bytes",
                    resp.status_code,
                )
            chunks.append(chunk)
        return b"".join(chunks)
