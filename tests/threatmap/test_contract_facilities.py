"""GET /facilities and GET /facilities/{id}: every field, type, enum and nullability, against
the stored assessments."""

import pytest

from equipment.choices import PhotoStatus
from equipment.models import Photo
from threatmap import serializers as ser
from voltmetrics.models import EquipmentAssessment, FacilityAssessment

from .shapes import check

pytestmark = pytest.mark.django_db


def fa(ext):
    return FacilityAssessment.objects.get(facility__external_id=ext, source="local")


@pytest.mark.parametrize("path", ["/api/v1/facilities", "/api/v1/facilities/"])
def test_list_shape_and_figures(client, world, path):
    r = client.get(path)
    assert r.status_code == 200
    assert r["Content-Type"] == "application/json; charset=utf-8"
    body = r.json()
    check(ser.FacilityListSerializer(), body)
    assert (body["total"], body["page"], body["limit"]) == (3, 1, 20)
    by_id = {f["id"]: f for f in body["facilities"]}
    assert set(by_id) == {"fac_zeta", "fac_alpha", "fac_beta"}  # the deleted one is gone
    zeta = by_id["fac_zeta"]
    stored = fa("fac_zeta")
    assert zeta["location"] == "1 Elm St, Springfield, IL 62701"
    assert zeta["coordinates"] == {"lat": 39.78, "lng": -89.65}
    assert zeta["contractor"] == "Volt Bros"
    assert zeta["last_inspection"] == "2024-06-01"  # 10:00-05:00 → 15:00Z
    assert zeta["risk_score"] == stored.risk_score
    assert zeta["risk_level"] == stored.risk_level
    assert zeta["compliance_status"] == stored.compliance_status
    assert zeta["equipment_count"] == 3  # the soft-deleted panel does not count
    assert zeta["critical_equipment_count"] == stored.critical_equipment_count
    assert zeta["high_risk_equipment_count"] == stored.high_risk_equipment_count
    assert zeta["risk_distribution"] == stored.payload["risk_distribution"]
    assert sum(zeta["risk_distribution"].values()) == 3
    # Hand-checked: the stored facility score is the importance-weighted mean (§6).
    scores = {
        a.equipment.type: a.risk_score
        for a in EquipmentAssessment.objects.filter(
            equipment__facility__external_id="fac_zeta"
        ).select_related("equipment")
    }
    weights = {"panel": 1.0, "transformer": 3.0, "mcc": 1.0}
    exact = sum(scores[t] * w for t, w in weights.items()) / sum(weights.values())
    assert zeta["risk_score"] == int(exact + 0.5)
    assert zeta["last_updated"] == stored.computed_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert by_id["fac_beta"]["coordinates"] is None


def test_detail_shape_and_figures(client, world):
    Photo.objects.filter(external_id="ph_new").update(status=PhotoStatus.FETCHED)
    for path in ("/api/v1/facilities/fac_zeta", "/api/v1/facilities/fac_zeta/"):
        r = client.get(path)
        assert r.status_code == 200
        body = r.json()
        check(ser.FacilityDetailSerializer(), body)
    stored = fa("fac_zeta").payload
    assert body["last_arc_flash_analysis"] == "2023-05-01"
    assert body["last_infrared_scan"] == "2024-02-01"
    for key in ("system_age", "facility_age", "average_equipment_risk", "humidity_risk",
                "conductor_type_breakdown", "historical_risk", "forecast"):  # fmt: skip
        assert body[key] == stored[key], key
    assert len(body["historical_risk"]) == 6 and len(body["forecast"]) == 3
    assert body["conductor_type_breakdown"] == {"copper": 1, "aluminum": 2}  # TX al, MCC mixed
    assert body["risk_factors"] == [
        {"factor": c["category"], "score": c["score"], "description": c["description"]}
        for c in stored["risk_categories"]
    ]
    assert [t["id"] for t in body["top_threats"]] == stored["top_threats"]
    assert len(body["top_threats"]) <= 5
    assert all(t["risk_rating"] in ("High", "Critical") for t in body["top_threats"])
    tx = next(t for t in body["top_threats"] if t["id"] == "eq_z2")
    assert tx["photo_url"].startswith("http://testserver/api/v1/photos/ph_new/thumbnail?exp=")


def test_facility_without_assessment_still_listed(client, db, import_export):
    from tests import factories as f

    import_export(facilities=[f.facility(id="fac_new", name="New")])
    body = client.get("/api/v1/facilities/fac_new").json()
    check(ser.FacilityDetailSerializer(), body)
    assert body["risk_score"] is None and body["equipment_count"] == 0
    assert body["risk_distribution"] == {"low": 0, "medium": 0, "high": 0, "critical": 0}


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/facilities/fac_nope",
        "/api/v1/facilities/fac_gone",
        "/api/v1/facilities/fac_gone/",
        "/api/v1/facilities/fac_gone/equipment",
        "/api/v1/facilities/fac_nope/compliance",
        "/api/v1/facilities/fac_gone/risks/",
        "/api/v1/equipment/eq_nope",
        "/api/v1/equipment/eq_zdel",
    ],
)
def test_unknown_or_deleted_is_404_envelope(client, world, path):
    r = client.get(path)
    assert r.status_code == 404
    err = r.json()["error"]
    assert err["code"] == "DATA_NOT_FOUND"
    assert set(err) == {"code", "message", "details", "request_id"}


def test_needs_credentials(world):
    from rest_framework.test import APIClient

    r = APIClient().get("/api/v1/facilities")
    assert r.status_code in (401, 403)
    assert "error" in r.json()
