"""The dashboard (the admin index) shows the database's figures: each number read from the page
equals an independent query of the database, and a link opens the list it counted."""

import re
from datetime import timedelta

from django.db.models import Avg, Count, Q
from django.db.models.functions import Lower, Trim
from django.utils import timezone
from playwright.sync_api import expect

from condoit.files import import_file
from equipment.models import Equipment
from facilities.choices import ChangeSource, RecordKind, SyncSource, SyncStatus
from facilities.models import Facility, RecordChange, RejectedRecord, SyncRun
from tests import factories as rf
from voltmetrics.choices import Source
from voltmetrics.models import FacilityAssessment

from .conftest import BROWSER_TEST

pytestmark = BROWSER_TEST


def number(text: str) -> int:
    return int(text.strip().split()[0].replace(",", ""))


def cell(page, row_id: str) -> str:
    return page.locator(f"#{row_id} td").first.inner_text()


def test_the_dashboard_numbers_are_the_databases(admin_page, portfolio, tmp_path, settings):
    settings.METRICS_CACHE_SECONDS = 0  # the figures of now, not of a cached scrape
    page = admin_page
    # A run with rejects (impossible dates), and changes waiting for the recompute.
    bad = [
        rf.equipment("fac_north", id="eq_bad_1", installDate="2024-02-30"),
        rf.equipment("fac_south", id="eq_bad_2", installDate="2024-13-01"),
    ]
    run = import_file(rf.write_export(tmp_path / "bad.json", equipment=bad))
    assert run.rejected == 2
    RecordChange.objects.bulk_create(
        RecordChange(
            kind=RecordKind.EQUIPMENT,
            external_id=e["id"],
            facility_external_id=e["facilityId"],
            source=ChangeSource.STAFF,
        )
        for e in portfolio.equipment[:3]
    )
    page.reload()
    expect(page.locator("#console-dashboard")).to_be_visible()

    # The portfolio's totals, independently counted.
    facilities = Facility.objects.filter(deleted_at__isnull=True).count()
    equipment = Equipment.objects.filter(deleted_at__isnull=True).count()
    assert (facilities, equipment) == (2, 5)
    assert number(cell(page, "pf-facilities")) == facilities
    assert number(cell(page, "pf-equipment")) == equipment

    # The average risk score: the mean of the facilities with counted equipment, half up.
    assessed = FacilityAssessment.objects.filter(
        source=Source.LOCAL, facility__deleted_at__isnull=True, equipment_count__gt=0
    )
    mean = assessed.aggregate(mean=Avg("risk_score"))["mean"]
    assert number(cell(page, "pf-average-risk-score")) == int(mean + 0.5)

    # The highest-risk facilities: names, in order of their stored scores.
    ranked = list(assessed.order_by("-risk_score").values_list("facility__name", "risk_score"))
    rows = page.locator("#console-top tbody tr.console-top-facility")
    expect(rows).to_have_count(min(5, len(ranked)))
    shown = [
        (
            rows.nth(i).locator("th").inner_text(),
            number(rows.nth(i).locator("td").nth(1).inner_text()),
        )
        for i in range(rows.count())
    ]
    assert sorted(shown, key=lambda r: (-r[1], r[0])) == shown
    assert sorted(shown) == sorted(ranked[:5])

    # Unmapped Condoit classes: "Widget Box" and "WIDGET BOX" are one key, two equipment.
    unmapped = Equipment.objects.filter(class_mapped=False).annotate(
        key=Lower(Trim("equipment_class"))
    )
    keys = set(unmapped.values_list("key", flat=True))
    assert keys == {"widget box"}
    text = cell(page, "pf-unmapped-classes")
    assert number(text) == len(keys)
    assert f"({unmapped.filter(deleted_at__isnull=True).count()} equipment typed as other)" in text

    # Pending changes for the recompute.
    pending = RecordChange.objects.filter(recomputed_at__isnull=True).count()
    assert pending >= 3
    expect(page.locator("#changes-recompute td")).to_contain_text(f"{pending:,} pending")

    # The file door's last 24 hours: runs, failures, rejects, records not re-run.
    since = timezone.now() - timedelta(hours=24)
    counts = SyncRun.objects.filter(source=SyncSource.FILE, started_at__gte=since).aggregate(
        runs=Count("pk"), failed=Count("pk", filter=Q(status=SyncStatus.FAILED))
    )
    rejected = sum(
        SyncRun.objects.filter(source=SyncSource.FILE, started_at__gte=since).values_list(
            "rejected", flat=True
        )
    )
    waiting = RejectedRecord.objects.filter(
        rerun_at__isnull=True, sync_run__source=SyncSource.FILE
    ).count()
    assert (counts["runs"], rejected, waiting) == (2, 2, 2)
    door = page.locator("#door-file td")
    assert [number(door.nth(i).inner_text()) for i in (2, 3, 4, 5)] == [
        counts["runs"],
        counts["failed"],
        rejected,
        waiting,
    ]
    assert number(page.locator("#console-rejected").inner_text()) == (
        RejectedRecord.objects.filter(rerun_at__isnull=True).count()
    )

    # The door's "not re-run" link opens the rejected records it counted.
    door.nth(5).get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"/admin/facilities/rejectedrecord/\?"))
    expect(page.locator("#result_list tbody tr")).to_have_count(waiting)
    listed = page.locator("#result_list tbody tr").all_inner_texts()
    assert sorted(r for r in ("eq_bad_1", "eq_bad_2") if any(r in row for row in listed)) == [
        "eq_bad_1",
        "eq_bad_2",
    ]

    # And the door's runs link, the runs of the last 24 hours.
    page.goto("/admin/")
    page.locator("#door-file td").nth(2).get_by_role("link").click()
    expect(page.locator("#result_list tbody tr")).to_have_count(counts["runs"])
