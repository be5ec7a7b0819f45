"""The only HTTP to Condoit: its export API (condoit-source.md §2 item 2).

``CondoitClient.fetch_page`` asks for one page of one resource and returns its items and the
next cursor. Timeouts, connection errors, 429 and 5xx are retried with exponential backoff
and jitter (429 honours ``Retry-After``); any other 4xx, a page that is not JSON or not
``{"items": [...], "nextCursor": str|null}``, and retries running out all raise the one
error type, :class:`CondoitError`. The bearer token never appears in logs or messages.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import orjson
from django.conf import settings

from masterbus.http import RetryableError, error_detail
from masterbus.http_client import ServiceClient

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


class CondoitClient(ServiceClient):
    """A ``requests.Session`` bound to ``CONDOIT_URL`` with the bearer token.

    Every argument defaults to its ``CONDOIT_*`` setting (``CONDOIT_URL``, ``CONDOIT_TOKEN``,
    ``CONDOIT_MAX_PAGE_BYTES``; the timeouts, ``CONDOIT_MAX_RETRIES`` and
    ``CONDOIT_BACKOFF_BASE``/``_CAP`` through :class:`~masterbus.http_client.ServiceClient`,
    which takes the other arguments, ``sleep`` and ``session`` among them).
    """

    settings_prefix = "CONDOIT"
    service = "Condoit"
    system = "condoit"
    whose = "Condoit's"
    answer = "response"
    user_agent = "MasterBus-Condoit-pull/1"
    log = log

    def __init__(
        self,
        *,
        base_url: str | None = None,
        token: str | None = None,
        max_page_bytes: int | None = None,
        **options: Any,
    ):
        base_url = settings.CONDOIT_URL if base_url is None else base_url
        token = settings.CONDOIT_TOKEN if token is None else token
        if not base_url or not token:
            raise CondoitError(
                "CONDOIT_URL and CONDOIT_TOKEN must both be set to pull from Condoit"
            )
        super().__init__(
            base_url=base_url.rstrip("/"),
            credential={"Authorization": f"Bearer {token}"},
            **options,
        )
        self.max_page_bytes = (
            settings.CONDOIT_MAX_PAGE_BYTES if max_page_bytes is None else max_page_bytes
        )

    def _failure(self, message: str, status: int | None) -> CondoitError:
        return CondoitError(message, status)

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
        try:
            page = _parse_page(body, resource)
        except CondoitError:
            self.count("bad_body")
            raise
        self.count("ok")
        return page

    # --- transport --------------------------------------------------------------------------

    def _get(self, path: str, params: dict) -> bytes:
        url = self.base_url + path
        try:
            resp, body = self._with_retries(
                f"GET {path}", lambda _n: self._send("GET", url, self.max_page_bytes, params=params)
            )
        except RetryableError as exc:
            raise CondoitError(
                f"GET {path} failed after {self.max_retries + 1} attempt(s): {exc.message}",
                status=exc.status,
            ) from None
        status = resp.status_code
        if not 200 <= status < 300:
            raise CondoitError(
                f"Condoit answered {status} {resp.reason or ''}".rstrip() + error_detail(body),
                status,
            )
        return body


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
