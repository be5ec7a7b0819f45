"""Query-parameter validation: every bad value is a 400 VALIDATION_ERROR envelope naming the
parameter; a page past the end is an empty list with the right total."""

import pytest

pytestmark = pytest.mark.django_db

FAC = "/api/v1/facilities"
EQ = "/api/v1/facilities/fac_zeta/equipment"

BAD = [
    (FAC, "page", "0"),
    (FAC, "page", "-1"),
    (FAC, "page", "abc"),
    (FAC, "page", "1.5"),
    (FAC, "page", ""),
    (FAC, "page", "9" * 40),
    (FAC, "limit", "0"),
    (FAC, "limit", "101"),
    (FAC, "limit", "ten"),
    (FAC, "sort", "address"),
    (FAC, "sort", ""),
    (FAC, "order", "up"),
    (FAC, "risk_level", "severe"),
    (FAC, "compliance_status", "ok"),
    (FAC, "search", "x" * 201),
    (EQ, "page", "0"),
    (EQ, "limit", "201"),
    (EQ, "limit", "0"),
    (EQ, "sort", "risk"),
    (EQ, "sort", "last_updated"),
    (EQ, "order", "descending"),
    (EQ, "type", "toaster"),
    (EQ, "risk_level", "extreme"),
]


@pytest.mark.parametrize("path,param,value", BAD)
def test_bad_parameter_is_400_envelope(client, world, path, param, value):
    r = client.get(path, {param: value})
    assert r.status_code == 400, r.content
    err = r.json()["error"]
    assert err["code"] == "VALIDATION_ERROR"
    assert list(err["details"]) == [param]
    assert all(isinstance(m, str) and m for m in err["details"][param])
    assert err["request_id"]


def test_every_bad_parameter_is_reported(client, world):
    r = client.get(FAC, {"page": "x", "limit": "500", "order": "sideways"})
    assert r.status_code == 400
    assert set(r.json()["error"]["details"]) == {"page", "limit", "order"}


@pytest.mark.parametrize(
    "path,query",
    [
        (FAC, {"risk_level": "HIGH"}),
        (FAC, {"compliance_status": "Out_Of_Compliance"}),
        (FAC, {"compliance_status": "Out of Compliance"}),
        (FAC, {"sort": "Risk_Score", "order": "DESC"}),
        (EQ, {"type": "PANEL", "risk_level": "Low"}),
        (FAC, {"limit": "100", "page": "1"}),
        (EQ, {"limit": "200"}),
        (FAC, {"unknown": "ignored"}),
    ],
)
def test_valid_values_case_insensitive(client, world, path, query):
    assert client.get(path, query).status_code == 200


@pytest.mark.parametrize("path,key,total", [(FAC, "facilities", 3), (EQ, "equipment", 3)])
def test_page_past_the_end_is_empty_with_total(client, world, path, key, total):
    body = client.get(path, {"page": "7", "limit": "2"}).json()
    assert body == {"total": total, "page": 7, "limit": 2, key: []}
    last = client.get(path, {"page": "2", "limit": "2"}).json()
    assert len(last[key]) == 1 and last["total"] == total
    huge = client.get(path, {"page": "1000000000"}).json()
    assert huge[key] == [] and huge["total"] == total
