"""Query-parameter validation of the ThreatMap list endpoints (threatmap-api.md "Lists").

Each parser returns a frozen dataclass of clean values or raises DRF's ValidationError with
``{param: [messages]}``; the project's exception handler turns that into the 400
``VALIDATION_ERROR`` envelope. Enum values are case-insensitive. Unknown parameters are
ignored (as DRF does); a parameter given with an empty value is invalid, except ``search``
where empty means "no search".
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from rest_framework.exceptions import ValidationError

from equipment.choices import EquipmentType

FACILITY_SORTS = ("name", "risk_score", "risk_rating", "last_updated")
EQUIPMENT_SORTS = ("name", "type", "risk_rating", "risk_score", "install_date", "last_service")
ORDERS = ("asc", "desc")
RISK_LEVELS = ("low", "medium", "high", "critical")
COMPLIANCE_STATUSES = ("compliant", "warning", "out_of_compliance")
EQUIPMENT_TYPES = tuple(EquipmentType.values)

FACILITY_LIMIT = (1, 100, 20)  # min, max, default
EQUIPMENT_LIMIT = (1, 200, 50)
SEARCH_MAX = 200
# Bigger pages are certainly past the end; refusing them keeps OFFSET within any integer type.
PAGE_MAX = 10**9

_INT = re.compile(r"\d{1,12}")


@dataclass(frozen=True, slots=True)
class FacilityListParams:
    page: int = 1
    limit: int = FACILITY_LIMIT[2]
    sort: str = "name"
    order: str = "asc"
    search: str = ""
    risk_level: str = ""
    compliance_status: str = ""

    def cache_key(self) -> str:
        return "|".join(f"{k}={v}" for k, v in asdict(self).items())


@dataclass(frozen=True, slots=True)
class EquipmentListParams:
    page: int = 1
    limit: int = EQUIPMENT_LIMIT[2]
    sort: str = "name"
    order: str = "asc"
    search: str = ""
    risk_level: str = ""
    type: str = ""

    def cache_key(self) -> str:
        return "|".join(f"{k}={v}" for k, v in asdict(self).items())


class _Reader:
    def __init__(self, query):
        self.query = query
        self.errors: dict[str, list[str]] = {}

    def _raw(self, name: str) -> str | None:
        value = self.query.get(name)
        return None if value is None else value.strip()

    def integer(self, name: str, lo: int, hi: int, default: int) -> int:
        raw = self._raw(name)
        if raw is None:
            return default
        if not _INT.fullmatch(raw):
            self.errors[name] = ["A valid integer is required."]
            return default
        value = int(raw)
        if value < lo:
            self.errors[name] = [f"Ensure this value is greater than or equal to {lo}."]
        elif value > hi:
            self.errors[name] = [f"Ensure this value is less than or equal to {hi}."]
        return value

    def choice(self, name: str, choices: tuple[str, ...], default: str) -> str:
        raw = self._raw(name)
        if raw is None:
            return default
        # "Out of Compliance" and "out_of_compliance" name the same status.
        value = raw.casefold().replace(" ", "_")
        if value not in choices:
            self.errors[name] = [
                f'"{raw}" is not a valid choice; expected one of: {", ".join(choices)}.'
            ]
            return default
        return value

    def text(self, name: str, max_length: int) -> str:
        raw = self._raw(name) or ""
        if len(raw) > max_length:
            self.errors[name] = [f"Ensure this value has at most {max_length} characters."]
        return raw

    def done(self) -> None:
        if self.errors:
            raise ValidationError(self.errors)


def _list_params(r: _Reader, limits: tuple[int, int, int], sorts) -> dict:
    """What every list endpoint reads: paging, sort, order, search, risk level."""
    lo, hi, default = limits
    return {
        "page": r.integer("page", 1, PAGE_MAX, 1),
        "limit": r.integer("limit", lo, hi, default),
        "sort": r.choice("sort", sorts, "name"),
        "order": r.choice("order", ORDERS, "asc"),
        "search": r.text("search", SEARCH_MAX),
        "risk_level": r.choice("risk_level", RISK_LEVELS, ""),
    }


def facility_list_params(query) -> FacilityListParams:
    r = _Reader(query)
    params = FacilityListParams(
        **_list_params(r, FACILITY_LIMIT, FACILITY_SORTS),
        compliance_status=r.choice("compliance_status", COMPLIANCE_STATUSES, ""),
    )
    r.done()
    return params


def equipment_list_params(query) -> EquipmentListParams:
    r = _Reader(query)
    params = EquipmentListParams(
        **_list_params(r, EQUIPMENT_LIMIT, EQUIPMENT_SORTS),
        type=r.choice("type", EQUIPMENT_TYPES, ""),
    )
    r.done()
    return params
