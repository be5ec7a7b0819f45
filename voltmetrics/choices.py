from django.db import models


class Source(models.TextChoices):
    LOCAL = "local", "Built-in engine"
    VOLTMETRICS = "voltmetrics", "VoltMetrics"


class Rating(models.TextChoices):
    LOW = "Low"
    MEDIUM = "Medium"
    HIGH = "High"
    CRITICAL = "Critical"


class VersionStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"


class JobStatus(models.TextChoices):
    PROCESSING = "processing", "Processing"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"


class JobKind(models.TextChoices):
    EQUIPMENT = "equipment", "Equipment"
    FACILITY = "facility", "Facility"
    MAINTENANCE = "maintenance", "Maintenance"


class RunKind(models.TextChoices):
    FULL = "full", "Full"
    CHANGES = "changes", "After changes"
    FACILITIES = "facilities", "Some facilities"


class RunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    FINISHED = "finished", "Finished"
    ABANDONED = "abandoned", "Abandoned"
