"""The event feed endpoint (consumers.md §3)."""

from __future__ import annotations

import re

from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from masterbus.access import request_scope
from masterbus.api.errors import ErrorCode
from masterbus.api.permissions import RequireScope
from masterbus.api.query import QueryInteger, QueryText, parse_query
from masterbus.api.schema import READ_ERRORS, error_responses
from masterbus.choices import ApiScope

from .choices import PUBLIC_EVENT_TYPES
from .feed import EVENT_ID_RE, FeedError, event_feed

LIMIT = (1, 500, 100)
_TYPE = "(?:" + "|".join(re.escape(t) for t in PUBLIC_EVENT_TYPES) + ")"
TYPES_RE = rf"^(?:{_TYPE}(?:,{_TYPE})*)?$"


class EventFeedQuery(serializers.Serializer):
    after = QueryText(
        max_length=40,
        required=False,
        default=None,
        help_text="The last event id you have (evt_ and 16 digits); events after it. "
        "Omitted or empty: from the oldest kept event. An id that was never issued is a 400.",
        validators=[RegexValidator(r"^evt_[0-9]{16}$", "Not an event id (evt_ and 16 digits).")],
    )
    limit = QueryInteger(
        min_value=LIMIT[0],
        max_value=LIMIT[1],
        default=LIMIT[2],
        help_text=f"At most this many events, {LIMIT[0]}–{LIMIT[1]} (default {LIMIT[2]}).",
    )
    type = QueryText(
        max_length=500,
        help_text="Only these event types, comma-separated (empty: all). One of: "
        + ", ".join(PUBLIC_EVENT_TYPES)
        + ".",
        validators=[
            RegexValidator(
                TYPES_RE,
                "Unknown event type; expected a comma-separated list of: "
                + ", ".join(PUBLIC_EVENT_TYPES)
                + ".",
            )
        ],
    )

    def validate_after(self, value):
        if value in (None, ""):  # empty: as if left out
            return None
        if not EVENT_ID_RE.match(value):
            raise serializers.ValidationError(f'"{value}" is not an event id (evt_ and 16 digits).')
        return value

    def validate_type(self, value):
        types = tuple(t.strip() for t in value.split(",") if t.strip()) if value else ()
        unknown = [t for t in types if t not in PUBLIC_EVENT_TYPES]
        if unknown:
            raise serializers.ValidationError(
                f"Unknown event type(s): {', '.join(unknown)}; expected: "
                + ", ".join(PUBLIC_EVENT_TYPES)
                + "."
            )
        return types


_EVENT_FIELDS = {
    "id": serializers.CharField(help_text="evt_ and 16 digits; sortable by creation."),
    "type": serializers.ChoiceField(choices=PUBLIC_EVENT_TYPES),
    "created_at": serializers.DateTimeField(),
    "data": serializers.DictField(help_text="By type: see docs/consumers.md."),
}
_PAGE = inline_serializer(
    "EventFeed",
    {
        "events": inline_serializer("Event", _EVENT_FIELDS, many=True),
        "next_after": serializers.CharField(
            allow_null=True, help_text="Give it as `after` next time."
        ),
        "truncated": serializers.BooleanField(
            help_text="True when events after `after` were pruned: re-read the state once."
        ),
    },
)


class EventFeedView(APIView):
    permission_classes = [RequireScope(ApiScope.EVENTS_READ)]

    @extend_schema(
        tags=["Events"],
        operation_id="events_list",
        summary="Events after a given one (the event feed)",
        parameters=[EventFeedQuery],
        responses={200: _PAGE, **error_responses(ErrorCode.VALIDATION_ERROR, *READ_ERRORS)},
    )
    def get(self, request):
        q = parse_query(EventFeedQuery, request.query_params)
        try:
            page = event_feed(
                after=q["after"], limit=q["limit"], types=q["type"], scope=request_scope(request)
            )
        except FeedError as exc:
            raise ValidationError({"after": [str(exc)]}) from None
        return Response(
            {"events": page.events, "next_after": page.next_after, "truncated": page.truncated}
        )
