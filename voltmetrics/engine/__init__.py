"""MasterBus built-in risk and compliance engine (risk-model.md, model 1.0).

Pure Python: no Django, no I/O, no clock — callers pass ``as_of``.
"""

from .dates import (
    add_months,
    add_years,
    days_in_month,
    forecast_points,
    history_points,
    month_end,
    month_label,
)
from .equipment import (
    FacilityContext,
    assess_equipment,
    condition_label,
    equipment_material,
    facility_context,
    is_counted,
    is_critical_threat,
    rating_for,
    study_status,
    with_served_scores,
)
from .facility import (
    CATEGORY_DESCRIPTIONS,
    aggregate_facility,
    assess_facility,
    assess_portfolio,
    compliance_status,
    humidity_risk,
    integer_weights,
    weighted_risk_score,
)
from .history import (
    facility_forecast,
    facility_history,
    facility_snapshot,
    facility_stats,
    mean_age_years,
    portfolio_history,
    portfolio_snapshot,
    restrict_to,
)
from .parts import (
    ACTION_KINDS,
    PARTS_FORMAT,
    EquipmentParts,
    Outcome,
    PartsContext,
    equipment_outcomes,
    equipment_parts,
    forecast_from_parts,
    parts_context,
    simulated_equipment,
    snapshot_from_parts,
)
from .recommend import items_phrase, recommend
from .results import (
    Action,
    CategoryResult,
    ComplianceResult,
    EquipmentResult,
    FacilityResult,
    FactorResult,
    InspectionDue,
    Nfpa70BResult,
    Nfpa70EResult,
    PortfolioResult,
    StudyResult,
)
from .rounding import clamp, round_half_up, round_half_up_ratio
from .types import (
    DEFAULT_PROFILES,
    DEFAULT_WEIGHTS,
    FACTORS,
    ConductorIn,
    EquipmentIn,
    FacilityIn,
    MaintenanceIn,
    ModelParams,
    ObservationsIn,
    Thresholds,
    TypeProfile,
    default_model,
)

ALGORITHM_VERSION = "1.0"

__all__ = [
    "ALGORITHM_VERSION",
    # types
    "FACTORS",
    "DEFAULT_PROFILES",
    "DEFAULT_WEIGHTS",
    "TypeProfile",
    "Thresholds",
    "ModelParams",
    "default_model",
    "ConductorIn",
    "MaintenanceIn",
    "ObservationsIn",
    "EquipmentIn",
    "FacilityIn",
    # results
    "FactorResult",
    "Nfpa70BResult",
    "Nfpa70EResult",
    "EquipmentResult",
    "CategoryResult",
    "StudyResult",
    "InspectionDue",
    "ComplianceResult",
    "FacilityResult",
    "PortfolioResult",
    "Action",
    # equipment
    "FacilityContext",
    "facility_context",
    "assess_equipment",
    "is_counted",
    "rating_for",
    "is_critical_threat",
    "condition_label",
    "equipment_material",
    "study_status",
    "with_served_scores",
    # facility / portfolio
    "aggregate_facility",
    "assess_facility",
    "assess_portfolio",
    "weighted_risk_score",
    "integer_weights",
    "compliance_status",
    "humidity_risk",
    "CATEGORY_DESCRIPTIONS",
    # history / forecast
    "facility_snapshot",
    "facility_stats",
    "mean_age_years",
    "portfolio_snapshot",
    "facility_history",
    "portfolio_history",
    "facility_forecast",
    "restrict_to",
    # per-equipment parts of the facility figures
    "ACTION_KINDS",
    "PARTS_FORMAT",
    "Outcome",
    "EquipmentParts",
    "PartsContext",
    "parts_context",
    "equipment_parts",
    "equipment_outcomes",
    "simulated_equipment",
    "forecast_from_parts",
    "snapshot_from_parts",
    # recommendations
    "recommend",
    "items_phrase",
    # dates / rounding
    "add_months",
    "add_years",
    "days_in_month",
    "month_end",
    "month_label",
    "history_points",
    "forecast_points",
    "round_half_up",
    "round_half_up_ratio",
    "clamp",
]
