"""ThreatMap read endpoints: validate the query, serve the cached payload or build it with a
selector, answer with ETag / Last-Modified (304 on a matching If-None-Match).

Authentication, permissions and throttling are the project-wide DRF defaults.
"""

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.views import APIView

from masterbus.api.errors import ErrorCode
from masterbus.api.ids import id_parameter
from masterbus.api.schema import READ_ERRORS, error_responses

from . import params as p
from . import scoping, selectors
from . import serializers as ser
from .cache import (
    LIST_SCOPE,
    PORTFOLIO_SCOPE,
    cached_payload,
    facility_scope,
    payload_response,
)

TAG = "ThreatMap"
NOT_MODIFIED = {304: OpenApiResponse(description="Not modified (If-None-Match matched the ETag).")}
CACHE_HEADERS = [
    OpenApiParameter(
        "If-None-Match",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        description="An ETag from an earlier response; a match answers 304 without a body.",
    ),
    OpenApiParameter(
        "ETag",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        response=[200, 304],
        description="Strong tag of this payload's exact bytes.",
    ),
    OpenApiParameter(
        "X-Data-Stale",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        response=[200, 304],
        enum=["true"],
        description="Present (`true`) when the payload is the previous one, served while the "
        "changed one is rebuilt (at most one refresh cycle after the change); absent on fresh "
        "payloads.",
    ),
]


def _responses(serializer, *errors):
    return {200: serializer, **NOT_MODIFIED, **error_responses(*errors, *READ_ERRORS)}


BAD_QUERY = ErrorCode.VALIDATION_ERROR
NOT_FOUND = ErrorCode.DATA_NOT_FOUND


def _facility_schema(operation_id, summary, serializer):
    """The schema of an endpoint serving one facility's payload (404 for an unknown one)."""
    return extend_schema(
        tags=[TAG],
        operation_id=operation_id,
        summary=summary,
        parameters=[id_parameter("facility_id", "facility"), *CACHE_HEADERS],
        responses=_responses(serializer, NOT_FOUND),
    )


def _facility_payload(request, facility_id, endpoint, selector):
    """``selector(facility_id=…)``'s payload, cached in the facility's scope (shared by every
    principal that sees the facility; 404 for the others)."""
    scoping.require_visible(request, facility_id)
    _require_facility(facility_id)
    rendered = cached_payload(
        endpoint=endpoint,
        scope=facility_scope(facility_id),
        params=facility_id,
        build=lambda: selector(facility_id=facility_id),
    )
    return payload_response(request, rendered)


class FacilityListView(APIView):
    @extend_schema(
        tags=[TAG],
        operation_id="facilities_list",
        summary="Facilities with their risk summary (paged)",
        parameters=[p.FacilityListQuery, *CACHE_HEADERS],
        responses=_responses(ser.FacilityListSerializer, BAD_QUERY, NOT_FOUND),
    )
    def get(self, request):
        q = p.facility_list_params(request.query_params)
        scope = scoping.list_scope(request, q.portfolio)
        rendered = cached_payload(
            endpoint="facilities",
            scope=LIST_SCOPE,
            params=f"{q.cache_key()}|{scoping.scope_key(scope)}",
            build=lambda: selectors.facility_list(
                params=q, facility_pks=scoping.facility_pks(scope)
            ),
        )
        return payload_response(request, rendered)


class FacilityDetailView(APIView):
    @_facility_schema("facilities_retrieve", "Facility detail", ser.FacilityDetailSerializer)
    def get(self, request, facility_id):
        return _facility_payload(request, facility_id, "facility", selectors.facility_detail)


class FacilityEquipmentView(APIView):
    @extend_schema(
        tags=[TAG],
        operation_id="facilities_equipment_list",
        summary="Equipment of one facility (paged)",
        parameters=[id_parameter("facility_id", "facility"), p.EquipmentListQuery, *CACHE_HEADERS],
        responses=_responses(ser.EquipmentListSerializer, BAD_QUERY, NOT_FOUND),
    )
    def get(self, request, facility_id):
        q = p.equipment_list_params(request.query_params)
        scoping.require_visible(request, facility_id)
        _require_facility(facility_id)
        rendered = cached_payload(
            endpoint="facility-equipment",
            scope=facility_scope(facility_id),
            params=f"{facility_id}|{q.cache_key()}",
            build=lambda: selectors.facility_equipment_list(facility_id=facility_id, params=q),
        )
        return payload_response(request, rendered)


