"""Request bodies are parsed with orjson: anything that is not JSON, however deep, is a 400."""

import pytest

from .conftest import assert_envelope

pytestmark = pytest.mark.django_db

TOKEN_DOORS = ["/api/v1/auth/token", "/api/v1/auth/token/refresh"]


@pytest.mark.parametrize("url", TOKEN_DOORS)
@pytest.mark.parametrize(
    "body",
    [
        b"[" * 200_000 + b"]" * 200_000,  # RecursionError in the standard library's parser
        b'{"username": ' + b"[" * 1025 + b"]" * 1025 + b"}",  # past orjson's 1024 levels
        b"{",
        b"\xff\xfe",
        b"NaN",
    ],
    ids=["200k-levels", "1025-levels", "truncated", "not-utf8", "nan"],
)
def test_a_body_that_is_not_json_is_400_never_500(client, url, body):
    r = client.post(url, data=body, content_type="application/json")
    assert_envelope(r, 400, "VALIDATION_ERROR")


def test_an_empty_body_is_a_validation_error(client):
    r = client.post(TOKEN_DOORS[0], data=b"", content_type="application/json")
    assert_envelope(r, 400, "VALIDATION_ERROR")
