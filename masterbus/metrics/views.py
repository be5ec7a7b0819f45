"""``GET /metrics`` (operations.md §1)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse
from django.views.decorators.http import require_GET

# The classic text format (0.0.4): every Prometheus 2.x and later reads it.
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4 as CONTENT_TYPE

from masterbus.api.errors import ErrorCode, error_response
from masterbus.api.signatures import digests_equal

from .registry import render


def _authorised(request) -> bool:
    token = settings.METRICS_TOKEN
    if not token:
        return True
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and digests_equal(token, given.strip())


@require_GET
def metrics(request):
    if not _authorised(request):
        response = error_response(
            401, ErrorCode.AUTH_INVALID_CREDENTIALS, "Missing or invalid metrics token"
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(render(), content_type=CONTENT_TYPE)
