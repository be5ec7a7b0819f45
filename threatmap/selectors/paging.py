"""The lists' one search, sort and paging (threatmap-api.md "Lists"), shared by the facility
list and a facility's equipment list; code point ordering for every sorted read."""

from __future__ import annotations

import operator
from collections.abc import Callable
from functools import reduce

from django.db import connection
from django.db.models import Case, F, IntegerField, Q, QuerySet, Value, When
from django.db.models.functions import Collate

from voltmetrics.choices import Rating

SEVERITY = {Rating.LOW: 1, Rating.MEDIUM: 2, Rating.HIGH: 3, Rating.CRITICAL: 4}
# Query values as the stored labels they filter on.
LEVEL_LABEL = {"low": "Low", "medium": "Medium", "high": "High", "critical": "Critical"}
COMPLIANCE_LABEL = {
    "compliant": "Compliant",
    "warning": "Warning",
    "out_of_compliance": "Out of Compliance",
}


def codepoint(name: str):
    """Order by code point: PostgreSQL's COLLATE "C"; SQLite's default BINARY already is."""
    return Collate(F(name), "C") if connection.vendor == "postgresql" else F(name)


def severity(field_name: str):
    """A rating field as a sortable number (low 1 … critical 4; null when unrated)."""
    return Case(
        *(When(**{field_name: label}, then=Value(n)) for label, n in SEVERITY.items()),
        default=None,
        output_field=IntegerField(),
    )


def search(qs: QuerySet, text: str, fields: tuple[str, ...]) -> QuerySet:
    """Rows where any of ``fields`` holds ``text`` (case-insensitive substring); every row
    for an empty ``text``."""
    if "\x00" in text:
        return qs.none()  # no stored text holds NUL (and PostgreSQL cannot compare one)
    if not text:
        return qs
    return qs.filter(reduce(operator.or_, (Q(**{f"{f}__icontains": text}) for f in fields)))


def ordering(key, order: str) -> list:
    """Sort by ``key`` in ``order``, nulls last either way; ties by name, then id (code point
    order)."""
    return [
        key.desc(nulls_last=True) if order == "desc" else key.asc(nulls_last=True),
        codepoint("name").asc(),
        codepoint("external_id").asc(),
    ]


def page(
    qs: QuerySet,
    params,
    *,
    rows_key: str,
    sort_key: Callable[[str], object],
    items: Callable[[QuerySet], list[dict]],
    page_annotations: dict | None = None,
) -> dict:
    """The list body ``{"total", "page", "limit", rows_key: [...]}`` of ``params``' page of
    ``qs``: ``items(rows)`` of the page's rows sorted by ``sort_key(params.sort)`` in
    ``params.order`` (see ``ordering``). A page past the end is empty and costs no query but
    the count. ``page_annotations`` are columns only the page's rows need (not the count).
    """
    total = qs.count()
    out: list[dict] = []
    offset = (params.page - 1) * params.limit
    if offset < total:
        if page_annotations:
            qs = qs.annotate(**page_annotations)
        rows = qs.order_by(*ordering(sort_key(params.sort), params.order))
        out = items(rows[offset : offset + params.limit])
    return {"total": total, "page": params.page, "limit": params.limit, rows_key: out}
