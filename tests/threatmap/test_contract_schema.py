"""The OpenAPI document describes every ThreatMap endpoint, parameter and response."""

import pytest
from drf_spectacular.generators import SchemaGenerator

ENDPOINTS = {
    "/api/v1/facilities": {"page", "limit", "sort", "order", "search", "risk_level",
                           "compliance_status", "portfolio", "If-None-Match"},
    "/api/v1/facilities/{facility_id}": {"facility_id", "If-None-Match"},
    "/api/v1/facilities/{facility_id}/equipment": {"facility_id", "page", "limit", "sort",
                                                   "order", "search", "type", "risk_level",
                                                   "If-None-Match"},
    "/api/v1/equipment/{equipment_id}": {"equipment_id", "If-None-Match"},
    "/api/v1/facilities/{facility_id}/compliance": {"facility_id", "If-None-Match"},
    "/api/v1/facilities/{facility_id}/risks": {"facility_id", "If-None-Match"},
    "/api/v1/portfolio/summary": {"If-None-Match"},
    "/api/v1/portfolios": {"If-None-Match"},
    "/api/v1/portfolios/{slug}/summary": {"slug", "If-None-Match"},
}  # fmt: skip


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


@pytest.mark.parametrize("path", list(ENDPOINTS))
def test_endpoint_documented(schema, path):
    op = schema["paths"][path]["get"]
    assert {p["name"] for p in op.get("parameters", [])} == ENDPOINTS[path]
    assert "$ref" in op["responses"]["200"]["content"]["application/json"]["schema"]
    assert "304" in op["responses"]
    assert {"401", "403", "429"} <= set(op["responses"])
    if "{" in path:
        assert "404" in op["responses"]
    if path.endswith(("facilities", "equipment")):
        assert "400" in op["responses"]
    # The trailing-slash twins answer but are not listed twice.
    assert path + "/" not in schema["paths"]


def test_enums_in_schema(schema):
    comps = schema["components"]["schemas"]
    assert comps["RiskRatingEnum"]["enum"] == ["Low", "Medium", "High", "Critical"]
    item = comps["FacilityItem"]["properties"]
    assert set(item) >= {"id", "risk_distribution", "last_updated", "coordinates"}
