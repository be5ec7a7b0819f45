"""Choices of the consumers app (consumers.md)."""

from django.db import models


class EventType(models.TextChoices):
    """consumers.md §2."""

    FACILITY_RISK_CHANGED = "facility.risk_changed"
    FACILITY_COMPLIANCE_CHANGED = "facility.compliance_changed"
    EQUIPMENT_RISK_CHANGED = "equipment.risk_changed"
    EQUIPMENT_MAINTENANCE_OVERDUE = "equipment.maintenance_overdue"
    SYNC_RUN_FINISHED = "sync.run_finished"
    MODEL_VERSION_PUBLISHED = "model_version.published"
    VOLTMETRICS_STATUS_CHANGED = "voltmetrics.status_changed"
    # Sent only by staff ("send a test event") to one subscription; never in the feed.
    TEST = "test"


# Events about one facility (and its equipment) belong to that facility's portfolios; the
# others go to unbound consumers only.
FACILITY_EVENT_TYPES = frozenset(
    {
        EventType.FACILITY_RISK_CHANGED,
        EventType.FACILITY_COMPLIANCE_CHANGED,
        EventType.EQUIPMENT_RISK_CHANGED,
        EventType.EQUIPMENT_MAINTENANCE_OVERDUE,
    }
)
PUBLIC_EVENT_TYPES = tuple(t.value for t in EventType if t != EventType.TEST)


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "pending (retry scheduled)"
    SUCCEEDED = "succeeded"
    FAILED = "failed", "failed (retries exhausted)"
    GONE = "gone", "gone (410: subscription disabled)"
