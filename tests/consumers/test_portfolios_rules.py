"""Portfolio rules: every active facility matching the rule belongs to the portfolio, and the
rule is re-applied when facilities arrive or change (consumers.md §1)."""

import pytest

from condoit.files import import_file
from consumers.models import PortfolioFacility
from consumers.portfolios import portfolio_rules_apply, portfolio_save
from tests import factories as f

from .conftest import key_client, make_key


def members(portfolio):
    return dict(
        PortfolioFacility.objects.filter(portfolio=portfolio).values_list(
            "facility__external_id", "by_rule"
        )
    )


def ids(client):
    r = client.get("/api/v1/facilities")
    assert r.status_code == 200
    return sorted(x["id"] for x in r.json()["facilities"])


@pytest.fixture
def springfield(world):
    portfolio, _ = portfolio_save(slug="springfield", name="Springfield", rule_city="springfield")
    return portfolio


def test_the_rule_matches_active_facilities_case_insensitively(springfield):
    # Gone Depot is in Springfield too, but deleted.
    assert members(springfield) == {"fac_zeta": True, "fac_beta": True}
    state, _ = portfolio_save(slug="il-volt", name="IL Volt", rule_state="il",
                              rule_contractor="VOLT BROS")  # fmt: skip
    assert members(state) == {"fac_zeta": True}
    assert state.rule_state == "IL"


def test_a_facility_arriving_by_import_joins_and_one_moving_away_leaves(
    springfield, tmp_path, django_capture_on_commit_callbacks
):
    c = key_client(make_key(springfield)[1])
    assert ids(c) == ["fac_beta", "fac_zeta"]
    new = f.facility(id="fac_new", name="New Works")
    moved = f.facility(
        id="fac_zeta", name="Zeta Works", contractor={"name": "Volt Bros"},
        address={"street": "1 Elm St", "city": "Chicago", "state": "IL", "zip": "60601"},
        updatedAt="2025-06-01T00:00:00Z",
    )  # fmt: skip
    path = f.write_export(tmp_path / "more.json", facilities=[new, moved])
    with django_capture_on_commit_callbacks(execute=True):
        import_file(path)
    assert members(springfield) == {"fac_beta": True, "fac_new": True}
    assert ids(c) == ["fac_beta", "fac_new"]
    assert c.get("/api/v1/facilities/fac_zeta").status_code == 404


def test_staff_picks_stay_whatever_the_rule(springfield):
    portfolio_save(slug="springfield", facility_ids=["fac_alpha", "fac_zeta"])
    assert members(springfield) == {"fac_zeta": False, "fac_beta": True, "fac_alpha": False}
    # The rule no longer matches anything: its rows go, staff picks stay.
    portfolio_save(slug="springfield", rule_city="Nowhere")
    assert members(springfield) == {"fac_zeta": False, "fac_alpha": False}
    # Cleared rule: nothing more to add; picks stay.
    portfolio_save(slug="springfield", rule_city="")
    stats = portfolio_rules_apply()
    assert (stats.added, stats.removed) == (0, 0)
    assert members(springfield) == {"fac_zeta": False, "fac_alpha": False}


def test_re_applying_is_set_based(springfield, django_assert_max_num_queries):
    for i in range(5):
        portfolio_save(slug=f"rule-{i}", name=f"Rule {i}", rule_contractor="sparky electric")
    PortfolioFacility.objects.filter(by_rule=True).delete()
    # One query for the rule portfolios, then an INSERT … SELECT and a DELETE each (and the
    # transaction's savepoint).
    with django_assert_max_num_queries(1 + 2 * 6 + 2):
        stats = portfolio_rules_apply()
    assert stats.portfolios == 6 and stats.added == 2 + 5 * 2 and stats.removed == 0
