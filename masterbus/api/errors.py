"""The error envelope: every API error, from any layer, has one shape.

{"error": {"code", "message", "details", "request_id"}}
"""

import logging

from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response

from .request_id import get_request_id

log = logging.getLogger(__name__)


class ErrorCode:
    VALIDATION_ERROR = "VALIDATION_ERROR"
    AUTH_INVALID_CREDENTIALS = "AUTH_INVALID_CREDENTIALS"
    AUTH_TOKEN_EXPIRED = "AUTH_TOKEN_EXPIRED"
    AUTH_BAD_SIGNATURE = "AUTH_BAD_SIGNATURE"
    AUTH_FORBIDDEN = "AUTH_FORBIDDEN"
    DATA_NOT_FOUND = "DATA_NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    CONFLICT = "CONFLICT"
    RATE_LIMITED = "RATE_LIMITED"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"


class ApiError(exceptions.APIException):
    """An API error with an explicit envelope code."""

    def __init__(self, status_code: int, code: str, message: str, details=None, headers=None):
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.error_code = code
        self.message = message
        self.details = details
        self.headers = headers or {}


class BadSignature(ApiError):
    def __init__(self, message="Missing or invalid signature"):
        super().__init__(401, ErrorCode.AUTH_BAD_SIGNATURE, message)


class Conflict(ApiError):
    def __init__(self, message, details=None):
        super().__init__(409, ErrorCode.CONFLICT, message, details)


def envelope(code: str, message: str, details=None) -> dict:
    return {
        "error": {
            "code": code,
            "message": message,
            "details": details,
            "request_id": get_request_id(),
        }
    }


def error_response(status_code: int, code: str, message: str, details=None) -> JsonResponse:
    return JsonResponse(envelope(code, message, details), status=status_code)


def _flatten_validation(detail) -> dict:
    if isinstance(detail, dict):
        return {k: [str(m) for m in (v if isinstance(v, list) else [v])] for k, v in detail.items()}
    if isinstance(detail, list):
        return {"non_field_errors": [str(m) for m in detail]}
    return {"non_field_errors": [str(detail)]}


def exception_handler(exc, context):
    """DRF exception handler producing the envelope."""
    headers = {}
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    if isinstance(exc, ApiError):
        body = envelope(exc.error_code, exc.message, exc.details)
        return Response(body, status=exc.status_code, headers=exc.headers)
    if isinstance(exc, exceptions.ValidationError):
        body = envelope(
            ErrorCode.VALIDATION_ERROR, "Invalid request", _flatten_validation(exc.detail)
        )
        return Response(body, status=400)
    if isinstance(exc, exceptions.ParseError):
        return Response(envelope(ErrorCode.VALIDATION_ERROR, str(exc.detail), None), status=400)
    if isinstance(exc, exceptions.UnsupportedMediaType):
        return Response(envelope(ErrorCode.VALIDATION_ERROR, str(exc.detail), None), status=415)
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        code = getattr(exc, "error_code", None) or ErrorCode.AUTH_INVALID_CREDENTIALS
        headers["WWW-Authenticate"] = 'ApiKey realm="api", Bearer realm="api"'
        return Response(envelope(code, str(exc.detail), None), status=401, headers=headers)
    if isinstance(exc, exceptions.PermissionDenied):
        return Response(envelope(ErrorCode.AUTH_FORBIDDEN, str(exc.detail), None), status=403)
    if isinstance(exc, exceptions.NotFound):
        return Response(envelope(ErrorCode.DATA_NOT_FOUND, "Not found", None), status=404)
    if isinstance(exc, exceptions.MethodNotAllowed):
        return Response(envelope(ErrorCode.METHOD_NOT_ALLOWED, str(exc.detail), None), status=405)
    if isinstance(exc, exceptions.Throttled):
        wait = int(exc.wait or 1)
        return Response(
            envelope(ErrorCode.RATE_LIMITED, "Rate limit exceeded", {"retry_after": wait}),
            status=429,
            headers={"Retry-After": str(wait)},
        )
    if isinstance(exc, exceptions.APIException):
        return Response(
            envelope(ErrorCode.VALIDATION_ERROR, str(exc.detail), None), status=exc.status_code
        )
    log.exception("Unhandled error in API view", exc_info=exc)
    return Response(
        envelope(ErrorCode.INTERNAL_ERROR, "Internal server error", None),
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )


# Django-level handlers (URLs outside DRF views, e.g. unknown /api/ paths).
def handler404(request, exception=None):
    return error_response(404, ErrorCode.DATA_NOT_FOUND, "Not found")


def handler500(request):
    return error_response(500, ErrorCode.INTERNAL_ERROR, "Internal server error")
