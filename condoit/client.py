"""The only HTTP to Condoit: its export API (condoit-source.md §2 item 2).

``CondoitClient.fetch_page`` asks for one page of one resource and returns its items and the
next cursor. Timeouts, connection errors, 429 and 5xx are retried with exponential backoff
and jitter (429 honours ``Retry-After``); any other 4xx, a page that is not JSON or not
``{"items": [...], "nextCursor": str|null}``, and retries running out all raise the one
error type, :class:`CondoitError`. The bearer token never appears in logs or messages.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import orjson
import requests
from django.conf import settings

from masterbus.http import RetryableError, backoff_delay, error_detail, retry_after_seconds

from .bounds import json_error

log = logging.getLogger(__name__)

RESOURCES = ("facilities", "equipment", "maintenance-records")
MAX_LIMIT = 200  # the export API's maximum page size


class CondoitError(Exception):
    """A request to Condoit failed for good (after any retries)."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.status = status


class CondoitClient:
    """A ``requests.Session`` bound to ``CONDOIT_URL`` with the bearer token.

    Every argument defaults to its ``CONDOIT_*`` setting; ``sleep`` is injectable so tests
    can observe the backoff without waiting.
    """

    def __init__(
        self,
        *,
        base_url: str | None = None,
        token: str | None = None,
        connect_timeout: float | None = None,
        read_timeout: float | None = None,
        max_retries: int | None = None,
        backoff_base: float | None = None,
        backoff_cap: float | None = None,
        max_page_bytes: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
    ):
        base_url = settings.CONDOIT_URL if base_url is None else base_url
        token = settings.CONDOIT_TOKEN if token is None else token
        if not base_url or not token:
            raise CondoitError(
                "CONDOIT_URL and CONDOIT_TOKEN must both be set to pull from Condoit"
            )
        self.base_url = base_url.rstrip("/")
        self.timeout = (
            settings.CONDOIT_CONNECT_TIMEOUT if connect_timeout is None else connect_timeout,
            settings.CONDOIT_READ_TIMEOUT if read_timeout is None else read_timeout,
        )
        self.max_retries = max(
            0, settings.CONDOIT_MAX_RETRIES if max_retries is None else max_retries
        )
        self.backoff_base = settings.CONDOIT_BACKOFF_BASE if backoff_base is None else backoff_base
        self.backoff_cap = settings.CONDOIT_BACKOFF_CAP if backoff_cap is None else backoff_cap
        self.max_page_bytes = (
            settings.CONDOIT_MAX_PAGE_BYTES if max_page_bytes is None else max_page_bytes
        )
        self.sleep = sleep
        self.session = session or requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.session.headers["Accept"] = "application/json"
        self.session.headers["User-Agent"] = "MasterBus-Condoit-pull/1"

    def __repr__(self) -> str:  # never show the token
        return f"<CondoitClient {self.base_url}>"

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> CondoitClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- the export API ---------------------------------------------------------------------

    def fetch_page(
        self,
        resource: str,
        *,
        updated_since: datetime | None = None,
        cursor: str | None = None,
        limit: int = MAX_LIMIT,
    ) -> tuple[list[Any], str | None]:
        """One page of ``GET /api/export/<resource>``: ``(items, next_cursor)``."""
        if resource not in RESOURCES:
            raise ValueError(f"unknown Condoit resource {resource!r}")
        params: dict[str, str | int] = {"limit": max(1, min(int(limit), MAX_LIMIT))}
        if updated_since is not None:
            if updated_since.tzinfo is None:
                raise ValueError("updated_since must be timezone-aware")
            # requests URL-encodes the value ("+" -> %2B, ":" -> %3A).
            params["updatedSince"] = updated_since.isoformat()
        if cursor is not None:
            params["cursor"] = cursor
        body = self._get(f"/api/export/{resource}", params)
        return _parse_page(body, resource)

    # --- transport --------------------------------------------------------------------------

    def _get(self, path: str, params: dict) -> bytes:
        url = self.base_url + path
        attempts = self.max_retries + 1
        for attempt in range(attempts):
            try:
                return self._get_once(url, params)
            except RetryableError as exc:
                if attempt + 1 >= attempts:
                    raise CondoitError(
                        f"GET {path} failed after {attempts} attempt(s): {exc.message}",
                        status=exc.status,
                    ) from None
                wait = self._delay(attempt, exc.wait)
                log.warning(
                    "Condoit GET %s: %s; retry %d/%d in %.2fs",
                    path, exc.message, attempt + 1, self.max_retries, wait,
                )  # fmt: skip
                self.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _delay(self, attempt: int, asked: float | None) -> float:
        if asked is not None:  # Retry-After, already capped
            return asked
        return backoff_delay(attempt, self.backoff_base, self.backoff_cap)

    def _get_once(self, url: str, params: dict) -> bytes:
        try:
            resp = self.session.get(
                url, params=params, timeout=self.timeout, stream=True, allow_redirects=False
            )
        except requests.Timeout:
            raise RetryableError("timed out") from None
        except requests.ConnectionError as exc:
            raise RetryableError(f"connection error ({type(exc).__name__})") from None
        except requests.RequestException as exc:
            raise CondoitError(f"request to Condoit failed: {type(exc).__name__}") from None
        with resp:
            status = resp.status_code
            if status == 429:
                wait = retry_after_seconds(resp.headers.get("Retry-After"), self.backoff_cap)
                raise RetryableError("429 Too Many Requests", 429, wait)
            if status >= 500:
                raise RetryableError(f"{status} {resp.reason or 'server error'}", status)
            try:
                body = self._read(resp)
            except requests.Timeout:
                raise RetryableError("timed out reading the response") from None
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
                raise RetryableError(
                    f"connection broke while reading ({type(exc).__name__})"
                ) from None
            except requests.RequestException as exc:
                raise CondoitError(
                    f"could not read Condoit's response: {type(exc).__name__}", status
                ) from None
        if not 200 <= status < 300:
            raise CondoitError(
                f"Condoit answered {status} {resp.reason or ''}".rstrip() + error_detail(body),
                status,
            )
        return body

    def _read(self, resp: requests.Response) -> bytes:
        chunks, size = [], 0
        for chunk in resp.iter_content(chunk_size=65536):
            size += len(chunk)
            if size > self.max_page_bytes:
                raise CondoitError(
                    f"Condoit's response is larger than {self.max_page_bytes} bytes",
                    resp.status_code,
                )
            chunks.append(chunk)
        return b"".join(chunks)


def _parse_page(body: bytes, resource: str) -> tuple[list[Any], str | None]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise CondoitError(f"{resource}: the page is not valid JSON ({json_error(exc)})") from None
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("items"), list)
        or "nextCursor" not in data
    ):
        raise CondoitError(f'{resource}: the page is not {{"items": [...], "nextCursor": ...}}')
    next_cursor = data.get("nextCursor")
    if next_cursor is not None and (not isinstance(next_cursor, str) or not next_cursor):
        raise CondoitError(f"{resource}: nextCursor must be a non-empty string or null")
    return data["items"], next_cursor
