"""The facility at highest risk, opened from the dashboard: its page shows the stored served
assessment, the same figures ThreatMap's API answers, and a chart of its history and forecast
whose numbers are the stored ones."""

import re

from playwright.sync_api import expect

from masterbus.services import api_key_create
from voltmetrics.choices import Source
from voltmetrics.models import FacilityAssessment

from .conftest import BROWSER_TEST

pytestmark = BROWSER_TEST


def pct(value) -> str:
    return "—" if value is None else f"{value}%"


def test_the_highest_risk_facilitys_page(admin_page, portfolio):
    page = admin_page
    stored = (
        FacilityAssessment.objects.filter(source=Source.LOCAL, equipment_count__gt=0)
        .select_related("facility")
        .order_by("-risk_score")
        .first()
    )
    facility = stored.facility
    assert stored.risk_score is not None and stored.risk_level

    # ThreatMap's view of it, over HTTP from the live server, with a key of its own.
    _, raw = api_key_create(name="browser test", scopes=["threatmap:read"])
    headers = {"X-API-Key": raw}
    response = page.request.get(f"/api/v1/facilities/{facility.external_id}", headers=headers)
    assert response.status == 200, response.text()
    detail = response.json()
    response = page.request.get(
        f"/api/v1/facilities/{facility.external_id}/compliance", headers=headers
    )
    assert response.status == 200, response.text()
    summary = response.json()["compliance_summary"]

    # From the dashboard's first highest-risk facility to its page.
    page.goto("/admin/")  # the portfolio was computed after the fixture's first visit
    top = page.locator("#console-top tbody tr.console-top-facility").first
    expect(top.locator("th")).to_have_text(facility.name)
    top.get_by_role("link", name=facility.name).click()
    expect(page).to_have_url(re.compile(rf"/admin/facilities/facility/{facility.pk}/change/$"))

    panel = page.locator(".mb-risk-panel")
    headline = panel.locator(".mb-risk-headline")
    expect(headline.locator(".mb-risk-score")).to_have_text(str(stored.risk_score))
    expect(headline.locator(".mb-risk-badge")).to_have_text(stored.risk_level)
    assert (detail["risk_score"], detail["risk_level"]) == (stored.risk_score, stored.risk_level)
    expect(headline).to_contain_text(f"{stored.equipment_count} counted equipment")
    expect(headline).to_contain_text(f"{detail['critical_equipment_count']} critical threat")

    # Compliance: the stored figures, the API's.
    rows = panel.locator("table.mb-risk-compliance tbody tr")
    compliance = {
        rows.nth(i).locator("th").inner_text(): rows.nth(i).locator("td").all_inner_texts()
        for i in range(rows.count())
    }
    assert summary["overall_compliance"] == stored.overall_compliance
    assert summary["compliance_status"] == detail["compliance_status"] == stored.compliance_status
    assert compliance["NFPA 70B (maintenance)"][0] == pct(summary["nfpa_70b_compliance"])
    assert compliance["NFPA 70E (arc flash)"][0] == pct(summary["nfpa_70e_compliance"])
    assert compliance["Overall"] == [pct(stored.overall_compliance), stored.compliance_status]

    # The chart: an inline SVG, its numbers in text equal to the stored history and forecast.
    history = [(h["month"], h["risk_score"]) for h in stored.payload["historical_risk"]]
    forecast = [(f["month"], f["risk_score"]) for f in stored.payload["forecast"]]
    assert (detail["historical_risk"], detail["forecast"]) == (
        stored.payload["historical_risk"],
        stored.payload["forecast"],
    )
    assert len(history) == 6 and len(forecast) == 3
    chart = panel.locator("figure.mb-line-chart")
    expect(chart.locator("svg[role=img]")).to_be_visible()
    expect(chart.locator("svg path.mb-history")).to_have_count(1)
    expect(chart.locator("svg path.mb-forecast")).to_have_count(1)
    numbers = chart.locator("table.mb-chart-numbers tr").filter(has=page.locator("td"))
    shown = [
        tuple(r)
        for r in (numbers.nth(i).locator("td").all_inner_texts() for i in range(numbers.count()))
    ]
    expected = [(m, "no data" if v is None else str(v)) for m, v in history] + [
        (f"{m} (forecast)", "no data" if v is None else str(v)) for m, v in forecast
    ]
    assert shown == expected
    # The values drawn in the SVG are those numbers too.
    drawn = chart.locator("svg text.mb-value").all_text_contents()
    assert drawn == [str(v) for _, v in history + forecast if v is not None]
