"""A small Condoit portfolio imported through the real import path, for the risk pipeline."""

from datetime import date

import pytest

from tests import factories as f

AS_OF = date(2025, 3, 15)
T1 = "2025-02-01T00:00:00Z"
T2 = "2025-03-01T00:00:00Z"


@pytest.fixture
def records():
    """Raw records: Alpha (a panel with maintenance, a transformer), Beta (a panel)."""
    alpha = f.facility(id="fac_alpha", name="Alpha Plant")
    beta = f.facility(
        id="fac_beta",
        name="Beta Works",
        environment={"humidityAvg": 70, "temperatureAvgF": 80, "outdoorExposure": "moderate"},
    )
    panel = f.equipment("fac_alpha", id="eq_panel", name="Panel A")
    xfmr = f.equipment(
        "fac_alpha",
        id="eq_xfmr",
        name="Transformer T1",
        equipmentClass="Transformer",
        installDate="1980-06-01",
        conductors=[{"id": "cd_x", "material": "AL", "size": "500", "connectionType": "crimped"}],
        observations={
            "corrosion": "moderate",
            "rust": "moderate",
            "wear": "severe",
            "heatDiscoloration": True,
        },
        loadPercent=92,
        servesCriticalLoad=True,
        arcFlashLabel={"present": False},
    )
    beta_panel = f.equipment("fac_beta", id="eq_beta", name="Panel B", installDate="2012-09-30")
    mr = f.maintenance("eq_panel", id="mr_panel")
    return {
        "facilities": [alpha, beta],
        "equipment": [panel, xfmr, beta_panel],
        "maintenance": [mr],
    }


@pytest.fixture
def world(db, import_export, records):
    """The records imported (outbox rows pending, nothing computed yet)."""
    import_export(**records)
    return records
