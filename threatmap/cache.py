"""Cached read payloads, their invalidation, ETag and Last-Modified (threatmap-api.md
"Freshness and caching").

A payload is cached as its rendered JSON bytes under a key made of
- the current risk-model version tag (publishing a version orphans every payload),
- a generation number of its scope: one per facility (its detail, equipment list, compliance,
  risks and its equipment's details), one for the facility list, one for the portfolio,
- the endpoint and its normalised query parameters.
``cache_invalidate_facility`` bumps a facility's generation and the list's;
``cache_invalidate_portfolio`` bumps the portfolio's and the list's. The recompute service
calls them once it has stored new assessments (equipment → its facility → the portfolio).

A generation missing from the cache (never set, evicted) is seeded with the clock in
nanoseconds rather than 0, so an eviction never resurrects payloads stored under an older
generation. When the cache is unreachable (django-redis IGNORE_EXCEPTIONS answers None) no
generation is known and the payload is built from the database without caching.

Responses carry a strong ETag (a digest of the exact body, photo URLs included) and
Last-Modified from the payload's last_updated; ``If-None-Match`` answers 304 without a body.
Stale serving (``X-Data-Stale``) is not used: a changed payload is rebuilt from stored
assessments on the next request, which costs a few indexed queries.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse
from django.utils.http import http_date
from rest_framework.renderers import JSONRenderer

from . import photo_refs

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/json; charset=utf-8"
_GEN = "threatmap:gen:"
_PAYLOAD = "threatmap:payload:"
LIST_SCOPE = "facilities"
PORTFOLIO_SCOPE = "portfolio"

Builder = Callable[[], tuple[dict, datetime | None]]


def _ttl() -> int:
    return int(getattr(settings, "THREATMAP_CACHE_TTL", 3600))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def facility_scope(facility_external_id: str) -> str:
    return f"facility:{_digest(facility_external_id)}"


def model_version_tag() -> str:
    try:
        from voltmetrics.versions import current_model_version_tag
    except ImportError:  # pragma: no cover - the versions module predates this one
        from voltmetrics.models import ModelVersion

        row = ModelVersion.objects.filter(is_current=True).values_list("version", "pk").first()
        return f"{row[0]}:{row[1]}" if row else "none:0"
    return current_model_version_tag()


def _safe(op, *args, default=None):
    """A cache call that never raises (backends without IGNORE_EXCEPTIONS included)."""
    try:
        return op(*args)
    except Exception:  # noqa: BLE001 - a cache outage must not fail a read
        log.warning("threatmap cache unavailable", exc_info=True)
        return default


def generation(scope: str):
    key = _GEN + scope
    gen = _safe(cache.get, key)
    if gen is None:
        _safe(cache.add, key, time.time_ns(), None)
        gen = _safe(cache.get, key)
    return gen


def _bump(scope: str) -> None:
    key = _GEN + scope
    try:
        cache.incr(key)
    except ValueError:  # not set (or evicted): a fresh, never-used generation
        _safe(cache.set, key, time.time_ns(), None)
    except Exception:  # noqa: BLE001
        log.warning("threatmap cache invalidation failed for %s", scope, exc_info=True)


def cache_invalidate_facility(*facility_external_ids: str) -> None:
    """Forget the cached payloads of these facilities (and their equipment) and the list."""
    for ext in facility_external_ids:
        _bump(facility_scope(ext))
    _bump(LIST_SCOPE)


def cache_invalidate_portfolio() -> None:
    _bump(PORTFOLIO_SCOPE)
    _bump(LIST_SCOPE)


class Rendered:
    __slots__ = ("body", "last_modified")

    def __init__(self, body: bytes, last_modified: datetime | None):
        self.body = body
        self.last_modified = last_modified


def render(data: dict) -> bytes:
    return JSONRenderer().render(data)


def cached_payload(*, endpoint: str, scope: str, params: str, build: Builder) -> Rendered:
    """The rendered payload from the cache, else built, rendered and stored."""
    tag = model_version_tag()
    gen = generation(scope)
    key = None
    if gen is not None:
        key = _PAYLOAD + _digest(f"{tag}|{scope}|{gen}|{endpoint}|{params}")
        hit = _safe(cache.get, key)
        if isinstance(hit, tuple) and len(hit) == 2:
            return Rendered(*hit)
    data, last_modified = build()
    body = render(data)
    if key is not None:
        _safe(cache.set, key, (body, last_modified), _ttl())
    return Rendered(body, last_modified)


def _etag_matches(header: str, etag: str) -> bool:
    if header.strip() == "*":
        return True
    # Weak comparison (RFC 9110 §13.1.2): W/"x" matches "x".
    wanted = etag.removeprefix("W/")
    return any(t.strip().removeprefix("W/") == wanted for t in header.split(","))


def payload_response(request, rendered: Rendered) -> HttpResponse:
    """200 with the body, ETag and Last-Modified; 304 (no body) when If-None-Match matches."""
    body = photo_refs.finalize(rendered.body, request)
    etag = f'"{hashlib.sha256(body).hexdigest()[:40]}"'
    inm = request.META.get("HTTP_IF_NONE_MATCH")
    if inm and _etag_matches(inm, etag):
        response = HttpResponse(status=304)
        del response["Content-Type"]
    else:
        response = HttpResponse(body, content_type=CONTENT_TYPE)
    response["ETag"] = etag
    if rendered.last_modified is not None:
        response["Last-Modified"] = http_date(rendered.last_modified.timestamp())
    # Authenticated data: browsers may keep it but must revalidate (cheap with the ETag).
    response["Cache-Control"] = "private, no-cache"
    return response
