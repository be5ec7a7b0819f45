"""API keys in the admin: shown once, stored as a digest, revocable, barely editable."""

import pytest
from django.urls import reverse
from django.utils import timezone

from masterbus.models import ApiKey

from .conftest import READ, key_header

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.api.urls")]


@pytest.fixture
def staff_client(client, admin_user):
    client.force_login(admin_user)
    return client


def add_key(staff_client, **over):
    data = {
        "name": "ThreatMap prod",
        "scopes": ["threatmap:read"],
        "expires_at_0": "",
        "expires_at_1": "",
        "rate_limit_per_minute": "",
        **over,
    }
    return staff_client.post(reverse("admin:masterbus_apikey_add"), data)


def test_admin_needs_staff(client, user):
    client.force_login(user)
    r = client.get(reverse("admin:masterbus_apikey_changelist"))
    assert r.status_code == 302 and "/login/" in r["Location"]


def test_created_key_shown_once_stored_as_digest(staff_client, admin_user):
    r = add_key(staff_client)
    assert r.status_code == 200, r.content[:2000]
    key = ApiKey.objects.get()
    page = r.content.decode()
    raw = page.split('id="api-key"')[1].split(">", 1)[1].split("<", 1)[0]
    assert raw.startswith(key.prefix) and len(raw) > 40
    assert "no-store" in r["Cache-Control"]
    assert key.created_by == admin_user and key.scopes == ["threatmap:read"]
    assert raw not in repr(ApiKey.objects.filter(pk=key.pk).values().get())
    # It works …
    assert staff_client.get(READ, **key_header(raw)).status_code == 200
    # … and is never shown again, nor is its digest.
    for url in (
        reverse("admin:masterbus_apikey_changelist"),
        reverse("admin:masterbus_apikey_change", args=[key.pk]),
    ):
        text = staff_client.get(url).content.decode()
        assert raw not in text
        assert key.digest not in text
        assert key.prefix in text


def test_add_needs_a_scope(staff_client):
    r = add_key(staff_client, scopes=[])
    assert r.status_code == 200
    assert not ApiKey.objects.exists()


def test_change_edits_only_name_expiry_limit_and_revocation(staff_client, make_key):
    key, raw = make_key(["condoit:push"], name="old")
    url = reverse("admin:masterbus_apikey_change", args=[key.pk])
    r = staff_client.post(
        url,
        {
            "name": "new",
            "expires_at_0": "",
            "expires_at_1": "",
            "rate_limit_per_minute": "42",
            "scopes": ["threatmap:read"],
            "prefix": "hacked",
            "digest": "0" * 64,
        },
    )
    assert r.status_code == 302, r.content[:2000]
    key.refresh_from_db()
    assert (key.name, key.rate_limit_per_minute) == ("new", 42)
    assert key.scopes == ["condoit:push"] and key.prefix == raw[:8]
    assert key.revoked_at is None

    r = staff_client.post(
        url,
        {
            "name": "new",
            "expires_at_0": "",
            "expires_at_1": "",
            "rate_limit_per_minute": "42",
            "revoke": "on",
        },
    )
    assert r.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_revoke_action(staff_client, make_key, client):
    k1, raw1 = make_key(name="a")
    k2, _ = make_key(name="b")
    k3, raw3 = make_key(name="c")
    r = staff_client.post(
        reverse("admin:masterbus_apikey_changelist"),
        {"action": "revoke_selected", "_selected_action": [k1.pk, k2.pk]},
    )
    assert r.status_code == 302
    assert set(ApiKey.objects.filter(revoked_at__isnull=False).values_list("pk", flat=True)) == {
        k1.pk,
        k2.pk,
    }
    assert staff_client.get(READ, **key_header(raw1)).status_code == 401
    assert staff_client.get(READ, **key_header(raw3)).status_code == 200


def test_changelist_columns(staff_client, make_key):
    make_key(
        ["condoit:push"],
        name="listed",
        rate_limit=9,
        expires_at=timezone.now() + timezone.timedelta(days=1),
    )
    text = staff_client.get(reverse("admin:masterbus_apikey_changelist")).content.decode()
    for column in (
        "listed",
        "condoit:push",
        "Expires at",
        "Revoked at",
        "Last used at",
        "Rate limit per minute",
    ):
        assert column in text
