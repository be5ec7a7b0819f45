"""The admin's strict Content-Security-Policy (masterbus/csp.py): sent on the admin and its
login, not on the API; and nothing the admin renders needs more than it allows (no inline
script, no inline style attribute or element, no event-handler attribute)."""

import re

import pytest
from django.contrib import admin
from django.urls import reverse

from masterbus import csp
from masterbus.services import api_key_create

pytestmark = pytest.mark.django_db

HEADER = "Content-Security-Policy"

# A script element without src runs inline, unless it is a data block (JSON, never run).
INLINE_SCRIPT = re.compile(
    r"<script\b(?![^>]*\bsrc=)(?![^>]*\btype=\"application/(?:ld\+)?json\")[^>]*>", re.IGNORECASE
)
STYLE_ATTRIBUTE = re.compile(r"<[a-z][^>]*\sstyle=", re.IGNORECASE)
HANDLER_ATTRIBUTE = re.compile(r"<[a-z][^>]*\son[a-z]+=", re.IGNORECASE)
STYLE_ELEMENT = re.compile(r"<style\b", re.IGNORECASE)


def directives(policy: str) -> dict[str, list[str]]:
    out = {}
    for part in policy.split(";"):
        name, *sources = part.split()
        out[name] = sources
    return out


def assert_allowed_by_policy(response, where):
    """What the policy would refuse in the browser, found in the markup."""
    html = response.content.decode()
    assert not INLINE_SCRIPT.search(html), f"{where}: inline <script>"
    assert not STYLE_ATTRIBUTE.search(html), f"{where}: style attribute"
    assert not HANDLER_ATTRIBUTE.search(html), f"{where}: event-handler attribute"
    assert not STYLE_ELEMENT.search(html), f"{where}: inline <style>"


def test_the_policy_is_strict():
    policy = directives(csp.POLICY)
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["img-src"] == ["'self'", "data:"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["form-action"] == ["'self'"]
    assert "'unsafe-inline'" not in csp.POLICY and "'unsafe-eval'" not in csp.POLICY


def test_login_page_carries_the_policy(client):
    response = client.get(reverse("admin:login"))
    assert response.status_code == 200
    assert response[HEADER] == csp.POLICY
    assert_allowed_by_policy(response, "login")


def test_admin_pages_carry_the_policy(admin_client):
    for url in (reverse("admin:index"), reverse("admin:facilities_facility_changelist")):
        response = admin_client.get(url)
        assert response.status_code == 200
        assert response[HEADER] == csp.POLICY
    # A redirect to the login and an admin 404 too.
    assert admin_client.get("/admin/no-such-page/")[HEADER] == csp.POLICY


def test_anonymous_admin_redirect_carries_the_policy(client):
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert response[HEADER] == csp.POLICY


def test_api_and_probes_carry_no_admin_policy(client, admin_user):
    _, raw = api_key_create(name="csp test", scopes=["threatmap:read"], user=admin_user)
    response = client.get("/api/v1/portfolio/summary", HTTP_X_API_KEY=raw)
    assert response.status_code in (200, 404)  # 404: no portfolio computed yet
    assert HEADER not in response
    assert HEADER not in client.get("/api/v1/facilities")  # 401, in the error envelope
    assert HEADER not in client.get("/health")


def test_read_only_lists_keep_their_actions_bar(admin_client, world):
    """Django writes an inline <style> on a list without its actions bar at both ends: the
    read-only lists (no action to offer) keep the default bar settings, so none is written."""
    for model, model_admin in admin.site._registry.items():
        assert model_admin.actions_on_top or model_admin.actions_on_bottom, model
    response = admin_client.get(reverse("admin:facilities_syncrun_changelist"))
    assert not response.context["action_form"]  # nothing to offer on this read-only list
    assert not STYLE_ELEMENT.search(response.content.decode())


def admin_urls(world):
    """Every registered admin's list, add form, one change form and its history page, as (url,
    whether it must answer 200 to a superuser: adding is refused with a 403 where records come
    from Condoit)."""
    objects = {type(obj): obj for obj in world.values()}
    urls = [(reverse("admin:index"), True)]
    for model in admin.site._registry:
        info = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        urls.append((reverse(f"{info}_changelist"), True))
        urls.append((reverse(f"{info}_add"), False))
        obj = objects.get(model) or model._default_manager.first()
        if obj is not None:
            urls.append((reverse(f"{info}_change", args=[obj.pk]), True))
            urls.append((reverse(f"{info}_history", args=[obj.pk]), True))
    urls.append((reverse("admin:equipment_equipmentclassmapping_unmapped"), True))
    return urls


def test_every_admin_page_needs_nothing_the_policy_refuses(admin_client, world):
    urls = admin_urls(world)
    assert len(urls) > 2 * len(admin.site._registry)
    for url, must_render in urls:
        response = admin_client.get(url)
        assert response.status_code in ((200,) if must_render else (200, 403)), url
        assert response[HEADER] == csp.POLICY, url
        if response.status_code == 200:
            assert_allowed_by_policy(response, url)


def test_pages_shown_once_need_nothing_the_policy_refuses(admin_client):
    """The API key page (shown once, outside the model forms) under the policy."""
    response = admin_client.post(
        reverse("admin:masterbus_apikey_add"),
        {"name": "once", "scopes": ["threatmap:read"], "expires_at_0": "", "expires_at_1": ""},
    )
    assert response.status_code == 200
    assert 'id="api-key" class="mb-secret"' in response.content.decode()
    assert_allowed_by_policy(response, "API key created")
