"""Who may call what: keys, scopes, JWTs, staff sessions (threatmap-api.md §Authentication)."""

import time
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken

from masterbus.api import throttling
from masterbus.models import ApiKey

from .conftest import READ, assert_envelope, bearer, key_header

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.api.urls")]


def test_read_key_reads(client, read_key):
    key, raw = read_key
    r = client.get(READ, **key_header(raw))
    assert r.status_code == 200, r.content
    assert r.json()["principal"] == f"apikey:{key.prefix}"


def test_no_credentials_is_401_with_www_authenticate(client):
    r = client.get(READ)
    err = assert_envelope(r, 401, "AUTH_INVALID_CREDENTIALS")
    assert err["details"] is None
    assert "ApiKey" in r["WWW-Authenticate"] and "Bearer" in r["WWW-Authenticate"]


@pytest.mark.parametrize("raw", ["mb_nonsense", "", "   "])
def test_unknown_key_is_401(client, read_key, raw):
    r = client.get(READ, **key_header(raw))
    assert_envelope(r, 401, "AUTH_INVALID_CREDENTIALS")
    assert r.has_header("WWW-Authenticate")


def test_expired_key_is_401_saying_expired(client, make_key):
    _, raw = make_key(expires_at=timezone.now() - timedelta(seconds=1))
    r = client.get(READ, **key_header(raw))
    err = assert_envelope(r, 401, "AUTH_INVALID_CREDENTIALS")
    assert "expired" in err["message"]
    assert r.has_header("WWW-Authenticate")


def test_key_expiring_later_still_works(client, make_key):
    _, raw = make_key(expires_at=timezone.now() + timedelta(hours=1))
    assert client.get(READ, **key_header(raw)).status_code == 200


def test_revoked_key_is_401(client, read_key):
    key, raw = read_key
    key.revoked_at = timezone.now()
    key.save()
    assert_envelope(client.get(READ, **key_header(raw)), 401, "AUTH_INVALID_CREDENTIALS")


@pytest.mark.parametrize("scopes", [["condoit:push"], ["voltmetrics:callback"]])
def test_key_without_read_scope_is_403(client, make_key, scopes):
    _, raw = make_key(scopes)
    err = assert_envelope(client.get(READ, **key_header(raw)), 403, "AUTH_FORBIDDEN")
    assert "threatmap:read" in err["message"]


def test_read_key_cannot_write(client, read_key):
    # POST to a GET-only endpoint is 405 for anyone authenticated …
    r = client.post(READ, data={}, content_type="application/json", **key_header(read_key[1]))
    assert_envelope(r, 405, "METHOD_NOT_ALLOWED")


def test_valid_jwt_reads(client, user):
    r = client.get(READ, **bearer(user))
    assert r.status_code == 200, r.content
    assert r.json()["principal"] == "reader"


