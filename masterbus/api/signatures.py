"""Webhook signatures (threatmap-api.md §Webhook signatures).

Header ``X-…-Signature: t=<unix seconds>,v1=<hex>`` where
``hex = HMAC-SHA256(secret, "<t>.<raw body>")``; refused when missing, wrong, or when
``|now − t|`` exceeds the replay window.
"""

import hashlib
import hmac
import time

import orjson
from django.conf import settings

from .errors import ApiError, BadSignature, ErrorCode


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
    try:
        t = int(parts["t"][0])
    except (KeyError, ValueError, IndexError):
        raise BadSignature("Malformed signature header") from None
    now = time.time() if now is None else now
    if abs(now - t) > settings.WEBHOOK_REPLAY_WINDOW:
        raise BadSignature("Signature timestamp outside the replay window")
    expected = _mac(secret, t, body)
    if not any(hmac.compare_digest(expected, v) for v in parts.get("v1", [])):
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
