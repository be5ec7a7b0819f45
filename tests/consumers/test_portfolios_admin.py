"""The portfolio admin: list page, change page with the facility autocomplete, rule re-apply."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from consumers.models import Portfolio, PortfolioFacility
from consumers.portfolios import portfolio_save

from .conftest import make_key


@pytest.fixture
def staff(client, admin_user):
    client.force_login(admin_user)
    return client


def _list_queries(staff):
    with CaptureQueriesContext(connection) as ctx:
        r = staff.get("/admin/consumers/portfolio/")
    assert r.status_code == 200
    return len(ctx), r.content.decode()


def test_list_page_counts_and_constant_queries(world, staff):
    portfolio_save(slug="p0", name="P0", facility_ids=["fac_zeta"], rule_state="OR")
    before, html = _list_queries(staff)
    assert "state = OR" in html
    for i in range(1, 8):
        p, _ = portfolio_save(slug=f"p{i}", name=f"P{i}", rule_city="Springfield")
        make_key(p, name=f"k{i}")
    after, _ = _list_queries(staff)
    assert after == before


def test_change_page_and_autocomplete_of_facilities(world, staff):
    p, _ = portfolio_save(slug="p", name="P", facility_ids=["fac_zeta"], rule_city="Portland")
    r = staff.get(f"/admin/consumers/portfolio/{p.pk}/change/")
    assert r.status_code == 200
    html = r.content.decode()
    assert "1 picked by staff, 1 by the rule" in html and "admin-autocomplete" in html
    r = staff.get(
        "/admin/autocomplete/",
        {"term": "alpha", "app_label": "consumers", "model_name": "portfoliofacility",
         "field_name": "facility"},
    )  # fmt: skip
    assert r.status_code == 200 and [x["text"] for x in r.json()["results"]] == ["alpha plant (fac_alpha)"]


def test_reapply_action_reports_counts(world, staff):
    p, _ = portfolio_save(slug="p", name="P", rule_city="Springfield")
    PortfolioFacility.objects.filter(portfolio=p).delete()
    r = staff.post(
        "/admin/consumers/portfolio/",
        {"action": "reapply_rules", "_selected_action": [p.pk]},
        follow=True,
    )
    assert "2 facilities added, 0 removed" in r.content.decode()
    assert p.facilities.count() == 2


def test_adding_a_portfolio_in_the_admin_applies_its_rule(world, staff):
    data = {
        "slug": "sf", "name": "Springfield", "description": "", "rule_contractor": "",
        "rule_city": "springfield", "rule_state": "", "members-TOTAL_FORMS": "1",
        "members-INITIAL_FORMS": "0", "members-MIN_NUM_FORMS": "0",
        "members-MAX_NUM_FORMS": "1000", "members-0-facility": "",
    }  # fmt: skip
    r = staff.post("/admin/consumers/portfolio/add/", data)
    assert r.status_code == 302, r.content.decode()[:3000]
    p = Portfolio.objects.get(slug="sf")
    assert sorted(p.facilities.values_list("external_id", flat=True)) == ["fac_beta", "fac_zeta"]


def _change_page_queries(staff, p):
    with CaptureQueriesContext(connection) as ctx:
        r = staff.get(f"/admin/consumers/portfolio/{p.pk}/change/")
    assert r.status_code == 200
    return len(ctx), r.content.decode()


def test_change_page_queries_do_not_grow_with_picked_facilities(world, staff):
    from tests.admin import factories as f

    picked = [f.facility(name=f"Picked {i:02d}") for i in range(12)]
    p, _ = portfolio_save(slug="p", name="P", facility_ids=[picked[0].external_id])
    few, html = _change_page_queries(staff, p)
    assert "Picked 00" in html and "Picked 11" not in html
    portfolio_save(slug="p", facility_ids=[x.external_id for x in picked])
    many, html = _change_page_queries(staff, p)
    # every picked facility is shown selected in its row, by name, without a query per row
    for x in picked:
        assert f'<option value="{x.pk}" selected>{x}</option>' in html
    assert many == few
