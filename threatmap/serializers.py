"""Response shapes of the ThreatMap read API (threatmap-api.md), for the OpenAPI document.

Selectors build the payloads as plain dicts (cached as rendered JSON); these serializers
describe every field — type, enum, nullability — and the contract tests check each response
against them, key for key, so the schema and the payloads cannot drift apart.
"""

from rest_framework import serializers as s

from equipment.choices import EquipmentType, MaintenanceType

RATINGS = ["Low", "Medium", "High", "Critical"]
COMPLIANCE_STATUSES = ["Compliant", "Warning", "Out of Compliance"]
OBSERVATION_LEVELS = ["None", "Minimal", "Moderate", "Severe"]
CONDITIONS = ["Excellent", "Good", "Fair", "Poor", "Critical"]
FACTORS = ["age", "material", "maintenance", "environmental", "loading", "condition"]
MATERIALS = ["Copper", "Aluminum", "Mixed"]
HIGH_RATINGS = ["High", "Critical"]
LEVELS3 = ["Low", "Medium", "High"]

# Component names of the choice sets (merged into SPECTACULAR_SETTINGS by ThreatmapConfig).
ENUM_NAME_OVERRIDES = {
    "RiskRatingEnum": RATINGS,
    "HighRiskRatingEnum": HIGH_RATINGS,
    "LowMediumHighEnum": LEVELS3,
    "ComplianceStatusEnum": COMPLIANCE_STATUSES,
    "ObservationLevelEnum": OBSERVATION_LEVELS,
    "RiskFactorEnum": FACTORS,
    "EquipmentTypeEnum": EquipmentType.values,
    "MaintenanceTypeEnum": MaintenanceType.values,
}


def _enum(choices, **kw):
    return s.ChoiceField(choices=choices, **kw)


class CoordinatesSerializer(s.Serializer):
    lat = s.FloatField()
    lng = s.FloatField()


class RiskDistributionSerializer(s.Serializer):
    low = s.IntegerField(min_value=0)
    medium = s.IntegerField(min_value=0)
    high = s.IntegerField(min_value=0)
    critical = s.IntegerField(min_value=0)


class EquipmentRiskFactorSerializer(s.Serializer):
    factor = _enum(FACTORS)
    score = s.IntegerField(min_value=0, max_value=100)
    weight = s.FloatField(help_text="Model weight of the factor (they sum to 1).")
    description = s.CharField()


class FacilityRiskFactorSerializer(s.Serializer):
    factor = _enum(FACTORS)
    score = s.IntegerField(allow_null=True, help_text="Mean factor over counted equipment.")
    description = s.CharField()


class HistoryPointSerializer(s.Serializer):
    month = s.CharField(help_text='Short month name and year, e.g. "Jan 2026".')
    risk_score = s.IntegerField(allow_null=True)
    equipment_count = s.IntegerField(min_value=0)
    equipment_age = s.FloatField(allow_null=True, help_text="Mean age in years, 1 decimal.")


class ForecastPointSerializer(s.Serializer):
    month = s.CharField(help_text='Short month name and year, e.g. "Mar 2026".')
    risk_score = s.IntegerField(allow_null=True)


class ConductorBreakdownSerializer(s.Serializer):
    copper = s.IntegerField(min_value=0)
    aluminum = s.IntegerField(min_value=0, help_text="Aluminum or mixed.")


# --- lists ------------------------------------------------------------------------------------


class FacilityItemSerializer(s.Serializer):
    id = s.CharField(help_text="Condoit facility id.")
    name = s.CharField()
    location = s.CharField(help_text='One-line address, "123 Main St, Springfield, IL 62701".')
    coordinates = CoordinatesSerializer(allow_null=True)
    risk_score = s.IntegerField(allow_null=True, min_value=0, max_value=100)
    risk_level = _enum(RATINGS, allow_null=True)
    compliance_status = _enum(COMPLIANCE_STATUSES, allow_null=True)
    last_inspection = s.DateField(allow_null=True)
    contractor = s.CharField(allow_null=True, help_text="Contractor of record (name).")
    equipment_count = s.IntegerField(min_value=0, help_text="Counted equipment.")
    critical_equipment_count = s.IntegerField(min_value=0, help_text="Critical threats.")
    high_risk_equipment_count = s.IntegerField(min_value=0, help_text="Equipment rated High.")
    risk_distribution = RiskDistributionSerializer()
    last_updated = s.DateTimeField(
        help_text="Latest of the Condoit updatedAt of the facility and its equipment and the "
        "assessment's computed time."
    )


