"""threatmap/export.py: the camelCase export from stored figures and at a past date."""

import json
from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from equipment.choices import PhotoStatus
from equipment.models import Equipment, Photo
from facilities.models import Facility
from tests import factories as f
from threatmap.export import (
    REASON_NO_COORDINATES,
    REASON_NO_EQUIPMENT,
    REASON_NOT_ASSESSED,
    build_export,
)
from voltmetrics import engine
from voltmetrics.inputs import facility_records
from voltmetrics.models import FacilityAssessment
from voltmetrics.services import model_current, risk_recompute

from .conftest import run_command, walk

# --- the demo portfolio -------------------------------------------------------------------------


def test_demo_export_validates_against_the_schema(demo_portfolio, validate):
    entries, skipped = build_export()
    assert entries, "the demo portfolio should be drawable"
    validate(entries)
    ids = {e["id"] for e in entries} | {s.id for s in skipped}
    assert ids == set(
        Facility.objects.filter(deleted_at__isnull=True).values_list("external_id", flat=True)
    )
    # Round-trips through JSON unchanged (plain JSON types only).
    assert json.loads(json.dumps(entries)) == entries


def test_demo_export_has_no_nulls_and_only_interface_keys(demo_portfolio):
    entries, _ = build_export()
    nulls = [path for path, value in walk(entries) if value is None]
    assert nulls == []
    for fac in entries:
        assert fac["topThreats"] is not None
        assert len(fac["topThreats"]) <= 5
        for key in fac:
            assert key[0].islower() and "_" not in key, key


def test_demo_export_matches_the_stored_figures(demo_portfolio):
    entries, _ = build_export()
    stored = {
        a.facility.external_id: a for a in FacilityAssessment.objects.select_related("facility")
    }
    for fac in entries:
        a = stored[fac["id"]]
        assert fac["riskScore"] == a.risk_score
        assert fac["complianceStatus"] == a.compliance_status
        assert fac["equipmentCount"] == a.equipment_count
        assert fac["criticalEquipmentCount"] == a.critical_equipment_count
        assert [t["id"] for t in fac["topThreats"]] == a.payload["top_threats"]
        assert fac["equipmentRiskDistribution"] == a.payload["risk_distribution"]
        history = [h for h in a.payload["historical_risk"] if h["risk_score"] is not None]
        assert [h["month"] for h in fac.get("historicalRisk", [])] == [
            h["month"] for h in history if h["equipment_age"] is not None
        ]


def test_stored_export_runs_a_bounded_number_of_queries(demo_portfolio):
    with CaptureQueriesContext(connection) as few:
        entries, _ = build_export()
    assert entries
    # Three more facilities, with equipment and threats: the query count stays the same.
    rec = [f.facility(name=f"More {i}") for i in range(3)]
    eq = [
        f.equipment(r["id"], installDate="1960-01-01", loadPercent=110,
                    conductors=[{"id": f"c{i}", "material": "AL", "connectionType": "crimped"}])
        for i, r in enumerate(rec)
    ]  # fmt: skip
    from condoit.files import import_file  # noqa: PLC0415

    path = demo_portfolio.parent / "more.json"
    path.write_text(json.dumps({"exportedAt": f.TS, "facilities": rec, "equipment": eq,
                                "maintenanceRecords": []}))  # fmt: skip
    import_file(path)
    risk_recompute()
    with CaptureQueriesContext(connection) as more:
        entries2, _ = build_export()
    assert len(entries2) == len(entries) + 3
    assert len(more.captured_queries) == len(few.captured_queries) <= 6


# --- omission rules on hand-made records --------------------------------------------------------


@pytest.fixture
def world(import_doc):
    alpha = f.facility(
        id="fac_alpha", name="Alpha", contractor=None, environment=None,
        lastInspectionDate=None, arcFlashStudyDate=None, infraredScanDate=None,
    )  # fmt: skip
    for k in ("contractor", "environment", "lastInspectionDate", "arcFlashStudyDate",
              "infraredScanDate"):  # fmt: skip
        alpha.pop(k)
    old_al = f.equipment(
        "fac_alpha", id="eq_old_al", name="Old Aluminum", installDate="1960-01-01",
        conductors=[{"id": "c1", "material": "AL", "connectionType": "crimped"}],
        observations=None, loadPercent=110,
    )  # fmt: skip
    old_al.pop("observations")
    mixed = f.equipment(
        "fac_alpha", id="eq_mixed", name="Mixed Unknown Age", loadPercent=110,
        conductors=[
            {"id": "c2", "material": "AL", "connectionType": "crimped", "alCuTransition": True},
            {"id": "c3", "material": "CU", "connectionType": "lug"},
        ],
        observations={"corrosion": "severe", "rust": "moderate", "wear": "severe",
                      "operatingTempC": 78.4, "clearanceIssue": True},
    )  # fmt: skip
    mixed.pop("installDate")
    unknown = f.equipment(
        "fac_alpha", id="eq_unknown", name="Unknown Conductors", installDate="1960-01-01",
        conductors=[], loadPercent=110,
        observations={"corrosion": "none", "rust": "none", "wear": "none", "operatingTempC": 41},
    )  # fmt: skip
    fixes = [
        f.maintenance("eq_old_al", id="mr_fix", type="corrective", performedAt="2000-01-01T10:00:00Z"),
        f.maintenance("eq_old_al", id="mr_em", type="emergency", performedAt="2001-01-01T10:00:00Z"),
        f.maintenance("eq_old_al", id="mr_pm", type="preventive", performedAt="2002-01-01T10:00:00Z"),
    ]  # fmt: skip
    bravo = f.facility(id="fac_bravo", name="Bravo")
    bravo.pop("latitude"), bravo.pop("longitude")
    bravo_eq = f.equipment("fac_bravo", id="eq_bravo")
    charlie = f.facility(id="fac_charlie", name="Charlie")
    import_doc(
        facilities=[alpha, bravo, charlie],
        equipment=[old_al, mixed, unknown, bravo_eq],
        maintenance=fixes,
    )
    risk_recompute()


