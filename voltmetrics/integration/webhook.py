"""VoltMetrics' signed callback: ``POST /api/v1/webhooks/voltmetrics`` (voltmetrics.md).

Verify the signature, validate the body, record the event once (by event id) and answer 202
at once; the fetching is a Celery task queued when the record commits. A repeat of an event
id answers 200 and does nothing. A callback naming a job MasterBus does not track is still
recorded and answered 202; the task logs and ignores it.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from masterbus.api.errors import ApiError, ErrorCode
from masterbus.api.permissions import RequireScope
from masterbus.api.signatures import signed_json_body
from voltmetrics.models import WebhookEvent

from .jobs import CALCULATION_COMPLETE, CALCULATION_FAILED

EVENT_TYPES = (CALCULATION_COMPLETE, CALCULATION_FAILED)
SIGNATURE_HEADER = "X-VoltMetrics-Signature"


def _invalid(field: str, reason: str) -> ApiError:
    return ApiError(
        400, ErrorCode.VALIDATION_ERROR, f"Invalid callback: {field} {reason}", {field: [reason]}
    )


def parse_callback(body) -> dict:
    """The callback's fields, checked; raises the 400 envelope naming the first bad field."""
    if not isinstance(body, dict):
        raise _invalid("body", "must be a JSON object")
    for key in ("event_id", "job_id"):
        value = body.get(key)
        if not isinstance(value, str) or not value.strip():
            raise _invalid(key, "is required (a non-empty string)")
        if len(value) > 200:
            raise _invalid(key, "is longer than 200 characters")
    if body.get("event_type") not in EVENT_TYPES:
        raise _invalid("event_type", f"must be one of {', '.join(EVENT_TYPES)}")
    ts = body.get("timestamp")
    if ts is not None:
        try:
            if not isinstance(ts, str):
                raise ValueError
            datetime.fromisoformat(ts)
        except ValueError:
            raise _invalid("timestamp", "must be an ISO 8601 timestamp") from None
    for key in ("job_type", "status", "results_url"):
        if body.get(key) is not None and not isinstance(body[key], str):
            raise _invalid(key, "must be a string")
    items = body.get("items_processed")
    if items is not None and (isinstance(items, bool) or not isinstance(items, int) or items < 0):
        raise _invalid("items_processed", "must be an integer ≥ 0")
    return body


def _enqueue(event_id: str) -> None:
    from .tasks import voltmetrics_handle_callback

    voltmetrics_handle_callback.delay(event_id)


class VoltMetricsWebhookView(APIView):
    """VoltMetrics calls back here when a calculation job completes or fails."""

    # The key with its scope (checked first: 401 / 403), then the signature in post().
    permission_classes = [RequireScope("voltmetrics:callback")]

    @extend_schema(
        operation_id="voltmetrics_callback",
        request={"application/json": {"type": "object"}},
        responses={
            202: OpenApiResponse(description="Recorded (first delivery); results fetched later"),
            200: OpenApiResponse(description="Already received (repeat delivery)"),
            400: OpenApiResponse(description="VALIDATION_ERROR"),
            401: OpenApiResponse(description="AUTH_BAD_SIGNATURE"),
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
                    payload=data,
                )
                transaction.on_commit(lambda: _enqueue(event_id))
        except IntegrityError:
            # The same event delivered concurrently: the other delivery recorded it.
            return Response({"status": "duplicate"}, status=200)
        return Response({"status": "accepted"}, status=202)