class FacilityListSerializer(s.Serializer):
    total = s.IntegerField(min_value=0)
    page = s.IntegerField(min_value=1)
    limit = s.IntegerField(min_value=1, max_value=100)
    facilities = FacilityItemSerializer(many=True)


class EquipmentItemSerializer(s.Serializer):
    id = s.CharField(help_text="Condoit equipment id.")
    name = s.CharField()
    type = _enum(EquipmentType.values)
    location = s.CharField(help_text='"Building 1, Electrical Room 3" (empty when unknown).')
    install_date = s.DateField(allow_null=True)
    condition = _enum(CONDITIONS, allow_null=True)
    risk_rating = _enum(RATINGS, allow_null=True, help_text="Null when not assessed.")
    risk_score = s.IntegerField(allow_null=True, min_value=0, max_value=100)
    risk_factors = EquipmentRiskFactorSerializer(many=True)
    temperature = s.CharField(allow_null=True, help_text='Operating temperature, "78°C".')
    rust_level = _enum(OBSERVATION_LEVELS, allow_null=True)
    corrosion_level = _enum(OBSERVATION_LEVELS, allow_null=True)
    last_service = s.DateField(allow_null=True, help_text="Date of the latest maintenance record.")
    photo_url = s.URLField(
        allow_null=True, help_text="Signed absolute URL of the newest fetched photo's thumbnail."
    )
    intervention_count = s.IntegerField(min_value=0, help_text="Corrective + emergency records.")
    conductor_material = _enum(MATERIALS, allow_null=True)
    clearance_issue = s.BooleanField(allow_null=True, help_text="Null when not observed.")
    data_gaps = s.ListField(child=s.CharField())
    last_updated = s.DateTimeField()


class EquipmentListSerializer(s.Serializer):
    total = s.IntegerField(min_value=0)
    page = s.IntegerField(min_value=1)
    limit = s.IntegerField(min_value=1, max_value=200)
    equipment = EquipmentItemSerializer(many=True)


# --- facility detail --------------------------------------------------------------------------


class FacilityDetailSerializer(FacilityItemSerializer):
    last_arc_flash_analysis = s.DateField(allow_null=True)
    last_infrared_scan = s.DateField(allow_null=True)
    system_age = s.CharField(allow_null=True, help_text='"N years".')
    facility_age = s.IntegerField(allow_null=True)
    average_equipment_risk = s.FloatField(allow_null=True, help_text="Mean score / 100.")
    humidity_risk = _enum(LEVELS3, allow_null=True)
    conductor_type_breakdown = ConductorBreakdownSerializer()
    risk_factors = FacilityRiskFactorSerializer(many=True)
    historical_risk = HistoryPointSerializer(many=True)
    forecast = ForecastPointSerializer(many=True)
    top_threats = EquipmentItemSerializer(many=True, help_text="At most 5.")


# --- equipment detail -------------------------------------------------------------------------


class EquipmentLocationSerializer(s.Serializer):
    facility_id = s.CharField()
    facility_name = s.CharField()
    building = s.CharField(allow_null=True)
    room = s.CharField(allow_null=True)
    coordinates = CoordinatesSerializer(allow_null=True)


class EquipmentRefSerializer(s.Serializer):
    id = s.CharField()
    name = s.CharField()


class PhotoSerializer(s.Serializer):
    id = s.CharField()
    url = s.URLField(allow_null=True, help_text="Signed; null until the image is fetched.")
    thumbnail_url = s.URLField(allow_null=True, help_text="Signed; null until fetched.")
    caption = s.CharField(allow_null=True)
    taken_at = s.DateTimeField(allow_null=True)


class RiskAssessmentSerializer(s.Serializer):
    risk_rating = _enum(RATINGS)
    risk_score = s.IntegerField(min_value=0, max_value=100)
    condition = _enum(CONDITIONS, allow_null=True)
    critical_threat = s.BooleanField()
    primary_risk_factor = s.CharField(allow_null=True)
    risk_factors = EquipmentRiskFactorSerializer(many=True)
    data_gaps = s.ListField(child=s.CharField())
    temperature = s.CharField(allow_null=True)
    rust_level = _enum(OBSERVATION_LEVELS, allow_null=True)
    corrosion_level = _enum(OBSERVATION_LEVELS, allow_null=True)
    source = _enum(["local", "voltmetrics"])
    algorithm_version = s.CharField()
    assessed_at = s.DateTimeField()


