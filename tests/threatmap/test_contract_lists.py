"""Sorting (code point, nulls last, ties by name then id), search and filters of the lists."""

import pytest

from tests import factories as f
from voltmetrics.services import risk_recompute

pytestmark = pytest.mark.django_db

FAC = "/api/v1/facilities"


def ids(client, path, key, **query):
    r = client.get(path, query)
    assert r.status_code == 200, r.content
    return [x["id"] for x in r.json()[key]]


def test_facility_names_sort_by_code_point(client, world):
    # "Beta Yard" < "Zeta Works" < "alpha plant": upper case sorts before lower case.
    assert ids(client, FAC, "facilities") == ["fac_beta", "fac_zeta", "fac_alpha"]
    assert ids(client, FAC, "facilities", order="desc") == ["fac_alpha", "fac_zeta", "fac_beta"]


def test_facility_sorts_by_score_rating_and_last_updated(client, world):
    body = client.get(FAC, {"sort": "risk_score", "order": "desc"}).json()["facilities"]
    scores = [x["risk_score"] for x in body]
    assert scores == sorted(scores, reverse=True)
    rank = {"Low": 1, "Medium": 2, "High": 3, "Critical": 4}
    body = client.get(FAC, {"sort": "risk_rating"}).json()["facilities"]
    assert [rank[x["risk_level"]] for x in body] == sorted(rank[x["risk_level"]] for x in body)
    body = client.get(FAC, {"sort": "last_updated", "order": "desc"}).json()["facilities"]
    stamps = [x["last_updated"] for x in body]
    assert stamps == sorted(stamps, reverse=True)


def test_facility_nulls_last_in_either_order_and_ties(client, world, import_export):
    # Two facilities never assessed (null score) with the same name: ties by id.
    import_export(
        facilities=[f.facility(id="fac_n2", name="Null"), f.facility(id="fac_n1", name="Null")]
    )
    for order in ("asc", "desc"):
        got = ids(client, FAC, "facilities", sort="risk_score", order=order)
        assert got[-2:] == ["fac_n1", "fac_n2"], order
        got = ids(client, FAC, "facilities", sort="risk_rating", order=order)
        assert got[-2:] == ["fac_n1", "fac_n2"], order


def test_facility_search_and_filters(client, world):
    assert ids(client, FAC, "facilities", search="ZETA") == ["fac_zeta"]
    assert ids(client, FAC, "facilities", search="harbor") == ["fac_alpha"]  # street
    assert ids(client, FAC, "facilities", search="portland") == ["fac_alpha"]  # city
    assert ids(client, FAC, "facilities", search="volt bros") == ["fac_zeta"]  # contractor
    assert ids(client, FAC, "facilities", search="nothing matches") == []
    body = client.get(FAC).json()["facilities"]
    level = body[0]["risk_level"]
    want = sorted(x["id"] for x in body if x["risk_level"] == level)
    assert sorted(ids(client, FAC, "facilities", risk_level=level.lower())) == want
    status = body[0]["compliance_status"]
    want = sorted(x["id"] for x in body if x["compliance_status"] == status)
    got = ids(client, FAC, "facilities", compliance_status=status.lower().replace(" ", "_"))
    assert sorted(got) == want


@pytest.fixture
def sortable(db, import_export):
    """Equipment with equal names, unknown install dates and no maintenance."""
    fac = f.facility(id="fac_s", name="Sorts")
    eq = [
        f.equipment("fac_s", id="eq_s3", name="same", installDate="2001-01-01", room="Attic"),
        f.equipment("fac_s", id="eq_s1", name="same", installDate="2001-01-01"),
        f.equipment("fac_s", id="eq_s2", name="Zed", installDate=None, manufacturer="Acme"),
        f.equipment("fac_s", id="eq_s4", name="alpha", installDate="1990-01-01",
                    equipmentClass="Transformer"),
        f.equipment("fac_s", id="eq_s5", name="Beta", installDate="2020-01-01"),
    ]  # fmt: skip
    mr = [
        f.maintenance("eq_s4", performedAt="2020-01-01T00:00:00Z"),
        f.maintenance("eq_s5", performedAt="2023-01-01T00:00:00Z"),
    ]
    import_export(facilities=[fac], equipment=eq, maintenance=mr)
    risk_recompute()
    return "/api/v1/facilities/fac_s/equipment"


def test_equipment_sorting(client, sortable):
    path, key = sortable, "equipment"
    assert ids(client, path, key) == ["eq_s5", "eq_s2", "eq_s4", "eq_s1", "eq_s3"]
    assert ids(client, path, key, order="desc") == ["eq_s1", "eq_s3", "eq_s4", "eq_s2", "eq_s5"]
    # Nulls last in either order; ties by name (code point) then id.
    assert ids(client, path, key, sort="install_date") == [
        "eq_s4", "eq_s1", "eq_s3", "eq_s5", "eq_s2"
    ]  # fmt: skip
    assert ids(client, path, key, sort="install_date", order="desc") == [
        "eq_s5", "eq_s1", "eq_s3", "eq_s4", "eq_s2"
    ]  # fmt: skip
    assert ids(client, path, key, sort="last_service") == [
        "eq_s4", "eq_s5", "eq_s2", "eq_s1", "eq_s3"
    ]  # fmt: skip
    assert ids(client, path, key, sort="last_service", order="desc")[:2] == ["eq_s5", "eq_s4"]
    assert ids(client, path, key, sort="type")[-1] == "eq_s4"  # transformer after panel
    body = client.get(path, {"sort": "risk_score", "order": "desc"}).json()[key]
    assert [x["risk_score"] for x in body] == sorted((x["risk_score"] for x in body), reverse=True)
    rank = {"Low": 1, "Medium": 2, "High": 3, "Critical": 4}
    body = client.get(path, {"sort": "risk_rating", "order": "desc"}).json()[key]
    got = [rank[x["risk_rating"]] for x in body]
    assert got == sorted(got, reverse=True)


def test_equipment_search_and_filters(client, sortable):
    path, key = sortable, "equipment"
    assert ids(client, path, key, search="ZED") == ["eq_s2"]
    assert ids(client, path, key, search="attic") == ["eq_s3"]  # room
    assert ids(client, path, key, search="acme") == ["eq_s2"]  # manufacturer
    assert len(ids(client, path, key, search="building 1")) == 5  # building
    assert ids(client, path, key, type="Transformer") == ["eq_s4"]
    body = client.get(path).json()[key]
    rating = body[0]["risk_rating"]
    want = [x["id"] for x in body if x["risk_rating"] == rating]
    assert ids(client, path, key, risk_level=rating.upper()) == want


def test_equipment_paging(client, sortable):
    first = client.get(sortable, {"limit": 2}).json()
    second = client.get(sortable, {"limit": 2, "page": 2}).json()
    assert first["total"] == second["total"] == 5
    assert [x["id"] for x in first["equipment"] + second["equipment"]] == ids(
        client, sortable, "equipment"
    )[:4]
