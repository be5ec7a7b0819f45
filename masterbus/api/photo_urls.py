"""Signed photo URLs (threatmap-api.md §Browsers): an ``<img>`` can load them without headers.

``sign_path("/api/v1/photos/ph_1/thumbnail", request=request)`` →
``https://host/api/v1/photos/ph_1/thumbnail?exp=1750000200&sig=<hex>`` where
``sig = HMAC-SHA256(PHOTO_URL_SECRET, "<path>\\n<exp>")``. The expiry is rounded up to the next
PHOTO_URL_EXP_STEP seconds, so URLs built within one step are identical (payload caches and
ETags stay stable) and every URL stays valid for at least ``expires_in`` seconds. A cached
payload holding signed URLs must therefore be rebuilt within ``expires_in`` seconds.

``verify_signed(request)`` raises 403 AUTH_FORBIDDEN for a missing, expired or forged
signature; ``SignedUrlOrReadScope`` is a permission for the photo views: a signed URL is the
credential, and without ``sig`` the usual key/JWT read access applies.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from urllib.parse import unquote, urlencode

from django.conf import settings
from django.utils.crypto import salted_hmac

from .errors import ApiError, ErrorCode
from .permissions import HasReadScope
from .signatures import digests_equal, parse_timestamp

DEFAULT_EXPIRES_IN = 3600


def _secret() -> bytes:
    configured = getattr(settings, "PHOTO_URL_SECRET", "")
    if configured:
        return configured.encode()
    # Derived from SECRET_KEY, distinct from every other use of it.
    return salted_hmac("masterbus.photo-url", "secret", algorithm="sha256").hexdigest().encode()


def _mac(path: str, exp: int) -> str:
    return hmac.new(_secret(), f"{unquote(path)}\n{exp}".encode(), hashlib.sha256).hexdigest()


def build_absolute(request, path: str) -> str:
    """``path`` as an absolute URL on PUBLIC_BASE_URL, else on the request's host; relative
    when neither is known."""
    base = (getattr(settings, "PUBLIC_BASE_URL", "") or "").rstrip("/")
    if base:
        return base + path
    if request is not None:
        return request.build_absolute_uri(path)
    return path


def signed_query(path: str, expires_in: int = DEFAULT_EXPIRES_IN, *, now: float | None = None):
    now = time.time() if now is None else now
    step = max(1, int(getattr(settings, "PHOTO_URL_EXP_STEP", 300)))
    exp = math.ceil((now + expires_in) / step) * step
    return urlencode({"exp": exp, "sig": _mac(path, exp)})


def sign_path(
    path: str,
    expires_in: int = DEFAULT_EXPIRES_IN,
    *,
    request=None,
    now: float | None = None,
) -> str:
    """The absolute signed URL of ``path`` (a URL path such as ``reverse()`` returns)."""
    return build_absolute(request, f"{path}?{signed_query(path, expires_in, now=now)}")


def verify_signed(request, *, now: float | None = None) -> None:
    """Raise 403 AUTH_FORBIDDEN unless the request's ``exp``/``sig`` sign its path."""
    exp_raw = request.GET.get("exp", "")
    sig = request.GET.get("sig", "")
    if not exp_raw or not sig:
        raise ApiError(403, ErrorCode.AUTH_FORBIDDEN, "Missing URL signature")
    exp = parse_timestamp(exp_raw)
    if exp is None:
        raise ApiError(403, ErrorCode.AUTH_FORBIDDEN, "Malformed URL signature")
    expected = _mac(request.path, exp)
    if not digests_equal(expected, sig):
        raise ApiError(403, ErrorCode.AUTH_FORBIDDEN, "Invalid URL signature")
    now = time.time() if now is None else now
    if exp < now:
        raise ApiError(403, ErrorCode.AUTH_FORBIDDEN, "URL signature has expired")


class SignedUrlOrReadScope(HasReadScope):
    """Photo endpoints: a request with ``sig`` must carry a valid signature (else 403); a
    request without one needs the usual read access (key with threatmap:read, or a user).
    Use with ``authentication_classes`` left at the default."""

    def has_permission(self, request, view) -> bool:
        if "sig" in request.query_params or "exp" in request.query_params:
            verify_signed(request)
            return True
        return super().has_permission(request, view)
