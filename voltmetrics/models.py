"""Risk-model versions, stored assessments, monthly snapshots, VoltMetrics jobs."""

from django.conf import settings
from django.db import models

from equipment.models import Equipment
from facilities.models import Facility
from masterbus.audit import AuditedHistory

from .choices import JobKind, JobStatus, Rating, RunKind, RunStatus, Source, VersionStatus


class ModelVersion(models.Model):
    """A risk-model version (risk-model.md §10): immutable once published."""

    version = models.CharField(max_length=20, unique=True)
    status = models.CharField(
        max_length=16, choices=VersionStatus.choices, default=VersionStatus.DRAFT
    )
    is_current = models.BooleanField(default=False, editable=False)
    # {"age": 0.35, ...}; must sum to 1.
    weights = models.JSONField()
    # {"low_max": 40, "medium_max": 70, "high_max": 85}
    thresholds = models.JSONField()
    # {type: {"life_years", "interval_months", "importance"}}; captured from the type-profile
    # table when the version is published.
    profiles = models.JSONField(default=dict, blank=True)
    notes = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True, editable=False)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        editable=False,
    )
    history = AuditedHistory()  # masterbus/audit.py

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_current"],
                condition=models.Q(is_current=True),
                name="exactly_one_current_model_version",
            )
        ]

    def __str__(self) -> str:
        flag = " (current)" if self.is_current else ""
        return f"Model {self.version} [{self.status}]{flag}"


class EquipmentAssessment(models.Model):
    """The latest assessment of one equipment by one source."""

    equipment = models.ForeignKey(Equipment, on_delete=models.CASCADE, related_name="assessments")
    source = models.CharField(max_length=16, choices=Source.choices)
    algorithm_version = models.CharField(max_length=32)
    as_of = models.DateField()
    risk_score = models.PositiveSmallIntegerField()
    rating = models.CharField(max_length=10, choices=Rating.choices)
    critical_threat = models.BooleanField(default=False)
    condition = models.CharField(max_length=16, blank=True, default="")
    primary_risk_factor = models.CharField(max_length=32, blank=True, default="")
    material = models.CharField(max_length=16, blank=True, default="")
    factors = models.JSONField(default=list)
    data_gaps = models.JSONField(default=list)
    nfpa_70b = models.JSONField(default=dict)
    nfpa_70e = models.JSONField(default=dict)
    maintenance_status = models.CharField(max_length=16, blank=True, default="")
    next_due = models.DateField(null=True, blank=True)
    last_service = models.DateField(null=True, blank=True)
    # Exactly one assessment per equipment is served (voltmetrics.md "Which result is served").
    served = models.BooleanField(default=False)
    computed_at = models.DateTimeField()
    # Built-in engine only: this equipment's share of its facility's back-filled history,
    # forecast and recommendation simulations at as_of, with the result in short
    # (engine.EquipmentParts.to_dict as compact JSON text, "" for none: read back whole,
    # never queried).
    # A recompute after a change reuses it for the facility's unchanged equipment instead of
    # assessing them again.
    parts = models.TextField(blank=True, default="", editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["equipment", "source"], name="one_assessment_per_equipment_source"
            )
        ]
        indexes = [
            models.Index(
                fields=["equipment"], name="served_assessment", condition=models.Q(served=True)
            )
        ]
        # PostgreSQL also has served_rating_score and local_70b_status (migration 0008), for
        # the admin's lists filtered by rating or NFPA 70B status.

    def __str__(self) -> str:
        return f"{self.equipment_id} {self.source}: {self.risk_score} {self.rating}"


class FacilityAssessment(models.Model):
    """The latest facility figures (risk-model.md §5–§6, §8 history/forecast, §9)."""

    facility = models.ForeignKey(Facility, on_delete=models.CASCADE, related_name="assessments")
    source = models.CharField(max_length=16, choices=Source.choices)
    algorithm_version = models.CharField(max_length=32)
    as_of = models.DateField()
    equipment_count = models.PositiveIntegerField(default=0)
    risk_score = models.PositiveSmallIntegerField(null=True, blank=True)
    risk_level = models.CharField(max_length=10, choices=Rating.choices, blank=True, default="")
    critical_equipment_count = models.PositiveIntegerField(default=0)
    high_risk_equipment_count = models.PositiveIntegerField(default=0)
    overall_compliance = models.PositiveSmallIntegerField(null=True, blank=True)
    compliance_status = models.CharField(max_length=32, blank=True, default="")
    # Σ age in days and count of counted equipment with a known install date, so the
    # portfolio mean age is exact (risk-model.md §7).
    age_days_sum = models.BigIntegerField(default=0)
    age_known = models.PositiveIntegerField(default=0)
    # Everything else the API shows: distribution, categories, compliance detail, top threats,
    # historical_risk, forecast, recommendations.
    payload = models.JSONField(default=dict)
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["facility", "source"], name="one_assessment_per_facility_source"
            )
        ]

    def __str__(self) -> str:
        return f"{self.facility_id} {self.source}: {self.risk_score}"


