"""The floor view: a constant JSON body of the requested size, no work of its own."""

from django.http import HttpResponse
from rest_framework.views import APIView

MAX_SIZE = 20 * 1024 * 1024
_PREFIX, _SUFFIX = b'{"floor":"', b'"}'
_bodies: dict[int, bytes] = {}


def body_of(size: int) -> bytes:
    """A valid JSON document of exactly ``size`` bytes (at least the 12 of its wrapper)."""
    body = _bodies.get(size)
    if body is None:
        pad = max(0, min(size, MAX_SIZE) - len(_PREFIX) - len(_SUFFIX))
        body = _bodies[size] = _PREFIX + b"x" * pad + _SUFFIX
    return body


class FloorView(APIView):
    """Project-wide DRF defaults (authentication, HasReadScope, PrincipalRateThrottle), like
    the ThreatMap views; answers the prepared bytes as the ThreatMap views do."""

    def get(self, request, size: int):
        return HttpResponse(body_of(size), content_type="application/json; charset=utf-8")
