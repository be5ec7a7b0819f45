from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from masterbus.api.errors import ApiError, Conflict, ErrorCode
from masterbus.api.permissions import RequireScope
from masterbus.api.schema import BODY_ERRORS, error_responses
from masterbus.api.signatures import signed_json_body

from . import openapi
from .events import EventConflict, EventInvalid, event_apply

openapi.register()

EVENT_ANSWER = {
    "type": "object",
    "required": ["status", "outcome"],
    "properties": {
        "status": {"type": "string", "enum": ["accepted", "duplicate"]},
        "outcome": {"type": "string", "description": "What the event did to the mirror."},
    },
}


class CondoitEventsView(APIView):
    """Condoit's event bus pushes signed record events here."""

    # The key with its scope (checked first: 401 / 403), then the signature in post().
    permission_classes = [RequireScope("condoit:push")]

    @extend_schema(
        operation_id="condoit_events",
        summary="A Condoit event (signed with X-Condoit-Signature)",
        description="Condoit's event bus pushes one record event per request, signed as "
        '`X-Condoit-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">` '
        "with CONDOIT_WEBHOOK_SECRET (any of its comma-separated secrets during a rotation; "
        "missing or wrong: 401 AUTH_BAD_SIGNATURE). Needs a key with the condoit:push scope "
        "(or a staff user) and a valid signature. The record is validated like every Condoit "
        "record: an invalid one is refused (400) and recorded on the day's push sync run.",
        request={"application/json": openapi.EVENT_BODY},
        responses={
            202: OpenApiResponse(EVENT_ANSWER, description="Applied (first delivery)"),
            200: OpenApiResponse(EVENT_ANSWER, description="Already processed (repeat delivery)"),
            **error_responses(
                *BODY_ERRORS,
                401,
                ErrorCode.AUTH_FORBIDDEN,
                ErrorCode.CONFLICT,
                ErrorCode.RATE_LIMITED,
            ),
        },
    )
    def post(self, request):
        payload = signed_json_body(request, settings.CONDOIT_WEBHOOK_SECRET, "X-Condoit-Signature")
        try:
            result = event_apply(payload)
        except EventInvalid as exc:
            raise ApiError(
                400,
                ErrorCode.VALIDATION_ERROR,
                f"Invalid event: {exc.field} {exc.reason}",
                {exc.field: [exc.reason]},
            ) from None
        except EventConflict as exc:
            raise Conflict(str(exc), exc.details) from None
        status = 200 if result.duplicate else 202
        return Response(
            {"status": "duplicate" if result.duplicate else "accepted", "outcome": result.outcome},
            status=status,
        )
