"""A key bound to a portfolio sees only its facilities, everywhere (consumers.md §1); unbound
keys and staff see every facility, as before."""

from fractions import Fraction
from math import floor

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from voltmetrics.choices import Source
from voltmetrics.models import FacilityAssessment, FacilitySnapshot

from .conftest import key_client, make_key

OUTSIDE = [
    "/api/v1/facilities/fac_zeta",
    "/api/v1/facilities/fac_zeta/equipment",
    "/api/v1/facilities/fac_zeta/compliance",
    "/api/v1/facilities/fac_zeta/risks",
    "/api/v1/equipment/eq_z1",
    "/api/v1/equipment/eq_z2",
    "/api/v1/photos/ph_new",
    "/api/v1/photos/ph_new/thumbnail",
    "/api/v1/photos/ph_old",
]
INSIDE = [
    "/api/v1/facilities/fac_alpha",
    "/api/v1/facilities/fac_alpha/equipment",
    "/api/v1/facilities/fac_alpha/compliance",
    "/api/v1/facilities/fac_beta/risks",
    "/api/v1/equipment/eq_a1",
]


def error_of(response):
    body = dict(response.json()["error"])
    assert body.pop("request_id")
    return body


def ids(response):
    assert response.status_code == 200, response.content
    return sorted(f["id"] for f in response.json()["facilities"])


def test_lists_and_totals_hold_only_the_portfolio(bound, unbound):
    r = bound.get("/api/v1/facilities")
    assert r.json()["total"] == 2 and ids(r) == ["fac_alpha", "fac_beta"]
    assert ids(bound.get("/api/v1/facilities", {"search": "a", "sort": "risk_score"})) == [
        "fac_alpha", "fac_beta"
    ]  # fmt: skip
    assert bound.get("/api/v1/facilities", {"search": "zeta"}).json()["total"] == 0
    # The unbound key is unchanged (and its list is not the bound one's cached page).
    assert ids(unbound.get("/api/v1/facilities")) == ["fac_alpha", "fac_beta", "fac_zeta"]
    assert bound.get("/api/v1/facilities").json()["total"] == 2


@pytest.mark.parametrize("path", OUTSIDE)
def test_outside_the_portfolio_is_404_exactly_like_an_unknown_id(bound, unbound, path):
    # Warm the shared per-facility payload first: it must not leak through the cache.
    assert unbound.get(path).status_code == 200
    r = bound.get(path)
    assert r.status_code == 404
    unknown = bound.get(path.replace("fac_zeta", "fac_nope").replace("eq_z", "eq_nope")
                        .replace("ph_", "ph_nope"))  # fmt: skip
    assert unknown.status_code == 404
    assert error_of(r) == error_of(unknown) == {
        "code": "DATA_NOT_FOUND", "message": "Not found", "details": None
    }  # fmt: skip


@pytest.mark.parametrize("path", INSIDE)
def test_inside_the_portfolio_the_shared_payload_is_served(bound, unbound, path):
    mine, theirs = bound.get(path), unbound.get(path)
    assert mine.status_code == theirs.status_code == 200
    assert mine.content == theirs.content and mine["ETag"] == theirs["ETag"]


def _half_up(x: Fraction, digits: int = 0):
    scaled = floor(x * 10**digits + Fraction(1, 2))
    return scaled if digits == 0 else scaled / 10**digits


def _mean(values):
    values = [v for v in values if v is not None]
    return _half_up(Fraction(sum(values), len(values))) if values else None


