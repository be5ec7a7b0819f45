"""X-Request-ID on every response and in every log line of that request."""

import contextvars
import logging
import re
import uuid

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_SANE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def get_request_id() -> str:
    return _request_id.get()


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        rid = incoming if _SANE.match(incoming) else uuid.uuid4().hex
        token = _request_id.set(rid)
        request.request_id = rid
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = rid
            return response
        finally:
            _request_id.reset(token)


class RequestIdLogFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        rid = _request_id.get()
        if rid == "-":
            # django.request logs 4xx/5xx after the middleware chain has returned (the
            # context is reset by then); it passes the request along, which has the id.
            rid = getattr(getattr(record, "request", None), "request_id", "-")
        record.request_id = rid
        return True
