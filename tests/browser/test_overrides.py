"""A member of staff fixes an equipment field in the browser: the change page marks it as an
override, the risk panel of the page follows after the recompute, and a later Condoit update of the
field does not undo the fix."""

import datetime

from playwright.sync_api import expect

from condoit.files import import_file
from equipment.models import Equipment
from facilities.models import FieldOverride
from tests import factories as rf
from voltmetrics.models import EquipmentAssessment

from .conftest import BROWSER_TEST

pytestmark = BROWSER_TEST


def served(external_id: str) -> EquipmentAssessment:
    return EquipmentAssessment.objects.get(equipment__external_id=external_id, served=True)


def risk_panel(page):
    """The risk panel of the equipment's change page."""
    return page.locator(".mb-risk-panel .mb-risk-headline")


def test_fix_an_install_date(admin_page, portfolio, staff_user, tmp_path):
    page = admin_page
    before = served("eq_old_panel")

    # Find the equipment from its list and fix its install date.
    page.goto("/admin/equipment/equipment/")
    page.get_by_role("searchbox").fill("Old Panel")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="Old Panel", exact=True).click()
    expect(risk_panel(page).locator(".mb-risk-score")).to_have_text(str(before.risk_score))
    expect(risk_panel(page).locator(".mb-risk-badge").first).to_have_text(before.rating)
    expect(page.get_by_label("Install date")).to_have_value("1968-05-01")
    page.get_by_label("Install date").fill("2022-06-01")
    page.get_by_role("button", name="Save and continue editing").click()

    expect(page.locator(".messagelist .success")).to_contain_text("was changed successfully")
    expect(page.get_by_label("Install date")).to_have_value("2022-06-01")
    # The override badge beside the field, and the overrides table.
    expect(page.locator(".field-install_date .help")).to_contain_text(
        "Staff override (wins over Condoit) — Condoit's value: 1968-05-01"
    )
    row = page.locator("table.staff-overrides tbody tr", has_text="install_date")
    expect(row).to_contain_text("2022-06-01")
    expect(row).to_contain_text("1968-05-01")
    expect(row).to_contain_text("staff")

    override = FieldOverride.objects.get(external_id="eq_old_panel", field="install_date")
    assert (override.value, override.condoit_value) == ("2022-06-01", "1968-05-01")
    assert override.created_by == staff_user
    assert Equipment.objects.get(external_id="eq_old_panel").install_date == datetime.date(
        2022, 6, 1
    )

    # Recomputed right after the save (eager tasks, no debounce: tests/browser/conftest.py):
    # a panel of 2022 is less at risk than one of 1968.
    after = served("eq_old_panel")
    assert after.computed_at > before.computed_at
    assert after.risk_score < before.risk_score
    # The page after the save shows the recomputed risk.
    expect(risk_panel(page).locator(".mb-risk-score")).to_have_text(str(after.risk_score))
    expect(risk_panel(page).locator(".mb-risk-badge").first).to_have_text(after.rating)

    # Condoit sends the equipment again, later, with another install date and a new name.
    update = {
        **portfolio.old_panel,
        "name": "Old Panel (relabelled)",
        "installDate": "1971-02-01",
        "updatedAt": "2025-06-01T00:00:00Z",
    }
    run = import_file(rf.write_export(tmp_path / "update.json", equipment=[update]))
    assert (run.updated, run.rejected) == (1, 0)

    eq = Equipment.objects.get(external_id="eq_old_panel")
    assert eq.name == "Old Panel (relabelled)"  # Condoit's update landed …
    assert eq.install_date == datetime.date(2022, 6, 1)  # … but not over the fix
    override.refresh_from_db()
    assert (override.value, override.condoit_value) == ("2022-06-01", "1971-02-01")
    assert served("eq_old_panel").risk_score == after.risk_score

    page.goto(f"/admin/equipment/equipment/{eq.pk}/change/")
    expect(page.get_by_role("textbox", name="Name:", exact=True)).to_have_value(
        "Old Panel (relabelled)"
    )
    expect(page.get_by_label("Install date")).to_have_value("2022-06-01")
    expect(page.locator(".field-install_date .help")).to_contain_text("Condoit's value: 1971-02-01")
    expect(risk_panel(page).locator(".mb-risk-score")).to_have_text(str(after.risk_score))
