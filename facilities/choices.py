from django.db import models


class OutdoorExposure(models.TextChoices):
    MINIMAL = "minimal", "Minimal"
    MODERATE = "moderate", "Moderate"
    SEVERE = "severe", "Severe"


class RecordKind(models.TextChoices):
    FACILITY = "facility", "Facility"
    EQUIPMENT = "equipment", "Equipment"
    MAINTENANCE = "maintenanceRecord", "Maintenance record"


class SyncSource(models.TextChoices):
    FILE = "file", "Export file"
    PULL = "pull", "Pull (export API)"
    PUSH = "push", "Push (events)"
    RERUN = "rerun", "Re-run of rejected records"


class SyncStatus(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    PARTIAL = "partial", "Succeeded with rejected records"
    FAILED = "failed", "Failed"


class ChangeSource(models.TextChoices):
    FILE = "file", "Export file"
    PULL = "pull", "Pull"
    PUSH = "push", "Push"
    STAFF = "staff", "Staff edit"
    MAPPING = "mapping", "Mapping change"
