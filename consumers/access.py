"""The scope provider behind ``masterbus.access`` (consumers.md §1): which facilities a
principal sees.

An API key (``ApiKeyPrincipal.api_key``) or a user bound to portfolios sees the facilities of
those portfolios; an unbound one (and staff, whom ``masterbus.access`` never asks about) sees
every facility (None).

Cost: a principal's portfolio ids and a portfolio set's facilities are cached under keys
carrying the membership generation (``consumers.portfolios``), which changes whenever a
membership or a binding does. Entries of a generation never change, so besides the shared
Django cache each process keeps the latest ones in memory: a warm request costs one cache
round trip (the generation) and no database query. A cold one costs one query for the
principal's portfolios and one for their facilities, whatever their size. When the cache is
unreachable, both come from the database.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable

from django.core.cache import cache

from masterbus.access import FacilityScope

from .models import Portfolio, PortfolioFacility
from .portfolios import membership_generation

_PREFIX = "consumers:scope:"
_LOCAL_MAX = 512
_local: OrderedDict[str, object] = OrderedDict()
_local_lock = threading.Lock()
_UNBOUND = ()


def _local_get(key: str):
    with _local_lock:
        value = _local.get(key)
        if value is not None:
            _local.move_to_end(key)
        return value


def _local_put(key: str, value) -> None:
    with _local_lock:
        _local[key] = value
        _local.move_to_end(key)
        while len(_local) > _LOCAL_MAX:
            _local.popitem(last=False)


def local_clear() -> None:
    """Forget the in-process entries (tests)."""
    with _local_lock:
        _local.clear()


def _cached(key: str, compute):
    """``compute()`` through the process memory, then the shared cache."""
    value = _local_get(key)
    if value is not None:
        return value
    try:
        value = cache.get(_PREFIX + key)
    except Exception:  # noqa: BLE001 - a cache outage must not fail a read
        value = None
    if value is None:
        value = compute()
        try:
            cache.set(_PREFIX + key, value, 24 * 3600)
        except Exception:  # noqa: BLE001
            pass
    _local_put(key, value)
    return value


def _principal_ref(principal) -> tuple[str, int] | None:
    """``("k", api key pk)`` or ``("u", user pk)``; None for anonymous principals."""
    api_key = getattr(principal, "api_key", None)
    if api_key is not None and getattr(api_key, "pk", None) is not None:
        return "k", api_key.pk
    if getattr(principal, "is_authenticated", False) and getattr(principal, "pk", None):
        return "u", principal.pk
    return None


def _bound_ids(kind: str, pk: int) -> tuple[int, ...]:
    if kind == "k":
        qs = Portfolio.api_keys.through.objects.filter(apikey_id=pk)
    else:
        qs = Portfolio.users.through.objects.filter(**{_user_column(): pk})
    return tuple(sorted(set(qs.values_list("portfolio_id", flat=True))))


def _user_column() -> str:
    through = Portfolio.users.through
    return next(
        f.attname
        for f in through._meta.concrete_fields
        if f.is_relation and f.related_model is not Portfolio
    )


def portfolio_ids_of(principal, *, gen: int | None = None) -> tuple[int, ...]:
    """The ids of the portfolios the principal is bound to (sorted; empty: unbound)."""
    ref = _principal_ref(principal)
    if ref is None or getattr(principal, "is_staff", False):
        return _UNBOUND
    if gen is None:
        gen = membership_generation()
    if gen is None:
        return _bound_ids(*ref)
    return _cached(f"{ref[0]}{ref[1]}@g{gen}", lambda: _bound_ids(*ref))


def _compute(ids: tuple[int, ...], key: str) -> FacilityScope:
    pairs = list(
        PortfolioFacility.objects.filter(portfolio_id__in=ids)
        .order_by()
        .values_list("facility_id", "facility__external_id")
        .distinct()
    )
    return FacilityScope(
        portfolio_ids=ids,
        key=key,
        facility_pks=frozenset(p for p, _ in pairs),
        facility_ids=frozenset(e for _, e in pairs),
    )


def portfolios_scope(portfolio_ids: Iterable[int], *, gen: int | None = None) -> FacilityScope:
    """The facilities of these portfolios as a scope (key ``p3.7@g12``)."""
    ids = tuple(sorted(set(portfolio_ids)))
    if gen is None:
        gen = membership_generation()
    base = "p" + ".".join(map(str, ids))
    if gen is None:
        return _compute(ids, f"{base}@nocache")
    key = f"{base}@g{gen}"
    return _cached(key, lambda: _compute(ids, key))


def scope_provider(principal) -> FacilityScope | None:
    """``masterbus.access``'s provider: the bound principal's facilities, or None (all)."""
    if _principal_ref(principal) is None or getattr(principal, "is_staff", False):
        return None
    gen = membership_generation()
    ids = portfolio_ids_of(principal, gen=gen)
    if not ids:
        return None
    return portfolios_scope(ids, gen=gen)


def portfolio_catalogue(*, gen: int | None = None) -> tuple[dict, ...]:
    """Every portfolio as ``{"pk", "slug", "name"}``, by name then slug (cached per
    generation: saving or deleting a portfolio bumps it)."""

    def compute():
        return tuple(
            {"pk": pk, "slug": slug, "name": name}
            for pk, slug, name in Portfolio.objects.order_by("name", "slug").values_list(
                "pk", "slug", "name"
            )
        )

    if gen is None:
        gen = membership_generation()
    if gen is None:
        return compute()
    return _cached(f"catalogue@g{gen}", compute)
