"""User tokens can be revoked (threatmap-api.md §Hardening): refresh tokens rotate and a spent
one is refused; a password change or a deactivation revokes every token issued before."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.urls import reverse
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import AccessToken

from masterbus.api.tokens import RefreshToken, spend

from .conftest import READ, assert_envelope

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.api.urls")]

TOKEN = "/api/v1/auth/token"
REFRESH = "/api/v1/auth/token/refresh"
PASSWORD = "s3cret-pass"


@pytest.fixture(autouse=True)
def _fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def reader(_fast_hasher):
    return get_user_model().objects.create_user("reader", password=PASSWORD)


def obtain(client, username="reader", password=PASSWORD) -> dict:
    r = client.post(
        TOKEN, {"username": username, "password": password}, content_type="application/json"
    )
    assert r.status_code == 200, r.content
    return r.json()


def refresh(client, token):
    return client.post(REFRESH, {"refresh": token}, content_type="application/json")


def reads(client, access) -> int:
    return client.get(READ, HTTP_AUTHORIZATION=f"Bearer {access}").status_code


def assert_refused(client, pair):
    assert_envelope(
        client.get(READ, HTTP_AUTHORIZATION=f"Bearer {pair['access']}"),
        401,
        "AUTH_INVALID_CREDENTIALS",
    )
    assert_envelope(refresh(client, pair["refresh"]), 401, "AUTH_INVALID_CREDENTIALS")


# --- rotation --------------------------------------------------------------------------------


def test_refresh_rotates_and_a_spent_refresh_token_is_refused(client, reader):
    pair = obtain(client)
    old_jti = RefreshToken(pair["refresh"])["jti"]
    r = refresh(client, pair["refresh"])
    assert r.status_code == 200, r.content
    assert BlacklistedToken.objects.filter(token__jti=old_jti).exists()
    new = r.json()
    assert set(new) == {"access", "refresh"} and new["refresh"] != pair["refresh"]
    assert reads(client, new["access"]) == 200

    err = assert_envelope(refresh(client, pair["refresh"]), 401, "AUTH_INVALID_CREDENTIALS")
    assert "blacklisted" in err["message"]

    # The new one works once, too.
    assert refresh(client, new["refresh"]).status_code == 200
    assert refresh(client, new["refresh"]).status_code == 401


def test_spending_is_one_insert_under_a_unique_key(reader):
    """Two uses that both got past the blacklist check (concurrent requests): one wins."""
    token = RefreshToken.for_user(reader)
    spend(token, reader)
    with pytest.raises(TokenError):
        spend(token, reader)
    assert BlacklistedToken.objects.filter(token__jti=token["jti"]).count() == 1


def test_a_refresh_token_issued_before_the_blacklist_is_spent_once(client, reader):
    token = RefreshToken.for_user(reader)
    OutstandingToken.objects.filter(jti=token["jti"]).delete()
    assert refresh(client, str(token)).status_code == 200
    assert refresh(client, str(token)).status_code == 401


def test_refresh_of_a_deleted_user_is_401_not_500(client, reader):
    pair = obtain(client)
    reader.delete()
    assert_envelope(refresh(client, pair["refresh"]), 401, "AUTH_INVALID_CREDENTIALS")


# --- password changes ------------------------------------------------------------------------


def test_set_password_revokes_earlier_tokens_and_new_ones_work(client, reader):
    old = obtain(client)
    rotated = refresh(client, obtain(client)["refresh"]).json()
    assert reads(client, old["access"]) == 200

    reader.set_password("n3w-secret-pass")
    reader.save()

    assert_refused(client, old)
    assert_refused(client, rotated)
    new = obtain(client, password="n3w-secret-pass")
    assert reads(client, new["access"]) == 200
    again = refresh(client, new["refresh"])
    assert again.status_code == 200, again.content
    assert reads(client, again.json()["access"]) == 200


def test_tokens_made_without_the_view_are_revoked_too(client, reader):
    access = AccessToken.for_user(reader)
    assert reads(client, access) == 200
    reader.set_password("n3w-secret-pass")
    reader.save(update_fields=["password"])
    assert reads(client, access) == 401


def test_password_change_in_the_admin_revokes(client, reader):
    pair = obtain(client)
    boss = get_user_model().objects.create_superuser("boss", password=PASSWORD)
    staff = type(client)()
    staff.force_login(boss)
    r = staff.post(
        reverse("admin:auth_user_password_change", args=[reader.pk]),
        {"password1": "an0ther-Secret!", "password2": "an0ther-Secret!", "usable_password": "true"},
    )
    assert r.status_code == 302, r.content[:3000]
    assert_refused(client, pair)
    assert reads(client, obtain(client, password="an0ther-Secret!")["access"]) == 200


def test_changepassword_command_revokes(client, reader, monkeypatch):
    from django.contrib.auth.management.commands import changepassword
    from django.core.management import call_command

    pair = obtain(client)
    monkeypatch.setattr(changepassword.getpass, "getpass", lambda prompt="": "cmd-Secret-77")
    call_command("changepassword", "reader", stdout=__import__("io").StringIO())
    assert_refused(client, pair)
    assert reads(client, obtain(client, password="cmd-Secret-77")["access"]) == 200


def test_saving_other_fields_or_logging_in_revokes_nothing(client, reader):
    pair = obtain(client)
    reader.first_name = "Rea"
    reader.save()
    obtain(client)  # a login
    assert reads(client, pair["access"]) == 200
    assert refresh(client, pair["refresh"]).status_code == 200


def test_a_hash_upgrade_at_login_is_not_a_password_change(client, settings):
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]
    user = get_user_model().objects.create_user("legacy")
    user.password = make_password(PASSWORD, hasher="md5")
    user.save()
    access = RefreshToken.for_user(user).access_token
    obtain(client, "legacy")  # Django re-hashes the password with PBKDF2 here
    user.refresh_from_db()
    assert user.password.startswith("pbkdf2_sha256$")
    assert reads(client, access) == 200


# --- deactivation ----------------------------------------------------------------------------


def test_deactivation_revokes_for_good(client, reader):
    pair = obtain(client)
    reader.is_active = False
    reader.save()
    assert_refused(client, pair)
    # Reactivated, the user gets new tokens; the old ones stay dead.
    reader.is_active = True
    reader.save()
    assert_refused(client, pair)
    new = obtain(client)
    assert reads(client, new["access"]) == 200
    assert refresh(client, new["refresh"]).status_code == 200


def test_deactivation_in_the_admin_revokes(client, reader):
    pair = obtain(client)
    boss = get_user_model().objects.create_superuser("boss", password=PASSWORD)
    staff = type(client)()
    staff.force_login(boss)
    url = reverse("admin:auth_user_change", args=[reader.pk])
    r = staff.post(
        url,
        {
            "username": "reader",
            "first_name": "",
            "last_name": "",
            "email": "",
            # is_active unchecked
            "last_login_0": "",
            "last_login_1": "",
            "date_joined_0": reader.date_joined.strftime("%Y-%m-%d"),
            "date_joined_1": reader.date_joined.strftime("%H:%M:%S"),
        },
    )
    assert r.status_code == 302, r.content[:3000]
    reader.refresh_from_db()
    assert not reader.is_active
    reader.is_active = True
    reader.save()
    assert_refused(client, pair)


# --- cost ------------------------------------------------------------------------------------


def test_a_bearer_read_costs_one_query(client, reader, django_assert_max_num_queries):
    access = obtain(client)["access"]
    reader.set_password("n3w-secret-pass")
    reader.save()  # a state row exists now
    access = obtain(client, password="n3w-secret-pass")["access"]
    with django_assert_max_num_queries(1):  # the user and their token state, joined
        assert reads(client, access) == 200
