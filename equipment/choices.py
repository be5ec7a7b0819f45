from django.db import models


class EquipmentType(models.TextChoices):
    PANEL = "panel", "Panel"
    SWITCHBOARD = "switchboard", "Switchboard"
    SWITCHGEAR = "switchgear", "Switchgear"
    TRANSFORMER = "transformer", "Transformer"
    BREAKER = "breaker", "Breaker"
    DISCONNECT = "disconnect", "Disconnect"
    MCC = "mcc", "Motor control center"
    BUSWAY = "busway", "Busway"
    RACEWAY = "raceway", "Raceway"
    ATS = "ats", "Automatic transfer switch"
    UPS = "ups", "UPS"
    GENERATOR = "generator", "Generator"
    METER = "meter", "Meter"
    OTHER = "other", "Other"


class Material(models.TextChoices):
    COPPER = "copper", "Copper"
    ALUMINUM = "aluminum", "Aluminum"


class MaintenanceType(models.TextChoices):
    PREVENTIVE = "preventive", "Preventive"
    CORRECTIVE = "corrective", "Corrective"
    INSPECTION = "inspection", "Inspection"
    INFRARED_SCAN = "infrared_scan", "Infrared scan"
    EMERGENCY = "emergency", "Emergency"


class ObservationLevel(models.TextChoices):
    NONE = "none", "None"
    MINIMAL = "minimal", "Minimal"
    MODERATE = "moderate", "Moderate"
    SEVERE = "severe", "Severe"


class OverallCondition(models.TextChoices):
    EXCELLENT = "Excellent"
    GOOD = "Good"
    FAIR = "Fair"
    POOR = "Poor"
    CRITICAL = "Critical"


class PhotoStatus(models.TextChoices):
    PENDING = "pending", "Not fetched yet"
    FETCHED = "fetched", "Fetched"
    FAILED = "failed", "Failed"
