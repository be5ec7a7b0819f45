"""The pull door: page through Condoit's export API into the mirror (condoit-source.md §2.2).

One pull is one sync run covering the requested resources, parents first. Per resource it
asks for records updated since the stored high-water mark (inclusive: re-seen boundary
records are detected as unchanged), follows ``nextCursor`` to the end, and commits each page
in one transaction together with the advanced mark, so an interrupted pull resumes from the
last committed page without loss or duplication. A cache lock keeps two pulls from running
at once (with Redis it holds across processes and hosts); it is extended after each page and
released only by its holder (``masterbus.locks``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import orjson
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from facilities.choices import RecordKind, SyncSource
from facilities.models import RejectedRecord, SyncCursor, SyncRun
from masterbus.locks import CacheLock

from .client import RESOURCES, CondoitClient, CondoitError
from .ingest import Ingestor

log = logging.getLogger(__name__)

KIND_OF = {
    "facilities": RecordKind.FACILITY,
    "equipment": RecordKind.EQUIPMENT,
    "maintenance-records": RecordKind.MAINTENANCE,
}
LOCK_KEY = "condoit:pull:lock"
# Records a pull rejected because their parent was not mirrored yet, and the parent field.
_ORPHAN_FIELDS = {RecordKind.EQUIPMENT: "facilityId", RecordKind.MAINTENANCE: "equipmentId"}
_ORPHAN_RETRY_MAX = 5000

# on_page(resource, page_number, items_in_page, records_so_far)
PageCallback = Callable[[str, int, int, int], None]


class PullRefused(Exception):
    """The pull did not start (nothing was fetched, no sync run was recorded)."""


class PullNotConfigured(PullRefused):
    pass


class PullLocked(PullRefused):
    pass


class _LockLost(Exception):
    pass



def pull_configured() -> bool:
    """The pull runs (and its door is reported) only with both CONDOIT_URL and CONDOIT_TOKEN."""
    return bool(settings.CONDOIT_URL and settings.CONDOIT_TOKEN)

def condoit_pull(
    *,
    full: bool = False,
    resources: Iterable[str] = RESOURCES,
    client: CondoitClient | None = None,
    on_page: PageCallback | None = None,
) -> SyncRun:
    """Pull from Condoit's export API; returns the finished sync run (one per pull).

    ``full`` ignores the high-water marks and re-reads everything (unchanged records are
    detected and not rewritten; marks never move backwards). Raises :class:`PullNotConfigured`
    without CONDOIT_URL/CONDOIT_TOKEN and :class:`PullLocked` while another pull runs.
    A Condoit failure (retries exhausted, a 4xx, a malformed page) does not raise: it stops
    the run, which is returned with status ``failed`` and the error; pages committed before
    it stay committed.
    """
    wanted = set(resources)
    unknown = wanted - set(RESOURCES)
    if unknown:
        raise ValueError(f"unknown Condoit resource(s): {', '.join(sorted(unknown))}")
    ordered = [r for r in RESOURCES if r in wanted]  # parents first, whatever was asked
    if client is None and not pull_configured():
        raise PullNotConfigured("Condoit pull is not configured: set CONDOIT_URL and CONDOIT_TOKEN")

    lock = CacheLock(LOCK_KEY, settings.CONDOIT_SYNC_LOCK_TTL)
    acquired = lock.acquire()
    if acquired is None:  # django-redis with IGNORE_EXCEPTIONS: the cache is down
        raise PullLocked("could not take the Condoit pull lock (cache unavailable); not pulling")
    if not acquired:
        raise PullLocked("another Condoit pull is running; not starting a second one")
    own_client = client is None
    try:
        if own_client:
            client = CondoitClient()
        return _run(client, ordered, full=full, lock=lock, on_page=on_page)
    finally:
        if own_client and client is not None:
            client.close()
        # Releases only our own lock: if it expired and another pull took it, theirs stays.
        lock.release()


def _run(
    client: CondoitClient,
    resources: list[str],
    *,
    full: bool,
    lock: CacheLock,
    on_page: PageCallback | None,
) -> SyncRun:
    label = "pull" + (" (full)" if full else "") + ": " + ", ".join(resources)
    ing = Ingestor(source=SyncSource.PULL, label=label, missing_parent="reject")
    resource = resources[0] if resources else ""
    try:
        for resource in resources:
            _pull_resource(client, ing, resource, full=full, lock=lock, on_page=on_page)
        _retry_orphans(ing)
    except CondoitError as exc:
        log.warning(
            "Condoit pull #%s stopped: %s", ing.run.pk, exc.message,
            extra={"sync_run_id": ing.run.pk},
        )  # fmt: skip
        return ing.finish(error=f"{resource}: {exc.message}")
    except _LockLost as exc:
        return ing.finish(error=str(exc))
    except Exception as exc:
        log.exception("Condoit pull #%s crashed", ing.run.pk, extra={"sync_run_id": ing.run.pk})
        ing.finish(error=f"{resource}: unexpected {type(exc).__name__}: {str(exc)[:500]}")
        raise
    return ing.finish()


def _pull_resource(
    client: CondoitClient,
    ing: Ingestor,
    resource: str,
    *,
    full: bool,
    lock: CacheLock,
    on_page: PageCallback | None,
) -> None:
    kind = KIND_OF[resource]
    mark, _ = SyncCursor.objects.get_or_create(resource=resource)
    since = None if full else mark.high_water_mark
    limit = max(1, min(settings.CONDOIT_PAGE_LIMIT, 200))
    cursor: str | None = None
    seen_cursors: set[str] = set()
    page = records = 0
    while True:
        items, next_cursor = client.fetch_page(
            resource, updated_since=since, cursor=cursor, limit=limit
        )
        page += 1
        with transaction.atomic():
            for item in items:
                ing.add(kind, item)
            ing.flush()
            page_max = max_updated_at(items)
            if page_max is not None:
                # Only forwards: a full re-read must not move the mark back.
                SyncCursor.objects.filter(resource=resource).filter(
                    Q(high_water_mark__isnull=True) | Q(high_water_mark__lt=page_max)
                ).update(high_water_mark=page_max, updated_at=timezone.now())
        records += len(items)
        if on_page is not None:
            on_page(resource, page, len(items), records)
        _keep_lock(lock)
        if next_cursor is None:
            return
        if next_cursor in seen_cursors:
            raise CondoitError(f"nextCursor {next_cursor[:100]!r} came twice; stopping a loop")
        seen_cursors.add(next_cursor)
        cursor = next_cursor


def max_updated_at(items: list[Any]) -> datetime | None:
    """The latest ``updatedAt`` of a page, compared as instants; unparseable ones ignored."""
    best: datetime | None = None
    for item in items:
        value = item.get("updatedAt") if isinstance(item, dict) else None
        if not isinstance(value, str):
            continue
        try:
            ts = datetime.fromisoformat(value)
        except ValueError:
            continue
        if ts.tzinfo is None or ts.utcoffset() is None:
            continue
        if best is None or ts > best:
            best = ts
    return best


def _keep_lock(lock: CacheLock) -> None:
    """Extend our lock after each page (compare and extend in one step), so a long pull does
    not outlive it; stop when it is no longer ours."""
    if not lock.extend(settings.CONDOIT_SYNC_LOCK_TTL):
        raise _LockLost(
            "the pull lock expired (CONDOIT_SYNC_LOCK_TTL) and was taken by another pull; "
            "stopped after the last committed page"
        )


def _retry_orphans(ing: Ingestor) -> None:
    """Re-run records earlier pulls rejected for a parent that is mirrored now.

    A child created in Condoit between our read of its parent's resource and our read of its
    own is rejected (unknown parent) while the mark moves past it; without this it would
    stay missing until Condoit changed it again.
    """
    from equipment.models import Equipment
    from facilities.models import Facility

    parents = {RecordKind.EQUIPMENT: Facility, RecordKind.MAINTENANCE: Equipment}
    for kind, field in _ORPHAN_FIELDS.items():  # equipment first: maintenance may need it
        pending = list(
            RejectedRecord.objects.filter(
                sync_run__source=SyncSource.PULL,
                kind=kind,
                field=field,
                rerun_at__isnull=True,
                raw_truncated=False,
            )
            .exclude(sync_run=ing.run)
            .order_by("id")[:_ORPHAN_RETRY_MAX]
        )
        if not pending:
            continue
        raws = {}
        for rec in pending:
            try:
                raw = orjson.loads(rec.raw)
            except orjson.JSONDecodeError:
                continue
            if isinstance(raw, dict) and isinstance(raw.get(field), str):
                raws[rec.pk] = raw
        known = set(
            parents[kind]
            .objects.filter(external_id__in={r[field] for r in raws.values()})
            .values_list("external_id", flat=True)
        )
        ready = [rec for rec in pending if rec.pk in raws and raws[rec.pk][field] in known]
        if not ready:
            continue
        now = timezone.now()
        with transaction.atomic():
            for rec in ready:
                ing.add(kind, raws[rec.pk])
                rec.rerun_at = now
                rec.rerun_outcome = f"re-run by pull (sync run #{ing.run.pk})"
            ing.flush()
            RejectedRecord.objects.bulk_update(ready, ["rerun_at", "rerun_outcome"])
        log.info("Condoit pull #%s re-ran %d %s record(s) whose parent arrived",
                 ing.run.pk, len(ready), kind, extra={"sync_run_id": ing.run.pk})  # fmt: skip
