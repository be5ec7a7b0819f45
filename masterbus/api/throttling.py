"""Rate limits (threatmap-api.md §Rate limits).

Fixed 60-second windows counted in the Django cache: one counter per principal (API key or
user) per window, created with ``cache.add`` and bumped with ``cache.incr`` — on Redis that
is an atomic INCRBY, so every web process shares the counters.

- ``PrincipalRateThrottle`` (DEFAULT_THROTTLE_CLASSES) counts each authenticated request and
  leaves the window's state on the Django request; anonymous requests are not counted (they
  stop at 401 anyway, or reach AllowAny views such as /schema).
- ``RateLimitHeadersMiddleware`` writes X-RateLimit-Limit/-Remaining/-Reset from that state on
  every response of an authenticated API request, errors included. A request refused before
  the throttle ran (403 from a permission) is counted there, so it gets the headers too.
- ``TokenAddressThrottle`` limits ``POST /auth/token`` per client address (``client_address``:
  REMOTE_ADDR, or the X-Forwarded-For entry chosen by REST_FRAMEWORK["NUM_PROXIES"]) against
  password guessing. The login lockout (``masterbus.api.lockout``) uses the same address.

When the cache is unreachable, the request is allowed and counted in a per-process fallback
counter instead, so the headers are still sent (limits are then per process, i.e. looser).
"""

from __future__ import annotations

import ipaddress
import logging
import math
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from .permissions import request_api_key

log = logging.getLogger(__name__)

WINDOW = 60
STATE_ATTR = "rate_limit_state"


@dataclass(frozen=True)
class RateState:
    limit: int
    count: int
    reset: int  # unix seconds at which the window ends

    @property
    def allowed(self) -> bool:
        return self.count <= self.limit

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.count)

    def retry_after(self, now: float | None = None) -> int:
        now = time.time() if now is None else now
        return max(1, math.ceil(self.reset - now))

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
        }


_local_counts: dict[str, tuple[int, int]] = {}
_local_lock = threading.Lock()


def _local_incr(key: str, reset: int, now: float) -> int:
    with _local_lock:
        if len(_local_counts) > 10_000:
            for k in [k for k, (_, r) in _local_counts.items() if r <= now]:
                del _local_counts[k]
        count = _local_counts.get(key, (0, reset))[0] + 1
        _local_counts[key] = (count, reset)
        return count


def _cache_incr(key: str) -> int | None:
    """The counter after this hit, or None when the cache cannot count."""
    for _ in range(2):
        try:
            cache.add(key, 0, timeout=WINDOW + 5)
            count = cache.incr(key)
        except ValueError:
            continue  # evicted between add and incr: add it again
        except Exception:  # an unreachable cache must never fail the request
            log.warning("rate limit: cache unavailable, counting in-process", exc_info=True)
            return None
        # django-redis with IGNORE_EXCEPTIONS answers None when Redis is down.
        return count if isinstance(count, int) else None
    return None


def rate_limit_hit(bucket: str, limit: int, *, now: float | None = None) -> RateState:
    """Count one request of ``bucket`` in the current window and return the window's state."""
    now = time.time() if now is None else now
    start = int(now // WINDOW) * WINDOW
    reset = start + WINDOW
    key = f"ratelimit:{bucket}:{start}"
    count = _cache_incr(key)
    if count is None:
        count = _local_incr(key, reset, now)
    return RateState(limit=limit, count=count, reset=reset)


def principal_bucket(request) -> tuple[str, int] | None:
    """(bucket, limit per minute) of an authenticated request, None for anonymous."""
    key = request_api_key(request)
    if key is not None:
        return f"key:{key.pk}", key.effective_rate_limit
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and getattr(user, "pk", None) is not None:
        return f"user:{user.pk}", settings.API_RATE_LIMIT_PER_MINUTE
    return None


def _ip(value) -> str | None:
    """``value`` as a canonical IP address (IPv4-mapped IPv6 as IPv4, no zone), else None."""
    if not isinstance(value, str):
        return None
    try:
        address = ipaddress.ip_address(value.strip().split("%", 1)[0])
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return str(mapped or address)


def client_address(request) -> str | None:
    """The client's address, chosen as DRF's throttles choose it: REMOTE_ADDR when
    REST_FRAMEWORK["NUM_PROXIES"] is 0 (a client-sent X-Forwarded-For is ignored: it can be
    forged), else the X-Forwarded-For entry the outermost of those trusted proxies added.
    None when that is not an IP address."""
    meta = request.META
    num_proxies = api_settings.NUM_PROXIES or 0
    xff = meta.get("HTTP_X_FORWARDED_FOR")
    if num_proxies > 0 and xff:
        entries = xff.split(",")
        return _ip(entries[-min(num_proxies, len(entries))])
    return _ip(meta.get("REMOTE_ADDR"))


def _store(request, state: RateState) -> None:
    setattr(getattr(request, "_request", request), STATE_ATTR, state)


class _StateThrottle(BaseThrottle):
    state: RateState | None = None

    def wait(self):
        return self.state.retry_after() if self.state else None


class PrincipalRateThrottle(_StateThrottle):
    """Per key (its own limit, else the default) or per user, per minute."""

    def allow_request(self, request, view) -> bool:
        found = principal_bucket(request)
        if found is None:
            return True
        self.state = rate_limit_hit(*found)
        _store(request, self.state)
        return self.state.allowed


class TokenAddressThrottle(_StateThrottle):
    """API_TOKEN_RATE_LIMIT_PER_MINUTE requests per client address to the token endpoints."""

    bucket = "auth-token"

    def allow_request(self, request, view) -> bool:
        ident = client_address(request) or "unknown"
        self.state = rate_limit_hit(
            f"{self.bucket}:{ident}", settings.API_TOKEN_RATE_LIMIT_PER_MINUTE
        )
        _store(request, self.state)
        return self.state.allowed


class RateLimitHeadersMiddleware:
    """Adds the X-RateLimit-* headers to responses of rate-limited (authenticated) requests."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        state = getattr(request, STATE_ATTR, None)
        # DRF sets request.auth on the Django request once it has authenticated; an
        # authenticated request refused before the throttle ran is counted now.
        if state is None and hasattr(request, "auth"):
            found = principal_bucket(request)
            if found is not None:
                state = rate_limit_hit(*found)
        if state is not None:
            for name, value in state.headers().items():
                response[name] = value
        return response
