"""Equipment, its conductors and photos, maintenance history, and the curated mappings."""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from facilities.models import CondoitMirror, Facility
from masterbus.audit import AuditedHistory

from .choices import EquipmentType, MaintenanceType, Material, PhotoStatus


class Equipment(CondoitMirror):
    facility = models.ForeignKey(Facility, on_delete=models.PROTECT, related_name="equipment")
    equipment_class = models.CharField("Condoit class", max_length=500)
    type = models.CharField(
        max_length=16, choices=EquipmentType.choices, default=EquipmentType.OTHER, db_index=True
    )
    class_mapped = models.BooleanField(
        default=True, help_text="False when the Condoit class has no mapping (typed as other)."
    )
    name = models.CharField(max_length=200)
    manufacturer = models.CharField(max_length=500, blank=True, default="")
    model = models.CharField(max_length=500, blank=True, default="")
    serial_number = models.CharField(max_length=500, blank=True, default="")
    install_date = models.DateField(null=True, blank=True)
    building = models.CharField(max_length=500, blank=True, default="")
    room = models.CharField(max_length=500, blank=True, default="")
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    feeds_from_external_id = models.CharField(
        "feeds from (Condoit id)", max_length=200, blank=True, default="", db_index=True
    )
    feeds_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="feeds"
    )
    specs = models.JSONField(default=dict, blank=True)
    # corrosion, rust, wear, heatDiscoloration, clearanceIssue, operatingTempC,
    # overallCondition — as Condoit sent them; null when there are no observations at all.
    observations = models.JSONField(null=True, blank=True)
    load_percent = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(0), MaxValueValidator(250)]
    )
    label_present = models.BooleanField("arc flash label present", default=False)
    incident_energy_cal_cm2 = models.FloatField(null=True, blank=True)
    ppe_category = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(4)]
    )
    label_date = models.DateField(null=True, blank=True)
    serves_critical_load = models.BooleanField(default=False)
    # Staff overrides of the type profile for this one equipment.
    life_years_override = models.FloatField(
        "expected life override (years)", null=True, blank=True, validators=[MinValueValidator(1)]
    )
    interval_months_override = models.PositiveSmallIntegerField(
        "maintenance interval override (months)",
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
    )

    class Meta:
        verbose_name_plural = "equipment"
        ordering = ["name", "external_id"]
        indexes = [
            models.Index(fields=["facility", "name"]),
            # What waits for a class mapping (equipment.unmapped): a few rows, found at once.
            models.Index(
                fields=["equipment_class"],
                name="equipment_unmapped_class",
                condition=models.Q(class_mapped=False),
            ),
            # The admin list's order: its first page without sorting every equipment.
            models.Index(fields=["name", "external_id"], name="equipment_name_order"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.external_id})"


class Conductor(models.Model):
    equipment = models.ForeignKey(Equipment, on_delete=models.CASCADE, related_name="conductors")
    external_id = models.CharField("Condoit id", max_length=200, blank=True, default="")
    material_code = models.CharField("Condoit material", max_length=500, blank=True, default="")
    material = models.CharField(
        max_length=16,
        choices=Material.choices,
        blank=True,
        default="",
        help_text="Mapped material; empty when the code is unknown.",
    )
    size = models.CharField(max_length=500, blank=True, default="")
    connection_type = models.CharField(max_length=500, blank=True, default="")
    al_cu_transition = models.BooleanField("Al/Cu transition", default=False)

    class Meta:
        ordering = ["equipment", "id"]
        indexes = [
            # What waits for a material mapping (equipment.unmapped).
            models.Index(
                fields=["material_code"],
                name="conductor_unmapped_code",
                condition=models.Q(material=""),
            )
        ]

    def __str__(self) -> str:
        return f"{self.external_id or self.pk} {self.material_code}"


class Photo(models.Model):
    external_id = models.CharField("Condoit id", max_length=200, unique=True)
    equipment = models.ForeignKey(Equipment, on_delete=models.CASCADE, related_name="photos")
    url = models.URLField(max_length=2000)
    caption = models.CharField(max_length=500, blank=True, default="")
    taken_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=16, choices=PhotoStatus.choices, default=PhotoStatus.PENDING
    )
    image = models.FileField(upload_to="photos/", blank=True, default="")
    thumbnail = models.FileField(upload_to="photos/thumbs/", blank=True, default="")
    content_type = models.CharField(max_length=100, blank=True, default="")
    fetched_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["-taken_at", "external_id"]

    def __str__(self) -> str:
        return self.external_id


class MaintenanceRecord(CondoitMirror):
    equipment = models.ForeignKey(Equipment, on_delete=models.PROTECT, related_name="maintenance")
    type = models.CharField(max_length=16, choices=MaintenanceType.choices)
    performed_at = models.DateTimeField(db_index=True)
    technician = models.CharField(max_length=500, blank=True, default="")
    findings = models.TextField(blank=True, default="")
    actions_taken = models.TextField(blank=True, default="")
    next_service_due = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["-performed_at", "external_id"]
        indexes = [models.Index(fields=["equipment", "-performed_at"])]

    def __str__(self) -> str:
        return f"{self.type} {self.performed_at:%Y-%m-%d} ({self.external_id})"


class EquipmentClassMapping(models.Model):
    """Condoit equipment class (case-insensitive) → MasterBus type."""

    condoit_class = models.CharField(
        max_length=500, unique=True, help_text="Matched case-insensitively."
    )
    type = models.CharField(max_length=16, choices=EquipmentType.choices)
    updated_at = models.DateTimeField(auto_now=True)
    history = AuditedHistory(excluded_fields=["updated_at"])  # masterbus/audit.py

    class Meta:
        ordering = ["condoit_class"]

    def __str__(self) -> str:
        return f"{self.condoit_class} → {self.type}"

    def save(self, *args, **kwargs):
        self.condoit_class = normalize_key(self.condoit_class)
        super().save(*args, **kwargs)


class MaterialMapping(models.Model):
    """Condoit conductor material code (case-insensitive) → copper / aluminum."""

    code = models.CharField(max_length=500, unique=True, help_text="Matched case-insensitively.")
    material = models.CharField(max_length=16, choices=Material.choices)
    updated_at = models.DateTimeField(auto_now=True)
    history = AuditedHistory(excluded_fields=["updated_at"])  # masterbus/audit.py

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} → {self.material}"

    def save(self, *args, **kwargs):
        self.code = normalize_key(self.code)
        super().save(*args, **kwargs)


class TypeProfile(models.Model):
    """Per-type expected life, maintenance interval and importance (risk-model.md §2).

    This table is the draft of the next risk-model version: edits take effect when a version
    is published.
    """

    type = models.CharField(max_length=16, choices=EquipmentType.choices, unique=True)
    life_years = models.FloatField("expected life (years)", validators=[MinValueValidator(1)])
    interval_months = models.PositiveSmallIntegerField(
        "maintenance interval (months)", validators=[MinValueValidator(1)]
    )
    importance = models.FloatField(validators=[MinValueValidator(0.01)])
    updated_at = models.DateTimeField(auto_now=True)
    history = AuditedHistory(excluded_fields=["updated_at"])  # masterbus/audit.py

    class Meta:
        ordering = ["type"]

    def __str__(self) -> str:
        return self.get_type_display()


def normalize_key(value: str) -> str:
    """Mapping keys compare case-insensitively and ignore surrounding/double spaces."""
    return " ".join((value or "").split()).casefold()
