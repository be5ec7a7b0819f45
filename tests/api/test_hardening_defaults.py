"""Outside production mode nothing secret is a public literal and DEBUG is off
(threatmap-api.md "Hardening")."""

import time

import jwt
import pytest
from django.conf import settings

from .conftest import assert_envelope

pytestmark = pytest.mark.django_db

OLD_LITERAL_KEY = "insecure-development-key-" + "x" * 40


def test_access_token_signed_with_the_old_literal_key_is_refused(client, staff):
    now = int(time.time())
    forged = jwt.encode(
        {"token_type": "access", "exp": now + 3600, "iat": now, "jti": "f" * 32,
         "user_id": str(staff.pk)},
        OLD_LITERAL_KEY,
        algorithm="HS256",
    )
    assert settings.SECRET_KEY != OLD_LITERAL_KEY
    r = client.get("/api/v1/portfolio/summary", HTTP_AUTHORIZATION=f"Bearer {forged}")
    assert_envelope(r, 401, "AUTH_INVALID_CREDENTIALS")


def test_admin_static_files_are_served_without_debug(client):
    assert settings.DEBUG is False
    r = client.get("/static/admin/css/base.css")
    assert r.status_code == 200
    assert b"".join(r.streaming_content if r.streaming else [r.content])
