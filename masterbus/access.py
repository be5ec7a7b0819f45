"""Which facilities a principal may see (consumers.md §1), for every layer's read endpoints.

A principal (an API key's ``ApiKeyPrincipal`` or a user) bound to portfolios sees only their
facilities; an unbound one (and staff) sees every facility. The portfolios live in a higher
layer (``consumers``), which registers the provider in its ``ready()``; this module is the
one place lower layers (photos) and the read API ask."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class FacilityScope:
    """The facilities a bound principal sees."""

    portfolio_ids: tuple[int, ...]  # sorted
    key: str  # stable text naming the set (portfolios and their membership's generation)
    facility_pks: frozenset[int]
    facility_ids: frozenset[str]  # Condoit ids

    def allows_pk(self, pk: int | None) -> bool:
        return pk is not None and pk in self.facility_pks

    def allows_id(self, facility_id: str | None) -> bool:
        return facility_id is not None and facility_id in self.facility_ids


_provider: Callable[[object], FacilityScope | None] | None = None


def register_scope_provider(provider: Callable[[object], FacilityScope | None]) -> None:
    global _provider
    _provider = provider


def principal_scope(principal) -> FacilityScope | None:
    """The principal's facilities, or None when it sees every facility."""
    if principal is None or getattr(principal, "is_staff", False) or _provider is None:
        return None
    return _provider(principal)


def request_scope(request) -> FacilityScope | None:
    """``principal_scope`` of the request's user, computed once per request."""
    cached = getattr(request, "_masterbus_scope", _missing)
    if cached is _missing:
        cached = principal_scope(getattr(request, "user", None))
        try:
            request._masterbus_scope = cached
        except AttributeError:
            pass
    return cached


_missing = object()
