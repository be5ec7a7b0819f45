"""Risk on the facility and equipment change pages: the served figures, equal to the stored
assessments and to what the API serves; nothing computed yet; odd stored payloads."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from rest_framework.test import APIClient

from voltmetrics.choices import Source
from voltmetrics.models import EquipmentAssessment, FacilityAssessment

from .risk_fixtures import VM_FACTORS, Panel, build_risk_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def risk_world(db, import_export):
    return build_risk_world(import_export)


@pytest.fixture
def api(db):
    c = APIClient()
    c.force_authenticate(get_user_model().objects.create_user("reader", password="x"))
    return c


def page(client, obj) -> Panel:
    name = f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change"
    response = client.get(reverse(name, args=[obj.pk]))
    assert response.status_code == 200
    html = response.text
    start = html.index('<div class="mb-risk-panel">')
    return Panel(html[start:])


def pct(value) -> str:
    return "—" if value is None else f"{value}%"


# --- the facility page --------------------------------------------------------------------------


def test_facility_page_shows_the_stored_figures_and_the_apis(admin_client, api, risk_world):
    alpha = risk_world["alpha"]
    stored = FacilityAssessment.objects.get(facility=alpha, source=Source.LOCAL)
    detail = api.get(f"/api/v1/facilities/{alpha.external_id}").json()
    compliance = api.get(f"/api/v1/facilities/{alpha.external_id}/compliance").json()
    summary = compliance["compliance_summary"]
    panel = page(admin_client, alpha)

    assert stored.risk_score is not None and stored.risk_level
    assert (detail["risk_score"], detail["risk_level"]) == (stored.risk_score, stored.risk_level)
    assert f"Risk score {stored.risk_score} {stored.risk_level}" in panel.text
    assert f"{stored.equipment_count} counted equipment" in panel.text
    assert f"{detail['critical_equipment_count']} critical threat" in panel.text
    assert f"{detail['high_risk_equipment_count']} rated High" in panel.text

    rows = {r[0]: r[1:] for r in panel.rows("mb-risk-compliance")[1:]}
    assert rows["NFPA 70B (maintenance)"][0] == pct(summary["nfpa_70b_compliance"])
    assert rows["NFPA 70E (arc flash)"][0] == pct(summary["nfpa_70e_compliance"])
    assert rows["Overall"] == [pct(summary["overall_compliance"]), summary["compliance_status"]]
    assert summary["overall_compliance"] == stored.overall_compliance
    assert summary["compliance_status"] == detail["compliance_status"] == stored.compliance_status
    status = compliance["nfpa_70b"]["inspection_status"]
    assert rows["NFPA 70B (maintenance)"][1] == (
        f"{status['up_to_date']} up to date, {status['due_soon']} due soon, "
        f"{status['overdue']} overdue"
    )
    assert rows["NFPA 70E (arc flash)"][1].startswith(
        f"study {compliance['nfpa_70e']['arc_flash_study']['status']}"
    )


def test_facility_chart_numbers_equal_the_stored_history_and_forecast(
    admin_client, api, risk_world
):
    alpha = risk_world["alpha"]
    payload = FacilityAssessment.objects.get(facility=alpha, source=Source.LOCAL).payload
    detail = api.get(f"/api/v1/facilities/{alpha.external_id}").json()
    assert len(payload["historical_risk"]) == 6 and len(payload["forecast"]) == 3
    assert detail["historical_risk"] == payload["historical_risk"]
    assert detail["forecast"] == payload["forecast"]
    panel = page(admin_client, alpha)
    shown = panel.rows("mb-chart-numbers")[1:]
    expected = [[h["month"], str(h["risk_score"])] for h in payload["historical_risk"]] + [
        [f"{p['month']} (forecast)", str(p["risk_score"])] for p in payload["forecast"]
    ]
    assert shown == expected
    # The same numbers in the drawing's description, for screen readers.
    assert (
        f"{payload['forecast'][-1]['month']} (forecast): {payload['forecast'][-1]['risk_score']}"
        in (panel.text)
    )


def test_facility_top_threats_link_to_their_equipment_in_the_apis_order(
    admin_client, api, risk_world
):
    alpha = risk_world["alpha"]
    detail = api.get(f"/api/v1/facilities/{alpha.external_id}").json()
    assert detail["top_threats"], "the portfolio has High or Critical equipment"
    response = admin_client.get(reverse("admin:facilities_facility_change", args=[alpha.pk]))
    panel = Panel(response.text[response.text.index('<div class="mb-risk-panel">') :])
    rows = panel.rows("mb-risk-threats")[1:]
    assert [r[0].split()[-1] for r in rows] == [t["id"] for t in detail["top_threats"]]
    for row, threat in zip(rows, detail["top_threats"], strict=True):
        assert row[1:4] == [threat["type"], str(threat["risk_score"]), threat["risk_rating"]]
        eq = risk_world["eq"][threat["id"]]
        link = reverse("admin:equipment_equipment_change", args=[eq.pk])
        assert f'<a href="{link}">{eq.name}</a>' in response.text


def test_facility_recommendations_are_listed(admin_client, api, risk_world):
    alpha = risk_world["alpha"]
    risks = api.get(f"/api/v1/facilities/{alpha.external_id}/risks").json()
    actions = risks["risk_recommendation"]["priority_actions"]
    assert actions
    rows = page(admin_client, alpha).rows("mb-risk-recommendations")
    assert rows[0] == [
        "action", "urgency", "estimated cost", "risk reduction", "compliance gain",
        "affected equipment",
    ]  # fmt: skip
    assert rows[1:] == [
        [
            a["action"], a["urgency"], a["estimated_cost"], str(a["risk_reduction"]),
            str(a["compliance_gain"]), str(len(a["affected_equipment"])),
        ]
        for a in actions
    ]  # fmt: skip


def test_a_recommendations_affected_equipment_open_in_the_equipment_list(admin_client, risk_world):
    alpha = risk_world["alpha"]
    payload = FacilityAssessment.objects.get(facility=alpha, source=Source.LOCAL).payload
    action = max(payload["recommendations"], key=lambda a: len(a["affected_equipment"]))
    url = reverse("admin:equipment_equipment_changelist")
    response = admin_client.get(url, {"external_id__in": ",".join(action["affected_equipment"])})
    assert response.status_code == 200
    shown = {e.external_id for e in response.context["cl"].result_list}
    assert shown == set(action["affected_equipment"])


def test_a_facility_without_counted_equipment_has_figures_but_no_score(admin_client, risk_world):
    panel = page(admin_client, risk_world["gamma"])
    assert "Risk score —" in panel.text and "not rated: no counted equipment" in panel.text
    assert "None: no equipment is rated High or Critical." in panel.text


def test_nothing_computed_yet(admin_client, risk_world):
    for obj in (risk_world["delta"], risk_world["eq"]["eq_delta"]):
        panel = page(admin_client, obj)
        assert panel.text.startswith("Not computed yet")
        assert "Risk score" not in panel.text


def test_odd_stored_payloads_render_what_they_can(admin_client, risk_world):
    """A payload from an older version or a hand edit: unreadable parts are left out, never
    a 500."""
    alpha = risk_world["alpha"]
    FacilityAssessment.objects.filter(facility=alpha, source=Source.LOCAL).update(
        payload={
            "historical_risk": "junk",
            "forecast": [{"month": "Apr 2025", "risk_score": "high"}, 7],
            "top_threats": [1, None, "eq_gone"],
            "recommendations": [{"urgency": "High"}, "x"],
            "compliance": {"overall": "ninety", "study": "current"},
            "risk_categories": None,
        }
    )
    panel = page(admin_client, alpha)
    assert "Risk score" in panel.text
    assert "No figures yet." in panel.text  # the one readable month has no score
    assert "None: no equipment is rated High or Critical." in panel.text
    assert dict((r[0], r[1]) for r in panel.rows("mb-risk-compliance")[1:])["Overall"] == "—"


def test_voltmetrics_own_facility_figures_are_shown_as_comparison_only(admin_client, risk_world):
    alpha = risk_world["alpha"]
    local = FacilityAssessment.objects.get(facility=alpha, source=Source.LOCAL)
    FacilityAssessment.objects.create(
        facility=alpha, source=Source.VOLTMETRICS, algorithm_version="vm-2.1",
        as_of=local.as_of, risk_score=12, risk_level="Low", overall_compliance=99,
        computed_at=local.computed_at,
    )  # fmt: skip
    panel = page(admin_client, alpha)
    assert f"Risk score {local.risk_score}" in panel.text
    assert "stored for comparison only (not served): risk score 12 (Low)" in panel.text


# --- the equipment page -------------------------------------------------------------------------


def test_equipment_page_shows_the_served_assessment_as_the_api(admin_client, api, risk_world):
    eq = risk_world["eq"]["eq_xfmr"]
    local = EquipmentAssessment.objects.get(equipment=eq, source=Source.LOCAL)
    assert local.served and local.rating == "Critical"
    body = api.get(f"/api/v1/equipment/{eq.external_id}").json()
    risk = body["risk_assessment"]
    panel = page(admin_client, eq)

    assert f"Risk score {risk['risk_score']} {risk['risk_rating']} critical threat" in panel.text
    assert (
        f"Served to ThreatMap: Built-in engine (version {risk['algorithm_version']}, "
        f"as of {local.as_of:%Y-%m-%d}" in panel.text
    )
    factors = panel.rows("mb-risk-factors")
    assert factors[0] == ["factor", "score", "weight", "points", "description"]
    assert [(r[0].split()[0], r[1], r[2], r[4]) for r in factors[1:]] == [
        (f["factor"], str(f["score"]), str(f["weight"]), f["description"])
        for f in risk["risk_factors"]
    ]
    assert all(f["description"] for f in risk["risk_factors"])
    assert factors[1][0] == f"{risk['primary_risk_factor']} (primary)"
    # Points: weight × the unrounded factor, adding up to the score.
    points = sum(float(r[3]) for r in factors[1:])
    assert abs(points - risk["risk_score"]) <= 0.5 + 0.05 * len(factors)

    b70 = body["compliance"]["nfpa_70b"]
    rows = {r[0]: r[1] for r in panel.rows("mb-risk-compliance")}
    assert b70["maintenance_status"] == local.maintenance_status == "overdue"
    assert rows["NFPA 70B status"].startswith("Overdue")
    next_due = b70["next_inspection_due"]
    assert rows["NFPA 70B next due"].startswith(next_due or "unknown")
    assert "Built-in engine and VoltMetrics" not in panel.text  # one source only


def test_equipment_data_gaps_are_listed_with_what_they_mean(admin_client, api, risk_world):
    eq = risk_world["eq"]["eq_gaps"]
    gaps = api.get(f"/api/v1/equipment/{eq.external_id}").json()["risk_assessment"]["data_gaps"]
    assert {"install_date", "conductors", "maintenance_history"} <= set(gaps)
    panel = page(admin_client, eq)
    for gap in gaps:
        assert f"{gap}:" in panel.text
    assert "install date unknown (age factor taken as 50)" in panel.text
    rows = {r[0]: r[1] for r in panel.rows("mb-risk-compliance")}
    assert rows["NFPA 70B next due"].startswith("unknown (no maintenance and no install date)")
    assert "None: every input was known." in page(admin_client, risk_world["eq"]["eq_new"]).text


def test_an_up_to_date_equipment_shows_its_next_due_date(admin_client, risk_world):
    eq = risk_world["eq"]["eq_new"]
    local = EquipmentAssessment.objects.get(equipment=eq, source=Source.LOCAL)
    assert local.maintenance_status == "up_to_date" and local.next_due is not None
    rows = {r[0]: r[1] for r in page(admin_client, eq).rows("mb-risk-compliance")}
    assert rows["NFPA 70B status"] == "Up to date"
    assert rows["NFPA 70B next due"] == f"{local.next_due:%Y-%m-%d} every 12 months"


def test_both_sources_side_by_side_and_which_one_is_served(admin_client, api, risk_world):
    eq = risk_world["eq"]["eq_swbd"]
    local = EquipmentAssessment.objects.get(equipment=eq, source=Source.LOCAL)
    vm = EquipmentAssessment.objects.get(equipment=eq, source=Source.VOLTMETRICS)
    assert vm.served and not local.served
    risk = api.get(f"/api/v1/equipment/{eq.external_id}").json()["risk_assessment"]
    assert (risk["source"], risk["risk_score"]) == ("voltmetrics", 55)
    panel = page(admin_client, eq)

    assert "Risk score 55 Medium" in panel.text
    assert "Served to ThreatMap: VoltMetrics (version vm-2.1" in panel.text
    factors = panel.rows("mb-risk-factors")[1:]
    assert [(r[0].split()[0], r[1], r[4]) for r in factors] == [
        (f["factor"], str(f["score"]), f["description"]) for f in VM_FACTORS
    ]
    # The descriptive outputs stay the built-in engine's, as the API serves them.
    rows = {r[0]: r[1] for r in panel.rows("mb-risk-compliance")}
    assert rows["NFPA 70B status"].startswith(
        {"overdue": "Overdue", "due_soon": "Due soon", "up_to_date": "Up to date"}[
            local.maintenance_status
        ]
    )

    table = {r[0]: r[1:] for r in panel.rows("mb-risk-sources")}
    assert table[""] == ["Built-in engine", "VoltMetrics served"]
    assert table["served"] == ["no", "yes"]
    assert table["risk score"] == [str(local.risk_score), "55"]
    assert table["rating"] == [local.rating, "Medium"]
    assert table["version"] == [local.algorithm_version, "vm-2.1"]
    local_age = next(f["score"] for f in local.factors if f["factor"] == "age")
    assert table["age"] == [str(local_age), "70"]
    assert table["thermal"] == ["—", "40"]  # a factor only VoltMetrics scores
    labels = {"overdue": "Overdue", "due_soon": "Due soon", "up_to_date": "Up to date"}
    assert table["NFPA 70B status"] == [labels[local.maintenance_status], "Overdue"]


def test_change_pages_with_risk_run_a_fixed_number_of_queries(admin_client, risk_world):
    """The panels read a fixed number of rows whatever the facility holds."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from voltmetrics.services import risk_recompute

    from . import factories as af
    from .risk_fixtures import AS_OF

    alpha = risk_world["alpha"]
    eq = risk_world["eq"]["eq_swbd"]
    urls = [
        reverse("admin:facilities_facility_change", args=[alpha.pk]),
        reverse("admin:equipment_equipment_change", args=[eq.pk]),
    ]
    for url in urls:
        admin_client.get(url)

    def counts():
        out = []
        for url in urls:
            with CaptureQueriesContext(connection) as ctx:
                assert admin_client.get(url).status_code == 200
            out.append(len(ctx.captured_queries))
        return out

    before = counts()
    for i in range(20):
        old = af.equipment(
            alpha, name=f"Old Panel {i}", install_date=AS_OF.replace(year=1960), load_percent=100,
            observations={"corrosion": "severe", "rust": "severe", "wear": "severe"},
        )  # fmt: skip
        af.conductor(old, material_code="AL", material="aluminum")
    risk_recompute(as_of=AS_OF)
    payload = FacilityAssessment.objects.get(facility=alpha, source="local").payload
    assert len(payload["top_threats"]) == 5 and len(payload["recommendations"]) == 10
    assert counts() == before


def test_pages_with_figures_need_nothing_the_admins_policy_refuses(admin_client, risk_world):
    """The panels, the chart and the badges: classes only, no inline style or script."""
    from masterbus import csp

    from .test_csp import HEADER, assert_allowed_by_policy

    eq = risk_world["eq"]["eq_swbd"]  # both sources side by side
    for url in (
        reverse("admin:facilities_facility_change", args=[risk_world["alpha"].pk]),
        reverse("admin:equipment_equipment_change", args=[eq.pk]),
        reverse("admin:facilities_facility_changelist"),
        reverse("admin:equipment_equipment_changelist"),
    ):
        response = admin_client.get(url)
        assert response.status_code == 200 and response[HEADER] == csp.POLICY
        assert "mb-risk-badge" in response.text
        assert_allowed_by_policy(response, url)
