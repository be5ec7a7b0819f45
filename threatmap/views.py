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
from . import selectors
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
    """``selector(facility_id=…)``'s payload, cached in the facility's scope."""
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
        responses=_responses(ser.FacilityListSerializer, BAD_QUERY),
    )
    def get(self, request):
        q = p.facility_list_params(request.query_params)
        rendered = cached_payload(
            endpoint="facilities",
            scope=LIST_SCOPE,
            params=q.cache_key(),
            build=lambda: selectors.facility_list(params=q),
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


class PortfolioSummaryView(APIView):
    @extend_schema(
        tags=[TAG],
        operation_id="portfolio_summary_retrieve",
        summary="Whole-portfolio overview",
        parameters=CACHE_HEADERS,
        responses=_responses(
            ser.PortfolioSummarySerializer,
        ),
    )
    def get(self, request):
        rendered = cached_payload(
            endpoint="portfolio",
            scope=PORTFOLIO_SCOPE,
            params="",
            build=selectors.portfolio_summary,
        )
        return payload_response(request, rendered)


def _require_facility(facility_id: str) -> None:
    """404 for unknown or soft-deleted facilities even while a cached payload exists."""
    if not selectors.facility_exists(facility_id):
        raise Http404
