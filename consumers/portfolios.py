"""Portfolios (consumers.md §1): creating and updating them, their facilities (picked by staff
or matched by a saved rule), the keys and users bound to them, and the membership generation.

Membership rows are ``PortfolioFacility``: ``by_rule=False`` rows were picked by staff and stay
until staff remove them; ``by_rule=True`` rows follow the portfolio's rule (every active
facility whose contractor, city and state match the rule's non-empty fields,
case-insensitively) and are added and removed by ``portfolio_rules_apply`` in two statements
per rule portfolio (an INSERT … SELECT and a DELETE), whatever the number of facilities.
The rules are re-applied when a portfolio's rule is saved and, through a task scheduled after
the commit of every mirror change (``masterbus.changes.records_changed``), when facilities
arrive or change.

The **membership generation** is a number in the cache, bumped whenever a portfolio's
facilities or the keys and users bound to portfolios change (at once and again at the
commit). Scopes (``consumers.access``) and the payloads built for them carry it in their
keys, so a membership change gives them new keys instead of needing invalidation.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Count, F

from facilities.models import Facility
from masterbus import audit

from .models import SLUG_RE, Portfolio, PortfolioFacility

log = logging.getLogger(__name__)

GENERATION_KEY = "consumers:membership-gen"
STATE_RE = re.compile(r"^[A-Za-z]{2}$")
_SLUG = re.compile(SLUG_RE)


# --- the membership generation ---------------------------------------------------------------


def _fresh_generation() -> int:
    # Microseconds: exact through django-redis' Lua incr (2**53), and never equal to a
    # generation seen before an eviction.
    return time.time_ns() // 1000


def membership_generation() -> int | None:
    """The current membership generation; None when the cache is unreachable."""
    try:
        gen = cache.get(GENERATION_KEY)
        if gen is None:
            seed = _fresh_generation()
            if cache.add(GENERATION_KEY, seed, None):
                return seed
            gen = cache.get(GENERATION_KEY)
        return gen if isinstance(gen, int) else None
    except Exception:  # noqa: BLE001 - a cache outage must not fail a read
        log.warning("membership generation unavailable", exc_info=True)
        return None


def _bump() -> None:
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:  # missing (never set, evicted): start from a fresh one
        try:
            cache.set(GENERATION_KEY, _fresh_generation(), None)
        except Exception:  # noqa: BLE001
            log.warning("membership generation not bumped", exc_info=True)
    except Exception:  # noqa: BLE001
        log.warning("membership generation not bumped", exc_info=True)


def membership_changed() -> None:
    """Bump the membership generation now and again when the transaction commits (a scope
    computed meanwhile from the uncommitted state gets a key of its own)."""
    _bump()
    if connection.in_atomic_block:
        transaction.on_commit(_bump)


# --- rules --------------------------------------------------------------------------------------


@dataclass
class RuleStats:
    portfolios: int = 0
    added: int = 0
    removed: int = 0

    def __str__(self) -> str:
        return (
            f"{self.portfolios} rule portfolio(s): {self.added} facilities added, "
            f"{self.removed} removed"
        )


def rule_matches(portfolio: Portfolio):
    """The active facilities ``portfolio``'s rule matches (a queryset of pks); None when the
    portfolio has no rule."""
    if not portfolio.has_rule:
        return None
    qs = Facility.objects.filter(deleted_at__isnull=True)
    if portfolio.rule_contractor.strip():
        qs = qs.filter(contractor__iexact=portfolio.rule_contractor.strip())
    if portfolio.rule_city.strip():
        qs = qs.filter(city__iexact=portfolio.rule_city.strip())
    if portfolio.rule_state.strip():
        qs = qs.filter(state__iexact=portfolio.rule_state.strip())
    return qs.order_by().values(fpk=F("pk"))


def _rule_apply_one(portfolio: Portfolio) -> tuple[int, int]:
    matching = rule_matches(portfolio)
    rows = PortfolioFacility.objects.filter(portfolio=portfolio, by_rule=True)
    if matching is None:
        return 0, rows.delete()[0]
    sql, params = matching.query.sql_with_params()
    table = PortfolioFacility._meta.db_table
    with connection.cursor() as cur:
        cur.execute(
            f"INSERT INTO {table} (portfolio_id, facility_id, by_rule) "  # noqa: S608
            f"SELECT %s, m.fpk, TRUE FROM ({sql}) m WHERE TRUE "
            "ON CONFLICT (portfolio_id, facility_id) DO NOTHING",
            [portfolio.pk, *params],
        )
        added = max(cur.rowcount, 0)
    removed = rows.exclude(facility_id__in=matching).delete()[0]
    return added, removed


def portfolio_rules_apply(portfolios: Iterable[Portfolio] | None = None) -> RuleStats:
    """Re-apply the rules of ``portfolios`` (default: every portfolio with a rule or with rule
    rows left from an earlier rule): add the facilities the rule matches, remove the rule rows
    it no longer matches; staff-picked rows stay. Two statements per portfolio."""
    if portfolios is None:
        with_rule = Portfolio.objects.exclude(
            rule_contractor="", rule_city="", rule_state=""
        ) | Portfolio.objects.filter(members__by_rule=True)
        portfolios = with_rule.distinct().order_by("pk")
    stats = RuleStats()
    with transaction.atomic():
        for p in portfolios:
            added, removed = _rule_apply_one(p)
            stats.portfolios += 1
            stats.added += added
            stats.removed += removed
        if stats.added or stats.removed:
            membership_changed()
    return stats


# --- creating and updating ---------------------------------------------------------------------


def _check_slug(slug: str) -> str:
    if not isinstance(slug, str) or not _SLUG.fullmatch(slug):
        raise ValueError(f"slug {slug!r} is not 1–50 lowercase letters, digits and hyphens")
    return slug


def _check_state(state: str | None) -> str | None:
    if state is None or state == "":
        return state
    if not STATE_RE.fullmatch(state.strip()):
        raise ValueError(f"rule state {state!r} is not a two-letter state code")
    return state.strip().upper()


def facility_pks_of(external_ids: Iterable[str]) -> list[int]:
    """The pks of these active facilities (Condoit ids); ValueError naming unknown ones."""
    wanted = list(dict.fromkeys(external_ids))
    found = dict(
        Facility.objects.filter(external_id__in=wanted, deleted_at__isnull=True).values_list(
            "external_id", "pk"
        )
    )
    unknown = [i for i in wanted if i not in found]
    if unknown:
        raise ValueError(f"unknown facility id(s): {', '.join(unknown)}")
    return [found[i] for i in wanted]


def portfolio_facilities_set(portfolio: Portfolio, facility_pks: Iterable[int]) -> None:
    """Make exactly these the portfolio's staff-picked facilities (rule rows of facilities
    picked become staff-picked; rule rows of the others stay)."""
    pks = set(facility_pks)
    with transaction.atomic():
        PortfolioFacility.objects.filter(portfolio=portfolio, by_rule=False).exclude(
            facility_id__in=pks
        ).delete()
        PortfolioFacility.objects.filter(
            portfolio=portfolio, by_rule=True, facility_id__in=pks
        ).update(by_rule=False)
        PortfolioFacility.objects.bulk_create(
            [PortfolioFacility(portfolio=portfolio, facility_id=pk, by_rule=False) for pk in pks],
            ignore_conflicts=True,
        )
        membership_changed()
        audit.related_saved(portfolio, reason="staff-picked facilities set")


def portfolio_facilities_add(portfolio: Portfolio, facility_pks: Iterable[int]) -> None:
    """Add staff-picked facilities (a rule row of one of them becomes staff-picked)."""
    pks = set(facility_pks)
    with transaction.atomic():
        PortfolioFacility.objects.filter(
            portfolio=portfolio, by_rule=True, facility_id__in=pks
        ).update(by_rule=False)
        PortfolioFacility.objects.bulk_create(
            [PortfolioFacility(portfolio=portfolio, facility_id=pk, by_rule=False) for pk in pks],
            ignore_conflicts=True,
        )
        membership_changed()
        audit.related_saved(portfolio, reason="staff-picked facilities added")


def portfolio_save(
    *,
    slug: str,
    name: str | None = None,
    description: str | None = None,
    facility_ids: Iterable[str] | None = None,
    rule_contractor: str | None = None,
    rule_city: str | None = None,
    rule_state: str | None = None,
) -> tuple[Portfolio, bool]:
    """Create the portfolio ``slug`` or update it (``manage.py create_portfolio``).

    Every argument is checked before anything is written; a bad one raises ValueError with a
    one-line reason. Arguments left None keep their value (a new portfolio needs ``name``).
    ``facility_ids`` (Condoit ids) become exactly its staff-picked facilities. The rule is
    re-applied. Returns ``(portfolio, created)``."""
    _check_slug(slug)
    rule_state = _check_state(rule_state)
    if name is not None and not name.strip():
        raise ValueError("name is empty")
    if name is not None and len(name.strip()) > 200:
        raise ValueError("name is longer than 200 characters")
    pks = facility_pks_of(facility_ids) if facility_ids is not None else None
    # One audit history row for the whole save, with the facilities picked.
    with transaction.atomic(), audit.merged(Portfolio):
        portfolio = Portfolio.objects.select_for_update().filter(slug=slug).first()
        created = portfolio is None
        if created:
            if name is None:
                raise ValueError(
                    f"portfolio {slug!r} does not exist; --name is needed to create it"
                )
            portfolio = Portfolio(slug=slug)
        for field, value in (
            ("name", name.strip() if name is not None else None),
            ("description", description),
            ("rule_contractor", rule_contractor.strip() if rule_contractor is not None else None),
            ("rule_city", rule_city.strip() if rule_city is not None else None),
            ("rule_state", rule_state),
        ):
            if value is not None:
                setattr(portfolio, field, value)
        try:
            portfolio.full_clean()
        except ValidationError as exc:
            raise ValueError("; ".join(exc.messages)) from None
        portfolio.save()
        if pks is not None:
            portfolio_facilities_set(portfolio, pks)
        portfolio_rules_apply([portfolio])
        if created:
            membership_changed()
    return portfolio, created


def portfolios_by_slug(slugs: Iterable[str]) -> list[Portfolio]:
    """The portfolios of these slugs, in the order given; ValueError naming unknown ones."""
    wanted = list(dict.fromkeys(slugs))
    found = {p.slug: p for p in Portfolio.objects.filter(slug__in=wanted)}
    unknown = [s for s in wanted if s not in found]
    if unknown:
        raise ValueError(f"unknown portfolio(s): {', '.join(unknown)}")
    return [found[s] for s in wanted]


def api_key_bind(api_key, portfolios: Iterable[Portfolio]) -> None:
    """Bind the key to these portfolios (in addition to any it has)."""
    portfolios = list(portfolios)
    if portfolios:
        with transaction.atomic():
            api_key.portfolios.add(*portfolios)  # m2m_changed bumps the generation
            for portfolio in portfolios:
                audit.related_saved(portfolio, reason=f"API key {api_key} bound")


def facility_counts(portfolio_ids: Iterable[int] | None = None) -> dict[int, int]:
    """Active facilities per portfolio (one query)."""
    qs = PortfolioFacility.objects.filter(facility__deleted_at__isnull=True)
    if portfolio_ids is not None:
        qs = qs.filter(portfolio_id__in=list(portfolio_ids))
    return dict(
        qs.order_by()
        .values("portfolio_id")
        .annotate(n=Count("id"))
        .values_list("portfolio_id", "n")
    )


def portfolio_facility_count(portfolio: Portfolio) -> int:
    return facility_counts([portfolio.pk]).get(portfolio.pk, 0)


def api_key_binder(slugs: list[str]):
    """``create_api_key --portfolio SLUG …`` (registered with masterbus in ``ready()``): the
    slugs are checked before the key is created; the key is bound in its transaction."""
    portfolios = portfolios_by_slug(slugs)

    def bind(key) -> None:
        api_key_bind(key, portfolios)

    return bind