class ServiceRecordSerializer(s.Serializer):
    id = s.CharField()
    type = _enum(MaintenanceType.values)
    date = s.DateField()
    technician = s.CharField(allow_null=True)
    notes = s.CharField(
        allow_null=True,
        help_text='"Findings: …" and "Actions taken: …", one per line; null when both are empty.',
    )


class Nfpa70BEquipmentSerializer(s.Serializer):
    compliant = s.BooleanField(allow_null=True)
    compliance_percentage = s.IntegerField(allow_null=True)
    next_inspection_due = s.DateField(allow_null=True)
    maintenance_status = _enum(["up_to_date", "due_soon", "overdue"], allow_null=True)
    last_inspection = s.DateField(
        allow_null=True, help_text="Latest maintenance record (the NFPA 70B baseline)."
    )


class Nfpa70EEquipmentSerializer(s.Serializer):
    compliant = s.BooleanField(allow_null=True)
    compliance_percentage = s.IntegerField(allow_null=True)
    arc_flash_label_present = s.BooleanField()
    ppe_requirements = s.CharField(allow_null=True, help_text='"Category 2".')
    incident_energy = s.FloatField(allow_null=True, help_text="cal/cm².")
    last_assessment = s.DateField(allow_null=True, help_text="The facility's arc flash study.")


class EquipmentComplianceSerializer(s.Serializer):
    nfpa_70b = Nfpa70BEquipmentSerializer()
    nfpa_70e = Nfpa70EEquipmentSerializer()


class EquipmentDetailSerializer(s.Serializer):
    id = s.CharField()
    name = s.CharField()
    type = _enum(EquipmentType.values)
    manufacturer = s.CharField(allow_null=True)
    model = s.CharField(allow_null=True)
    serial_number = s.CharField(allow_null=True)
    install_date = s.DateField(allow_null=True)
    location = EquipmentLocationSerializer()
    specifications = s.DictField(help_text="Condoit specs with snake_case keys.")
    fed_from = EquipmentRefSerializer(allow_null=True)
    feeds = EquipmentRefSerializer(many=True)
    photos = PhotoSerializer(many=True)
    risk_assessment = RiskAssessmentSerializer(
        allow_null=True, help_text="Null for equipment not counted (installed after today)."
    )
    service_history = ServiceRecordSerializer(many=True, help_text="Newest first.")
    compliance = EquipmentComplianceSerializer()
    last_updated = s.DateTimeField()
    created_at = s.DateTimeField()


# --- compliance -------------------------------------------------------------------------------


class ComplianceSummarySerializer(s.Serializer):
    overall_compliance = s.IntegerField(allow_null=True)
    nfpa_70b_compliance = s.IntegerField(allow_null=True)
    nfpa_70e_compliance = s.IntegerField(allow_null=True)
    compliance_status = _enum(COMPLIANCE_STATUSES, allow_null=True)


class ComplianceCountsSerializer(s.Serializer):
    total = s.IntegerField(min_value=0)
    compliant = s.IntegerField(min_value=0)
    non_compliant = s.IntegerField(min_value=0)


class InspectionStatusSerializer(s.Serializer):
    up_to_date = s.IntegerField(min_value=0)
    due_soon = s.IntegerField(min_value=0)
    overdue = s.IntegerField(min_value=0)


class InspectionDueSerializer(s.Serializer):
    equipment_id = s.CharField()
    equipment_name = s.CharField()
    equipment_type = _enum(EquipmentType.values)
    due_date = s.DateField(
        help_text="Never maintained with an unknown install date: the assessment date (due now)."
    )
    days_overdue = s.IntegerField(min_value=0, help_text="0 when not yet due.")


class Nfpa70BFacilitySerializer(s.Serializer):
    compliance_percentage = s.IntegerField(allow_null=True)
    equipment_counts = ComplianceCountsSerializer()
    inspection_status = InspectionStatusSerializer()
    next_inspections_due = InspectionDueSerializer(
        many=True, help_text="Overdue first (most days first), then due soonest; at most 20."
    )


class ArcFlashStudySerializer(s.Serializer):
    last_study_date = s.DateField(allow_null=True)
    next_study_due = s.DateField(allow_null=True)
    status = _enum(["current", "expired", "missing"])


class LabelStatusSerializer(s.Serializer):
    present = s.IntegerField(min_value=0)
    missing = s.IntegerField(min_value=0)