def test_expired_jwt_is_401_token_expired(client, user):
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=-timedelta(seconds=1))
    r = client.get(READ, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert_envelope(r, 401, "AUTH_TOKEN_EXPIRED")
    assert r.has_header("WWW-Authenticate")


@pytest.mark.parametrize(
    "header", ["Bearer not.a.jwt", "Bearer", "Bearer a b"], ids=["garbage", "empty", "two-parts"]
)
def test_invalid_jwt_is_401_invalid_credentials(client, user, header):
    r = client.get(READ, HTTP_AUTHORIZATION=header)
    assert_envelope(r, 401, "AUTH_INVALID_CREDENTIALS")


def test_jwt_signed_with_another_key_is_refused(client, user, settings):
    token = AccessToken.for_user(user)
    token_str = str(token)
    tampered = token_str[:-4] + ("AAAA" if not token_str.endswith("AAAA") else "BBBB")
    assert_envelope(
        client.get(READ, HTTP_AUTHORIZATION=f"Bearer {tampered}"), 401, "AUTH_INVALID_CREDENTIALS"
    )


def test_jwt_of_inactive_user_is_refused(client, user):
    headers = bearer(user)
    user.is_active = False
    user.save()
    assert_envelope(client.get(READ, **headers), 401, "AUTH_INVALID_CREDENTIALS")


def test_staff_session_reads(client, staff):
    client.force_login(staff)
    assert client.get(READ).status_code == 200


def test_non_staff_session_reads_too(client, user):
    client.force_login(user)
    assert client.get(READ).status_code == 200


def test_health_ready_schema_docs_need_no_credentials(client):
    for url in [
        "/health",
        "/ready",
        "/api/v1/schema",
        "/api/v1/schema/",
        "/api/v1/docs",
        "/api/v1/docs/",
    ]:
        assert client.get(url).status_code == 200, url


def test_schema_with_a_bad_key_is_still_served(client):
    assert client.get("/api/v1/schema", **key_header("mb_wrong")).status_code == 200


# --- token endpoints ---------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/api/v1/auth/token", "/api/v1/auth/token/"])
def test_token_pair_for_good_password_and_it_reads(client, user, url):
    r = client.post(
        url, {"username": "reader", "password": "s3cret-pass"}, content_type="application/json"
    )
    assert r.status_code == 200, r.content
    pair = r.json()
    assert set(pair) == {"access", "refresh"}
    access = AccessToken(pair["access"])
    assert (
        timedelta(hours=23, minutes=59)
        < (datetime.fromtimestamp(access["exp"], tz=UTC) - timezone.now())
        <= timedelta(hours=24)
    )
    assert client.get(READ, HTTP_AUTHORIZATION=f"Bearer {pair['access']}").status_code == 200

    r2 = client.post(
        "/api/v1/auth/token/refresh", {"refresh": pair["refresh"]}, content_type="application/json"
    )
    assert r2.status_code == 200, r2.content
    assert "access" in r2.json()


def test_token_wrong_password_is_401_envelope(client, user):
    r = client.post(
        "/api/v1/auth/token",
        {"username": "reader", "password": "nope"},
        content_type="application/json",
    )
    err = assert_envelope(r, 401, "AUTH_INVALID_CREDENTIALS")
    assert "{" not in err["message"]  # a sentence, not simplejwt's dict
    assert r.has_header("WWW-Authenticate")


def test_token_missing_fields_is_400(client, db):
    r = client.post("/api/v1/auth/token", {"username": "x"}, content_type="application/json")
    err = assert_envelope(r, 400, "VALIDATION_ERROR")
    assert "password" in err["details"]


def test_refresh_expired_and_invalid(client, user):
    from rest_framework_simplejwt.tokens import RefreshToken

    refresh = RefreshToken.for_user(user)
    refresh.set_exp(lifetime=-timedelta(seconds=1))
    r = client.post(
        "/api/v1/auth/token/refresh", {"refresh": str(refresh)}, content_type="application/json"
    )
    assert_envelope(r, 401, "AUTH_TOKEN_EXPIRED")
    r = client.post(
        "/api/v1/auth/token/refresh", {"refresh": "junk"}, content_type="application/json"
    )
    assert_envelope(r, 401, "AUTH_INVALID_CREDENTIALS")


def test_access_token_is_not_a_refresh_token(client, user):
    r = client.post(
        "/api/v1/auth/token/refresh",
        {"refresh": str(AccessToken.for_user(user))},
        content_type="application/json",
    )
    assert_envelope(r, 401, "AUTH_INVALID_CREDENTIALS")


def test_token_endpoint_throttled_per_address(client, user, settings, monkeypatch):
    settings.API_TOKEN_RATE_LIMIT_PER_MINUTE = 3
    # Pin the window so the test cannot straddle a minute boundary.
    start = int(time.time() // 60) * 60
    real_hit = throttling.rate_limit_hit
    monkeypatch.setattr(
        throttling, "rate_limit_hit", lambda b, lim, now=None: real_hit(b, lim, now=start + 30)
    )
    body = {"username": "reader", "password": "wrong"}
    for _ in range(3):
        r = client.post(
            "/api/v1/auth/token", body, content_type="application/json", REMOTE_ADDR="10.0.0.1"
        )
        assert r.status_code == 401
    r = client.post(
        "/api/v1/auth/token", body, content_type="application/json", REMOTE_ADDR="10.0.0.1"
    )
    err = assert_envelope(r, 429, "RATE_LIMITED")
    assert 1 <= int(r["Retry-After"]) <= 60
    assert err["details"]["retry_after"] == int(r["Retry-After"])
    # Even the right password is refused from that address for now …
    good = {"username": "reader", "password": "s3cret-pass"}
    r = client.post(
        "/api/v1/auth/token", good, content_type="application/json", REMOTE_ADDR="10.0.0.1"
    )
    assert r.status_code == 429
    # … a forged X-Forwarded-For does not get around it (NUM_PROXIES = 0) …
    r = client.post(
        "/api/v1/auth/token",
        good,
        content_type="application/json",
        REMOTE_ADDR="10.0.0.1",
        HTTP_X_FORWARDED_FOR="1.2.3.4",
    )
    assert r.status_code == 429
    # … while another address is unaffected.
    r = client.post(
        "/api/v1/auth/token", good, content_type="application/json", REMOTE_ADDR="10.0.0.2"
    )
    assert r.status_code == 200


def test_token_endpoint_ignores_a_bad_api_key_header(client, user):
    r = client.post(
        "/api/v1/auth/token",
        {"username": "reader", "password": "s3cret-pass"},
        content_type="application/json",
        **key_header("mb_wrong"),
    )
    assert r.status_code == 200


# --- keys: storage and last use ----------------------------------------------------------------


def test_key_is_random_stored_only_as_digest(make_key):
    import hashlib

    key, raw = make_key(name="storage")
    assert raw.startswith("mb_") and len(raw) >= 3 + 43
    assert key.prefix == raw[:8]
    assert key.digest == hashlib.sha256(raw.encode()).hexdigest()
    row = ApiKey.objects.filter(pk=key.pk).values().get()
    assert raw not in repr(row)
    assert raw[8:] not in repr(row)
    _, other = make_key(name="other")
    assert other != raw


def test_unknown_scope_is_refused(make_key):
    with pytest.raises(ValueError):
        make_key(["threatmap:write"])
    with pytest.raises(ValueError):
        make_key([])


def test_last_used_at_written_at_most_once_a_minute(client, read_key):
    key, raw = read_key
    assert key.last_used_at is None
    client.get(READ, **key_header(raw))
    key.refresh_from_db()
    first = key.last_used_at
    assert first is not None and timezone.now() - first < timedelta(seconds=5)

    recent = timezone.now() - timedelta(seconds=30)
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=recent)
    client.get(READ, **key_header(raw))
    key.refresh_from_db()
    assert key.last_used_at == recent  # within the minute: no write

    old = timezone.now() - timedelta(seconds=90)
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=old)
    client.get(READ, **key_header(raw))
    key.refresh_from_db()
    assert key.last_used_at > old + timedelta(seconds=60)


def test_a_read_costs_no_write_within_the_minute(client, read_key, django_assert_max_num_queries):
    key, raw = read_key
    client.get(READ, **key_header(raw))
    with django_assert_max_num_queries(1):  # the key lookup only
        assert client.get(READ, **key_header(raw)).status_code == 200
