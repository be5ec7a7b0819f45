"""GET /facilities/{id}/equipment and GET /equipment/{id}."""

import pytest

from equipment.choices import PhotoStatus
from equipment.models import Photo
from threatmap import serializers as ser
from voltmetrics.models import EquipmentAssessment

from .shapes import check

pytestmark = pytest.mark.django_db


def ea(ext):
    return EquipmentAssessment.objects.get(equipment__external_id=ext, served=True)


@pytest.mark.parametrize("slash", ["", "/"])
def test_list_shape_and_figures(client, world, slash):
    r = client.get(f"/api/v1/facilities/fac_zeta/equipment{slash}")
    assert r.status_code == 200
    body = r.json()
    check(ser.EquipmentListSerializer(), body)
    assert (body["total"], body["page"], body["limit"]) == (3, 1, 50)
    items = {e["id"]: e for e in body["equipment"]}
    assert set(items) == {"eq_z1", "eq_z2", "eq_z3"}

    z1 = items["eq_z1"]
    assert z1["type"] == "panel"
    assert z1["location"] == "Building 1, Electrical Room 3"
    assert z1["install_date"] == "2010-05-01"
    # Corrective (2024-09-01 23:30-05:00) + emergency; the deleted corrective one is not counted.
    assert z1["intervention_count"] == 2
    assert z1["last_service"] == "2024-09-02"  # UTC date of 2024-09-02T04:30Z
    assert z1["conductor_material"] == "Copper"
    assert z1["rust_level"] == "Minimal" and z1["corrosion_level"] == "None"
    assert z1["temperature"] is None and z1["clearance_issue"] is None
    assert z1["photo_url"] is None

    z2 = items["eq_z2"]
    stored = ea("eq_z2")
    assert z2["risk_score"] == stored.risk_score and z2["risk_rating"] == stored.rating
    assert z2["risk_factors"] == [
        {k: f[k] for k in ("factor", "score", "weight", "description")} for f in stored.factors
    ]
    assert z2["temperature"] == "78°C"
    assert z2["rust_level"] == "Moderate" and z2["corrosion_level"] == "Severe"
    assert z2["condition"] == "Poor"  # the inspector's overallCondition
    assert z2["conductor_material"] == "Aluminum"
    assert z2["clearance_issue"] is True
    assert z2["data_gaps"] == stored.data_gaps
    # Hand-checked: a transformer installed 1970 is past its 25-year life → age factor 100.
    assert next(f for f in z2["risk_factors"] if f["factor"] == "age")["score"] == 100
    assert items["eq_z3"]["conductor_material"] == "Mixed"  # an Al/Cu transition


def test_unknown_material_is_null(client, world):
    body = client.get("/api/v1/facilities/fac_alpha/equipment").json()
    a2 = next(e for e in body["equipment"] if e["id"] == "eq_a2")
    assert a2["conductor_material"] is None
    assert a2["install_date"] is None
    assert "install_date" in a2["data_gaps"] and "conductors" in a2["data_gaps"]


def test_photo_url_is_the_newest_fetched_thumbnail(client, world):
    Photo.objects.filter(external_id__in=["ph_old", "ph_new"]).update(status=PhotoStatus.FETCHED)
    body = client.get("/api/v1/facilities/fac_zeta/equipment").json()
    url = next(e for e in body["equipment"] if e["id"] == "eq_z2")["photo_url"]
    assert url.startswith("http://testserver/api/v1/photos/ph_new/thumbnail?exp=")
    assert "&sig=" in url
    # The signed URL really loads the thumbnail route (not 403 for the signature).
    assert client.get(url.removeprefix("http://testserver")).status_code != 403


def test_detail_shape_and_figures(client, world):
    Photo.objects.filter(external_id="ph_new").update(status=PhotoStatus.FETCHED)
    for path in ("/api/v1/equipment/eq_z2", "/api/v1/equipment/eq_z2/"):
        r = client.get(path)
        assert r.status_code == 200
        body = r.json()
        check(ser.EquipmentDetailSerializer(), body)
    stored = ea("eq_z2")
    local = EquipmentAssessment.objects.get(equipment__external_id="eq_z2", source="local")
    assert body["manufacturer"] == "Eaton" and body["model"] == "NQOD"
    assert body["location"] == {
        "facility_id": "fac_zeta",
        "facility_name": "Zeta Works",
        "building": "Main",
        "room": "Vault",
        "coordinates": None,
    }
    assert body["specifications"] == {
        "voltage": "480V", "amperage": 800, "phases": 3, "main_disconnect_rating": 800,
    }  # fmt: skip
    assert body["fed_from"] is None
    assert body["feeds"] == [{"id": "eq_z3", "name": "MCC-1"}]
    assert [p["id"] for p in body["photos"]] == ["ph_new", "ph_old"]  # newest first
    new, old = body["photos"]
    assert new["thumbnail_url"].startswith("http://testserver/api/v1/photos/ph_new/thumbnail?")
    assert new["url"].startswith("http://testserver/api/v1/photos/ph_new?exp=")
    assert new["taken_at"] == "2024-01-01T00:00:00Z" and new["caption"] == "new"
    assert old["url"] is None and old["thumbnail_url"] is None  # not fetched
    ra = body["risk_assessment"]
    assert ra["risk_score"] == stored.risk_score and ra["risk_rating"] == stored.rating
    assert ra["critical_threat"] is stored.critical_threat
    assert ra["primary_risk_factor"] == stored.primary_risk_factor
    assert ra["source"] == "local" and ra["algorithm_version"] == "1.0"
    assert ra["assessed_at"] == stored.computed_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ra["temperature"] == "78°C" and ra["condition"] == "Poor"
    c = body["compliance"]
    assert c["nfpa_70b"] == {
        "compliant": local.nfpa_70b["compliant"],
        "compliance_percentage": local.nfpa_70b["compliance_percentage"],
        "next_inspection_due": local.nfpa_70b["next_due"],
        "maintenance_status": local.nfpa_70b["status"],
        "last_inspection": "2015-06-01",
    }
    # No label → 70E not compliant; study 2023-05-01 is current: round(0.7·100 + 0) = 70.
    assert c["nfpa_70e"] == {
        "compliant": False,
        "compliance_percentage": 70,
        "arc_flash_label_present": False,
        "ppe_requirements": None,
        "incident_energy": None,
        "last_assessment": "2023-05-01",
    }
    assert body["created_at"] == "2025-01-01T00:00:00Z"


def test_detail_links_history_and_ppe(client, world):
    z3 = client.get("/api/v1/equipment/eq_z3").json()
    assert z3["fed_from"] == {"id": "eq_z2", "name": "TX-1"}
    z1 = client.get("/api/v1/equipment/eq_z1").json()
    check(ser.EquipmentDetailSerializer(), z1)
    assert [h["id"] for h in z1["service_history"]] == ["mr_z1b", "mr_z1a", "mr_z1c"]
    b, a, c = z1["service_history"]
    assert b == {
        "id": "mr_z1b", "type": "corrective", "date": "2024-09-02", "technician": "J. Doe",
        "notes": "Actions taken: replaced breaker",
    }  # fmt: skip
    assert a["notes"] == "Findings: loose lug\nActions taken: torqued"
    e70 = z1["compliance"]["nfpa_70e"]
    assert e70["ppe_requirements"] == "Category 2" and e70["incident_energy"] == 4.2
    assert e70["arc_flash_label_present"] is True and e70["compliance_percentage"] == 100
