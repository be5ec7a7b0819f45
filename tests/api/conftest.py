import pytest
from django.contrib.auth import get_user_model
from rest_framework_simplejwt.tokens import AccessToken

from masterbus.services import api_key_create

READ = "/api/v1/test/read"


@pytest.fixture
def make_key(db):
    def make(scopes=("threatmap:read",), **kwargs):
        kwargs.setdefault("name", "test key")
        return api_key_create(scopes=list(scopes), **kwargs)

    return make


@pytest.fixture
def read_key(make_key):
    return make_key()


@pytest.fixture
def user(db):
    return get_user_model().objects.create_user("reader", password="s3cret-pass")


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_user("boss", password="s3cret-pass", is_staff=True)


def bearer(user, **token_kwargs) -> dict:
    token = AccessToken.for_user(user)
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def key_header(raw: str) -> dict:
    return {"HTTP_X_API_KEY": raw}


def assert_envelope(response, status: int, code: str):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    err = body["error"]
    assert set(err) == {"code", "message", "details", "request_id"}
    assert err["code"] == code, err
    assert err["request_id"] == response["X-Request-ID"]
    return err
