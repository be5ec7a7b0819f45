"""The error envelope: every API error, from any layer, has one shape.

{"error": {"code", "message", "details", "request_id"}}
"""

import logging
import math

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
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
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
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


WWW_AUTHENTICATE = 'ApiKey realm="api", Bearer realm="api"'

_STATUS_CODE = {
    400: ErrorCode.VALIDATION_ERROR,
    401: ErrorCode.AUTH_INVALID_CREDENTIALS,
    403: ErrorCode.AUTH_FORBIDDEN,
    404: ErrorCode.DATA_NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    409: ErrorCode.CONFLICT,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    429: ErrorCode.RATE_LIMITED,
    500: ErrorCode.INTERNAL_ERROR,
    503: ErrorCode.SERVICE_UNAVAILABLE,
}


def _message(detail) -> str:
    # simplejwt's errors carry {"detail": …, "code": …}.
    if isinstance(detail, dict) and "detail" in detail:
        return str(detail["detail"])
    if isinstance(detail, list) and detail:
        return str(detail[0])
    return str(detail)


def _response(body, status_code, headers=None) -> Response:
    # Imported here: rest_framework.views loads the auth classes, which import this module.
    from rest_framework.views import set_rollback

    headers = dict(headers or {})
    if status_code == 401:
        headers.setdefault("WWW-Authenticate", WWW_AUTHENTICATE)
    set_rollback()
    return Response(body, status=status_code, headers=headers)


def payload_too_large() -> JsonResponse:
    limit = settings.MAX_REQUEST_BODY_BYTES
    return error_response(
        413,
        ErrorCode.PAYLOAD_TOO_LARGE,
        f"Request body is larger than {limit} bytes",
        {"max_bytes": limit},
    )


def exception_handler(exc, context):
    """DRF exception handler producing the envelope."""
    if isinstance(exc, RequestDataTooBig):
        return payload_too_large()
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    if isinstance(exc, ApiError):
        body = envelope(exc.error_code, exc.message, exc.details)
        return _response(body, exc.status_code, exc.headers)
    if isinstance(exc, exceptions.ValidationError):
        body = envelope(
            ErrorCode.VALIDATION_ERROR, "Invalid request", _flatten_validation(exc.detail)
        )
        return _response(body, 400)
    if isinstance(exc, exceptions.ParseError):
        return _response(envelope(ErrorCode.VALIDATION_ERROR, _message(exc.detail), None), 400)
    if isinstance(exc, exceptions.UnsupportedMediaType):
        return _response(envelope(ErrorCode.VALIDATION_ERROR, _message(exc.detail), None), 415)
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        code = getattr(exc, "error_code", None) or ErrorCode.AUTH_INVALID_CREDENTIALS
        return _response(envelope(code, _message(exc.detail), None), 401)
    if isinstance(exc, exceptions.PermissionDenied):
        return _response(envelope(ErrorCode.AUTH_FORBIDDEN, _message(exc.detail), None), 403)
    if isinstance(exc, exceptions.NotFound):
        return _response(envelope(ErrorCode.DATA_NOT_FOUND, "Not found", None), 404)
    if isinstance(exc, exceptions.MethodNotAllowed):
        body = envelope(ErrorCode.METHOD_NOT_ALLOWED, _message(exc.detail), None)
        return _response(body, 405)
    if isinstance(exc, exceptions.Throttled):
        wait = max(1, math.ceil(exc.wait or 1))
        return _response(
            envelope(ErrorCode.RATE_LIMITED, "Rate limit exceeded", {"retry_after": wait}),
            429,
            {"Retry-After": str(wait)},
        )
    if isinstance(exc, exceptions.APIException):
        code = _STATUS_CODE.get(exc.status_code, ErrorCode.VALIDATION_ERROR)
        return _response(envelope(code, _message(exc.detail), None), exc.status_code)
    log.exception("Unhandled error in API view", exc_info=exc)
    return _response(
        envelope(ErrorCode.INTERNAL_ERROR, "Internal server error", None),
        status.HTTP_500_INTERNAL_SERVER_ERROR,
    )


class ApiExceptionMiddleware:
    """Exceptions escaping non-DRF views under /api/ answer the envelope, also with DEBUG on
    (Django's handler500 only applies with DEBUG off). No trace or SQL in the body."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not request.path_info.startswith("/api/"):
            return None
        if isinstance(exception, Http404):
            return error_response(404, ErrorCode.DATA_NOT_FOUND, "Not found")
        if isinstance(exception, PermissionDenied):
            return error_response(403, ErrorCode.AUTH_FORBIDDEN, "Forbidden")
        if isinstance(exception, RequestDataTooBig):
            return payload_too_large()
        log.error("Unhandled error in %s %s", request.method, request.path, exc_info=exception)
        return error_response(500, ErrorCode.INTERNAL_ERROR, "Internal server error")


# Django-level handlers (URLs outside DRF views, e.g. unknown /api/ paths).
def handler404(request, exception=None):
    return error_response(404, ErrorCode.DATA_NOT_FOUND, "Not found")


def handler500(request):
    return error_response(500, ErrorCode.INTERNAL_ERROR, "Internal server error")


class BodySizeLimitMiddleware:
    """A request whose declared body (Content-Length) is larger than MAX_REQUEST_BODY_BYTES
    answers 413 PAYLOAD_TOO_LARGE before anything reads, parses or authenticates it.
    Django's own DATA_UPLOAD_MAX_MEMORY_SIZE (set to the same limit) stops a body that is
    read anyway; ``exception_handler`` and ``ApiExceptionMiddleware`` answer that with the
    same 413. A Content-Length that is not a number is left to Django (it reads no body)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        declared = request.META.get("CONTENT_LENGTH") or ""
        if declared.isascii() and declared.isdigit():
            # More than 18 digits is past any limit (and past int()'s digit cap at 4,300).
            if len(declared) > 18 or int(declared) > settings.MAX_REQUEST_BODY_BYTES:
                return payload_too_large()
        return self.get_response(request)