class EquipmentDetailView(APIView):
    @extend_schema(
        tags=[TAG],
        operation_id="equipment_retrieve",
        summary="Equipment detail",
        parameters=[id_parameter("equipment_id", "equipment"), *CACHE_HEADERS],
        responses=_responses(ser.EquipmentDetailSerializer, NOT_FOUND),
    )
    def get(self, request, equipment_id):
        facility_id = selectors.equipment_facility_id(equipment_id)
        scoping.require_visible(request, facility_id)
        rendered = cached_payload(
            endpoint="equipment",
            scope=facility_scope(facility_id),
            params=equipment_id,
            build=lambda: selectors.equipment_detail(equipment_id=equipment_id),
        )
        return payload_response(request, rendered)


class FacilityComplianceView(APIView):
    @_facility_schema(
        "facilities_compliance_retrieve",
        "NFPA 70B / 70E compliance of a facility",
        ser.FacilityComplianceSerializer,
    )
    def get(self, request, facility_id):
        return _facility_payload(request, facility_id, "compliance", selectors.facility_compliance)


class FacilityRisksView(APIView):
    @_facility_schema(
        "facilities_risks_retrieve",
        "Risk categories, trend, high-risk items and recommendations of a facility",
        ser.FacilityRisksSerializer,
    )
    def get(self, request, facility_id):
        return _facility_payload(request, facility_id, "risks", selectors.facility_risks)


SUMMARY_HELP = (
    "Credentials bound to portfolios get the summary over their facilities, computed with the "
    "same formulas (risk-model.md §7); unbound ones over every facility."
)


def _summary(request, scope):
    """The summary over ``scope``'s facilities (None: every facility, the stored portfolio)."""
    if scope is None:
        rendered = cached_payload(
            endpoint="portfolio",
            scope=PORTFOLIO_SCOPE,
            params="",
            build=selectors.portfolio_summary,
        )
    else:
        # Bumped by every facility's and the portfolio's change; the key names the set.
        rendered = cached_payload(
            endpoint="portfolio",
            scope=LIST_SCOPE,
            params=scope.key,
            build=lambda: selectors.portfolio_summary(facility_pks=scoping.facility_pks(scope)),
        )
    return payload_response(request, rendered)


class PortfolioSummaryView(APIView):
    @extend_schema(
        tags=[TAG],
        operation_id="portfolio_summary_retrieve",
        summary="Whole-portfolio overview",
        description=SUMMARY_HELP,
        parameters=CACHE_HEADERS,
        responses=_responses(
            ser.PortfolioSummarySerializer,
        ),
    )
    def get(self, request):
        return _summary(request, scoping.request_scope(request))


class PortfolioListView(APIView):
    @extend_schema(
        tags=[TAG],
        operation_id="portfolios_list",
        summary="The portfolios these credentials see",
        description="Credentials bound to portfolios list theirs; unbound ones (and staff) "
        "list every portfolio. `facility_count` counts active facilities.",
        parameters=CACHE_HEADERS,
        responses=_responses(ser.PortfolioListSerializer),
    )
    def get(self, request):
        portfolios = scoping.visible_portfolios(request)
        rendered = cached_payload(
            endpoint="portfolios",
            scope=LIST_SCOPE,
            params=scoping.portfolios_key(request, portfolios),
            build=lambda: selectors.portfolio_list(portfolios=portfolios),
        )
        return payload_response(request, rendered)


class PortfolioSlugSummaryView(APIView):
    @extend_schema(
        tags=[TAG],
        operation_id="portfolios_summary_retrieve",
        summary="Overview of one portfolio",
        description="The portfolio summary over the facilities of one portfolio these "
        "credentials see (404 for any other slug, as for an unknown one).",
        parameters=[
            OpenApiParameter(
                "slug",
                {"type": "string", "pattern": p.PORTFOLIO_SLUG, "maxLength": 50},
                OpenApiParameter.PATH,
                description="The portfolio's slug.",
            ),
            *CACHE_HEADERS,
        ],
        responses=_responses(ser.PortfolioSummarySerializer, NOT_FOUND),
    )
    def get(self, request, slug):
        scope = scoping.portfolio_scope(request, slug)
        if scope is None:
            raise Http404
        return _summary(request, scope)


def _require_facility(facility_id: str) -> None:
    """404 for unknown or soft-deleted facilities even while a cached payload exists."""
    if not selectors.facility_exists(facility_id):
        raise Http404
