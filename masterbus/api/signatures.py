"""Webhook signatures (threatmap-api.md §Webhook signatures).

Header ``X-…-Signature: t=<unix seconds>,v1=<hex>`` where
``hex = HMAC-SHA256(secret, "<t>.<raw body>")``; refused when missing, wrong, or when
``|now − t|`` exceeds the replay window.
"""

import hashlib
import hmac
import re
import time

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


def _mac(secret: str, t: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, t: int | None = None) -> str:
    t = int(time.time()) if t is None else t
    return f"t={t},v1={_mac(secret, t, body)}"


def verify(secret: str, header: str | None, body: bytes, *, now: float | None = None) -> None:
    if not secret:
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
    expected = _mac(secret, t, body)
    if not any(digests_equal(expected, v) for v in parts.get("v1", [])):
        raise BadSignature("Signature does not match")


def signed_json_body(request, secret: str, header: str):
    """The request's body parsed as JSON, once its signature (in ``header``) is verified:
    401 AUTH_BAD_SIGNATURE first, then 400 VALIDATION_ERROR if the body is not JSON."""
    body = request.body
    verify(secret, request.headers.get(header), body)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ApiError(400, ErrorCode.VALIDATION_ERROR, "Body is not valid JSON") from None
