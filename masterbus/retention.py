"""Retention: pruning the tables that grow with time (operations.md §3).

``masterbus`` knows no domain app, so the apps register what they prune in
``AppConfig.ready()``: :func:`register_pruner` takes a name, a function and the retention
settings it reads with their floors; :func:`register_retention_floor` declares a retention
setting that has nothing to prune yet. :func:`prune` checks every registered setting against
its floor *before anything is deleted* (one below its floor refuses the whole run), then runs
the pruners in registration order (the layers' order: ``masterbus`` first).

A pruner gets a :class:`Pruning`: the run's ``now`` (a parameter, so a benchmark can run
nights of a simulated year), its cut-offs, and :meth:`Pruning.delete`, which deletes what a
queryset selects in batches of at most ``PRUNE_BATCH_SIZE`` rows (5,000 at most): each batch
one ``SELECT … LIMIT`` (rows locked, ``SKIP LOCKED`` on PostgreSQL, so a row being written is
left for the next night) and one ``DELETE`` in its own short transaction. A dry run counts the
same querysets and deletes nothing. Every table's count is logged (one line per table) and
returned.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connections, router, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

log = logging.getLogger(__name__)

MAX_BATCH_SIZE = 5000


class RetentionRefused(Exception):
    """A retention setting is below its floor (or the batch size is not a positive number):
    nothing was deleted."""


@dataclass(frozen=True)
class Pruner:
    name: str
    prune: Callable[[Pruning], None]
    floors: dict[str, int]


_pruners: dict[str, Pruner] = {}
_floors: dict[str, int] = {}


def register_pruner(name: str, prune: Callable[[Pruning], None], *, floors: dict[str, int]) -> None:
    """Run ``prune`` on every prune; ``floors`` maps each retention setting (days) it reads to
    the lowest value allowed. Registering a name again replaces it (idempotent ``ready()``)."""
    _pruners[name] = Pruner(name, prune, dict(floors))
    for setting, floor in floors.items():
        register_retention_floor(setting, floor)


def register_retention_floor(setting: str, floor: int) -> None:
    """Declare the retention setting ``setting`` (days) and its lowest allowed value."""
    _floors[setting] = floor


def retention_floors() -> dict[str, int]:
    return dict(_floors)


def pruner_names() -> list[str]:
    return list(_pruners)


def batch_size() -> int:
    """``PRUNE_BATCH_SIZE``, capped at 5,000 rows per statement."""
    return min(int(getattr(settings, "PRUNE_BATCH_SIZE", MAX_BATCH_SIZE)), MAX_BATCH_SIZE)


def check_retention_settings() -> dict[str, int]:
    """Every registered retention setting (days), or :class:`RetentionRefused` naming each
    one below its floor (and a batch size below 1) in one line."""
    days: dict[str, int] = {}
    problems: list[str] = []
    for name, floor in _floors.items():
        value = getattr(settings, name, None)
        if not isinstance(value, int) or isinstance(value, bool):
            problems.append(f"{name}={value!r} is not a whole number of days")
        elif value < floor:
            problems.append(f"{name}={value} is below its floor of {floor} days")
        else:
            days[name] = value
    size = getattr(settings, "PRUNE_BATCH_SIZE", MAX_BATCH_SIZE)
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        problems.append(f"PRUNE_BATCH_SIZE={size!r} must be at least 1")
    if problems:
        raise RetentionRefused("refusing to prune, nothing deleted: " + "; ".join(problems))
    return days


@dataclass
class Pruning:
    """One prune run, as the pruners see it."""

    now: datetime
    dry_run: bool
    batch_size: int
    days: dict[str, int]
    counts: dict[str, int] = field(default_factory=dict)

    def cutoff(self, setting: str) -> datetime:
        """``now`` minus the retention setting ``setting`` (days); it must be registered."""
        return self.now - timedelta(days=self.days[setting])

    def delete(self, queryset: QuerySet, *, label: str = "", guard: Q | None = None) -> int:
        """Delete (or, in a dry run, count) what ``queryset`` selects, in batches; count it
        under ``label`` (default: the table's name). ``guard`` is a condition the real delete
        also requires of each row, to re-check under the row lock what an earlier step of the
        same pruner made true (a dry run, which deleted nothing before, counts without it)."""
        model = queryset.model
        label = label or model._meta.db_table
        if self.dry_run:
            count = queryset.count()
        else:
            if guard is not None:
                queryset = queryset.filter(guard)
            count = delete_in_batches(queryset, self.batch_size)
        self._record(label, count)
        return count

    def delete_files(self, label: str, paths: Iterable[str]) -> int:
        """Delete (or count) files; a file already gone is not counted."""
        count = 0
        for path in paths:
            if self.dry_run:
                count += os.path.exists(path)
                continue
            try:
                os.remove(path)
            except FileNotFoundError:
                continue
            except OSError:
                log.warning("prune: could not delete %s", path, exc_info=True)
                continue
            count += 1
        self._record(label, count)
        return count

    def _record(self, label: str, count: int) -> None:
        self.counts[label] = self.counts.get(label, 0) + count
        log.info("prune: %s %s %d", label, "would delete" if self.dry_run else "deleted", count)


def delete_in_batches(queryset: QuerySet, size: int) -> int:
    """Delete the rows ``queryset`` selects, at most ``size`` per DELETE statement, each
    batch in its own transaction; returns how many were deleted. Rows locked by another
    transaction are skipped (PostgreSQL), so pruning never waits on a writer."""
    model = queryset.model
    alias = router.db_for_write(model)
    conn = connections[alias]
    qn = conn.ops.quote_name
    sql_head = f"DELETE FROM {qn(model._meta.db_table)} WHERE {qn(model._meta.pk.column)} IN "
    ids_qs = queryset.using(alias).order_by("pk")
    if conn.features.has_select_for_update_skip_locked:
        of = ("self",) if conn.features.has_select_for_update_of else ()
        ids_qs = ids_qs.select_for_update(skip_locked=True, of=of)
    total = 0
    while True:
        with transaction.atomic(using=alias):
            ids = list(ids_qs.values_list("pk", flat=True)[:size])
            if not ids:
                break
            with conn.cursor() as cur:
                cur.execute(sql_head + "(" + ", ".join(["%s"] * len(ids)) + ")", ids)
                total += cur.rowcount
        if len(ids) < size:
            break
    return total


@dataclass(frozen=True)
class PruneResult:
    now: datetime
    dry_run: bool
    days: dict[str, int]
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def as_dict(self) -> dict:
        return {
            "now": self.now.isoformat(),
            "dry_run": self.dry_run,
            "days": self.days,
            "counts": self.counts,
            "total": self.total,
        }


def prune(*, now: datetime | None = None, dry_run: bool = False) -> PruneResult:
    """Run every registered pruner as of ``now`` (default: now); a dry run deletes nothing
    and counts what would be deleted. Raises :class:`RetentionRefused` before deleting
    anything when a retention setting is below its floor."""
    days = check_retention_settings()
    now = now or timezone.now()
    pruning = Pruning(now=now, dry_run=dry_run, batch_size=batch_size(), days=days)
    for pruner in list(_pruners.values()):
        pruner.prune(pruning)
    result = PruneResult(now=now, dry_run=dry_run, days=days, counts=dict(pruning.counts))
    log.info(
        "prune: %s %d row(s) or file(s) in all, as of %s",
        "would delete" if dry_run else "deleted", result.total, now.isoformat(),
    )  # fmt: skip
    return result