def _by_id(entries):
    return {e["id"]: e for e in entries}


def test_left_out_facilities_are_reported(world):
    entries, skipped = build_export()
    assert [e["id"] for e in entries] == ["fac_alpha"]
    assert [s.to_dict() for s in skipped] == [
        {"id": "fac_bravo", "name": "Bravo", "reason": REASON_NO_COORDINATES},
        {"id": "fac_charlie", "name": "Charlie", "reason": REASON_NO_EQUIPMENT},
    ]


def test_facility_not_assessed_yet_is_reported(world, import_doc):
    import_doc(facilities=[f.facility(id="fac_delta", name="Delta")],
               equipment=[f.equipment("fac_delta")])  # fmt: skip
    _, skipped = build_export()
    assert {"id": "fac_delta", "name": "Delta", "reason": REASON_NOT_ASSESSED} in [
        s.to_dict() for s in skipped
    ]


def test_optional_keys_are_omitted_and_required_strings_are_empty(world, validate):
    entries, _ = build_export()
    validate(entries)
    alpha = _by_id(entries)["fac_alpha"]
    assert alpha["contractor"] == ""
    assert alpha["lastInspection"] == ""
    for key in ("lastArcFlashAnalysis", "lastInfraredScan", "humidityRisk"):
        assert key not in alpha
    assert alpha["coordinates"] == {"lat": 39.78, "lng": -89.65}
    assert alpha["facilityAge"] == engine.round_half_up(alpha["facilityAge"])
    threats = _by_id(alpha["topThreats"])
    assert set(threats) == {"eq_old_al", "eq_mixed", "eq_unknown"}

    old = threats["eq_old_al"]
    assert old["conductorMaterial"] == "Aluminum"
    assert old["interventionCount"] == 2  # corrective + emergency, not preventive
    assert old["lastService"] == "2002-01-01"
    assert old["installDate"] == "1960-01-01"
    assert old["location"] == "Building 1, Electrical Room 3"
    assert old["type"] == "Panel"
    for key in ("temperature", "rustLevel", "corrosionLevel", "clearanceIssue", "photo"):
        assert key not in old, key

    mixed = threats["eq_mixed"]
    assert mixed["conductorMaterial"] == "Aluminum"  # mixed counts as aluminum
    assert mixed["installDate"] == ""
    assert mixed["lastService"] == ""
    assert mixed["interventionCount"] == 0
    assert mixed["temperature"] == "78.4°C"
    assert mixed["rustLevel"] == "Moderate"
    assert mixed["corrosionLevel"] == "Severe"
    assert mixed["clearanceIssue"] is True

    unknown = threats["eq_unknown"]
    assert "conductorMaterial" not in unknown
    assert unknown["temperature"] == "41°C"
    assert unknown["rustLevel"] == "None"
    assert "clearanceIssue" not in unknown
    assert [p for p, v in walk(entries) if v is None] == []


def test_copper_and_a_photo(world, settings, tmp_path):
    settings.PUBLIC_BASE_URL = "https://masterbus.example"
    eq = Equipment.objects.get(external_id="eq_unknown")
    Photo.objects.create(
        external_id="ph_old", equipment=eq, url="https://p.example/1.jpg",
        taken_at="2024-01-01T00:00:00Z", status=PhotoStatus.FETCHED,
        image="photos/a.jpg", thumbnail="photos/thumbs/a.jpg",
    )  # fmt: skip
    Photo.objects.create(
        external_id="ph_new", equipment=eq, url="https://p.example/2.jpg",
        taken_at="2024-06-01T00:00:00Z", status=PhotoStatus.FETCHED,
        image="photos/b.jpg", thumbnail="photos/thumbs/b.jpg",
    )  # fmt: skip
    Photo.objects.create(  # newer but not fetched: not shown
        external_id="ph_pending", equipment=eq, url="https://p.example/3.jpg",
        taken_at="2024-09-01T00:00:00Z",
    )  # fmt: skip
    from equipment.photo_urls import photo_signed_url  # noqa: PLC0415

    entries, _ = build_export(photo_url=photo_signed_url)
    threat = _by_id(_by_id(entries)["fac_alpha"]["topThreats"])["eq_unknown"]
    assert threat["photo"].startswith(
        "https://masterbus.example/api/v1/photos/ph_new/thumbnail?exp="
    )
    assert "&sig=" in threat["photo"]
    # Without a way to make absolute URLs the key is omitted, not null.
    entries, _ = build_export()
    threat = _by_id(_by_id(entries)["fac_alpha"]["topThreats"])["eq_unknown"]
    assert "photo" not in threat