def expected_summary(facility_ids):
    """risk-model.md §7 over these facilities, from their stored assessments and snapshots,
    computed here on its own (not by the code under test)."""
    rows = list(
        FacilityAssessment.objects.filter(
            source=Source.LOCAL, facility__external_id__in=facility_ids
        ).select_related("facility")
    )
    live = [a for a in rows if a.equipment_count > 0 and a.risk_score is not None]
    top = sorted(live, key=lambda a: (-a.risk_score, a.facility.name, a.facility.external_id))
    months = {}
    for s in FacilitySnapshot.objects.filter(facility__external_id__in=facility_ids):
        months.setdefault(s.month, []).append(s)

    def point(scores, count, days, known):
        return {
            "risk_score": _mean(scores) if scores else None,
            "equipment_count": count,
            "equipment_age": _half_up(Fraction(4 * days, 1461 * known), 1) if known else None,
        }

    trend = [
        point([s.risk_score for s in snaps if s.equipment_count and s.risk_score is not None],
              sum(s.equipment_count for s in snaps), sum(s.age_days_sum for s in snaps),
              sum(s.age_known for s in snaps))
        for _, snaps in sorted(months.items())
    ][-5:]  # fmt: skip
    trend.append(point([a.risk_score for a in live], sum(a.equipment_count for a in rows),
                       sum(a.age_days_sum for a in rows), sum(a.age_known for a in rows)))  # fmt: skip
    return {
        "total_facilities": len(facility_ids),
        "total_equipment": sum(a.equipment_count for a in rows),
        "risk_overview": {
            "average_risk_score": _mean(a.risk_score for a in live),
            "high_risk_facilities": sum(a.risk_level in ("High", "Critical") for a in live),
            "critical_risk_equipment": sum(a.critical_equipment_count for a in live),
            "high_risk_equipment": sum(a.high_risk_equipment_count for a in live),
        },
        "compliance_overview": {
            f"{k}_compliance": _mean(a.payload["compliance"][k] for a in live)
            for k in ("nfpa_70b", "nfpa_70e", "overall")
        },
        "trend": trend,
        "highest_risk_facilities": [
            {
                "facility_id": a.facility.external_id,
                "facility_name": a.facility.name,
                "risk_score": a.risk_score,
                "location": ", ".join(p for p in (a.facility.city, a.facility.state) if p),
                "critical_equipment_count": a.critical_equipment_count,
            }
            for a in top[:5]
        ],
    }


def _comparable(body):
    body = dict(body)
    body.pop("last_updated")
    trend = body.pop("risk_trends")
    assert len(trend) == 6
    body["trend"] = [{k: v for k, v in p.items() if k != "month"} for p in trend]
    return body


def test_summary_is_the_formulas_over_the_portfolio(bound, unbound):
    r = bound.get("/api/v1/portfolio/summary")
    assert r.status_code == 200
    got = _comparable(r.json())
    assert got == expected_summary(["fac_alpha", "fac_beta"])
    assert got["total_facilities"] == 2
    everything = _comparable(unbound.get("/api/v1/portfolio/summary").json())
    assert everything["total_facilities"] == 3
    # The unbound summary is the stored portfolio, by the same formulas.
    assert everything == expected_summary(["fac_alpha", "fac_beta", "fac_zeta"])
    # Months are labelled as the unbound summary's.
    assert [p["month"] for p in r.json()["risk_trends"]] == [
        p["month"] for p in unbound.get("/api/v1/portfolio/summary").json()["risk_trends"]
    ]


def test_portfolios_lists_the_bound_ones_and_an_unbound_key_sees_all(bound, unbound, two, other):
    assert bound.get("/api/v1/portfolios").json() == {
        "portfolios": [{"slug": "two", "name": "Two sites", "facility_count": 2}]
    }
    assert unbound.get("/api/v1/portfolios").json() == {
        "portfolios": [
            {"slug": "other", "name": "Other", "facility_count": 1},
            {"slug": "two", "name": "Two sites", "facility_count": 2},
        ]
    }
    # A rename shows at once (the generation moved).
    other.name = "Zeta only"
    other.save()
    assert unbound.get("/api/v1/portfolios/").json()["portfolios"][1]["name"] == "Zeta only"


