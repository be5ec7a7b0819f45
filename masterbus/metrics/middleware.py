"""HTTP request metrics, labelled by URL pattern (never the raw path: one series per route
whatever ids are asked for)."""

from __future__ import annotations

import time

from .families import HTTP_METHODS, http_duration, http_requests

UNMATCHED = "<unmatched>"


def route_of(request) -> str:
    """The URL pattern that answered (``api/v1/facilities/<str:facility_id>``), or
    ``<unmatched>`` when none did (404s, and answers given before URL resolution)."""
    match = getattr(request, "resolver_match", None)
    route = getattr(match, "route", None) if match is not None else None
    return route or UNMATCHED


class MetricsMiddleware:
    """Counts and times every answer, including those given by later middleware (413, 429,
    redirects). First in the chain, so the time covers the whole stack."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        method = request.method if request.method in HTTP_METHODS else "other"
        route = route_of(request)
        http_requests.labels(route, method, str(response.status_code)).inc()
        http_duration.labels(route, method).observe(time.perf_counter() - started)
        return response