# --- --as-of ----------------------------------------------------------------------------------


@pytest.fixture
def lapsing(import_doc):
    """A facility whose only maintenance was in March 2024: fresh then, long lapsed today."""
    fac = f.facility(
        id="fac_lapse", name="Lapse", infraredScanDate="2024-02-01",
        lastInspectionDate="2024-06-01T10:00:00Z",
        environment={"humidityAvg": 85, "temperatureAvgF": 96, "outdoorExposure": "severe"},
    )  # fmt: skip
    panel = f.equipment("fac_lapse", id="eq_lp", name="Panel LP", installDate="2004-01-01",
                        loadPercent=95)  # fmt: skip
    xfmr = f.equipment(
        "fac_lapse", id="eq_tx", name="TX Old", equipmentClass="Transformer",
        installDate="1970-01-01",
        conductors=[{"id": "cx", "material": "AL", "connectionType": "crimped"}],
        loadPercent=100,
        observations={"corrosion": "severe", "rust": "severe", "wear": "severe"},
    )  # fmt: skip
    later = f.equipment(
        "fac_lapse", id="eq_later", name="Installed Later", installDate="2024-08-01"
    )
    mr = [
        f.maintenance("eq_lp", id="mr_lp", performedAt="2024-03-01T09:00:00Z"),
        f.maintenance("eq_tx", id="mr_tx", performedAt="2024-03-02T09:00:00Z"),
        f.maintenance("eq_tx", id="mr_tx2", type="emergency", performedAt="2024-07-01T09:00:00Z"),
    ]
    import_doc(facilities=[fac], equipment=[panel, xfmr, later], maintenance=mr)
    risk_recompute()


AS_OF = date(2024, 4, 30)


def _independent(as_of):
    (batch,) = list(facility_records(facility_pks=Facility.objects.values_list("pk", flat=True)))
    (rec,) = [r for r in batch if r.facility.id == "fac_lapse"]
    model = model_current()
    return engine.assess_facility(rec.facility, model, as_of), engine.facility_history(
        rec.facility, model, as_of
    )


def test_as_of_reproduces_the_engine_at_a_past_date(lapsing, validate):
    entries, skipped = build_export(as_of=AS_OF)
    validate(entries)
    assert skipped == []
    (fac,) = entries
    fr, history = _independent(AS_OF)
    assert fac["riskScore"] == fr.risk_score
    assert fac["complianceStatus"] == fr.compliance.status
    assert fac["equipmentCount"] == fr.equipment_count == 2  # eq_later not installed yet
    assert [t["id"] for t in fac["topThreats"]] == fr.top_threats
    assert [h["month"] for h in fac["historicalRisk"]][-1] == "Apr 2024"
    assert [h["riskScore"] for h in fac["historicalRisk"]] == [
        h["risk_score"] for h in history if h["risk_score"] is not None
    ]
    # Dates after the as-of date were not known then.
    assert fac["lastInspection"] == ""
    assert fac["lastInfraredScan"] == "2024-02-01"
    tx = _by_id(fac["topThreats"])["eq_tx"]
    assert tx["riskRating"] == fr.equipment_results["eq_tx"].rating
    assert tx["lastService"] == "2024-03-02"
    assert tx["interventionCount"] == 0  # the emergency call came in July
    assert tx["type"] == "Transformer"

    today, _ = build_export()
    (now,) = today
    assert now["riskScore"] != fac["riskScore"]  # maintenance has lapsed since
    assert now["riskScore"] > fac["riskScore"]
    assert now["equipmentCount"] == 3
    assert now["lastInspection"] == "2024-06-01"
    tx_now = _by_id(now["topThreats"])["eq_tx"]
    assert tx_now["interventionCount"] == 1
    assert tx_now["lastService"] == "2024-07-01"


def test_as_of_is_reproducible(lapsing):
    assert build_export(as_of=AS_OF) == build_export(as_of=AS_OF)


def test_command_as_of_writes_the_same(lapsing, tmp_path):
    out = tmp_path / "tm.json"
    stdout, _ = run_command("--out", str(out), "--as-of", AS_OF.isoformat())
    assert json.loads(out.read_text()) == build_export(as_of=AS_OF)[0]
    assert "Exported 1 facilities" in stdout
    assert "as of 2024-04-30" in stdout
