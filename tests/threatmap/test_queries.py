"""Query counts do not grow with page size or with a facility's equipment count."""

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from equipment.choices import PhotoStatus
from equipment.models import Photo
from tests import factories as f
from threatmap import selectors
from threatmap.params import EquipmentListParams, FacilityListParams
from voltmetrics.models import FacilityAssessment
from voltmetrics.services import risk_recompute

pytestmark = pytest.mark.django_db


def _equipment(fac_id, prefix, n):
    out = []
    for i in range(n):
        rec = f.equipment(
            fac_id, id=f"{prefix}_{i}", name=f"Gear {i:03d}", installDate=f"{1960 + i % 60}-01-01",
            equipmentClass=("Transformer", "Panelboard", "Switchgear", "UPS")[i % 4],
            photos=[{"id": f"ph_{prefix}_{i}", "url": f"https://p.example/{i}.jpg"}],
        )  # fmt: skip
        if i % 3 == 0:
            rec["feedsFromId"] = f"{prefix}_0" if i else ""
        if i % 2 == 0:  # High / Critical
            rec["conductors"] = [{"id": f"cd_{prefix}_{i}", "material": "AL", "size": "2",
                                  "connectionType": "crimped"}]  # fmt: skip
            rec["loadPercent"] = 110
        out.append(rec)
    return out


def _maintenance(eq):
    return [
        f.maintenance(e["id"], type=t, performedAt=f"20{10 + k}-01-01T00:00:00Z")
        for e in eq
        for k, t in enumerate(("preventive", "corrective", "emergency"))
    ]


@pytest.fixture
def portfolio(db, import_export):
    """fac_small (5 equipment), fac_large (60), and 30 one-equipment facilities."""
    facs = [f.facility(id="fac_small", name="Small"), f.facility(id="fac_large", name="Large")]
    eq = _equipment("fac_small", "eq_s", 5) + _equipment("fac_large", "eq_l", 60)
    for i in range(30):
        facs.append(f.facility(id=f"fac_{i:02d}", name=f"Site {i:02d}"))
        eq += _equipment(f"fac_{i:02d}", f"eq_{i:02d}", 1)
    import_export(facilities=facs, equipment=eq, maintenance=_maintenance(eq))
    Photo.objects.update(status=PhotoStatus.FETCHED)
    risk_recompute()
    large = FacilityAssessment.objects.get(facility__external_id="fac_large").payload
    assert len(large["top_threats"]) == 5 and len(large["high_risk_items"]) > 5


def count(client, path, **query):
    cache.clear()
    with CaptureQueriesContext(connection) as ctx:
        r = client.get(path, query)
    assert r.status_code == 200, r.content
    return len(ctx)


def test_endpoint_counts_do_not_grow(client, portfolio):
    assert count(client, "/api/v1/facilities", limit=3) == count(
        client, "/api/v1/facilities", limit=30
    )
    for tail in ("", "/equipment", "/compliance", "/risks"):
        small = count(client, f"/api/v1/facilities/fac_small{tail}", limit=200)
        large = count(client, f"/api/v1/facilities/fac_large{tail}", limit=200)
        assert small == large, tail
    assert count(client, "/api/v1/equipment/eq_s_0") == count(client, "/api/v1/equipment/eq_l_0")


# Exact counts of the selectors (the request path adds auth, the model tag and one 404 check).
SELECTOR_QUERIES = [
    # count, page
    ("facility_list", 2, lambda: selectors.facility_list(params=FacilityListParams(limit=100))),
    # facility + assessment, top threats, their assessments, their photos
    ("facility_detail", 4, lambda: selectors.facility_detail(facility_id="fac_large")),
    # facility, count, page, assessments, photos
    (
        "facility_equipment_list",
        5,
        lambda: selectors.facility_equipment_list(
            facility_id="fac_large", params=EquipmentListParams(limit=200)
        ),
    ),
    # equipment (+facility, fed_from), assessments, photos, feeds, maintenance
    ("equipment_detail", 5, lambda: selectors.equipment_detail(equipment_id="eq_l_0")),
    # facility + assessment, next inspections
    ("facility_compliance", 2, lambda: selectors.facility_compliance(facility_id="fac_large")),
    # facility + assessment, high-risk items
    ("facility_risks", 2, lambda: selectors.facility_risks(facility_id="fac_large")),
    # portfolio assessment, max facility / equipment updatedAt
    ("portfolio_summary", 3, selectors.portfolio_summary),
]


@pytest.mark.parametrize(
    "name,expected,call", SELECTOR_QUERIES, ids=[s[0] for s in SELECTOR_QUERIES]
)
def test_selector_query_counts_pinned(portfolio, django_assert_num_queries, name, expected, call):
    with django_assert_num_queries(expected):
        body, _ = call()
    assert body


def test_large_payloads_are_complete(client, portfolio):
    body = client.get("/api/v1/facilities/fac_large/equipment", {"limit": 200}).json()
    assert body["total"] == 60 and len(body["equipment"]) == 60
    assert all(e["intervention_count"] == 2 for e in body["equipment"])
    assert all(e["photo_url"] for e in body["equipment"])
    detail = client.get("/api/v1/equipment/eq_l_0").json()
    assert len(detail["feeds"]) == 19 and len(detail["service_history"]) == 3
