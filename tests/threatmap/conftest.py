"""A small portfolio imported through the real Condoit import path and recomputed in-process."""

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from tests import factories as f
from voltmetrics.services import risk_recompute

T_OLD = "2025-01-01T00:00:00Z"


@pytest.fixture
def client(db):
    user = get_user_model().objects.create_user("reader", password="x")
    c = APIClient()
    c.force_authenticate(user)
    return c


def build_records():
    """Zeta Works (uppercase Z), alpha plant (lowercase), Beta Yard (no coordinates, one
    equipment with unknown install date and no maintenance), Gone Depot (soft-deleted)."""
    zeta = f.facility(id="fac_zeta", name="Zeta Works", contractor={"name": "Volt Bros"},
                      address={"street": "1 Elm St", "city": "Springfield", "state": "IL",
                               "zip": "62701"})  # fmt: skip
    alpha = f.facility(
        id="fac_alpha", name="alpha plant",
        address={"street": "9 Harbor Rd", "city": "Portland", "state": "OR", "zip": "97203"},
        environment={"humidityAvg": 70, "temperatureAvgF": 85, "outdoorExposure": "severe"},
        contractor={"name": "Sparky Electric"},
    )  # fmt: skip
    beta = f.facility(id="fac_beta", name="Beta Yard", latitude=None, longitude=None,
                      arcFlashStudyDate="2015-01-01")  # fmt: skip
    gone = f.facility(id="fac_gone", name="Gone Depot", deletedAt="2025-02-01T00:00:00Z")
    eq = [
        f.equipment("fac_zeta", id="eq_z1", name="Panel A", installDate="2010-05-01"),
        f.equipment(
            "fac_zeta", id="eq_z2", name="TX-1", equipmentClass="Transformer",
            installDate="1970-06-01", manufacturer="Eaton", building="Main", room="Vault",
            conductors=[{"id": "cd_z2", "material": "AL", "size": "500",
                         "connectionType": "crimped"}],
            observations={"corrosion": "severe", "rust": "moderate", "wear": "severe",
                          "heatDiscoloration": True, "clearanceIssue": True,
                          "operatingTempC": 78, "overallCondition": "Poor"},
            loadPercent=95, servesCriticalLoad=True,
            arcFlashLabel={"present": False},
            specs={"voltage": "480V", "amperage": 800, "phases": 3, "mainDisconnectRating": 800},
            photos=[{"id": "ph_old", "url": "https://photos.example/old.jpg", "caption": "old",
                     "takenAt": "2023-01-01T00:00:00Z"},
                    {"id": "ph_new", "url": "https://photos.example/new.jpg", "caption": "new",
                     "takenAt": "2024-01-01T00:00:00Z"}],
        ),
        f.equipment("fac_zeta", id="eq_z3", name="MCC-1", equipmentClass="Motor Control Center",
                    installDate="1985-01-01", feedsFromId="eq_z2",
                    conductors=[{"id": "cd_z3", "material": "CU", "size": "2",
                                 "connectionType": "lug", "alCuTransition": True}]),
        f.equipment("fac_alpha", id="eq_a1", name="panel b", installDate="1975-01-01",
                    observations={"corrosion": "moderate", "rust": "severe", "wear": "minimal"}),
        f.equipment("fac_alpha", id="eq_a2", name="Panel C", installDate=None,
                    observations=None, conductors=[]),
        f.equipment("fac_beta", id="eq_b1", name="Gear 1", equipmentClass="Switchgear",
                    installDate=None, conductors=[]),
        f.equipment("fac_zeta", id="eq_zdel", name="Deleted Panel",
                    deletedAt="2025-02-01T00:00:00Z"),
    ]  # fmt: skip
    mr = [
        f.maintenance("eq_z1", id="mr_z1a", performedAt="2024-03-01T09:00:00Z",
                      findings="loose lug", actionsTaken="torqued"),
        f.maintenance("eq_z1", id="mr_z1b", type="corrective", performedAt="2024-09-01T23:30:00-05:00",
                      findings="", actionsTaken="replaced breaker"),
        f.maintenance("eq_z1", id="mr_z1c", type="emergency", performedAt="2023-01-01T09:00:00Z"),
        f.maintenance("eq_z1", id="mr_z1d", type="corrective", performedAt="2022-01-01T09:00:00Z",
                      deletedAt="2025-01-02T00:00:00Z"),
        f.maintenance("eq_z2", id="mr_z2", type="inspection", performedAt="2015-06-01T09:00:00Z"),
    ]  # fmt: skip
    return {"facilities": [zeta, alpha, beta, gone], "equipment": eq, "maintenance": mr}


@pytest.fixture
def records():
    return build_records()


@pytest.fixture
def world(db, import_export, records):
    import_export(**records)
    risk_recompute()
    return records
