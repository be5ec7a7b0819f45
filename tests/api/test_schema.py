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
