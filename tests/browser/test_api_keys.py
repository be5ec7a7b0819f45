"""Staff create an API key in the admin: the raw key is shown once, only its digest is kept,
and the key works."""

from playwright.sync_api import expect

from masterbus.models import ApiKey, key_digest

from .conftest import BROWSER_TEST

pytestmark = BROWSER_TEST


def test_create_an_api_key_and_see_it_once(admin_page, portfolio, staff_user):
    page = admin_page
    page.goto("/admin/masterbus/apikey/")
    page.get_by_role("link", name="Add API key").click()
    page.get_by_label("Name").fill("ThreatMap staging")
    page.get_by_label("threatmap:read").check()
    page.get_by_role("button", name="Save", exact=True).click()

    expect(page.locator("h1")).to_have_text("API key created")
    raw = page.locator("#api-key").inner_text()
    assert raw.startswith("mb_")

    key = ApiKey.objects.get(name="ThreatMap staging")
    assert key.digest == key_digest(raw)
    assert key.scopes == ["threatmap:read"] and key.created_by == staff_user
    assert raw.startswith(key.prefix)
    stored = [str(getattr(key, f.attname)) for f in ApiKey._meta.concrete_fields]
    assert not any(raw in value for value in stored)

    # The key works against the API …
    response = page.request.get("/api/v1/portfolio/summary", headers={"X-API-Key": raw})
    assert response.status == 200
    summary = response.json()
    assert summary["total_facilities"] == len(portfolio.facilities)
    assert summary["total_equipment"] == len(portfolio.equipment)

    # … and no page shows it again.
    page.get_by_role("link", name="Edit name, expiry or limit").click()
    expect(page.locator("h1")).to_contain_text("Change API key")
    expect(page.locator(".field-prefix")).to_contain_text(key.prefix)
    assert raw not in page.content()
    page.goto("/admin/masterbus/apikey/")
    expect(page.locator("#result_list")).to_contain_text("ThreatMap staging")
    assert raw not in page.content()
