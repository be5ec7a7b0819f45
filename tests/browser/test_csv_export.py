"""Staff filter the equipment list (a facility picked in the autocomplete filter, a risk rating)
and export it: the CSV downloaded holds the rows of the filtered list, the database's."""

import csv
import io
import re

from playwright.sync_api import expect

from equipment.models import Equipment
from facilities.models import Facility
from voltmetrics.models import EquipmentAssessment

from .conftest import BROWSER_TEST

pytestmark = BROWSER_TEST


def test_export_a_filtered_equipment_list(admin_page, portfolio):
    page = admin_page
    north = Facility.objects.get(external_id="fac_north")
    page.goto("/admin/equipment/equipment/")
    expect(page.locator("#result_list tbody tr")).to_have_count(len(portfolio.equipment))

    # The facility, picked by typing in the filter's select2 widget.
    facility_filter = page.locator('details[data-filter-title="facility"]')
    facility_filter.locator(".select2-selection").click()
    page.locator(".select2-container--open .select2-search__field").fill("North")
    page.locator(".select2-results__option", has_text="North Plant").click()
    expect(page).to_have_url(re.compile(rf"facility__id__exact={north.pk}\b"))
    in_north = Equipment.objects.filter(facility=north)
    expect(page.locator("#result_list tbody tr")).to_have_count(in_north.count())

    # And a risk rating: the old panel's.
    rating = EquipmentAssessment.objects.get(
        equipment__external_id="eq_old_panel", served=True
    ).rating
    page.locator('details[data-filter-title="risk rating"] a', has_text=rating).click()
    expect(page).to_have_url(re.compile(r"rating="))
    expected = in_north.filter(assessments__served=True, assessments__rating=rating).order_by("pk")
    assert expected.count() >= 1
    expect(page.locator("#result_list tbody tr")).to_have_count(expected.count())

    with page.expect_download() as info:
        page.get_by_role("link", name="Export CSV").click()
    download = info.value
    assert download.failure() is None
    assert download.suggested_filename.endswith(".csv")
    with open(download.path(), encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(io.StringIO(f.read())))

    assert sorted(int(r["id"]) for r in rows) == list(expected.values_list("pk", flat=True))
    by_id = {int(r["id"]): r for r in rows}
    for eq in expected.select_related("facility"):
        row = by_id[eq.pk]
        assert (row["external_id"], row["name"]) == (eq.external_id, eq.name)
        assert (row["facility_external_id"], row["facility_name"]) == ("fac_north", north.name)
        assert row["install_date"] == (eq.install_date.isoformat() if eq.install_date else "")
