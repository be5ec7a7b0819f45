from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from masterbus.api.errors import ApiError, Conflict, ErrorCode
from masterbus.api.permissions import RequireScope
from masterbus.api.signatures import signed_json_body

from .events import EventConflict, EventInvalid, event_apply


class CondoitEventsView(APIView):
    """Condoit's event bus pushes signed record events here."""

    # The key with its scope (checked first: 401 / 403), then the signature in post().
    permission_classes = [RequireScope("condoit:push")]

    @extend_schema(
        operation_id="condoit_events",
        request={"application/json": {"type": "object"}},
        responses={
            202: OpenApiResponse(description="Applied (first delivery)"),
            200: OpenApiResponse(description="Already processed (repeat delivery)"),
            400: OpenApiResponse(description="VALIDATION_ERROR"),
            401: OpenApiResponse(description="AUTH_BAD_SIGNATURE"),
            409: OpenApiResponse(description="CONFLICT: parent record not mirrored yet"),
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
