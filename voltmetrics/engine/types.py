"""Engine inputs (risk-model.md §2–§4).  Immutable slots dataclasses.

The caller maps its records onto these: deleted records are never passed; material codes are
already mapped to ``"copper"``/``"aluminum"`` (``None`` for unknown/unmapped); timestamps are
reduced to their UTC date.  The engine applies risk-model.md §1 itself (equipment installed
after ``as_of`` does not count, maintenance performed after ``as_of`` is ignored).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

__all__ = [
    "FACTORS",
    "TypeProfile",
    "Thresholds",
    "ModelParams",
    "ConductorIn",
    "MaintenanceIn",
    "ObservationsIn",
    "EquipmentIn",
    "FacilityIn",
    "DEFAULT_PROFILES",
    "DEFAULT_WEIGHTS",
    "FALLBACK_PROFILE",
    "default_model",
]

#: The six equipment factors in risk-model.md §3 order.
FACTORS: tuple[str, ...] = (
    "age",
    "material",
    "maintenance",
    "environmental",
    "loading",
    "condition",
)


@dataclass(frozen=True, slots=True)
class TypeProfile:
    life_years: float
    interval_months: int
    importance: float


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Rating bands: Low 0–low_max, Medium –medium_max, High –high_max, Critical above."""

    low_max: int = 40
    medium_max: int = 70
    high_max: int = 85


#: risk-model.md §2 (defaults; staff can edit them).
DEFAULT_PROFILES: dict[str, TypeProfile] = {
    "panel": TypeProfile(35, 12, 1.0),
    "switchboard": TypeProfile(35, 12, 3.0),
    "switchgear": TypeProfile(30, 12, 3.0),
    "transformer": TypeProfile(25, 12, 3.0),
    "breaker": TypeProfile(20, 12, 1.0),
    "disconnect": TypeProfile(30, 12, 1.0),
    "mcc": TypeProfile(30, 12, 1.0),
    "busway": TypeProfile(40, 12, 0.5),
    "raceway": TypeProfile(40, 36, 0.5),
    "ats": TypeProfile(25, 12, 3.0),
    "ups": TypeProfile(15, 12, 3.0),
    "generator": TypeProfile(30, 12, 3.0),
    "meter": TypeProfile(20, 36, 0.5),
    "other": TypeProfile(25, 12, 1.0),
}

#: risk-model.md §4 weights of model 1.0.
DEFAULT_WEIGHTS: dict[str, float] = {
    "age": 0.35,
    "material": 0.20,
    "maintenance": 0.20,
    "environmental": 0.10,
    "loading": 0.10,
    "condition": 0.05,
}

#: Used for a type missing from the model's profiles when the model has no ``other`` profile.
FALLBACK_PROFILE = TypeProfile(25, 12, 1.0)


@dataclass(frozen=True, slots=True)
class ModelParams:
    """A published (immutable) risk-model version: weights, thresholds, type profiles."""

    version: str
    weights: dict[str, float]
    thresholds: Thresholds = field(default_factory=Thresholds)
    profiles: dict[str, TypeProfile] = field(default_factory=lambda: dict(DEFAULT_PROFILES))

    def profile_for(self, type_: str | None) -> TypeProfile:
        """The type's profile; an unknown type uses ``other``."""
        p = self.profiles.get(type_) if type_ is not None else None
        if p is None:
            p = self.profiles.get("other") or FALLBACK_PROFILE
        return p

    def weight(self, factor: str) -> float:
        return float(self.weights.get(factor, 0.0))


def default_model() -> ModelParams:
    """Model "1.0": risk-model.md §2 profiles, §4 weights and thresholds."""
    return ModelParams("1.0", dict(DEFAULT_WEIGHTS), Thresholds(), dict(DEFAULT_PROFILES))


@dataclass(frozen=True, slots=True)
class ConductorIn:
    material: str | None  # "copper" | "aluminum" | None (unknown / unmapped code)
    connection_type: str | None = None  # "lug", "bolted", "crimped", ...
    al_cu_transition: bool = False


@dataclass(frozen=True, slots=True)
class MaintenanceIn:
    id: str
    type: str  # preventive | corrective | inspection | infrared_scan | emergency
    performed_on: date  # performedAt's UTC date


@dataclass(frozen=True, slots=True)
class ObservationsIn:
    corrosion: str | None = None  # none | minimal | moderate | severe
    rust: str | None = None
    wear: str | None = None
    heat_discoloration: bool | None = None
    clearance_issue: bool | None = None
    operating_temp_c: float | None = None
    overall_condition: str | None = None  # Excellent | Good | Fair | Poor | Critical


@dataclass(frozen=True, slots=True)
class EquipmentIn:
    id: str
    name: str
    type: str  # MasterBus type (risk-model.md §2); unknown types use the "other" profile
    install_date: date | None = None
    conductors: tuple[ConductorIn, ...] = ()
    observations: ObservationsIn | None = None
    load_percent: float | None = None
    label_present: bool = False
    serves_critical_load: bool = False
    maintenance: tuple[MaintenanceIn, ...] = ()
    life_years: float | None = None  # per-equipment override of the type profile
    interval_months: int | None = None  # per-equipment override of the type profile
    incident_energy: float | None = None  # arc flash label, passed through to nfpa_70e
    ppe_category: int | None = None  # arc flash label, passed through to nfpa_70e


@dataclass(frozen=True, slots=True)
class FacilityIn:
    id: str
    name: str
    year_built: int | None = None
    humidity_avg: float | None = None
    temperature_avg_f: float | None = None
    outdoor_exposure: str | None = None  # minimal | moderate | severe
    arc_flash_study_date: date | None = None
    equipment: tuple[EquipmentIn, ...] = ()
