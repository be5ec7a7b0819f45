"""Webhook signatures (threatmap-api.md §Webhook signatures).

Header ``X-…-Signature: t=<unix seconds>,v1=<hex>`` where
``hex = HMAC-SHA256(secret, "<t>.<raw body>")``; refused when missing, wrong, or when
``|now − t|`` exceeds the replay window.

A secret setting (``CONDOIT_WEBHOOK_SECRET``, ``VOLTMETRICS_WEBHOOK_SECRET``) may hold several
secrets, comma-separated, so a rotation has two valid at once: a signature made with any of
them is accepted; whatever signs uses the first (``secret_list``, ``signing_secret``).
"""

import hashlib
import hmac
import re
import time
from collections.abc import Iterable

import orjson
from django.conf import settings

from .errors import ApiError, BadSignature, ErrorCode


def digests_equal(expected: str, given: str) -> bool:
    """Constant-time comparison of a computed digest with one a client sent. Any text is
    accepted: ``hmac.compare_digest`` raises on non-ASCII ``str``, so both sides are compared
    as UTF-8 bytes (a non-ASCII or wrong-length value is simply unequal)."""
    return hmac.compare_digest(
        expected.encode("utf-8", "surrogatepass"), given.encode("utf-8", "surrogatepass")
    )


# A timestamp is at most 12 ASCII digits (well past year 9999): anything else is malformed,
# and never reaches float arithmetic (a 400-digit int would overflow it).
_TIMESTAMP = re.compile(r"[0-9]{1,12}", re.ASCII)


def parse_timestamp(raw: str) -> int | None:
    """``raw`` as unix seconds, or None when it is not 1–12 ASCII digits."""
    return int(raw) if _TIMESTAMP.fullmatch(raw) else None


def secret_list(secrets: str | Iterable[str]) -> tuple[str, ...]:
    """The secrets of a setting: a comma-separated string (or an iterable of strings), each
    entry trimmed, empty entries dropped, order kept."""
    items = secrets.split(",") if isinstance(secrets, str) else secrets
    return tuple(s for s in (item.strip() for item in items) if s)


def signing_secret(secrets: str | Iterable[str]) -> str:
    """The secret to sign with: the first of the setting's secrets ("" when there is none)."""
    listed = secret_list(secrets)
    return listed[0] if listed else ""


def _mac(secret: str, t: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secrets: str | Iterable[str], body: bytes, t: int | None = None) -> str:
    """A signature header value, made with the first of ``secrets``."""
    t = int(time.time()) if t is None else t
    return f"t={t},v1={_mac(signing_secret(secrets), t, body)}"


def verify(
    secrets: str | Iterable[str], header: str | None, body: bytes, *, now: float | None = None
) -> None:
    """Refuse (BadSignature) unless ``header`` carries a v1 signature of ``body`` made with one
    of ``secrets`` at a timestamp within the replay window."""
    secrets = secret_list(secrets)
    if not secrets:
        raise BadSignature("Signature secret is not configured")
    if not header:
        raise BadSignature("Missing signature header")
    parts: dict[str, list[str]] = {}
    for piece in header.split(","):
        key, sep, value = piece.strip().partition("=")
        if sep:
            parts.setdefault(key, []).append(value)
    t = parse_timestamp(parts.get("t", [""])[0])
    if t is None:
        raise BadSignature("Malformed signature header")
    now = time.time() if now is None else now
    if abs(now - t) > settings.WEBHOOK_REPLAY_WINDOW:
        raise BadSignature("Signature timestamp outside the replay window")
    given = parts.get("v1", [])
    # Every secret against every given signature, each in constant time, with no early exit.
    matched = False
    for secret in secrets:
        expected = _mac(secret, t, body)
        for value in given:
            matched |= digests_equal(expected, value)
    if not matched:
        raise BadSignature("Signature does not match")


def signed_json_body(request, secrets: str | Iterable[str], header: str):
    """The request's body parsed as JSON, once its signature (in ``header``) is verified against
    ``secrets`` (a setting's value: one secret or several, comma-separated):
    401 AUTH_BAD_SIGNATURE first, then 400 VALIDATION_ERROR if the body is not JSON."""
    body = request.body
    verify(secrets, request.headers.get(header), body)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ApiError(400, ErrorCode.VALIDATION_ERROR, "Body is not valid JSON") from None