class Nfpa70EFacilitySerializer(s.Serializer):
    compliance_percentage = s.IntegerField(allow_null=True)
    arc_flash_study = ArcFlashStudySerializer()
    equipment_counts = ComplianceCountsSerializer()
    arc_flash_label_status = LabelStatusSerializer()


class FacilityComplianceSerializer(s.Serializer):
    facility_id = s.CharField()
    facility_name = s.CharField()
    compliance_summary = ComplianceSummarySerializer()
    nfpa_70b = Nfpa70BFacilitySerializer()
    nfpa_70e = Nfpa70EFacilitySerializer()
    last_updated = s.DateTimeField()


# --- risks ------------------------------------------------------------------------------------


class RiskSummarySerializer(s.Serializer):
    risk_score = s.IntegerField(allow_null=True)
    risk_level = _enum(RATINGS, allow_null=True)
    critical_risk_equipment_count = s.IntegerField(min_value=0, help_text="Rated Critical.")
    high_risk_equipment_count = s.IntegerField(min_value=0, help_text="Rated High.")
    medium_risk_equipment_count = s.IntegerField(min_value=0)
    low_risk_equipment_count = s.IntegerField(min_value=0)


class RiskCategorySerializer(s.Serializer):
    category = _enum(FACTORS)
    score = s.IntegerField(allow_null=True)
    description = s.CharField()
    affected_equipment_count = s.IntegerField(min_value=0)
    percentage_of_facility = s.FloatField(allow_null=True)


class HighRiskItemSerializer(s.Serializer):
    equipment_id = s.CharField()
    equipment_name = s.CharField()
    equipment_type = _enum(EquipmentType.values)
    risk_level = _enum(HIGH_RATINGS)
    risk_score = s.IntegerField(min_value=0, max_value=100)
    primary_risk_factor = s.CharField(allow_null=True)
    location = s.CharField()


class PriorityActionSerializer(s.Serializer):
    action = s.CharField()
    affected_equipment = s.ListField(child=s.CharField())
    risk_reduction = s.IntegerField()
    compliance_gain = s.IntegerField()
    estimated_cost = _enum(LEVELS3)
    urgency = _enum(RATINGS)


class RiskRecommendationSerializer(s.Serializer):
    priority_actions = PriorityActionSerializer(many=True)


class FacilityRisksSerializer(s.Serializer):
    facility_id = s.CharField()
    facility_name = s.CharField()
    risk_summary = RiskSummarySerializer()
    risk_categories = RiskCategorySerializer(many=True)
    historical_trend = HistoryPointSerializer(many=True)
    forecast = ForecastPointSerializer(many=True)
    high_risk_items = HighRiskItemSerializer(many=True, help_text="By score, highest first.")
    risk_recommendation = RiskRecommendationSerializer()
    last_updated = s.DateTimeField()


# --- portfolio --------------------------------------------------------------------------------


class RiskOverviewSerializer(s.Serializer):
    average_risk_score = s.IntegerField(allow_null=True)
    high_risk_facilities = s.IntegerField(min_value=0)
    critical_risk_equipment = s.IntegerField(min_value=0, help_text="Critical threats.")
    high_risk_equipment = s.IntegerField(min_value=0, help_text="Equipment rated High.")


class ComplianceOverviewSerializer(s.Serializer):
    nfpa_70b_compliance = s.IntegerField(allow_null=True)
    nfpa_70e_compliance = s.IntegerField(allow_null=True)
    overall_compliance = s.IntegerField(allow_null=True)


class HighestRiskFacilitySerializer(s.Serializer):
    facility_id = s.CharField()
    facility_name = s.CharField()
    risk_score = s.IntegerField(allow_null=True)
    location = s.CharField(help_text='"City, ST".')
    critical_equipment_count = s.IntegerField(min_value=0)


class PortfolioSummarySerializer(s.Serializer):
    total_facilities = s.IntegerField(min_value=0)
    total_equipment = s.IntegerField(min_value=0)
    risk_overview = RiskOverviewSerializer()
    compliance_overview = ComplianceOverviewSerializer()
    risk_trends = HistoryPointSerializer(many=True)
    highest_risk_facilities = HighestRiskFacilitySerializer(many=True)
    last_updated = s.DateTimeField(allow_null=True)


class PortfolioItemSerializer(s.Serializer):
    slug = s.RegexField(r"^[a-z0-9-]{1,50}$", max_length=50)
    name = s.CharField()
    facility_count = s.IntegerField(min_value=0, help_text="Active facilities.")


class PortfolioListSerializer(s.Serializer):
    portfolios = PortfolioItemSerializer(many=True)
