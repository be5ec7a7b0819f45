"""The admin's strict Content-Security-Policy in the browser: the stock admin's scripts (and
MasterBus's own) still work under it, and anything inline is refused and fails the test."""

import datetime

from django_celery_beat.models import PeriodicTask
from playwright.sync_api import expect

from equipment.models import EquipmentClassMapping
from masterbus import csp

from .conftest import BROWSER_TEST

pytestmark = BROWSER_TEST


def test_an_inline_script_is_refused_and_reported(admin_page, browser_errors):
    page = admin_page
    response = page.goto("/admin/")
    assert response.headers["content-security-policy"] == csp.POLICY
    with page.expect_console_message(lambda m: "CSP violation" in m.text):
        page.evaluate(
            """() => {
                const s = document.createElement('script');
                s.textContent = 'window.injected = true';
                document.body.append(s);
            }"""
        )
    assert page.evaluate("() => window.injected === undefined")
    with page.expect_console_message(lambda m: "CSP violation: style-src" in m.text):
        page.evaluate("() => document.body.setAttribute('style', 'outline: 5px solid red')")
    assert page.evaluate("() => getComputedStyle(document.body).outlineStyle") == "none"
    # What the autouse check would have failed the test with:
    found = browser_errors.take()
    assert any("CSP violation: script-src" in m for m in found), found
    assert any("CSP violation: style-src" in m for m in found), found


def test_the_stock_admin_works_under_the_policy(admin_page, portfolio):
    page = admin_page

    # The theme toggle and the navigation sidebar (theme.js, nav_sidebar.js).
    theme = page.locator("html").get_attribute("data-theme")
    page.locator("button.theme-toggle").first.click()
    expect(page.locator("html")).not_to_have_attribute("data-theme", theme or "auto")

    # Select all on a list, and the action counter (actions.js).
    page.goto("/admin/equipment/equipmentclassmapping/")
    shifted = "shifted" in (page.locator("#main").get_attribute("class") or "")
    page.locator("#toggle-nav-sidebar").click()
    assert ("shifted" in (page.locator("#main").get_attribute("class") or "")) != shifted
    page.locator("#action-toggle").check()
    n = EquipmentClassMapping.objects.count()
    expect(page.locator(".action-counter")).to_contain_text(f"{n} of {n} selected")

    # A change form: the calendar shortcut (DateTimeShortcuts.js) and the facility picker by
    # autocomplete (select2, answers from /admin/autocomplete/).
    page.goto("/admin/equipment/equipment/")
    page.get_by_role("link", name="Old Panel", exact=True).click()
    page.locator(".field-install_date .datetimeshortcuts").get_by_role("link", name="Today").click()
    today = datetime.datetime.now(datetime.UTC).date().isoformat()
    expect(page.get_by_label("Install date")).to_have_value(today)
    page.locator(".field-facility .select2-selection").click()
    page.locator(".select2-search__field").fill("North")
    page.locator(".select2-results__option", has_text="North Plant").click()
    expect(page.locator(".field-facility .select2-selection__rendered")).to_contain_text(
        "North Plant"
    )

    # django-celery-beat's periodic task form, its script now a file
    # (masterbus/static/masterbus/periodic_task.js).
    task = PeriodicTask.objects.filter(crontab__isnull=False).order_by("name").first()
    page.goto(f"/admin/django_celery_beat/periodictask/{task.pk}/change/")
    expect(page.locator(".field-crontab_translation")).to_be_hidden()
    crontab = page.locator("#id_crontab")
    other = crontab.locator("option").filter(has_not_text="---------")
    values = [v for v in other.evaluate_all("os => os.map(o => o.value)") if v]
    choice = next((v for v in values if v != str(task.crontab_id)), values[0])
    crontab.select_option(choice)
    expect(page.locator(".field-crontab .help")).to_contain_text("Translation: ")
