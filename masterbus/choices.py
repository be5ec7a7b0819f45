from django.db import models


class ApiScope(models.TextChoices):
    """What an API key may do (threatmap-api.md §Authentication and authorisation)."""

    THREATMAP_READ = "threatmap:read", "threatmap:read — all GET endpoints"
    CONDOIT_PUSH = "condoit:push", "condoit:push — POST /condoit/events"
    VOLTMETRICS_CALLBACK = (
        "voltmetrics:callback",
        "voltmetrics:callback — POST /webhooks/voltmetrics",
    )
    EVENTS_READ = "events:read", "events:read — GET /events (the event feed)"


# Keys with one of these scopes serve signed machine-to-machine endpoints and get the much
# higher API_SIGNED_RATE_LIMIT_PER_MINUTE unless they carry their own limit.
SIGNED_SCOPES = frozenset({ApiScope.CONDOIT_PUSH, ApiScope.VOLTMETRICS_CALLBACK})
