"""Staff edit a type profile, or add and change a class mapping, in the admin, then open its
History page: each change is listed with who made it and what changed, as recorded in the
database."""

import re

from playwright.sync_api import expect

from equipment.models import EquipmentClassMapping, TypeProfile

from .conftest import BROWSER_TEST

pytestmark = BROWSER_TEST


def test_a_type_profile_edit_on_its_history_page(admin_page, staff_user):
    page = admin_page
    profile = TypeProfile.objects.get(type="panel")
    before = profile.history.count()
    old_life = profile.life_years
    new_life = old_life + 5

    page.goto("/admin/equipment/typeprofile/")
    page.get_by_role("link", name=str(profile), exact=True).click()
    life = page.get_by_label("Expected life (years)")
    expect(life).to_have_value(re.compile(rf"^{int(old_life)}(\.0)?$"))
    life.fill(str(new_life))
    page.get_by_role("button", name="Save and continue editing").click()
    expect(page.locator(".messagelist .success")).to_contain_text("was changed successfully")

    profile.refresh_from_db()
    assert profile.life_years == new_life
    assert profile.history.count() == before + 1
    record = profile.history.order_by("-history_date", "-history_id").first()
    assert (record.history_user, record.history_type) == (staff_user, "~")
    assert record.life_years == new_life

    page.get_by_role("link", name="History").click()
    expect(page).to_have_url(re.compile(rf"/admin/equipment/typeprofile/{profile.pk}/history/$"))
    # Newest first: the edit, then what came before it (the seeded row's creation).
    rows = page.locator("#change-history tbody tr")
    expect(rows).to_have_count(before + 1)
    row = rows.first
    expect(row.locator("td").first).to_have_text(record.get_history_type_display())
    expect(row.locator("td").nth(1)).to_have_text(staff_user.username)
    expect(row.locator("ul.mb-history-changes li")).to_have_text(
        [f"expected life (years): {old_life} → {new_life}"]
    )
    expect(row.locator("th")).to_contain_text(record.history_date.strftime("%Y-%m-%d %H:%M"))
    expect(page.locator("p.paginator")).to_contain_text(f"{before + 1} change")


def test_a_class_mapping_added_then_changed_on_its_history_page(admin_page, staff_user):
    page = admin_page
    page.goto("/admin/equipment/equipmentclassmapping/add/")
    page.get_by_label("Condoit class").fill("Widget Box")
    page.get_by_label("Type").select_option(label="Generator")
    page.get_by_role("button", name="Save and continue editing").click()
    messages = page.locator(".messagelist .success")
    expect(messages.filter(has_text="was added successfully")).to_be_visible()
    mapping = EquipmentClassMapping.objects.get(condoit_class__iexact="widget box")
    page.get_by_label("Type").select_option(label="Panel")
    page.get_by_role("button", name="Save and continue editing").click()
    expect(messages.filter(has_text="was changed successfully")).to_be_visible()

    mapping.refresh_from_db()
    assert mapping.type == "panel"
    records = list(mapping.history.order_by("history_date", "history_id"))
    assert [(r.history_type, r.type, r.history_user) for r in records] == [
        ("+", "generator", staff_user),
        ("~", "panel", staff_user),
    ]

    page.get_by_role("link", name="History").click()
    rows = page.locator("#change-history tbody tr")
    expect(rows).to_have_count(2)
    changed, added = rows.nth(0), rows.nth(1)  # newest first
    for row, record in ((changed, records[1]), (added, records[0])):
        expect(row.locator("td").nth(0)).to_have_text(record.get_history_type_display())
        expect(row.locator("td").nth(1)).to_have_text(staff_user.username)
    expect(changed.locator("ul.mb-history-changes li")).to_have_text(["type: Generator → Panel"])
