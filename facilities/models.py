"""The Facility mirror and the Condoit sync bookkeeping."""

from django.conf import settings
from django.db import models

from masterbus.audit import AuditedHistory

from .choices import ChangeSource, OutdoorExposure, RecordKind, SyncSource, SyncStatus


class CondoitMirror(models.Model):
    """Fields every record mirrored from Condoit carries."""

    external_id = models.CharField(
        "Condoit id", max_length=200, unique=True, help_text="Condoit's opaque id; the public id."
    )
    condoit_created_at = models.DateTimeField("Condoit createdAt")
    condoit_updated_at = models.DateTimeField("Condoit updatedAt", db_index=True)
    # Not indexed: nearly every row is live, and an index on it lures the planner into
    # per-row bitmap ANDs when it joins mirrored tables.
    deleted_at = models.DateTimeField(
        "deleted at", null=True, blank=True, help_text="Soft delete (Condoit)."
    )
    # Keys Condoit sent that MasterBus does not model, kept verbatim.
    extra = models.JSONField(default=dict, blank=True)
    # Digest of the record as Condoit sent it: an unchanged re-import is detected by comparing
    # digests, without rewriting the row.
    content_hash = models.CharField(max_length=32, editable=False, default="")
    synced_at = models.DateTimeField("last synced", null=True, blank=True, editable=False)
    # Bumped on every change (Condoit or staff); later work picks changes up by it.
    changed_at = models.DateTimeField(null=True, blank=True, editable=False, db_index=True)

    class Meta:
        abstract = True

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class Facility(CondoitMirror):
    name = models.CharField(max_length=200)
    street = models.CharField(max_length=500, blank=True, default="")
    city = models.CharField(max_length=500, blank=True, default="")
    state = models.CharField(max_length=500, blank=True, default="")
    zip = models.CharField("ZIP", max_length=500, blank=True, default="")
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    year_built = models.PositiveSmallIntegerField(null=True, blank=True)
    contractor = models.CharField("contractor", max_length=500, blank=True, default="")
    humidity_avg = models.FloatField("humidity avg (% RH)", null=True, blank=True)
    temperature_avg_f = models.FloatField("temperature avg (°F)", null=True, blank=True)
    outdoor_exposure = models.CharField(
        max_length=16, choices=OutdoorExposure.choices, blank=True, default=""
    )
    arc_flash_study_date = models.DateField(null=True, blank=True)
    infrared_scan_date = models.DateField(null=True, blank=True)
    last_inspection_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "facilities"
        ordering = ["name", "external_id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.external_id})"

    @property
    def location(self) -> str:
        """One-line address: "123 Main St, Springfield, IL 62701"."""
        state_zip = " ".join(p for p in (self.state, self.zip) if p)
        return ", ".join(p for p in (self.street, self.city, state_zip) if p)


class SyncRun(models.Model):
    """One run of one ingestion door, with its counts and what it refused."""

    source = models.CharField(max_length=16, choices=SyncSource.choices)
    label = models.CharField(max_length=500, blank=True, default="", help_text="File or resource")
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=SyncStatus.choices, default=SyncStatus.RUNNING)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    deleted = models.PositiveIntegerField(default=0)
    # [{"code": "unmapped_class", "message": ..., "value": ..., "count": n}, ...]
    warnings = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["source", "-started_at"])]

    def __str__(self) -> str:
        return f"{self.get_source_display()} #{self.pk} ({self.status})"

    @property
    def has_warnings(self) -> bool:
        return bool(self.warnings)


class RejectedRecord(models.Model):
    sync_run = models.ForeignKey(SyncRun, on_delete=models.CASCADE, related_name="rejections")
    kind = models.CharField(max_length=32, choices=RecordKind.choices, blank=True, default="")
    record_id = models.CharField(max_length=500, blank=True, default="")
    line = models.PositiveIntegerField(null=True, blank=True, help_text="NDJSON line number")
    field = models.CharField(max_length=200, blank=True, default="")
    reason = models.TextField()
    # The raw JSON as it arrived, truncated to REJECTED_RAW_MAX_BYTES.
    raw = models.TextField(blank=True, default="")
    raw_truncated = models.BooleanField(default=False)
    rerun_at = models.DateTimeField(null=True, blank=True)
    rerun_outcome = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["sync_run", "id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.record_id or '?'}: {self.field} {self.reason}"


class SyncCursor(models.Model):
    """Per-resource high-water mark of the pull (max updatedAt committed)."""

    resource = models.CharField(max_length=32, unique=True)
    high_water_mark = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.resource}: {self.high_water_mark}"


class ProcessedEvent(models.Model):
    """A Condoit event id already applied (push idempotency)."""

    event_id = models.CharField(max_length=200, unique=True)
    event_type = models.CharField(max_length=64)
    occurred_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    outcome = models.CharField(max_length=32)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return self.event_id


class RecordChange(models.Model):
    """Outbox of changes to mirrored records, written in the same transaction as the change.

    Later work (recompute, VoltMetrics push) consumes rows and marks them done.
    """

    kind = models.CharField(max_length=32, choices=RecordKind.choices)
    external_id = models.CharField(max_length=200, db_index=True)
    facility_external_id = models.CharField(max_length=200, blank=True, default="")
    source = models.CharField(max_length=16, choices=ChangeSource.choices)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    recomputed_at = models.DateTimeField(null=True, blank=True)
    # Set when VoltMetrics accepted the push of this change (voltmetrics.md "Outbox").
    pushed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["id"],
                name="change_pending_recompute",
                condition=models.Q(recomputed_at__isnull=True),
            ),
            models.Index(
                fields=["id"],
                name="change_pending_push",
                condition=models.Q(pushed_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.external_id} ({self.source})"


class FieldOverride(models.Model):
    """A staff edit of a mirrored field: wins over later Condoit updates until removed."""

    kind = models.CharField(max_length=32, choices=RecordKind.choices)
    external_id = models.CharField(max_length=200)
    field = models.CharField(max_length=64)
    value = models.JSONField(null=True)
    condoit_value = models.JSONField(null=True, blank=True, help_text="Condoit's current value")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now=True)
    # Audit history (masterbus/audit.py); the row's date says when.
    history = AuditedHistory(excluded_fields=["created_at"])

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "external_id", "field"], name="one_override_per_field"
            )
        ]
        indexes = [models.Index(fields=["kind", "external_id"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.external_id}.{self.field}"
