"""GET /facilities/{id}/compliance, /facilities/{id}/risks and /portfolio/summary."""

import pytest

from threatmap import serializers as ser
from voltmetrics.models import EquipmentAssessment, FacilityAssessment, PortfolioAssessment

from .shapes import check

pytestmark = pytest.mark.django_db


def fa(ext):
    return FacilityAssessment.objects.get(facility__external_id=ext, source="local")


@pytest.mark.parametrize("slash", ["", "/"])
def test_compliance_shape_and_figures(client, world, slash):
    r = client.get(f"/api/v1/facilities/fac_zeta/compliance{slash}")
    assert r.status_code == 200
    body = r.json()
    check(ser.FacilityComplianceSerializer(), body)
    c = fa("fac_zeta").payload["compliance"]
    assert body["facility_id"] == "fac_zeta" and body["facility_name"] == "Zeta Works"
    assert body["compliance_summary"] == {
        "overall_compliance": c["overall"],
        "nfpa_70b_compliance": c["nfpa_70b"],
        "nfpa_70e_compliance": c["nfpa_70e"],
        "compliance_status": c["status"],
    }
    assert body["nfpa_70b"]["equipment_counts"] == c["nfpa_70b_counts"]
    assert body["nfpa_70b"]["inspection_status"] == c["inspection_status"]
    assert body["nfpa_70e"]["arc_flash_study"] == {
        "last_study_date": "2023-05-01", "next_study_due": "2028-05-01", "status": "current",
    }  # fmt: skip
    # Hand-checked §5: 2 of 3 labelled, study current → round(0.7·100 + 0.3·66.67) = 90.
    assert body["nfpa_70e"]["arc_flash_label_status"] == {"present": 2, "missing": 1}
    assert body["nfpa_70e"]["compliance_percentage"] == 90
    due = body["nfpa_70b"]["next_inspections_due"]
    assert len(due) == 3
    # Overdue first, most days overdue first, then the soonest due; 0 for not yet due.
    overdue = [d for d in due if d["days_overdue"] > 0]
    assert due[: len(overdue)] == overdue
    assert [d["days_overdue"] for d in overdue] == sorted(
        (d["days_overdue"] for d in overdue), reverse=True
    )
    assert [d["due_date"] for d in due] == sorted(d["due_date"] for d in due)
    stored = {d["equipment_id"]: d for d in c["next_inspections_due"]}
    for d in due:
        assert d["due_date"] == stored[d["equipment_id"]]["due_date"]
        assert d["days_overdue"] == stored[d["equipment_id"]]["days_overdue"]


def test_never_maintained_unknown_install_is_due_now(client, world):
    body = client.get("/api/v1/facilities/fac_beta/compliance").json()
    check(ser.FacilityComplianceSerializer(), body)
    as_of = fa("fac_beta").as_of.isoformat()
    assert body["nfpa_70b"]["next_inspections_due"] == [
        {
            "equipment_id": "eq_b1",
            "equipment_name": "Gear 1",
            "equipment_type": "switchgear",
            "due_date": as_of,
            "days_overdue": 0,
        }
    ]
    assert body["nfpa_70b"]["inspection_status"]["overdue"] == 1
    assert body["nfpa_70e"]["arc_flash_study"]["status"] == "expired"  # 2015 + 5 < today


@pytest.mark.parametrize("slash", ["", "/"])
def test_risks_shape_and_figures(client, world, slash):
    r = client.get(f"/api/v1/facilities/fac_zeta/risks{slash}")
    assert r.status_code == 200
    body = r.json()
    check(ser.FacilityRisksSerializer(), body)
    stored = fa("fac_zeta")
    p = stored.payload
    dist = p["risk_distribution"]
    assert body["risk_summary"] == {
        "risk_score": stored.risk_score,
        "risk_level": stored.risk_level,
        "critical_risk_equipment_count": dist["critical"],
        "high_risk_equipment_count": dist["high"],
        "medium_risk_equipment_count": dist["medium"],
        "low_risk_equipment_count": dist["low"],
    }
    assert body["risk_categories"] == p["risk_categories"]
    assert [c["category"] for c in body["risk_categories"]] == [
        "age", "material", "maintenance", "environmental", "loading", "condition",
    ]  # fmt: skip
    assert body["historical_trend"] == p["historical_risk"] and len(body["historical_trend"]) == 6
    assert body["forecast"] == p["forecast"] and len(body["forecast"]) == 3
    items = body["high_risk_items"]
    assert [i["equipment_id"] for i in items] == p["high_risk_items"]
    assert all(i["risk_level"] in ("High", "Critical") for i in items)
    assert [i["risk_score"] for i in items] == sorted(
        (i["risk_score"] for i in items), reverse=True
    )
    tx = next(i for i in items if i["equipment_id"] == "eq_z2")
    a = EquipmentAssessment.objects.get(equipment__external_id="eq_z2", served=True)
    assert tx == {
        "equipment_id": "eq_z2", "equipment_name": "TX-1", "equipment_type": "transformer",
        "risk_level": a.rating, "risk_score": a.risk_score,
        "primary_risk_factor": a.primary_risk_factor, "location": "Main, Vault",
    }  # fmt: skip
    actions = body["risk_recommendation"]["priority_actions"]
    assert actions == p["recommendations"]
    assert any(x["action"] == "Update arc flash labels on 1 item" for x in actions)


@pytest.mark.parametrize("slash", ["", "/"])
def test_portfolio_shape_and_figures(client, world, slash):
    r = client.get(f"/api/v1/portfolio/summary{slash}")
    assert r.status_code == 200
    body = r.json()
    check(ser.PortfolioSummarySerializer(), body)
    p = PortfolioAssessment.objects.get(source="local").payload
    assert body["total_facilities"] == 3  # Gone Depot is soft-deleted
    assert body["total_equipment"] == 6 == p["total_equipment"]
    assert body["risk_overview"] == p["risk_overview"]
    assert body["compliance_overview"] == p["compliance_overview"]
    assert body["risk_trends"] == p["risk_trends"] and len(body["risk_trends"]) == 6
    assert body["highest_risk_facilities"] == p["highest_risk_facilities"]
    assert {h["location"] for h in body["highest_risk_facilities"]} >= {"Springfield, IL"}
    # Hand-checked §7: the mean of the three facility scores.
    scores = [fa(x).risk_score for x in ("fac_zeta", "fac_alpha", "fac_beta")]
    assert body["risk_overview"]["average_risk_score"] == int(sum(scores) / 3 + 0.5)


def test_portfolio_before_any_recompute(client, db):
    body = client.get("/api/v1/portfolio/summary").json()
    check(ser.PortfolioSummarySerializer(), body)
    assert body["total_facilities"] == 0 and body["risk_trends"] == []