class PortfolioAssessment(models.Model):
    source = models.CharField(max_length=16, choices=Source.choices, unique=True)
    algorithm_version = models.CharField(max_length=32)
    as_of = models.DateField()
    payload = models.JSONField(default=dict)
    computed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Portfolio ({self.source}) as of {self.as_of}"


class FacilitySnapshot(models.Model):
    """Month-end figures of one facility (risk-model.md §8)."""

    facility = models.ForeignKey(Facility, on_delete=models.CASCADE, related_name="snapshots")
    month = models.DateField(help_text="Last day of the month")
    risk_score = models.PositiveSmallIntegerField(null=True, blank=True)
    equipment_count = models.PositiveIntegerField(default=0)
    equipment_age = models.FloatField(null=True, blank=True)
    age_days_sum = models.BigIntegerField(default=0)
    age_known = models.PositiveIntegerField(default=0)
    algorithm_version = models.CharField(max_length=32)
    backfilled = models.BooleanField(default=False)
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["facility", "-month"]
        constraints = [
            models.UniqueConstraint(fields=["facility", "month"], name="one_snapshot_per_month")
        ]

    def __str__(self) -> str:
        return f"{self.facility_id} {self.month:%b %Y}: {self.risk_score}"


class PortfolioSnapshot(models.Model):
    month = models.DateField(unique=True, help_text="Last day of the month")
    risk_score = models.PositiveSmallIntegerField(null=True, blank=True)
    equipment_count = models.PositiveIntegerField(default=0)
    equipment_age = models.FloatField(null=True, blank=True)
    algorithm_version = models.CharField(max_length=32)
    backfilled = models.BooleanField(default=False)
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["-month"]

    def __str__(self) -> str:
        return f"Portfolio {self.month:%b %Y}: {self.risk_score}"


class Job(models.Model):
    """A VoltMetrics calculation job (one accepted push)."""

    job_id = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=16, choices=JobKind.choices)
    items = models.JSONField(default=list, help_text="External ids sent in this job")
    status = models.CharField(
        max_length=16, choices=JobStatus.choices, default=JobStatus.PROCESSING
    )
    submitted_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    results_fetched_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    # Results not stored yet, by external id, with the reason (an answer that stayed
    # malformed or was out of range, or a fetch cut short by an outage); the poll fetches
    # them again.
    failed_items = models.JSONField(default=dict, blank=True)
    # Automatic retries used (at most VOLTMETRICS_JOB_RETRIES) and when the next one is due.
    retries = models.PositiveSmallIntegerField(default=0)
    next_retry_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-submitted_at"]
        indexes = [models.Index(fields=["status", "submitted_at"])]

    def __str__(self) -> str:
        return f"{self.kind} job {self.job_id} ({self.status})"


class WebhookEvent(models.Model):
    """A VoltMetrics callback event id already received (idempotency)."""

    event_id = models.CharField(max_length=200, unique=True)
    event_type = models.CharField(max_length=64)
    job_id = models.CharField(max_length=200, blank=True, default="")
    payload = models.JSONField(default=dict)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return self.event_id


class RecomputeRun(models.Model):
    """A recompute split into chunks of facilities (``voltmetrics.runs``): the chunks run as
    separate tasks on any worker; the portfolio is put together once, by the task that finds
    every chunk finished (a barrier in this table, not in the broker)."""

    kind = models.CharField(max_length=16, choices=RunKind.choices)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.RUNNING)
    as_of = models.DateField()
    algorithm_version = models.CharField(max_length=32)
    # The facilities to recompute (None: every facility) and, for a recompute after changes,
    # the changed records ({"facilities": [pk, …], "equipment": [external id, …]}) and the
    # outbox rows marked recomputed when the run finishes.
    facility_pks = models.JSONField(null=True, blank=True, editable=False)
    changed = models.JSONField(null=True, blank=True, editable=False)
    change_ids = models.JSONField(default=list, blank=True, editable=False)
    # The recompute lock's token: the run holds the lock from its start to its finish.
    lock_token = models.CharField(max_length=64, editable=False)
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    facilities = models.PositiveIntegerField(default=0)
    equipment = models.PositiveIntegerField(default=0)
    queued_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-queued_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["status"],
                condition=models.Q(status="running"),
                name="voltmetrics_one_running_recompute",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} recompute #{self.pk} ({self.status})"


class RecomputeChunk(models.Model):
    """The facilities of a run with ``pk_from <= pk <= pk_to``."""

    run = models.ForeignKey(RecomputeRun, on_delete=models.CASCADE, related_name="chunks")
    number = models.PositiveIntegerField()
    pk_from = models.BigIntegerField()
    pk_to = models.BigIntegerField()
    attempts = models.PositiveSmallIntegerField(default=0)
    worker = models.CharField(max_length=200, blank=True, default="")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    facilities = models.PositiveIntegerField(default=0)
    equipment = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["run", "number"]
        constraints = [
            models.UniqueConstraint(fields=["run", "number"], name="voltmetrics_chunk_number")
        ]

    def __str__(self) -> str:
        return f"chunk {self.number} of run {self.run_id}"