def test_portfolio_summary_by_slug(bound, unbound):
    mine = bound.get("/api/v1/portfolios/two/summary")
    assert mine.status_code == 200
    assert _comparable(mine.json()) == _comparable(bound.get("/api/v1/portfolio/summary").json())
    assert _comparable(unbound.get("/api/v1/portfolios/two/summary").json()) == _comparable(
        mine.json()
    )
    zeta = unbound.get("/api/v1/portfolios/other/summary")
    assert zeta.status_code == 200 and zeta.json()["total_facilities"] == 1
    hidden, unknown = bound.get("/api/v1/portfolios/other/summary"), bound.get(
        "/api/v1/portfolios/nope/summary"
    )
    assert hidden.status_code == unknown.status_code == 404
    assert error_of(hidden) == error_of(unknown)
    assert error_of(hidden)["code"] == "DATA_NOT_FOUND"
    assert bound.get("/api/v1/portfolios/Not_A_Slug/summary").status_code == 404


def test_the_portfolio_filter_narrows_and_never_widens(bound, unbound):
    assert ids(unbound.get("/api/v1/facilities", {"portfolio": "other"})) == ["fac_zeta"]
    assert ids(unbound.get("/api/v1/facilities", {"portfolio": "two"})) == ["fac_alpha", "fac_beta"]
    assert ids(bound.get("/api/v1/facilities", {"portfolio": "two"})) == ["fac_alpha", "fac_beta"]
    hidden = bound.get("/api/v1/facilities", {"portfolio": "other"})
    unknown = bound.get("/api/v1/facilities", {"portfolio": "nope"})
    assert hidden.status_code == unknown.status_code == 404
    assert error_of(hidden) == error_of(unknown)
    bad = bound.get("/api/v1/facilities", {"portfolio": "Not A Slug"})
    assert bad.status_code == 400 and error_of(bad)["code"] == "VALIDATION_ERROR"
    assert "portfolio" in error_of(bad)["details"]


def test_the_export_holds_only_the_portfolio(bound, unbound):
    everything = [f["id"] for f in unbound.get("/api/v1/export/threatmap").json()]
    assert everything == ["fac_zeta", "fac_alpha"]  # Beta Yard has no coordinates
    assert [f["id"] for f in bound.get("/api/v1/export/threatmap").json()] == ["fac_alpha"]
    narrowed = unbound.get("/api/v1/export/threatmap", {"portfolio": "other"}).json()
    assert [f["id"] for f in narrowed] == ["fac_zeta"]
    assert bound.get("/api/v1/export/threatmap", {"portfolio": "other"}).status_code == 404
    assert bound.get("/api/v1/export/threatmap", {"portfolio": "x y"}).status_code == 400


def test_users_bound_see_their_portfolio_but_staff_see_everything(two, other):
    users = get_user_model().objects
    reader = users.create_user("bound-reader", password="x")
    staff = users.create_user("staff", password="x", is_staff=True)
    two.users.add(reader, staff)
    c = APIClient()
    c.force_authenticate(reader)
    assert ids(c.get("/api/v1/facilities")) == ["fac_alpha", "fac_beta"]
    assert c.get("/api/v1/facilities/fac_zeta").status_code == 404
    c.force_authenticate(staff)
    assert ids(c.get("/api/v1/facilities")) == ["fac_alpha", "fac_beta", "fac_zeta"]
    assert c.get("/api/v1/facilities/fac_zeta").status_code == 200


def test_binding_a_key_later_changes_what_it_sees_at_once(two, other):
    key, raw = make_key(name="late")
    c = key_client(raw)
    assert c.get("/api/v1/facilities").json()["total"] == 3
    key.portfolios.add(other)
    assert ids(c.get("/api/v1/facilities")) == ["fac_zeta"]
    key.portfolios.add(two)
    assert ids(c.get("/api/v1/facilities")) == ["fac_alpha", "fac_beta", "fac_zeta"]
    key.portfolios.clear()
    assert c.get("/api/v1/facilities").json()["total"] == 3
