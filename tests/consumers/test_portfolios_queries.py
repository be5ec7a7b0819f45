"""Query counts do not grow with the size of a portfolio, and a warm scope costs no query."""

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from consumers.access import local_clear
from consumers.portfolios import portfolio_save
from masterbus.access import principal_scope
from masterbus.api.auth import ApiKeyPrincipal
from tests import factories as f
from voltmetrics.services import risk_recompute

from .conftest import key_client, make_key

pytestmark = pytest.mark.django_db

PATHS = [
    "/api/v1/facilities",
    "/api/v1/facilities?portfolio={slug}",
    "/api/v1/portfolio/summary",
    "/api/v1/portfolios",
    "/api/v1/portfolios/{slug}/summary",
    "/api/v1/export/threatmap",
    "/api/v1/facilities/fac_000",
    "/api/v1/equipment/eq_000",
    "/api/v1/facilities/fac_nope",
]


@pytest.fixture
def sized(db, import_export):
    """202 facilities of one equipment each; portfolio "small" holds 2, "large" 200 (both
    hold fac_000)."""
    facs = [f.facility(id=f"fac_{i:03d}", name=f"Site {i:03d}") for i in range(202)]
    eq = [f.equipment(fac["id"], id=f"eq_{i:03d}", name=f"Gear {i:03d}",
                      installDate=f"{1960 + i % 60}-01-01") for i, fac in enumerate(facs)]  # fmt: skip
    import_export(facilities=facs, equipment=eq)
    risk_recompute()
    small, _ = portfolio_save(slug="small", name="Small", facility_ids=["fac_000", "fac_201"])
    large, _ = portfolio_save(slug="large", name="Large",
                              facility_ids=[x["id"] for x in facs[:200]])  # fmt: skip
    return {"small": small, "large": large}


def count(client, path, *, warm_scope=False):
    cache.clear()
    local_clear()
    if warm_scope:
        assert client.get("/api/v1/portfolios").status_code == 200
    with CaptureQueriesContext(connection) as ctx:
        r = client.get(path)
    assert r.status_code in (200, 404), (path, r.content)
    return len(ctx)


def test_cold_counts_are_the_same_for_2_and_200_facilities(sized):
    clients = {slug: key_client(make_key(p, name=slug)[1]) for slug, p in sized.items()}
    for path in PATHS:
        small = count(clients["small"], path.format(slug="small"))
        large = count(clients["large"], path.format(slug="large"))
        assert small == large, path


def test_a_bound_request_costs_what_an_unbound_one_does_once_the_scope_is_warm(sized):
    bound = key_client(make_key(sized["large"], name="bound")[1])
    unbound = key_client(make_key(name="unbound")[1])
    # Cached payloads: the same queries (authentication only) bound or not.
    for path in ("/api/v1/facilities", "/api/v1/portfolio/summary", "/api/v1/facilities/fac_000"):
        bound.get(path), unbound.get(path)
        with CaptureQueriesContext(connection) as b:
            assert bound.get(path).status_code == 200
        with CaptureQueriesContext(connection) as u:
            assert unbound.get(path).status_code == 200
        assert len(b) == len(u), (path, [q["sql"] for q in b], [q["sql"] for q in u])


def test_a_warm_scope_lookup_costs_no_query(sized, django_assert_num_queries):
    key, _ = make_key(sized["large"], name="bound")
    principal = ApiKeyPrincipal(key)
    with django_assert_num_queries(2):  # the key's portfolios, then their facilities
        scope = principal_scope(principal)
    assert len(scope.facility_pks) == 200 and "fac_000" in scope.facility_ids
    assert scope.key.startswith(f"p{sized['large'].pk}@g")
    with django_assert_num_queries(0):
        assert principal_scope(principal) == scope
    local_clear()  # another process: from the shared cache
    with django_assert_num_queries(0):
        assert principal_scope(principal) == scope
    # A membership change gives a new key (and the new facility set).
    portfolio_save(slug="large", facility_ids=["fac_000"])
    fresh = principal_scope(principal)
    assert fresh.key != scope.key and fresh.facility_ids == {"fac_000"}


def test_an_unbound_key_costs_no_query_for_its_scope_once_warm(sized, django_assert_num_queries):
    key, _ = make_key(name="unbound")
    principal = ApiKeyPrincipal(key)
    assert principal_scope(principal) is None
    with django_assert_num_queries(0):
        assert principal_scope(principal) is None
