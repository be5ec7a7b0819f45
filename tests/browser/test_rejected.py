"""Staff re-run selected rejected records from their list: the action reports what became of
them and the ones that now pass are ingested."""

from playwright.sync_api import expect

from condoit.files import import_file
from condoit.ingest import ingest_records
from equipment.models import Equipment
from facilities.models import RejectedRecord
from tests import factories as rf
from voltmetrics.models import EquipmentAssessment

from .conftest import BROWSER_TEST

pytestmark = BROWSER_TEST


def test_rerun_selected_rejected_records(admin_page, portfolio, tmp_path):
    page = admin_page
    # Rejected: an equipment whose facility had not arrived, and one with an impossible date.
    ingest_records(
        [("equipment", rf.equipment("fac_east", id="eq_orphan", name="Orphan Panel"))],
        missing_parent="reject",
    )
    bad = rf.equipment("fac_north", id="eq_bad_date", installDate="2024-02-30")
    unselected = rf.equipment("fac_north", id="eq_left_alone", installDate="2024-13-01")
    run = import_file(rf.write_export(tmp_path / "bad.json", equipment=[bad, unselected]))
    assert run.rejected == 2
    # The missing facility arrives.
    import_file(rf.write_export(tmp_path / "east.json", facilities=[rf.facility(id="fac_east")]))
    assert not Equipment.objects.filter(external_id="eq_orphan").exists()

    rejected = dict(RejectedRecord.objects.values_list("record_id", "pk"))
    assert set(rejected) == {"eq_orphan", "eq_bad_date", "eq_left_alone"}

    def row(pk):
        return page.locator("#result_list tbody tr").filter(
            has=page.locator(f'input.action-select[value="{pk}"]')
        )

    page.goto("/admin/facilities/rejectedrecord/")
    row(rejected["eq_orphan"]).locator("input.action-select").check()
    row(rejected["eq_bad_date"]).locator("input.action-select").check()
    expect(page.locator(".action-counter")).to_contain_text("2 of 3 selected")
    page.locator("select[name=action]").select_option(label="Re-run selected rejected records")
    page.get_by_role("button", name="Go").click()

    expect(page.locator(".messagelist .success")).to_have_text(
        "Re-ran 2 rejected record(s) — created: 1, updated: 0, unchanged: 0, rejected: 1, "
        "deleted: 0, skipped: 0."
    )
    orphan = Equipment.objects.get(external_id="eq_orphan")
    assert orphan.facility.external_id == "fac_east"
    assert EquipmentAssessment.objects.filter(equipment=orphan, served=True).exists()
    outcome = dict(
        RejectedRecord.objects.filter(pk__in=rejected.values()).values_list("pk", "rerun_outcome")
    )
    assert outcome[rejected["eq_orphan"]].startswith("created (sync run #")
    assert outcome[rejected["eq_bad_date"]].startswith("rejected again: installDate")
    assert outcome[rejected["eq_left_alone"]] == ""
    assert not Equipment.objects.filter(external_id__in=["eq_bad_date", "eq_left_alone"]).exists()
    # Rejected again is a rejection of the re-run's own sync run.
    again = RejectedRecord.objects.exclude(pk__in=rejected.values()).get()
    assert (again.record_id, again.sync_run.source) == ("eq_bad_date", "rerun")

    # The list shows what became of each.
    expect(row(rejected["eq_orphan"]).locator("td.field-rerun_outcome")).to_contain_text(
        "created (sync run #"
    )
    expect(row(rejected["eq_bad_date"]).locator("td.field-rerun_outcome")).to_contain_text(
        "rejected again: installDate"
    )
    expect(row(again.pk)).to_contain_text("eq_bad_date")
