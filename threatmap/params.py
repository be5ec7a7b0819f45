"""Query parameters of the ThreatMap list endpoints (threatmap-api.md "Lists").

One declaration per endpoint (a serializer of masterbus.api.query fields) both validates a
request's query and is its OpenAPI documentation (``extend_schema(parameters=[...])``), so
the schema states exactly the bounds, choices and formats the API enforces. A bad value is
DRF's ValidationError with ``{param: [messages]}``, which the project's exception handler
turns into the 400 ``VALIDATION_ERROR`` envelope. Choice values are case-insensitive.
Unknown parameters are ignored (as DRF does); a parameter given with an empty value is
invalid, except ``search`` where empty means "no search".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from rest_framework import serializers

from equipment.choices import EquipmentType
from masterbus.api.query import QueryChoice, QueryInteger, QueryText, parse_query

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
PORTFOLIO_SLUG = r"^[a-z0-9-]{1,50}$"

SORT_HELP = (
    "Sort field (default name). Names sort by code point; nulls last in either order; ties "
    "by name, then id."
)


def _limit(limits: tuple[int, int, int]) -> QueryInteger:
    lo, hi, default = limits
    return QueryInteger(
        min_value=lo,
        max_value=hi,
        default=default,
        help_text=f"Page size, {lo}–{hi} (default {default}).",
    )


def PortfolioSlug() -> serializers.RegexField:  # noqa: N802 (a field, like the others)
    return serializers.RegexField(
        PORTFOLIO_SLUG,
        max_length=50,
        required=False,
        help_text="Only the facilities of this portfolio (its slug, as GET /portfolios lists "
        "it). Narrows what the credentials see, never widens it: a portfolio they cannot see "
        "answers 404 DATA_NOT_FOUND, like an unknown one.",
    )


class _ListQuery(serializers.Serializer):
    """What every list endpoint reads: paging, order, search, risk level."""

    page = QueryInteger(min_value=1, max_value=PAGE_MAX, default=1, help_text="Page number, ≥ 1.")
    order = QueryChoice(ORDERS, default="asc", help_text="Sort order (default asc).")
    risk_level = QueryChoice(RISK_LEVELS, required=False, help_text="Only this risk level.")


class FacilityListQuery(_ListQuery):
    limit = _limit(FACILITY_LIMIT)
    sort = QueryChoice(FACILITY_SORTS, default="name", help_text=SORT_HELP)
    search = QueryText(
        max_length=SEARCH_MAX,
        help_text="Case-insensitive substring of name, address, city and contractor.",
    )
    compliance_status = QueryChoice(
        COMPLIANCE_STATUSES, required=False, help_text="Only this compliance status."
    )
    portfolio = PortfolioSlug()


class EquipmentListQuery(_ListQuery):
    limit = _limit(EQUIPMENT_LIMIT)
    sort = QueryChoice(EQUIPMENT_SORTS, default="name", help_text=SORT_HELP)
    search = QueryText(
        max_length=SEARCH_MAX,
        help_text="Case-insensitive substring of name, building, room and manufacturer.",
    )
    type = QueryChoice(EQUIPMENT_TYPES, required=False, help_text="Only this equipment type.")


@dataclass(frozen=True, slots=True)
class _ListParams:
    """A list's validated query: what every list reads (each list sets its own ``limit``
    default and adds its filter)."""

    page: int = 1
    limit: int = 0
    sort: str = "name"
    order: str = "asc"
    search: str = ""
    risk_level: str = ""

    def cache_key(self) -> str:
        return "|".join(f"{k}={v}" for k, v in asdict(self).items())


@dataclass(frozen=True, slots=True)
class FacilityListParams(_ListParams):
    limit: int = FACILITY_LIMIT[2]
    compliance_status: str = ""
    portfolio: str = ""


@dataclass(frozen=True, slots=True)
class EquipmentListParams(_ListParams):
    limit: int = EQUIPMENT_LIMIT[2]
    type: str = ""


def facility_list_params(query) -> FacilityListParams:
    return FacilityListParams(**parse_query(FacilityListQuery, query))


class ExportQuery(serializers.Serializer):
    portfolio = PortfolioSlug()


def export_params(query) -> dict:
    return parse_query(ExportQuery, query)


def equipment_list_params(query) -> EquipmentListParams:
    return EquipmentListParams(**parse_query(EquipmentListQuery, query))
