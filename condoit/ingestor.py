"""The Ingestor: Condoit records taken in, batched and written as one sync run.

It buffers raw records per kind, and per batch has them prepared (``prepare``), decides
what each one becomes (unchanged, stale, created, updated, deleted; a missing parent
rejected, deferred or raised), applies staff overrides (``overrides``) and mappings
(``mapping``), has the rows written (``writes``) and counts them, recording rejections and
counts on the sync run as it goes. It runs the batches of a file overlapped with the
parsing of the next one (``masterbus.overlap``), replays deferred records (``spill``) and
finishes the run.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future
from datetime import datetime
from typing import Any

import orjson
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.utils import timezone

from equipment.models import Equipment
from facilities.choices import ChangeSource, RecordKind, SyncSource, SyncStatus
from facilities.models import Facility, FieldOverride, RejectedRecord, SyncRun
from masterbus.bulk import rows_where_in
from masterbus.changes import announce, sync_run_finished
from masterbus.overlap import Background, overlap_available

from .bounds import dumps_bounded, unstorable
from .mapping import Mappings
from .overrides import apply_overrides, find_overrides
from .prepare import prepare_kind
from .records import KINDS, Counts, Item, MissingParent, Outcome, Prepared, digest, raw_id
from .schema import CLEANERS, record_id_of
from .spill import Spill
from .writes import ANALYZE_AFTER_ROWS, analyze_tables, link_waiting_feeds, write_rows

# Under the entry point's name, which its log lines have always carried.
log = logging.getLogger("condoit.ingest")

_CHANGE_SOURCE = {
    SyncSource.FILE: ChangeSource.FILE,
    SyncSource.PULL: ChangeSource.PULL,
    SyncSource.PUSH: ChangeSource.PUSH,
    SyncSource.RERUN: ChangeSource.FILE,
}


def _storable(text: str) -> str:
    return text.replace("\x00", "\ufffd")


class Ingestor:
    """Validate and upsert Condoit records in batches, recording one sync run.

    ``missing_parent`` says what happens to a record whose facility/equipment is not
    mirrored: ``"defer"`` (files: retried once the whole file is in), ``"reject"``, or
    ``"raise"`` (:class:`MissingParent`, for pushed events).
    """

    def __init__(
        self,
        *,
        source: str,
        label: str = "",
        missing_parent: str = "reject",
        batch_size: int | None = None,
        now: datetime | None = None,
        run: SyncRun | None = None,
        track_outcomes: bool = False,
        overlap: bool = False,
    ):
        self.source = source
        self.change_source = _CHANGE_SOURCE.get(source, ChangeSource.FILE)
        self.missing_parent = missing_parent
        self.batch_size = batch_size or settings.IMPORT_BATCH_SIZE
        self.now = now or timezone.now()
        self._started = time.monotonic()
        self.run = run or SyncRun.objects.create(source=source, label=label[:500])
        self.counts = Counts()
        self._flushed = Counts()
        self._buffers: dict[str, list[Item]] = {k: [] for k in KINDS}
        self._rejections: list[RejectedRecord] = []
        self._spill: Spill | None = None
        self.mappings = Mappings()
        self.stale = 0
        self.duplicates = 0
        self.track_outcomes = track_outcomes
        self.outcomes: list[Outcome] = []
        # Overrides are rare: look them up per batch only for kinds that have any.
        self._override_kinds = set(FieldOverride.objects.values_list("kind", flat=True).distinct())
        self._raw_max = settings.REJECTED_RAW_MAX_BYTES
        # Deferring doors (files) resolve waiting feeds-from links once, when all is in.
        self._links_at_end = missing_parent == "defer"
        # ``overlap`` (files): each batch is written on a second connection while the caller
        # parses and validates the next one (masterbus.overlap; inline where unsafe).
        # Batches are written one at a time, in order, so each sees the ones before it.
        self._bg = Background(name="import") if overlap and overlap_available() else None
        self._writing: Future | None = None
        self._in_flight: dict[str, set[str]] = {}  # ids of the batch being written
        # Rejections are recorded by both threads; the counts and the list move together.
        self._lock = threading.Lock()

    # --- intake -----------------------------------------------------------------------------

    def add(self, kind: str, record: Any, *, line: int | None = None) -> None:
        """Buffer one record; it is validated and written when its batch is flushed."""
        if kind not in CLEANERS:
            self.reject(
                kind="",
                record=record,
                field="kind",
                reason=f"unknown record kind {str(kind)[:50]!r}",
                line=line,
            )
            return
        try:
            record_hash = digest(record)
        except TypeError:  # nested too deep, or e.g. an integer beyond 64 bits
            bad = unstorable(record)
            self.reject(kind=kind, record=record, field=bad.field, reason=bad.reason, line=line)
            return
        self._buffers[kind].append(Item(None, record, line, record_hash))
        if len(self._buffers[kind]) >= self.batch_size:
            self.flush()

    def reject(
        self,
        *,
        kind: str,
        record: Any,
        field: str,
        reason: str,
        line: int | None = None,
        raw_text: str | None = None,
    ) -> None:
        if raw_text is None:
            try:
                raw_text = orjson.dumps(record).decode()
            except TypeError:  # nested too deep for orjson, or a number beyond 64 bits
                raw_text = dumps_bounded(record, self._raw_max)
        truncated = len(raw_text.encode()) > self._raw_max
        if truncated:
            raw_text = raw_text.encode()[: self._raw_max].decode(errors="ignore")
        rid = record_id_of(record)
        rejection = RejectedRecord(
            sync_run=self.run,
            kind=kind,
            # What was sent may hold NUL, which PostgreSQL cannot store: shown as U+FFFD.
            record_id=_storable(rid),
            line=line,
            field=_storable(field[:200]),
            reason=_storable(reason),
            raw=_storable(raw_text),
            raw_truncated=truncated,
        )
        with self._lock:
            self._rejections.append(rejection)
            self.counts.rejected += 1
            if self.track_outcomes:
                self.outcomes.append(Outcome(kind, rid, "rejected", field, reason))

    # --- batches ----------------------------------------------------------------------------

    def flush(self) -> None:
        """Write everything buffered: facilities, then equipment, then maintenance.

        With overlap the batch is handed to the worker (after the previous one is written)
        and this returns at once; a failure of the worker is raised here or by ``finish``.
        """
        buffers, self._buffers = self._buffers, {k: [] for k in KINDS}
        if self._bg is None:
            self._store_batch(self._prepare_batch(buffers))
            return
        # Validate here while the worker writes the previous batch, unless this batch holds
        # ids of that one: then its reads must wait to see what that batch wrote.
        ids = {kind: {raw_id(it.raw) for it in items} - {None} for kind, items in buffers.items()}
        if any(ids[kind] & self._in_flight.get(kind, set()) for kind in KINDS):
            self._wait_for_writes()
        prepared = self._prepare_batch(buffers)
        self._wait_for_writes()
        self._in_flight = ids
        self._writing = self._bg.submit(self._store_batch, prepared)

    def _wait_for_writes(self) -> None:
        writing, self._writing = self._writing, None
        self._in_flight = {}
        if writing is not None:
            writing.result()

    def _prepare_batch(self, buffers: dict[str, list[Item]]) -> dict[str, Prepared]:
        return {
            kind: prepare_kind(
                kind,
                items,
                now=self.now,
                reject=self.reject,
                outcome=self._outcome,
                duplicate=self._duplicate,
            )
            for kind, items in buffers.items()
            if items
        }

    def _store_batch(self, prepared: dict[str, Prepared]) -> None:
        with transaction.atomic():
            for kind in KINDS:
                if kind in prepared:
                    self._store_kind(kind, prepared[kind])
            self._write_bookkeeping()

    def _stop_overlap(self, *, raise_errors: bool = True) -> None:
        """Wait for the worker and close its connection; later work runs inline."""
        bg, self._bg = self._bg, None
        if bg is None:
            return
        try:
            if raise_errors:
                self._wait_for_writes()
        finally:
            self._writing = None
            bg.close(raise_errors=raise_errors)

    def _write_bookkeeping(self) -> None:
        with self._lock:
            rejections, self._rejections = self._rejections, []
            delta = {
                name: getattr(self.counts, name) - getattr(self._flushed, name)
                for name in ("created", "updated", "unchanged", "rejected", "deleted")
            }
            flushed = Counts(**self.counts.as_dict())
        if rejections:
            RejectedRecord.objects.bulk_create(rejections, batch_size=500)
        if any(delta.values()):
            SyncRun.objects.filter(pk=self.run.pk).update(
                **{name: F(name) + value for name, value in delta.items() if value}
            )
        self._flushed = flushed

    # --- what each record becomes -----------------------------------------------------------

    def _store_kind(self, kind: str, prepared: Prepared) -> None:
        """Write one kind's validated records: parents, overrides, mapping, then the rows."""
        items, existing = prepared.items, prepared.existing
        note_unmapped = self.mappings.note_unmapped
        for raw in prepared.unchanged_equipment:
            note_unmapped(raw)
        if kind == RecordKind.EQUIPMENT:
            items = self._resolve_parents(
                kind, items, Facility, "facility_external_id", "facility_id", "facilityId"
            )
        elif kind == RecordKind.MAINTENANCE:
            items = self._resolve_parents(
                kind, items, Equipment, "equipment_external_id", "equipment_id", "equipmentId"
            )
        # Overrides are rare: looked up only for kinds that have any.
        overrides = (
            apply_overrides(kind, items, find_overrides(kind, items))
            if kind in self._override_kinds
            else []
        )
        if kind == RecordKind.EQUIPMENT:
            # Typing follows the (possibly staff-edited) class; a staff type then wins.
            self.mappings.map_equipment(items)
            if any(ov.field in ("type", "class_mapped") for ov in overrides):
                apply_overrides(kind, items, overrides)

        to_write: list[tuple[Item, str]] = []
        for it in items:
            ext = it.clean["external_id"]
            prev = existing.get(ext)
            if prev is not None:
                _, prev_hash, prev_updated, prev_deleted = prev
                if prev_hash == it.hash:
                    self._outcome(kind, ext, "unchanged")
                    continue
                if it.clean["condoit_updated_at"] < prev_updated:
                    self.stale += 1
                    self._outcome(kind, ext, "stale")
                    continue
                if it.clean["deleted_at"] is not None and prev_deleted is None:
                    result = "deleted"
                else:
                    result = "updated"
            else:
                result = "deleted" if it.clean["deleted_at"] is not None else "created"
            to_write.append((it, result))
        if not to_write:
            return
        try:
            with transaction.atomic():
                fresh = {it.clean["external_id"] for it in items} - set(existing)
                self._write_rows(kind, to_write, overrides, fresh=fresh)
        except DatabaseError as exc:
            # Should not happen after validation; isolate the offending record(s) so the
            # rest of the batch still lands and the bad one is reported, never a crash.
            log.warning("batch write of %s failed (%s); retrying one by one", kind, exc)
            for pair in to_write:
                try:
                    with transaction.atomic():
                        # One by one, and by upsert: safe even if a concurrent door
                        # inserted the record meanwhile.
                        self._write_rows(kind, [pair], overrides, fresh=set())
                except DatabaseError as one_exc:
                    self.reject(
                        kind=kind,
                        record=pair[0].raw,
                        field="record",
                        reason=f"could not be stored: {type(one_exc).__name__}",
                        line=pair[0].line,
                    )

    def _outcome(self, kind: str, ext: str, result: str) -> None:
        with self._lock:
            self.counts.unchanged += result in ("unchanged", "stale")
            if self.track_outcomes:
                self.outcomes.append(Outcome(kind, ext, result))

    def _duplicate(self) -> None:
        """A record of a batch dropped for a newer one of the same id."""
        with self._lock:
            self.duplicates += 1
            self.counts.unchanged += 1

    def _resolve_parents(self, kind, items, parent_model, key, fk, field_name):
        wanted = {it.clean[key] for it in items}
        found = dict(rows_where_in(parent_model, "external_id", wanted, ("external_id", "id")))
        kept = []
        for it in items:
            pk = found.get(it.clean[key])
            if pk is not None:
                it.clean[fk] = pk
                kept.append(it)
            elif self.missing_parent == "raise":
                raise MissingParent(kind, field_name, it.clean[key])
            elif self.missing_parent == "defer":
                if self._spill is None:
                    self._spill = Spill()
                self._spill.add(kind, it.raw, it.line)
            else:
                self.reject(
                    kind=kind,
                    record=it.raw,
                    field=field_name,
                    reason=f"references unknown {parent_model._meta.verbose_name} "
                    f"{it.clean[key]!r}",
                    line=it.line,
                )
        return kept

    def _write_rows(
        self,
        kind: str,
        pairs: list[tuple[Item, str]],
        overrides: list[FieldOverride],
        *,
        fresh: set[str],
    ) -> None:
        write_rows(
            kind,
            pairs,
            overrides,
            fresh=fresh,
            now=self.now,
            change_source=self.change_source,
            link_waiting=not self._links_at_end,
        )
        # Counted only once everything of these rows is written: a failed write counts nothing.
        for _, result in pairs:
            setattr(self.counts, result, getattr(self.counts, result) + 1)
        if self.track_outcomes:
            self.outcomes.extend(Outcome(kind, it.clean["external_id"], r) for it, r in pairs)

    # --- the end ----------------------------------------------------------------------------

    def _replay_deferred(self) -> None:
        """Records deferred for a parent that came later: tried again, parents first."""
        spill, self._spill = self._spill, None
        if spill is None:
            return
        self.missing_parent = "reject"
        for kind in KINDS:  # parents before children
            for raw, line in spill.read(kind):
                self.add(kind, raw, line=line)
            self.flush()
        spill.close()

    def _refresh_statistics(self) -> None:
        """After a large load, refresh PostgreSQL's statistics so the queries that follow
        (the recompute reads every mirrored table) are planned for the real row counts."""
        written = self.counts.created + self.counts.updated + self.counts.deleted
        if connection.vendor == "postgresql" and written >= ANALYZE_AFTER_ROWS:
            analyze_tables()

    def warnings(self) -> list[dict]:
        out = self.mappings.warnings()
        if self.stale:
            out.append(
                {
                    "code": "stale",
                    "count": self.stale,
                    "message": "Records older than the mirrored ones were not applied",
                }
            )
        if self.duplicates:
            out.append(
                {
                    "code": "duplicate_id",
                    "count": self.duplicates,
                    "message": "The same id came more than once; the newest was kept",
                }
            )
        return out

    def finish(self, *, error: str = "") -> SyncRun:
        if not error:
            self.flush()
            self._stop_overlap()
            self._replay_deferred()
            self._refresh_statistics()  # first: the linking query is planned on them
            if self._links_at_end:
                link_waiting_feeds()
        else:
            self._stop_overlap(raise_errors=False)
            if self._links_at_end:
                try:  # what was written keeps its links, as a per-batch door would
                    link_waiting_feeds()
                except DatabaseError:
                    log.warning("could not link waiting feeds-from after a failed import")
            self._buffers = {k: [] for k in KINDS}
            with transaction.atomic():
                self._write_bookkeeping()
        run = self.run
        run.refresh_from_db()
        run.finished_at = timezone.now()
        run.warnings = _merge_warnings(run.warnings, self.warnings())
        if error:
            run.status = SyncStatus.FAILED
            run.error = error
        else:
            run.status = SyncStatus.PARTIAL if run.rejected else SyncStatus.SUCCEEDED
        with transaction.atomic():
            run.save(update_fields=["finished_at", "warnings", "status", "error"])
            # The day's push run ends again after every pushed event: told only by the others.
            if run.source != SyncSource.PUSH:
                announce(sync_run_finished, run=run)
        self._log_end(run)
        return run

    def _log_end(self, run: SyncRun) -> None:
        # A pushed event ends its share of the day's push run: only at DEBUG.
        level = logging.DEBUG if self.source == SyncSource.PUSH else logging.INFO
        c = self.counts
        log.log(
            level, "Condoit %s run #%s %s: created %d, updated %d, unchanged %d, rejected %d",
            run.source, run.pk, run.status, c.created, c.updated, c.unchanged, c.rejected,
            extra={
                "sync_run_id": run.pk,
                "duration_ms": round((time.monotonic() - self._started) * 1000),
            },
        )  # fmt: skip


def _merge_warnings(old: list[dict], new: list[dict]) -> list[dict]:
    merged: dict[tuple, dict] = {}
    for w in [*(old or []), *new]:
        key = (w.get("code"), w.get("value"))
        if key in merged and "count" in w:
            merged[key] = {**w, "count": merged[key].get("count", 0) + w["count"]}
        else:
            merged[key] = w
    return list(merged.values())
