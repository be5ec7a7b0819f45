"""Staff map an unmapped Condoit class from the "Unmapped Condoit classes" page: its
equipment are re-typed and recomputed."""

import re

from playwright.sync_api import expect

from equipment.models import Equipment
from facilities.models import RecordChange
from voltmetrics.models import EquipmentAssessment

from .conftest import BROWSER_TEST

pytestmark = BROWSER_TEST

WIDGETS = ["eq_widget_1", "eq_widget_2"]


def computed_at(external_ids):
    return dict(
        EquipmentAssessment.objects.filter(
            equipment__external_id__in=external_ids, served=True
        ).values_list("equipment__external_id", "computed_at")
    )


def test_map_an_unmapped_class(admin_page, portfolio):
    page = admin_page
    assert set(
        Equipment.objects.filter(external_id__in=WIDGETS).values_list("type", "class_mapped")
    ) == {("other", False)}
    before = computed_at(WIDGETS)
    assert set(before) == set(WIDGETS)

    page.goto("/admin/equipment/equipmentclassmapping/")
    page.get_by_role("link", name="Unmapped Condoit classes").click()
    expect(page.locator("h1")).to_have_text("Unmapped Condoit classes")
    # Both spellings are one class; the other classes of the portfolio are mapped.
    rows = page.locator("tr.unmapped-class")
    expect(rows).to_have_count(1)
    expect(rows.first.locator(".condoit-class")).to_have_text("Widget Box", ignore_case=True)
    expect(rows.first.locator(".count")).to_have_text("2")

    rows.first.get_by_role("link", name="Add mapping").click()
    expect(page.get_by_label("Condoit class")).to_have_value(re.compile("^widget box$", re.I))
    page.get_by_label("Type").select_option(label="Generator")
    page.get_by_role("button", name="Save", exact=True).click()

    messages = page.locator(".messagelist .success")
    expect(messages.filter(has_text="Re-typed")).to_have_text("Re-typed 2 equipment.")
    expect(messages.filter(has_text="was added successfully")).to_be_visible()
    expect(page.locator("#result_list")).to_contain_text("widget box")

    assert set(
        Equipment.objects.filter(external_id__in=WIDGETS).values_list("type", "class_mapped")
    ) == {("generator", True)}
    changes = RecordChange.objects.filter(external_id__in=WIDGETS, source="mapping")
    assert sorted(changes.values_list("external_id", flat=True)) == WIDGETS
    # Recomputed right after the save (eager tasks, no debounce: tests/browser/conftest.py).
    assert not changes.filter(recomputed_at__isnull=True).exists()
    after = computed_at(WIDGETS)
    assert all(after[e] > before[e] for e in WIDGETS)

    page.goto("/admin/equipment/equipmentclassmapping/unmapped/")
    expect(page.locator("#content-main")).to_contain_text("Every Condoit class is mapped.")
    page.goto("/admin/equipment/equipment/?type__exact=generator")
    expect(page.locator("#result_list tbody tr")).to_have_count(2)
