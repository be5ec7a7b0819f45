"""Which facilities a ThreatMap request reads (consumers.md §1).

A principal bound to portfolios sees only their facilities (``masterbus.access``); an
unbound one sees every facility. The ``portfolio=<slug>`` filter of the lists narrows that
to one portfolio the principal can see, never wider: a bound principal names one of its own
portfolios, an unbound one any portfolio. A well-formed slug of a portfolio the principal
cannot see answers 404 ``DATA_NOT_FOUND`` exactly like an unknown one, on the filter as on
``/portfolios/{slug}/summary`` (existence does not leak; a slug that is not well-formed is a
400 ``VALIDATION_ERROR``).

Per-facility payloads stay shared: a facility outside the scope answers 404 before its
payload is read. Lists and summaries depend on the scope and carry ``scope_key`` in their
cache keys.
"""

from __future__ import annotations

from django.http import Http404

from consumers.access import portfolio_catalogue, portfolio_ids_of, portfolios_scope
from consumers.models import PortfolioFacility
from masterbus.access import FacilityScope, request_scope

ALL = "*"


def scope_key(scope: FacilityScope | None) -> str:
    return ALL if scope is None else scope.key


def require_visible(request, facility_id: str) -> None:
    """404 for a facility outside the request's scope (exactly like an unknown one)."""
    scope = request_scope(request)
    if scope is not None and not scope.allows_id(facility_id):
        raise Http404


def visible_portfolios(request) -> list[dict]:
    """The portfolios the principal may name: a bound one's own, an unbound one's every
    portfolio; ``{"pk", "slug", "name"}`` by name then slug."""
    catalogue = portfolio_catalogue()
    ids = portfolio_ids_of(request.user)
    if ids:
        wanted = set(ids)
        return [p for p in catalogue if p["pk"] in wanted]
    return list(catalogue)


def portfolio_scope(request, slug: str) -> FacilityScope | None:
    """The scope of the visible portfolio ``slug`` (∩ the principal's scope); None when the
    principal cannot see a portfolio of that slug."""
    for p in visible_portfolios(request):
        if p["slug"] == slug:
            return portfolios_scope([p["pk"]])
    return None


def list_scope(request, portfolio_slug: str = "") -> FacilityScope | None:
    """The facilities a list reads: the principal's, narrowed by ``portfolio=<slug>``."""
    if not portfolio_slug:
        return request_scope(request)
    scope = portfolio_scope(request, portfolio_slug)
    if scope is None:
        raise Http404
    return scope


def facility_pks(scope: FacilityScope | None):
    """The scope's facilities as a subquery of pks (None: every facility)."""
    if scope is None:
        return None
    return (
        PortfolioFacility.objects.filter(portfolio_id__in=scope.portfolio_ids)
        .order_by()
        .values("facility_id")
    )


def portfolios_key(request, portfolios: list[dict]) -> str:
    """The cache key part of a ``/portfolios`` answer: the portfolios listed, under the
    membership generation (names and memberships change it)."""
    from consumers.portfolios import membership_generation

    return f"{'.'.join(str(p['pk']) for p in portfolios) or '-'}@g{membership_generation()}"
