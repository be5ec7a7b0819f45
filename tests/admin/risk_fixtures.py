"""A small portfolio imported through the real Condoit import path, its risk computed by the
real recompute, and one VoltMetrics result stored and served: what the risk admin tests read.

Alpha Plant: an old aluminium transformer (Critical), an old switchboard (High, and served by
VoltMetrics), a new panel (Low, maintained), a panel with unknown install date and no
conductors (data gaps). Beta Works: a maintained panel. Gamma Hall: no equipment (figures
without a score). Delta Depot: imported after the recompute (not computed yet)."""

from datetime import date, timedelta
from html.parser import HTMLParser

from django.db import transaction
from django.utils import timezone

from equipment.models import Equipment
from facilities.models import Facility
from tests import factories as f
from voltmetrics.integration.answers import EquipmentResultAnswer
from voltmetrics.integration.results import store_equipment
from voltmetrics.services import risk_recompute

AS_OF = date(2025, 3, 15)

VM_FACTORS = [
    {"factor": "age", "score": 70, "weight": 0.6, "description": "Switchboard past mid-life"},
    {"factor": "thermal", "score": 40, "weight": 0.4, "description": "Warm bus joints"},
]


def records():
    alpha = f.facility(id="fac_alpha", name="Alpha Plant", arcFlashStudyDate="2018-01-01")
    beta = f.facility(id="fac_beta", name="Beta Works")
    gamma = f.facility(id="fac_gamma", name="Gamma Hall")
    equipment = [
        f.equipment(
            "fac_alpha", id="eq_xfmr", name="Transformer T1", equipmentClass="Transformer",
            installDate="1970-06-01",
            conductors=[{"id": "cd_x", "material": "AL", "size": "500",
                         "connectionType": "crimped"}],
            observations={"corrosion": "severe", "rust": "moderate", "wear": "severe",
                          "heatDiscoloration": True},
            loadPercent=96, servesCriticalLoad=True, arcFlashLabel={"present": False},
        ),
        f.equipment(
            "fac_alpha", id="eq_swbd", name="Main Switchboard", equipmentClass="Switchboard",
            installDate="1985-01-01", loadPercent=80,
            observations={"corrosion": "moderate", "rust": "moderate", "wear": "moderate"},
        ),
        f.equipment("fac_alpha", id="eq_new", name="Panel New", installDate="2020-01-01"),
        f.equipment(
            "fac_alpha", id="eq_gaps", name="Panel Unknown", installDate=None, conductors=[],
            observations=None, loadPercent=None,
        ),
        f.equipment("fac_beta", id="eq_beta", name="Panel Beta", installDate="2015-06-01"),
    ]  # fmt: skip
    maintenance = [
        f.maintenance("eq_new", id="mr_new", performedAt="2025-01-10T09:00:00Z"),
        f.maintenance("eq_beta", id="mr_beta", performedAt="2024-12-01T09:00:00Z"),
    ]
    return {"facilities": [alpha, beta, gamma], "equipment": equipment, "maintenance": maintenance}


def build_risk_world(import_export) -> dict:
    """The portfolio computed as of AS_OF, VoltMetrics serving the switchboard's figures
    (the test modules' ``risk_world`` fixture)."""
    import_export(**records())
    risk_recompute(as_of=AS_OF)
    now = timezone.now()
    answer = EquipmentResultAnswer(
        equipment_id="eq_swbd",
        calculation_timestamp=now,
        algorithm_version="vm-2.1",
        risk_score=55,
        risk_rating="Medium",
        risk_factors=VM_FACTORS,
        compliance={"nfpa_70b": {"status": "overdue"}},
    )
    with transaction.atomic():
        store_equipment([answer], now + timedelta(seconds=1))
    risk_recompute(as_of=AS_OF)  # decides which result is served
    import_export(
        facilities=[f.facility(id="fac_delta", name="Delta Depot")],
        equipment=[f.equipment("fac_delta", id="eq_delta", name="Panel Delta")],
    )
    return {
        "alpha": Facility.objects.get(external_id="fac_alpha"),
        "beta": Facility.objects.get(external_id="fac_beta"),
        "gamma": Facility.objects.get(external_id="fac_gamma"),
        "delta": Facility.objects.get(external_id="fac_delta"),
        "eq": {e.external_id: e for e in Equipment.objects.all()},
    }


class Panel(HTMLParser):
    """The tables of a page as rows of cell texts, by the table's classes; and its text."""

    def __init__(self, html: str):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._stack: list[list[list[str]]] = []
        self._cell: list[str] | None = None
        self.text_parts: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            rows: list[list[str]] = []
            for cls in (dict(attrs).get("class") or "").split():
                self.tables.setdefault(cls, rows)
            self._stack.append(rows)
        elif tag == "tr" and self._stack:
            self._stack[-1].append([])
        elif tag in ("td", "th") and self._stack:
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "table" and self._stack:
            self._stack.pop()
        elif tag in ("td", "th") and self._cell is not None and self._stack:
            self._stack[-1][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        self.text_parts.append(data)

    @property
    def text(self) -> str:
        return " ".join("".join(self.text_parts).split())

    def rows(self, cls: str) -> list[list[str]]:
        """The rows of the first table with class ``cls``, header row included."""
        return self.tables[cls]
