"""Retry rules shared by the outbound HTTP clients (Condoit, VoltMetrics, photo hosts).

No settings, no network: each client keeps its own settings, error types and messages and
asks these for the rules they have in common: which statuses are worth trying again, how long
to wait before the next attempt (exponential backoff with "equal jitter", or the server's
``Retry-After``, both capped), the one retry loop (:func:`call_with_retries`, on tenacity),
and the short detail of an error envelope.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

import orjson
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_base

T = TypeVar("T")


class RetryableError(Exception):
    """One attempt failed in a way worth trying again (timeout, connection error, 429, 5xx).

    Internal to a client's retry loop: it never leaves the client, which raises its own error
    type once the retries run out."""

    def __init__(self, message: str, status: int | None = None, wait: float | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.wait = wait  # seconds the server asked for (Retry-After, capped), if any


def is_retryable_status(status: int) -> bool:
    """429 Too Many Requests and every 5xx are worth trying again; nothing else is."""
    return status == 429 or status >= 500


def backoff_delay(attempt: int, base: float, cap: float, rng=random) -> float:
    """Seconds to wait after failed attempt ``attempt`` (0-based): exponential backoff with
    "equal jitter", half of ``min(cap, base * 2**attempt)`` fixed and half random."""
    ceiling = min(cap, base * (2**attempt))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


def retry_after_seconds(
    header_value: str | None, cap: float, now: datetime | None = None
) -> float | None:
    """A ``Retry-After`` value (delay seconds or an HTTP date) as seconds from ``now``, within
    ``[0, cap]``; None when the header is missing or unreadable."""
    value = (header_value or "").strip()
    if not value:
        return None
    try:
        asked = max(0.0, float(value))
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        asked = max(0.0, (when - (datetime.now(UTC) if now is None else now)).total_seconds())
    return max(0.0, min(asked, cap))


class RetryAfterOrBackoff(wait_base):
    """Tenacity wait: the ``Retry-After`` the failed attempt carried (``RetryableError.wait``,
    already capped), else :func:`backoff_delay` for that attempt."""

    def __init__(self, base: float, cap: float, rng=random):
        self.base = base
        self.cap = cap
        self.rng = rng

    def delay(self, attempt: int, asked: float | None) -> float:
        """Seconds to wait after failed attempt ``attempt`` (0-based) that asked for ``asked``."""
        if asked is not None:
            return asked
        return backoff_delay(attempt, self.base, self.cap, self.rng)

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        failure = outcome.exception() if outcome is not None else None
        return self.delay(retry_state.attempt_number - 1, getattr(failure, "wait", None))


def call_with_retries(
    attempt: Callable[[int], T],
    *,
    max_retries: int,
    backoff_base: float,
    backoff_cap: float,
    sleep: Callable[[float], None],
    on_retry: Callable[[RetryableError, int, float], None] | None = None,
) -> T:
    """``attempt(n)`` for n = 1, 2, … until it returns (its value is returned) or raises.

    A :class:`RetryableError` is tried again, at most ``max_retries`` times, after
    ``sleep(seconds)`` with the seconds of :class:`RetryAfterOrBackoff`; ``on_retry(error, n,
    seconds)`` is called just before each sleep (to log it). When the retries run out the last
    :class:`RetryableError` is raised as it is; any other exception is raised at once."""

    def before_sleep(state: RetryCallState) -> None:
        if on_retry is not None:
            on_retry(state.outcome.exception(), state.attempt_number, state.next_action.sleep)

    retrying = Retrying(
        stop=stop_after_attempt(max(0, max_retries) + 1),
        wait=RetryAfterOrBackoff(backoff_base, backoff_cap),
        retry=retry_if_exception_type(RetryableError),
        sleep=lambda seconds: sleep(float(seconds)),
        before_sleep=before_sleep,
        reraise=True,
    )
    for tried in retrying:
        with tried:
            return attempt(tried.retry_state.attempt_number)
    raise AssertionError("unreachable")  # pragma: no cover


def error_detail(body: bytes) -> str:
    """``{"error": {"code": …, "message": …}}`` (or ``{"error": "text"}``) → ": code: message",
    at most 500 characters; "" for any other body."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return ""
    err = data.get("error") if isinstance(data, dict) else None
    if isinstance(err, dict):
        text = ": ".join(str(err[k]) for k in ("code", "message") if err.get(k))
    elif isinstance(err, str):
        text = err
    else:
        return ""
    return f": {text[:500]}" if text else ""
