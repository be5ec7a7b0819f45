"""VoltMetrics' signed callback: ``POST /api/v1/webhooks/voltmetrics`` (voltmetrics.md).

Verify the signature, validate the body, record the event once (by event id) and answer 202
at once; the fetching is a Celery task queued when the record commits. A repeat of an event
id answers 200 and does nothing. A callback naming a job MasterBus does not track is still
recorded and answered 202; the task logs and ignores it.

The body is what ``CALLBACK_BODY`` (its OpenAPI schema) says: ids without NUL, an RFC 3339
``timestamp``, a 64-bit ``items_processed``. The event is stored as it came, except that NUL
characters anywhere else (PostgreSQL cannot store them) are replaced by U+FFFD.
"""

from __future__ import annotations

import re
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from masterbus.api.errors import ApiError, ErrorCode
from masterbus.api.permissions import RequireScope
from masterbus.api.schema import BODY_ERRORS, COMPONENTS, NOT_BLANK, error_responses
from masterbus.api.signatures import signed_json_body
from voltmetrics.models import WebhookEvent

from .jobs import CALCULATION_COMPLETE, CALCULATION_FAILED

EVENT_TYPES = (CALCULATION_COMPLETE, CALCULATION_FAILED)
SIGNATURE_HEADER = "X-VoltMetrics-Signature"


def _invalid(field: str, reason: str) -> ApiError:
    return ApiError(
        400, ErrorCode.VALIDATION_ERROR, f"Invalid callback: {field} {reason}", {field: [reason]}
    )


ID_MAX = 200  # event and job ids (WebhookEvent)
# RFC 3339 date-time ("format: date-time" in the schema): a date, a time, a UTC offset.
_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)
ITEMS_MAX = 2**63 - 1


def _timestamp(value) -> datetime | None:
    if not isinstance(value, str) or not _TIMESTAMP.fullmatch(value):
        return None
    try:
        return datetime.fromisoformat(value.upper())
    except ValueError:  # not a real date or time
        return None


def parse_callback(body) -> dict:
    """The callback's fields, checked; raises the 400 envelope naming the first bad field."""
    if not isinstance(body, dict):
        raise _invalid("body", "must be a JSON object")
    for key in ("event_id", "job_id"):
        value = body.get(key)
        if not isinstance(value, str) or not value.strip():
            raise _invalid(key, "is required (a non-empty string)")
        if len(value) > ID_MAX:
            raise _invalid(key, f"is longer than {ID_MAX} characters")
        if "\x00" in value:
            raise _invalid(key, "must not contain NUL characters")
    if body.get("event_type") not in EVENT_TYPES:
        raise _invalid("event_type", f"must be one of {', '.join(EVENT_TYPES)}")
    ts = body.get("timestamp")
    if ts is not None and _timestamp(ts) is None:
        raise _invalid("timestamp", "must be an RFC 3339 timestamp with a UTC offset")
    for key in ("job_type", "status", "results_url"):
        if body.get(key) is not None and not isinstance(body[key], str):
            raise _invalid(key, "must be a string")
    items = body.get("items_processed")
    if items is not None and (
        isinstance(items, bool) or not isinstance(items, int) or not 0 <= items <= ITEMS_MAX
    ):
        raise _invalid("items_processed", f"must be an integer from 0 to {ITEMS_MAX}")
    return body


def storable(value):
    """``value`` with NUL characters (in strings and keys, at any depth) replaced by U+FFFD:
    PostgreSQL cannot store them, and the stored copy is only for the record."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if not isinstance(value, dict | list):
        return value
    root: dict | list = {} if isinstance(value, dict) else []
    stack = [(value, root)]
    while stack:
        source, target = stack.pop()
        items = source.items() if isinstance(source, dict) else enumerate(source)
        for key, child in items:
            if isinstance(child, dict | list):
                copy: dict | list = {} if isinstance(child, dict) else []
                stack.append((child, copy))
            else:
                copy = storable(child)
            if isinstance(target, dict):
                target[storable(key)] = copy
            else:
                target.append(copy)
    return root


def _id_schema(what: str) -> dict:
    return {
        "type": "string",
        "minLength": 1,
        "maxLength": ID_MAX,
        "pattern": NOT_BLANK,
        "description": what,
    }


CALLBACK_BODY = {
    "type": "object",
    "required": ["event_id", "event_type", "job_id"],
    "properties": {
        "event_id": _id_schema("Event id; a repeat answers 200."),
        "event_type": {"type": "string", "enum": list(EVENT_TYPES)},
        "timestamp": {"type": "string", "format": "date-time", "nullable": True},
        "job_id": _id_schema("The calculation job."),
        "job_type": {"type": "string", "nullable": True},
        "items_processed": {
            "type": "integer",
            "minimum": 0,
            "maximum": ITEMS_MAX,
            "nullable": True,
        },
        "status": {"type": "string", "nullable": True},
        "results_url": {"type": "string", "nullable": True},
    },
    "description": "VoltMetrics' callback (voltmetrics.md). Other fields are kept with the "
    "recorded event (NUL characters replaced by U+FFFD).",
}
COMPONENTS["VoltMetricsCallback"] = lambda: CALLBACK_BODY
CALLBACK_ANSWER = {
    "type": "object",
    "required": ["status"],
    "properties": {"status": {"type": "string", "enum": ["accepted", "duplicate"]}},
}


def _enqueue(event_id: str) -> None:
    from .tasks import voltmetrics_handle_callback

    voltmetrics_handle_callback.delay(event_id)


class VoltMetricsWebhookView(APIView):
    """VoltMetrics calls back here when a calculation job completes or fails."""

    # The key with its scope (checked first: 401 / 403), then the signature in post().
    permission_classes = [RequireScope("voltmetrics:callback")]

    @extend_schema(
        operation_id="voltmetrics_callback",
        summary="A VoltMetrics callback (signed with X-VoltMetrics-Signature)",
        description="VoltMetrics calls back when a calculation job completes or fails, signed "
        'as `X-VoltMetrics-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw '
        'body>">` with VOLTMETRICS_WEBHOOK_SECRET (any of its comma-separated secrets during '
        "a rotation; missing or wrong: 401 AUTH_BAD_SIGNATURE). "
        "Needs a key with the voltmetrics:callback scope (or a staff user) and a valid "
        "signature. The event is recorded and answered at once; the results are fetched later.",
        request={"application/json": {"$ref": "#/components/schemas/VoltMetricsCallback"}},
        responses={
            202: OpenApiResponse(
                CALLBACK_ANSWER, description="Recorded (first delivery); results fetched later"
            ),
            200: OpenApiResponse(CALLBACK_ANSWER, description="Already received (repeat delivery)"),
            **error_responses(*BODY_ERRORS, 401, ErrorCode.AUTH_FORBIDDEN, ErrorCode.RATE_LIMITED),
        },
    )
    def post(self, request):
        payload = signed_json_body(request, settings.VOLTMETRICS_WEBHOOK_SECRET, SIGNATURE_HEADER)
        data = parse_callback(payload)
        event_id = data["event_id"]
        if WebhookEvent.objects.filter(event_id=event_id).exists():
            return Response({"status": "duplicate"}, status=200)
        try:
            with transaction.atomic():
                WebhookEvent.objects.create(
                    event_id=event_id,
                    event_type=data["event_type"],
                    job_id=data["job_id"],
                    payload=storable(data),
                )
                transaction.on_commit(lambda: _enqueue(event_id))
        except IntegrityError:
            # The same event delivered concurrently: the other delivery recorded it.
            return Response({"status": "duplicate"}, status=200)
        return Response({"status": "accepted"}, status=202)
