"""OpenAPI pieces shared by every endpoint.

- ``ErrorEnvelope``: the error body (threatmap-api.md §Errors) as a reusable component.
- ``error_responses(*codes)``: the ``responses`` entries for the error codes an operation can
  answer, to merge into ``extend_schema``::

      from masterbus.api.schema import READ_ERRORS, error_responses

      @extend_schema(responses={200: FacilityListSerializer,
                                **error_responses("VALIDATION_ERROR", *READ_ERRORS)})

  Arguments are envelope codes (``"AUTH_FORBIDDEN"``) or HTTP statuses (``403``: every code
  of that status). Codes sharing a status (401 has three) are merged into one response whose
  description names them all. Unknown codes or statuses raise ValueError at import time.
  This signature is stable.
- The security schemes ``ApiKeyAuth`` (header X-API-Key) and ``BearerAuth`` (JWT), registered
  by importing this module (masterbus/urls.py does).
- ``COMPONENTS``: named hand-written schemas (name → function returning the schema) that
  operation schemas refer to as ``#/components/schemas/<name>``; the ``add_components``
  postprocessing hook puts them in the document (they may refer to each other, or themselves).
"""

from collections.abc import Callable

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from .errors import ErrorCode

CODE_STATUS: dict[str, int] = {
    ErrorCode.VALIDATION_ERROR: 400,
    ErrorCode.AUTH_INVALID_CREDENTIALS: 401,
    ErrorCode.AUTH_TOKEN_EXPIRED: 401,
    ErrorCode.AUTH_BAD_SIGNATURE: 401,
    ErrorCode.AUTH_FORBIDDEN: 403,
    ErrorCode.DATA_NOT_FOUND: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.CONFLICT: 409,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.INTERNAL_ERROR: 500,
    ErrorCode.SERVICE_UNAVAILABLE: 503,
}

# What every operation with a request body can answer besides its own errors: the body is
# refused when it is malformed, or larger than MAX_REQUEST_BODY_BYTES before anything reads it.
BODY_ERRORS = (ErrorCode.VALIDATION_ERROR, ErrorCode.PAYLOAD_TOO_LARGE)

# What every authenticated read endpoint can answer besides its own 400s.
READ_ERRORS = (
    ErrorCode.AUTH_INVALID_CREDENTIALS,
    ErrorCode.AUTH_TOKEN_EXPIRED,
    ErrorCode.AUTH_FORBIDDEN,
    ErrorCode.RATE_LIMITED,
)


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.ChoiceField(choices=list(CODE_STATUS))
    message = serializers.CharField()
    details = serializers.JSONField(
        allow_null=True,
        help_text="VALIDATION_ERROR: field → [messages]; otherwise null or an object",
    )
    request_id = serializers.CharField(help_text="The response's X-Request-ID")


class ErrorEnvelope(serializers.Serializer):
    error = ErrorDetailSerializer()


def error_responses(*codes: str | int) -> dict[int, OpenApiResponse]:
    """``{status: OpenApiResponse(ErrorEnvelope, description)}`` for the given error codes
    (or HTTP statuses)."""
    by_status: dict[int, list[str]] = {}
    for code in codes:
        if isinstance(code, int):
            named = [c for c, s in CODE_STATUS.items() if s == code]
            if not named:
                raise ValueError(f"No error code has status {code}")
        elif code in CODE_STATUS:
            named = [code]
        else:
            raise ValueError(f"Unknown error code {code!r}")
        for name in named:
            names = by_status.setdefault(CODE_STATUS[name], [])
            if name not in names:
                names.append(name)
    return {
        status: OpenApiResponse(response=ErrorEnvelope, description=" or ".join(names))
        for status, names in sorted(by_status.items())
    }


class ApiKeyAuthScheme(OpenApiAuthenticationExtension):
    target_class = "masterbus.api.auth.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "X-API-Key",
            "description": "Service key issued in the admin (scopes: threatmap:read, "
            "condoit:push, voltmetrics:callback).",
        }


class JWTAuthScheme(OpenApiAuthenticationExtension):
    target_class = "masterbus.api.auth.JWTAuthentication"
    name = "BearerAuth"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(
            header_name="HTTP_AUTHORIZATION", token_prefix="Bearer", bearer_format="JWT"
        )


COMPONENTS: dict[str, Callable[[], dict]] = {}

# String patterns of request bodies: no NUL (PostgreSQL cannot store it); not blank once
# surrounding whitespace is stripped, and no NUL.
NO_NUL = "^[^\\u0000]*$"
NOT_BLANK = "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$"


def add_components(result, generator, request, public):
    """Postprocessing hook: the ``COMPONENTS`` schemas, built now (a bound may move with the
    calendar)."""
    components = result.setdefault("components", {})
    schemas = {**components.get("schemas", {}), **{n: b() for n, b in COMPONENTS.items()}}
    components["schemas"] = dict(sorted(schemas.items()))
    return result


def require_request_bodies(result, generator, request, public):
    """Postprocessing hook: every operation of this API that takes a body refuses a request
    without one (400), so each request body is ``required``."""
    for item in result.get("paths", {}).values():
        for operation in item.values():
            if isinstance(operation, dict) and "requestBody" in operation:
                operation["requestBody"]["required"] = True
    return result


def strip_trailing_slashes(result, generator, request, public):
    """Postprocessing hook: ``re_path(r"^x/?$")`` routes are documented as ``/x`` (the spec's
    spelling; both forms are served)."""
    paths = result.get("paths", {})
    result["paths"] = {
        (p.rstrip("/") if len(p) > 1 and p.rstrip("/") not in paths else p): item
        for p, item in paths.items()
    }
    return result
