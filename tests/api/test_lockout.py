"""Password doors lock out an address and a username after repeated failures
(threatmap-api.md §Hardening): POST /api/v1/auth/token and the admin login."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.urls import reverse

from .conftest import READ, assert_envelope

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.api.urls")]

TOKEN = "/api/v1/auth/token"
LOGIN = "/admin/login/"
PASSWORD = "s3cret-pass"
LIMIT = 10  # LOGIN_LOCKOUT_FAILURES
WINDOW = 15 * 60  # LOGIN_LOCKOUT_MINUTES


@pytest.fixture(autouse=True)
def _fast_and_unthrottled(settings):
    # A cheap hasher (each failure checks a password), and the per-minute token throttle out of
    # the way so that what refuses is the lockout.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.API_TOKEN_RATE_LIMIT_PER_MINUTE = 10_000


@pytest.fixture
def reader(_fast_and_unthrottled):
    return get_user_model().objects.create_user("reader", password=PASSWORD)


@pytest.fixture
def boss(_fast_and_unthrottled):
    return get_user_model().objects.create_user(
        "boss", password=PASSWORD, is_staff=True, is_superuser=True
    )


def token(client, username, password, addr="10.0.0.1", **extra):
    return client.post(
        TOKEN,
        {"username": username, "password": password},
        content_type="application/json",
        REMOTE_ADDR=addr,
        **extra,
    )


def admin_login(client, username, password, addr="10.0.0.1"):
    return client.post(
        LOGIN, {"username": username, "password": password, "next": "/admin/"}, REMOTE_ADDR=addr
    )


def assert_locked(response):
    err = assert_envelope(response, 429, "RATE_LIMITED")
    retry = int(response["Retry-After"])
    assert WINDOW - 30 <= retry <= WINDOW
    assert err["details"] == {"retry_after": retry}
    assert "Too many failed login attempts" in err["message"]
    assert "access" not in response.content.decode()
    return retry


def test_username_is_locked_after_10_failures_from_different_addresses(client, reader):
    for i in range(1, LIMIT):
        assert_envelope(
            token(client, "reader", f"guess-{i}", f"10.1.0.{i}"), 401, "AUTH_INVALID_CREDENTIALS"
        )
    # The 10th failure locks the username, and says so.
    assert_locked(token(client, "reader", "guess-10", "10.1.0.10"))
    # From an 11th address, even the right password is refused …
    assert_locked(token(client, "reader", PASSWORD, "10.1.0.11"))
    # … while that address itself is not locked: another user logs in from it.
    get_user_model().objects.create_user("other", password=PASSWORD)
    assert token(client, "other", PASSWORD, "10.1.0.11").status_code == 200


def test_address_is_locked_after_10_failures_for_different_usernames(client, reader):
    for i in range(1, LIMIT):
        r = token(client, f"user{i}", "guess", "10.2.0.1")
        assert_envelope(r, 401, "AUTH_INVALID_CREDENTIALS")
    assert_locked(token(client, "user10", "guess", "10.2.0.1"))
    # The 11th attempt from that address, with a right password, is refused …
    assert_locked(token(client, "reader", PASSWORD, "10.2.0.1"))
    # … but the username is not locked: from elsewhere it logs in.
    assert token(client, "reader", PASSWORD, "10.2.0.2").status_code == 200


def test_locked_attempts_do_not_check_the_password_nor_count(client, reader):
    for i in range(LIMIT):
        token(client, "reader", f"guess-{i}", f"10.3.0.{i}")
    rows = list(AccessAttempt.objects.values_list("failures_since_start", flat=True))
    for _ in range(5):
        assert_locked(token(client, "reader", "guess", "10.3.1.1"))
    assert sorted(AccessAttempt.objects.values_list("failures_since_start", flat=True)) == sorted(
        rows
    )


def test_a_success_does_not_reset_the_count(client, reader):
    for i in range(LIMIT - 1):
        assert token(client, "reader", f"guess-{i}", "10.4.0.1").status_code == 401
    # The attacker's own good login from the same address clears nothing …
    assert token(client, "reader", PASSWORD, "10.4.0.1").status_code == 200
    # … so the next failure is the 10th.
    assert_locked(token(client, "reader", "guess-x", "10.4.0.1"))


def test_the_lock_lifts_when_the_failures_are_15_minutes_old(client, reader):
    for i in range(LIMIT):
        token(client, "reader", f"guess-{i}", "10.5.0.1")
    assert_locked(token(client, "reader", PASSWORD, "10.5.0.1"))
    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=14)
    )
    retry = int(token(client, "reader", PASSWORD, "10.5.0.1")["Retry-After"])
    assert 30 <= retry <= 60
    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=1, seconds=1)
    )
    assert token(client, "reader", PASSWORD, "10.5.0.1").status_code == 200


def test_a_forged_x_forwarded_for_is_one_address_without_proxies(client, reader):
    for i in range(LIMIT):
        token(client, f"user{i}", "guess", "10.6.0.1", HTTP_X_FORWARDED_FOR=f"198.51.100.{i}")
    assert_locked(
        token(client, "reader", PASSWORD, "10.6.0.1", HTTP_X_FORWARDED_FOR="198.51.100.99")
    )
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"10.6.0.1"}


def test_behind_a_proxy_the_forwarded_address_counts(client, reader, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    proxy = "10.7.0.1"
    for i in range(LIMIT):
        # What the client sent first (forgeable), then what the proxy saw.
        xff = f"192.0.2.{i}, 203.0.113.7"
        token(client, f"user{i}", "guess", proxy, HTTP_X_FORWARDED_FOR=xff)
    assert_locked(token(client, "reader", PASSWORD, proxy, HTTP_X_FORWARDED_FOR="203.0.113.7"))
    # Another client behind the same proxy is not locked.
    r = token(client, "reader", PASSWORD, proxy, HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.8")
    assert r.status_code == 200, r.content
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.7"}


@pytest.mark.parametrize(
    "body",
    [
        {"username": "x" * 5000, "password": "p"},
        {"username": "a\u0000b", "password": "p"},
        {"username": "\ud800", "password": "p"},
        {"username": 12, "password": "p"},
        {"username": ["reader"], "password": "p"},
        {"username": {"a": 1}, "password": "p"},
        {"username": "", "password": ""},
    ],
    ids=["long", "nul", "surrogate", "number", "list", "object", "empty"],
)
def test_odd_usernames_are_refused_not_500(client, reader, body):
    r = client.post(TOKEN, body, content_type="application/json", REMOTE_ADDR="10.8.0.1")
    assert r.status_code in (400, 401), r.content
    assert r.json()["error"]["code"] in ("VALIDATION_ERROR", "AUTH_INVALID_CREDENTIALS")


def test_a_long_username_is_counted_as_one(client, reader):
    name = "y" * 5000
    for i in range(LIMIT - 1):
        assert token(client, name, "guess", f"10.9.0.{i}").status_code == 401
    assert_locked(token(client, name, "guess", "10.9.1.1"))
    assert AccessAttempt.objects.values("username").distinct().count() == 1


@pytest.mark.parametrize("xff", ["garbage", "", " , ", "1.2.3.4:5678", "fe80::1%eth0"])
def test_an_odd_forwarded_address_is_no_500(client, reader, settings, xff):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    r = token(client, "reader", "guess", "10.10.0.1", HTTP_X_FORWARDED_FOR=xff)
    assert_envelope(r, 401, "AUTH_INVALID_CREDENTIALS")
    assert (
        token(client, "reader", PASSWORD, "10.10.0.1", HTTP_X_FORWARDED_FOR=xff).status_code == 200
    )


# --- the admin login ------------------------------------------------------------------------


def test_admin_login_is_locked_with_a_clear_message(client, boss):
    for i in range(1, LIMIT):
        r = admin_login(client, "boss", f"guess-{i}", f"10.11.0.{i}")
        assert r.status_code == 200
        assert "Please enter the correct username and password" in r.content.decode()
    r = admin_login(client, "boss", "guess-10", "10.11.0.10")
    assert r.status_code == 429
    # The right password, from a fresh address: refused, the page says why, no session.
    r = admin_login(client, "boss", PASSWORD, "10.11.0.11")
    assert r.status_code == 429
    page = r.content.decode()
    assert 'id="login-locked"' in page
    assert "Too many failed login attempts" in page and "Try again in 15 minutes" in page
    assert 'id="login-form"' in page  # the login form is still there
    assert WINDOW - 30 <= int(r["Retry-After"]) <= WINDOW
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/").status_code == 302


def test_admin_and_api_failures_add_up(client, boss):
    for i in range(5):
        assert admin_login(client, "boss", f"guess-{i}", "10.12.0.1").status_code == 200
    for i in range(4):
        assert token(client, "boss", f"guess-{i}", "10.12.0.2").status_code == 401
    assert_locked(token(client, "boss", "guess", "10.12.0.3"))
    assert admin_login(client, "boss", PASSWORD, "10.12.0.4").status_code == 429


def test_staff_unlock_in_the_admin(client, reader, boss):
    for i in range(LIMIT):
        token(client, "reader", f"guess-{i}", f"10.13.0.{i}")
    assert_locked(token(client, "reader", PASSWORD, "10.13.1.1"))
    assert AccessAttempt.objects.count() == LIMIT

    staff = type(client)()
    staff.force_login(boss)
    changelist = reverse("admin:axes_accessattempt_changelist")
    page = staff.get(changelist).content.decode()
    assert "reader" in page and "Unlock the usernames and addresses" in page
    one = AccessAttempt.objects.first()
    r = staff.post(changelist, {"action": "unlock_selected", "_selected_action": [one.pk]})
    assert r.status_code == 302
    # Selecting one row unlocks the username (all its rows) and that row's address.
    assert not AccessAttempt.objects.exists()
    r = token(client, "reader", PASSWORD, "10.13.1.1")
    assert r.status_code == 200, r.content
    assert client.get(READ, HTTP_AUTHORIZATION=f"Bearer {r.json()['access']}").status_code == 200


def test_staff_unlock_of_an_admin_login(client, boss):
    for i in range(LIMIT):
        admin_login(client, "boss", f"guess-{i}", "10.14.0.1")
    assert admin_login(client, "boss", PASSWORD, "10.14.0.1").status_code == 429
    staff = type(client)()
    staff.force_login(boss)
    staff.post(
        reverse("admin:axes_accessattempt_changelist"),
        {"action": "unlock_selected", "_selected_action": [AccessAttempt.objects.get().pk]},
    )
    r = admin_login(client, "boss", PASSWORD, "10.14.0.1")
    assert r.status_code == 302 and r["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_failures_are_stored_in_the_database(client, reader):
    """Every web process sees the same count: the attempts are rows, not process memory."""
    token(client, "reader", "guess", "10.15.0.1")
    row = AccessAttempt.objects.get()
    assert (row.username, row.ip_address, row.failures_since_start) == ("reader", "10.15.0.1", 1)
    assert "guess" not in row.post_data and "guess" not in row.get_data
