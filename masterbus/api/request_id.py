"""X-Request-ID on every response and in every log line of that request.

The id lives in a context variable for the duration of the request; Celery tasks queued
meanwhile carry it in a message header and set it again while they run (masterbus/logs.py).
"""

import contextvars
import re
import uuid

NO_REQUEST_ID = "-"
_request_id: contextvars.ContextVar[str] = contextvars.ContextVar(
    "request_id", default=NO_REQUEST_ID
)
_SANE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def get_request_id() -> str:
    """The current request (or task) id, ``"-"`` outside of both."""
    return _request_id.get()


def is_sane_request_id(value) -> bool:
    """Whether ``value`` may be used as a request id as given (else a fresh one is made)."""
    return isinstance(value, str) and bool(_SANE.match(value))


def bind_request_id(rid: str) -> contextvars.Token:
    """Make ``rid`` the current id; undo with :func:`reset_request_id` and the token."""
    return _request_id.set(rid)


def reset_request_id(token: contextvars.Token) -> None:
    _request_id.reset(token)


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        rid = incoming if is_sane_request_id(incoming) else uuid.uuid4().hex
        token = bind_request_id(rid)
        request.request_id = rid
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = rid
            return response
        finally:
            reset_request_id(token)
