"""The OpenAPI document: served without credentials, valid, documents both auth schemes and
the error envelope."""

import pytest
from openapi_spec_validator import validate

from masterbus.api.schema import error_responses

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(client):
    r = client.get("/api/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert r.status_code == 200, r.content[:500]
    return r.json()


def test_schema_is_valid_openapi(schema):
    validate(schema)


def test_security_schemes_documented(schema):
    schemes = schema["components"]["securitySchemes"]
    assert schemes["ApiKeyAuth"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": schemes["ApiKeyAuth"]["description"],
    }
    assert schemes["BearerAuth"]["scheme"] == "bearer"
    assert schemes["BearerAuth"]["bearerFormat"] == "JWT"


def test_error_envelope_component_and_token_operation(schema):
    env = schema["components"]["schemas"]["ErrorEnvelope"]
    assert env["required"] == ["error"]
    post = schema["paths"]["/api/v1/auth/token"]["post"]
    assert post["responses"]["401"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/ErrorEnvelope"
    )
    assert "/api/" not in schema["paths"]  # the catch-all 404 is not an operation


def test_condoit_push_requires_api_key_in_schema(schema):
    op = schema["paths"]["/api/v1/condoit/events"]["post"]
    names = {name for req in op.get("security", []) for name in req}
    assert "ApiKeyAuth" in names


def test_docs_page(client):
    r = client.get("/api/v1/docs")
    assert r.status_code == 200
    assert b"swagger" in r.content.lower()


def test_error_responses_helper():
    out = error_responses("AUTH_INVALID_CREDENTIALS", "AUTH_TOKEN_EXPIRED", "RATE_LIMITED")
    assert set(out) == {401, 429}
    assert out[401].description == "AUTH_INVALID_CREDENTIALS or AUTH_TOKEN_EXPIRED"
    assert set(error_responses(401)[401].description.split(" or ")) == {
        "AUTH_INVALID_CREDENTIALS",
        "AUTH_TOKEN_EXPIRED",
        "AUTH_BAD_SIGNATURE",
    }
    with pytest.raises(ValueError):
        error_responses("NOPE")
    with pytest.raises(ValueError):
        error_responses(418)


def test_docs_viewer_serves_its_assets_itself(client):
    r = client.get("/api/v1/docs")
    assert r.status_code == 200
    body = r.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in body
    assert "cdn.jsdelivr.net" not in body


# --- the schema says what the API enforces ----------------------------------------------------

FAC = "/api/v1/facilities"
EQ = "/api/v1/facilities/{facility_id}/equipment"

# (operation, parameter, value as sent in the query string)
QUERY_VALUES = [
    *[(FAC, "page", v) for v in ("0", "1", "-1", "1.5", "", " 2", "٣", "1000000000", "1000000001")],
    *[(FAC, "limit", v) for v in ("0", "1", "100", "101", "20")],
    *[(EQ, "limit", v) for v in ("0", "1", "200", "201")],
    *[(FAC, "risk_level", v) for v in ("low", "LOW", "Critical", " low", "severe", "")],
    *[(FAC, "compliance_status", v) for v in ("out_of_compliance", "Out of Compliance", "ok")],
    *[(FAC, "sort", v) for v in ("risk_rating", "RISK_SCORE", "address", "name ")],
    *[(FAC, "order", v) for v in ("asc", "DESC", "up")],
    *[(EQ, "sort", v) for v in ("install_date", "last_updated")],
    *[(EQ, "type", v) for v in ("transformer", "Panel", "toaster")],
    *[(FAC, "search", v) for v in ("", "  ", "x" * 200, "x" * 201, "a\x00b")],
]


def _as_sent(value: str, schema: dict):
    """The value a generated client would have in hand to send this string."""
    if schema.get("type") == "integer" and value.isascii() and value.isdigit():
        return int(value)
    return value


def _valid(schema: dict, instance) -> bool:
    from openapi_schema_validator import OAS30Validator, oas30_format_checker

    return OAS30Validator(schema, format_checker=oas30_format_checker).is_valid(instance)


@pytest.mark.parametrize(("path", "name", "value"), QUERY_VALUES)
def test_query_parameter_schema_matches_what_the_api_accepts(
    schema, client, read_key, path, name, value
):
    """Every value the schema allows is accepted and every value it forbids is a 400 — both
    ways, so a generated client never sends what is refused (page=0 and limit=0 used to be
    valid by the schema and refused)."""
    params = {p["name"]: p for p in schema["paths"][path]["get"]["parameters"]}
    param_schema = params[name]["schema"]
    url = path.replace("{facility_id}", "fac_none")
    r = client.get(url, {name: value}, HTTP_X_API_KEY=read_key[1])
    accepted = r.status_code != 400  # 404 for the unknown facility comes after the query
    assert accepted == _valid(param_schema, _as_sent(value, param_schema)), (
        name,
        value,
        param_schema,
        r.content[:300],
    )


def test_query_parameters_state_their_bounds(schema):
    params = {p["name"]: p["schema"] for p in schema["paths"][FAC]["get"]["parameters"]}
    assert params["page"].items() >= {"type": "integer", "minimum": 1, "maximum": 10**9}.items()
    assert params["limit"].items() >= {"minimum": 1, "maximum": 100, "default": 20}.items()
    assert params["search"]["maxLength"] == 200
    for name in ("sort", "order", "risk_level", "compliance_status"):
        assert params[name]["pattern"].startswith("^(?:"), name
    eq = {p["name"]: p["schema"] for p in schema["paths"][EQ]["get"]["parameters"]}
    assert eq["limit"]["maximum"] == 200
    assert eq["facility_id"] == {
        "type": "string",
        "minLength": 1,
        "maxLength": 200,
        "pattern": "^[^/\\u0000]+$",
    }


SIGNED = {"/api/v1/condoit/events", "/api/v1/webhooks/voltmetrics"}
TOKENS = {"/api/v1/auth/token", "/api/v1/auth/token/refresh"}


@pytest.mark.parametrize("path", sorted(SIGNED | TOKENS))
def test_post_operations_document_every_status(schema, path):
    responses = set(schema["paths"][path]["post"]["responses"])
    assert {"200", "400", "401", "413", "429"} <= responses
    if path in SIGNED:
        assert {"202", "403"} <= responses
    if path == "/api/v1/condoit/events":
        assert "409" in responses
    body = schema["paths"][path]["post"]["requestBody"]
    assert body["required"] is True


def _body_valid(schema, path, body) -> bool:
    request = schema["paths"][path]["post"]["requestBody"]["content"]["application/json"]
    return _valid({**request["schema"], "components": schema["components"]}, body)


EVENT = {
    "id": "evt_1",
    "type": "facility.created",
    "occurredAt": "2025-01-01T00:00:00Z",
    "data": {
        "id": "fac_1",
        "name": "Plant",
        "createdAt": "2025-01-01T00:00:00Z",
        "updatedAt": "2025-01-01T00:00:00Z",
    },
}
CALLBACK = {"event_id": "e1", "event_type": "calculation_complete", "job_id": "j1"}


@pytest.mark.parametrize(
    ("path", "body", "valid"),
    [
        ("/api/v1/condoit/events", {}, False),
        ("/api/v1/condoit/events", EVENT, True),
        ("/api/v1/condoit/events", {**EVENT, "id": " "}, False),
        ("/api/v1/condoit/events", {**EVENT, "type": "facility.moved"}, False),
        ("/api/v1/condoit/events", {**EVENT, "data": {"id": "fac_1"}}, False),
        ("/api/v1/condoit/events", {**EVENT, "data": {**EVENT["data"], "latitude": 91}}, False),
        (
            "/api/v1/condoit/events",
            {**EVENT, "type": "facility.deleted", "data": {"id": "x"}},
            True,
        ),
        ("/api/v1/webhooks/voltmetrics", {}, False),
        ("/api/v1/webhooks/voltmetrics", CALLBACK, True),
        ("/api/v1/webhooks/voltmetrics", {**CALLBACK, "items_processed": -1}, False),
        ("/api/v1/webhooks/voltmetrics", {**CALLBACK, "timestamp": "2025-01-01"}, False),
        ("/api/v1/auth/token", {"username": "", "password": ""}, False),
        ("/api/v1/auth/token", {"username": " ", "password": "x"}, False),
        ("/api/v1/auth/token", {"username": "u", "password": "p"}, True),
        ("/api/v1/auth/token/refresh", {"refresh": ""}, False),
        ("/api/v1/auth/token/refresh", {"refresh": "r"}, True),
    ],
)
def test_request_bodies_state_their_required_fields_and_bounds(schema, path, body, valid):
    assert _body_valid(schema, path, body) is valid
