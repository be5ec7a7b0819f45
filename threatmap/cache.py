"""Cached read payloads, their invalidation, stale serving while one is rebuilt, ETag and
Last-Modified (threatmap-api.md "Freshness and caching").

A payload is cached as its rendered JSON bytes under a key made of the current risk-model
version tag (publishing a version orphans every payload), the endpoint and its normalised
query parameters. The entry also holds the generation of its scope it was built under and
when it was built. Scopes: one per facility (its detail, equipment list, compliance, risks
and its equipment's details), one for the facility list, one for the portfolio.
``cache_invalidate_facility`` bumps a facility's generation and the list's;
``cache_invalidate_portfolio`` bumps the portfolio's and the list's. The recompute service
calls them once it has stored new assessments (equipment → its facility → the portfolio).
A bump also notes when the new generation began: since then, older entries are stale.

A read fetches the scope's generation and the entry in one cache round trip (after the
version tag, itself cached). An entry of the current generation is served as it is. An entry
of an older generation is the previous payload, kept rather than deleted: the first request
that finds it takes a short per-payload rebuild lock and rebuilds it from the database (and
stores it); requests meanwhile are not kept waiting but get the previous payload with
``X-Data-Stale: true``, as long as it has been stale for at most one refresh cycle
(``THREATMAP_REFRESH_CYCLE_SECONDS``). Past that a request rebuilds the payload itself. When
the moment it became stale is no longer known (evicted), the entry counts as stale since it
was built. Fresh responses carry no ``X-Data-Stale`` header.

A generation missing from the cache (never set, evicted) is seeded with the clock in
microseconds rather than 0, so it never equals a generation an older entry was built under
(microseconds, not nanoseconds: django-redis increments through a Lua script, whose numbers
are exact only up to 2**53).
When the cache is unreachable (django-redis IGNORE_EXCEPTIONS answers None) no generation is
known and the payload is built from the database without caching.

Responses carry a strong ETag (a digest of the exact body, photo URLs included) and
Last-Modified from the payload's last_updated; ``If-None-Match`` answers 304 without a body
(while a stale payload is served, its own ETag matches).
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

from masterbus.locks import CacheLock
from masterbus.metrics.families import count_cache

from . import photo_refs

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/json; charset=utf-8"
STALE_HEADER = "X-Data-Stale"
_GEN = "threatmap:gen:"
_BEGAN = "threatmap:gen-began:"
_PAYLOAD = "threatmap:payload:"
_REBUILD = "threatmap:rebuild:"
# A rebuild takes a fraction of a second; a crashed one's lock frees itself this soon.
REBUILD_LOCK_TTL = 30
_EXACT = 2**53  # integers above this do not survive the Lua script of django-redis' incr
LIST_SCOPE = "facilities"
PORTFOLIO_SCOPE = "portfolio"

Builder = Callable[[], tuple[dict, datetime | None]]


def _ttl() -> int:
    return int(getattr(settings, "THREATMAP_CACHE_TTL", 3600))


def refresh_cycle() -> float:
    """Seconds a changed payload may still be served stale (THREATMAP_REFRESH_CYCLE_SECONDS)."""
    return float(settings.THREATMAP_REFRESH_CYCLE_SECONDS)


def _now() -> float:
    return time.time()


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


def _fresh_generation() -> int:
    return time.time_ns() // 1000


def _seed(key: str):
    """Seed a missing generation; the generation now stored, or None (cache unreachable)."""
    seed = _fresh_generation()
    added = _safe(cache.add, key, seed, None)
    if added:
        return seed
    return _safe(cache.get, key) if added is False else None


def generation(scope: str):
    key = _GEN + scope
    gen = _safe(cache.get, key)
    return gen if gen is not None else _seed(key)


def _bump(scope: str) -> None:
    key = _GEN + scope
    try:
        gen = cache.incr(key)
    except ValueError:  # not set (or evicted): a fresh, never-used generation
        _safe(cache.set, key, _fresh_generation(), None)
        return
    except Exception:  # noqa: BLE001
        log.warning("threatmap cache invalidation failed for %s", scope, exc_info=True)
        return
    if gen is None:  # django-redis with IGNORE_EXCEPTIONS: the cache is down
        return
    if gen > _EXACT:  # seeded in nanoseconds earlier: the answer is inexact, start afresh
        _safe(cache.set, key, _fresh_generation(), None)
        return
    _safe(cache.set, f"{_BEGAN}{scope}:{gen}", _now(), _ttl() + refresh_cycle())


def cache_invalidate_facility(*facility_external_ids: str) -> None:
    """Mark the cached payloads of these facilities (and their equipment) and the list as
    changed (served stale at most one refresh cycle while being rebuilt)."""
    for ext in facility_external_ids:
        _bump(facility_scope(ext))
    _bump(LIST_SCOPE)


def cache_invalidate_portfolio() -> None:
    _bump(PORTFOLIO_SCOPE)
    _bump(LIST_SCOPE)


class Rendered:
    __slots__ = ("body", "last_modified", "stale")

    def __init__(self, body: bytes, last_modified: datetime | None, stale: bool = False):
        self.body = body
        self.last_modified = last_modified
        self.stale = stale


def render(data: dict) -> bytes:
    return JSONRenderer().render(data)


def _entry(hit):
    """``(generation, body, last_modified, built_at)`` of a cached entry, or None."""
    if isinstance(hit, tuple) and len(hit) == 4 and isinstance(hit[1], bytes):
        return hit
    return None


def _stale_for(scope: str, entry) -> float:
    """Seconds since ``entry`` stopped being current: since the generation after its own
    began, else (that moment evicted) since it was built."""
    gen, _, _, built_at = entry
    began = _safe(cache.get, f"{_BEGAN}{scope}:{gen + 1}") if isinstance(gen, int) else None
    since = began if isinstance(began, int | float) else built_at
    return _now() - since


def _build(build: Builder, key: str | None, gen) -> Rendered:
    built_at = _now()
    data, last_modified = build()
    body = render(data)
    if key is not None:
        _safe(cache.set, key, (gen, body, last_modified, built_at), _ttl())
    return Rendered(body, last_modified)


def cached_payload(*, endpoint: str, scope: str, params: str, build: Builder) -> Rendered:
    """The rendered payload: from the cache when current; else rebuilt here, or the previous
    one (``stale``) while another request rebuilds it and it is at most a refresh cycle old."""
    digest = _digest(f"{model_version_tag()}|{scope}|{endpoint}|{params}")
    key, gen_key = _PAYLOAD + digest, _GEN + scope
    got = _safe(cache.get_many, [gen_key, key], default={}) or {}
    gen = got.get(gen_key)
    if gen is None:
        gen = _seed(gen_key)
        if gen is None:  # the cache is unreachable: straight from the database
            count_cache("miss")
            return _build(build, None, None)
    entry = _entry(got.get(key))
    if entry is None:
        count_cache("miss")
        return _build(build, key, gen)
    if entry[0] == gen:
        count_cache("hit")
        return Rendered(entry[1], entry[2])
    lock = CacheLock(_REBUILD + digest, REBUILD_LOCK_TTL)
    taken = _safe(lock.acquire)  # None: the cache cannot say; rebuild here
    if taken:
        count_cache("miss")
        try:
            return _build(build, key, gen)
        finally:
            lock.release()
    if taken is False and _stale_for(scope, entry) <= refresh_cycle():
        count_cache("stale")
        return Rendered(entry[1], entry[2], stale=True)
    count_cache("miss")
    return _build(build, key, gen)


def _etag_matches(header: str, etag: str) -> bool:
    if header.strip() == "*":
        return True
    # Weak comparison (RFC 9110 §13.1.2): W/"x" matches "x".
    wanted = etag.removeprefix("W/")
    return any(t.strip().removeprefix("W/") == wanted for t in header.split(","))


def payload_response(request, rendered: Rendered) -> HttpResponse:
    """200 with the body, ETag and Last-Modified; 304 (no body) when If-None-Match matches.
    A stale payload (being rebuilt) carries ``X-Data-Stale: true``."""
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
    if rendered.stale:
        response[STALE_HEADER] = "true"
    # Authenticated data: browsers may keep it but must revalidate (cheap with the ETag).
    response["Cache-Control"] = "private, no-cache"
    return response
