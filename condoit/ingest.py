"""The one code path every Condoit door uses: validate, then upsert in batches.

An :class:`Ingestor` receives raw records (from a file, a pulled page or a pushed event),
validates each one (``schema``), and writes them set-based per kind: one query to read the
mirrored digests, one INSERT … ON CONFLICT DO UPDATE for the new and changed rows, and a few
set-based statements for children (conductors, photos) and links (feeds-from). A record that
fails validation is rejected on the sync run with its reason and nothing of it is written;
the rest of the batch lands.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
import threading
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import orjson
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import Exists, F, OuterRef, Subquery
from django.utils import timezone

from equipment.choices import EquipmentType
from equipment.models import (
    Conductor,
    Equipment,
    EquipmentClassMapping,
    MaintenanceRecord,
    MaterialMapping,
    Photo,
    normalize_key,
)
from facilities.choices import ChangeSource, RecordKind, SyncSource, SyncStatus
from facilities.models import Facility, FieldOverride, RejectedRecord, SyncRun
from facilities.services import changes_record
from masterbus.bulk import allocate_pks, bulk_insert, bulk_upsert, rows_where_in
from masterbus.overlap import Background, overlap_available

from .bounds import dumps_bounded, unstorable
from .schema import CLEANERS, RecordError, record_id_of

log = logging.getLogger(__name__)

KINDS = (RecordKind.FACILITY, RecordKind.EQUIPMENT, RecordKind.MAINTENANCE)
MODELS = {
    RecordKind.FACILITY: Facility,
    RecordKind.EQUIPMENT: Equipment,
    RecordKind.MAINTENANCE: MaintenanceRecord,
}
_CHANGE_SOURCE = {
    SyncSource.FILE: ChangeSource.FILE,
    SyncSource.PULL: ChangeSource.PULL,
    SyncSource.PUSH: ChangeSource.PUSH,
    SyncSource.RERUN: ChangeSource.FILE,
}


def _update_fields(model) -> list[str]:
    """Columns a Condoit update overwrites: all but the identity and MasterBus-own fields."""
    own = {"external_id", "life_years_override", "interval_months_override"}
    return [
        f.attname for f in model._meta.concrete_fields if not f.primary_key and f.name not in own
    ]


_UPDATE_FIELDS = {kind: _update_fields(model) for kind, model in MODELS.items()}
_PHOTO_RESET_FIELDS = [
    "equipment_id", "url", "caption", "taken_at", "status", "image", "thumbnail",
    "content_type", "fetched_at", "error",
]  # fmt: skip
_PHOTO_KEEP_FIELDS = ["equipment_id", "caption", "taken_at"]
# Fields of the clean dicts that are not columns of the model itself.
_NOT_COLUMNS = {"conductors", "photos", "facility_external_id", "equipment_external_id"}


class MissingParent(Exception):
    """A record's facility/equipment is not mirrored (push answers 409)."""

    def __init__(self, kind: str, field_name: str, parent_id: str):
        super().__init__(f"{field_name} {parent_id!r} is not mirrored yet")
        self.kind = kind
        self.field = field_name
        self.parent_id = parent_id


def _raw_id(record: Any) -> str | None:
    """The id a raw record will be stored under, when it has a usable one."""
    rid = record.get("id") if isinstance(record, dict) else None
    return rid.strip() or None if isinstance(rid, str) else None


def _storable(text: str) -> str:
    return text.replace("\x00", "\ufffd")


def digest(record: Any) -> str:
    return hashlib.blake2b(
        orjson.dumps(record, option=orjson.OPT_SORT_KEYS), digest_size=16
    ).hexdigest()


def json_safe(value):
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


@dataclass(slots=True)
class _Item:
    clean: dict | None  # set once validated (records already mirrored as they are skip it)
    raw: Any
    line: int | None
    hash: str
    # Condoit's values of fields a staff override replaced (kept for a retried write).
    condoit_values: dict | None = None


@dataclass(slots=True)
class _Prepared:
    items: list[_Item]  # validated, one per id
    existing: dict[str, tuple]  # external id → (pk, content hash, updatedAt, deleted_at)
    unchanged_equipment: list[dict]  # raw records skipped as unchanged (for their warnings)


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    deleted: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "deleted": self.deleted,
        }


@dataclass
class Outcome:
    kind: str
    external_id: str
    result: str  # created | updated | deleted | unchanged | stale | rejected
    field: str = ""
    reason: str = ""


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
        self.run = run or SyncRun.objects.create(source=source, label=label[:500])
        self.counts = Counts()
        self._flushed = Counts()
        self._buffers: dict[str, list[_Item]] = {k: [] for k in KINDS}
        self._rejections: list[RejectedRecord] = []
        self._spill = None
        self._spilled = 0
        self.unmapped_classes: Counter[str] = Counter()
        self.unmapped_materials: Counter[str] = Counter()
        self.stale = 0
        self.duplicates = 0
        self.track_outcomes = track_outcomes
        self.outcomes: list[Outcome] = []
        self.class_map = dict(EquipmentClassMapping.objects.values_list("condoit_class", "type"))
        self.material_map = dict(MaterialMapping.objects.values_list("code", "material"))
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
        self._buffers[kind].append(_Item(None, record, line, record_hash))
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

    # --- writing ----------------------------------------------------------------------------

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
        ids = {kind: {_raw_id(it.raw) for it in items} - {None} for kind, items in buffers.items()}
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

    def _prepare_batch(self, buffers: dict[str, list[_Item]]) -> dict[str, _Prepared]:
        return {kind: self._prepare_kind(kind, items) for kind, items in buffers.items() if items}

    def _store_batch(self, prepared: dict[str, _Prepared]) -> None:
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

    def _prepare_kind(self, kind: str, items: list[_Item]) -> _Prepared:
        """Validate one kind's records of a batch: read what is mirrored of them, skip the
        byte-identical ones, clean (validate) the rest, keep the newest of repeated ids.
        Reads only these records' own rows, so it may run ahead of earlier batches' writes
        when none of them holds the same ids (see :meth:`flush`)."""
        model = MODELS[kind]
        # The digests first; the timestamps only of records that differ (re-importing an
        # unchanged file then parses no timestamps at all).
        existing: dict[str, tuple] = {
            ext: (pk, content_hash, None, None)
            for ext, pk, content_hash in rows_where_in(
                model,
                "external_id",
                {_raw_id(it.raw) for it in items} - {None},
                ("external_id", "id", "content_hash"),
            )
        }
        valid = []
        unchanged_equipment = []
        for it in items:
            rid = _raw_id(it.raw)
            prev = existing.get(rid) if rid else None
            if prev is not None and prev[1] == it.hash:
                # Byte-for-byte what is mirrored (and was valid when stored): nothing to do.
                self._outcome(kind, rid, "unchanged")
                if kind == RecordKind.EQUIPMENT:
                    unchanged_equipment.append(it.raw)
                continue
            try:
                it.clean = CLEANERS[kind](it.raw, now=self.now)
            except RecordError as exc:
                self.reject(
                    kind=kind, record=it.raw, field=exc.field, reason=exc.reason, line=it.line
                )
                continue
            valid.append(it)
        differing = {it.clean["external_id"] for it in valid} & existing.keys()
        for ext, updated, deleted in rows_where_in(
            model, "external_id", differing, ("external_id", "condoit_updated_at", "deleted_at")
        ):
            existing[ext] = (*existing[ext][:2], updated, deleted)
        return _Prepared(self._dedupe(valid), existing, unchanged_equipment)

    def _store_kind(self, kind: str, prepared: _Prepared) -> None:
        """Write one kind's validated records: parents, overrides, mapping, then the rows."""
        items, existing = prepared.items, prepared.existing
        for raw in prepared.unchanged_equipment:
            self._note_unmapped(raw)
        if kind == RecordKind.EQUIPMENT:
            items = self._resolve_parents(
                kind, items, Facility, "facility_external_id", "facility_id", "facilityId"
            )
        elif kind == RecordKind.MAINTENANCE:
            items = self._resolve_parents(
                kind, items, Equipment, "equipment_external_id", "equipment_id", "equipmentId"
            )
        overrides = self._apply_overrides(kind, items)
        if kind == RecordKind.EQUIPMENT:
            # Typing follows the (possibly staff-edited) class; a staff type then wins.
            self._map_equipment(items)
            if any(ov.field in ("type", "class_mapped") for ov in overrides):
                self._apply_overrides(kind, items, overrides)

        to_write: list[tuple[_Item, str]] = []
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

    def _dedupe(self, items: list[_Item]) -> list[_Item]:
        """Within one batch the same id twice: keep the newest (the later one on a tie)."""
        best: dict[str, _Item] = {}
        for it in items:
            ext = it.clean["external_id"]
            cur = best.get(ext)
            if cur is not None:
                with self._lock:
                    self.duplicates += 1
                    self.counts.unchanged += 1
                if it.clean["condoit_updated_at"] < cur.clean["condoit_updated_at"]:
                    continue
            best[ext] = it
        return list(best.values()) if len(best) != len(items) else items

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
                self._defer(kind, it)
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

    def _note_unmapped(self, raw: dict) -> None:
        """Unmapped class and material warnings for an equipment record not rewritten."""
        cls = raw.get("equipmentClass")
        if isinstance(cls, str) and normalize_key(cls) not in self.class_map:
            self.unmapped_classes[cls.strip()] += 1
        for cond in raw.get("conductors") or ():
            code = cond.get("material") if isinstance(cond, dict) else None
            if isinstance(code, str) and code.strip():
                if normalize_key(code) not in self.material_map:
                    self.unmapped_materials[code.strip()] += 1

    def _map_equipment(self, items: list[_Item]) -> None:
        for it in items:
            c = it.clean
            mapped = self.class_map.get(normalize_key(c["equipment_class"]))
            c["type"] = mapped or EquipmentType.OTHER
            c["class_mapped"] = mapped is not None
            if mapped is None:
                self.unmapped_classes[c["equipment_class"]] += 1
            for cond in c["conductors"]:
                code = cond["material_code"]
                cond["material"] = self.material_map.get(normalize_key(code), "")
                if code and not cond["material"]:
                    self.unmapped_materials[code] += 1

    def _write_rows(
        self,
        kind: str,
        pairs: list[tuple[_Item, str]],
        overrides: list[FieldOverride],
        *,
        fresh: set[str],
    ) -> None:
        model = MODELS[kind]
        rows = []
        for it, _ in pairs:
            row = {k: v for k, v in it.clean.items() if k not in _NOT_COLUMNS}
            row.update(content_hash=it.hash, synced_at=self.now, changed_at=self.now)
            rows.append(row)
        # Records never mirrored before go straight in (COPY on PostgreSQL); the others are
        # upserted. Only equipment needs its new ids back (for conductors and photos).
        new_rows = [r for r in rows if r["external_id"] in fresh]
        known_rows = [r for r in rows if r["external_id"] not in fresh]
        left = self._parents_left(kind, known_rows)
        pk_by_ext: dict[str, int] = {}
        if kind == RecordKind.EQUIPMENT:
            # New equipment get their ids up front where the database can hand them out, so
            # links to equipment of the same batch are written with the rows themselves.
            ids = allocate_pks(model, len(new_rows))
            if ids is not None:
                for row, pk in zip(new_rows, ids, strict=True):
                    row["id"] = pk
                    pk_by_ext[row["external_id"]] = pk
            self._link_known_feeds(rows, in_batch=pk_by_ext)
        bulk_insert(model, new_rows, with_pk=bool(pk_by_ext))
        pk_by_ext.update(
            bulk_upsert(
                model,
                known_rows,
                conflict=["external_id"],
                update=_UPDATE_FIELDS[kind],
                key="external_id",
            )
        )
        if kind == RecordKind.EQUIPMENT and new_rows and not any("id" in r for r in new_rows):
            pk_by_ext.update(
                rows_where_in(
                    model, "external_id", [r["external_id"] for r in new_rows],
                    ("external_id", "id"),
                )
            )  # fmt: skip
        if overrides:
            FieldOverride.objects.bulk_update(overrides, ["condoit_value"], batch_size=500)
        if kind == RecordKind.EQUIPMENT:
            self._write_equipment_children(
                [it for it, _ in pairs],
                pk_by_ext,
                existed=[
                    pk_by_ext[it.clean["external_id"]]
                    for it, _ in pairs
                    if it.clean["external_id"] not in fresh
                ],
            )
        changes_record(
            kind=kind,
            items=[(it.clean["external_id"], self._facility_of(kind, it)) for it, _ in pairs],
            source=self.change_source,
        )
        if left:
            changes_record(kind=RecordKind.EQUIPMENT, items=left, source=self.change_source)
        # Counted only once everything of these rows is written: a failed write counts nothing.
        for _, result in pairs:
            setattr(self.counts, result, getattr(self.counts, result) + 1)
        if self.track_outcomes:
            self.outcomes.extend(Outcome(kind, it.clean["external_id"], r) for it, r in pairs)

    @staticmethod
    def _parents_left(kind: str, rows: list[dict]) -> list[tuple[str, str]]:
        """Changes to record for the records that mirrored ``rows`` move away from, as
        (equipment external id, facility external id): a maintenance record moved to other
        equipment changes the equipment it left; equipment moved to another facility changes
        that facility's figures (the equipment is named with the facility it left)."""
        parent = {RecordKind.MAINTENANCE: "equipment_id", RecordKind.EQUIPMENT: "facility_id"}
        column = parent.get(kind)
        if column is None or not rows:
            return []
        new_parent = {r["external_id"]: r[column] for r in rows}
        model = MODELS[kind]
        moved = [
            (ext, old)
            for ext, old in rows_where_in(model, "external_id", new_parent, ("external_id", column))
            if old != new_parent[ext]
        ]
        if not moved:
            return []
        if kind == RecordKind.EQUIPMENT:
            fac_ext = dict(
                rows_where_in(Facility, "id", {old for _, old in moved}, ("id", "external_id"))
            )
            return [(ext, fac_ext[old]) for ext, old in moved]
        equipment = {
            pk: (ext, fac)
            for pk, ext, fac in rows_where_in(
                Equipment, "id", {old for _, old in moved}, ("id", "external_id", "facility_id")
            )
        }
        fac_ext = dict(
            rows_where_in(
                Facility, "id", {fac for _, fac in equipment.values()}, ("id", "external_id")
            )
        )
        return sorted({(equipment[old][0], fac_ext[equipment[old][1]]) for _, old in moved})

    @staticmethod
    def _link_known_feeds(rows: list[dict], *, in_batch: dict[str, int]) -> None:
        """Resolve feeds-from links to equipment already mirrored or given an id in this
        batch (``in_batch``); the rest wait."""
        wanted = {r["feeds_from_external_id"] for r in rows if r["feeds_from_external_id"]}
        known = dict(
            rows_where_in(Equipment, "external_id", wanted - set(in_batch), ("external_id", "id"))
        )
        known.update(in_batch)
        for r in rows:
            r["feeds_from_id"] = known.get(r["feeds_from_external_id"])

    def _facility_of(self, kind: str, it: _Item) -> str:
        if kind == RecordKind.FACILITY:
            return it.clean["external_id"]
        if kind == RecordKind.EQUIPMENT:
            return it.clean["facility_external_id"]
        return ""

    def _apply_overrides(
        self, kind: str, items: list[_Item], found: list[FieldOverride] | None = None
    ) -> list[FieldOverride]:
        """Staff overrides win over Condoit: keep Condoit's value beside the override."""
        if found is None:
            if kind not in self._override_kinds:
                return []
            ids = [it.clean["external_id"] for it in items]
            found = list(FieldOverride.objects.filter(kind=kind, external_id__in=ids))
        if not found:
            return []
        by_ext: dict[str, list[FieldOverride]] = {}
        for ov in found:
            by_ext.setdefault(ov.external_id, []).append(ov)
        model = MODELS[kind]
        for it in items:
            for ov in by_ext.get(it.clean["external_id"], ()):
                try:
                    model_field = model._meta.get_field(ov.field)
                except Exception:
                    continue
                if ov.field not in it.clean:
                    continue
                if it.condoit_values is None:
                    it.condoit_values = {}
                if ov.field not in it.condoit_values:
                    it.condoit_values[ov.field] = it.clean[ov.field]
                ov.condoit_value = json_safe(it.condoit_values[ov.field])
                it.clean[ov.field] = model_field.to_python(ov.value)
        return found

    def _write_equipment_children(
        self, items: list[_Item], pk_by_ext: dict[str, int], existed: list[int]
    ) -> None:
        # Only equipment mirrored before can have children to replace.
        if existed:
            Conductor.objects.filter(equipment_id__in=existed).delete()
        bulk_insert(
            Conductor,
            [
                {"equipment_id": pk_by_ext[it.clean["external_id"]], **cond}
                for it in items
                for cond in it.clean["conductors"]
            ],
        )
        photos = {
            p["external_id"]: {"equipment_id": pk_by_ext[it.clean["external_id"]], **p}
            for it in items
            for p in it.clean["photos"]
        }
        if existed:
            Photo.objects.filter(equipment_id__in=existed).exclude(
                external_id__in=list(photos)
            ).delete()
        if photos:
            known_urls = dict(rows_where_in(Photo, "external_id", photos, ("external_id", "url")))
            new = [p for ext, p in photos.items() if ext not in known_urls]
            moved = [
                p for ext, p in photos.items() if ext in known_urls and known_urls[ext] != p["url"]
            ]
            same = [p for ext, p in photos.items() if known_urls.get(ext) == p["url"]]
            bulk_insert(Photo, new)
            # A moved image is fetched again; an unchanged one keeps its stored bytes.
            bulk_upsert(Photo, moved, conflict=["external_id"], update=_PHOTO_RESET_FIELDS)
            bulk_upsert(Photo, same, conflict=["external_id"], update=_PHOTO_KEEP_FIELDS)
        # Links elsewhere (and within this batch) that waited for these equipment. A file is
        # one unit for references: its waiting links are resolved once, at the end.
        if not self._links_at_end:
            _link_waiting_feeds(list(pk_by_ext))

    # --- deferral (files are one unit for references) ----------------------------------------

    def _defer(self, kind: str, it: _Item) -> None:
        if self._spill is None:
            self._spill = tempfile.TemporaryFile()
        # The record as its own JSON fragment: wrapping it must not add a level to dump.
        raw = orjson.Fragment(orjson.dumps(it.raw))
        self._spill.write(orjson.dumps({"k": kind, "r": raw, "l": it.line}) + b"\n")
        self._spilled += 1

    def _replay_deferred(self) -> None:
        spill, self._spill = self._spill, None
        if spill is None:
            return
        self.missing_parent = "reject"
        for kind in KINDS:  # parents before children
            spill.seek(0)
            for line in spill:
                entry = orjson.loads(line)
                if entry["k"] == kind:
                    self.add(kind, entry["r"], line=entry["l"])
            self.flush()
        spill.close()

    # --- the end ----------------------------------------------------------------------------

    def _refresh_statistics(self) -> None:
        """After a large load, refresh PostgreSQL's statistics so the queries that follow
        (the recompute reads every mirrored table) are planned for the real row counts."""
        written = self.counts.created + self.counts.updated + self.counts.deleted
        if connection.vendor == "postgresql" and written >= ANALYZE_AFTER_ROWS:
            _analyze_tables()

    def warnings(self) -> list[dict]:
        out = [
            {
                "code": "unmapped_class",
                "value": cls,
                "count": n,
                "message": f"Condoit class {cls!r} has no mapping; imported as 'other'",
            }
            for cls, n in sorted(self.unmapped_classes.items())
        ]
        out += [
            {
                "code": "unmapped_material",
                "value": code,
                "count": n,
                "message": f"Conductor material {code!r} has no mapping; treated as unknown",
            }
            for code, n in sorted(self.unmapped_materials.items())
        ]
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
                _link_waiting_feeds()
        else:
            self._stop_overlap(raise_errors=False)
            if self._links_at_end:
                try:  # what was written keeps its links, as a per-batch door would
                    _link_waiting_feeds()
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
        run.save(update_fields=["finished_at", "warnings", "status", "error"])
        return run


ANALYZE_AFTER_ROWS = 10_000


def _link_waiting_feeds(upstream_ids: list[str] | None = None) -> int:
    """Point equipment whose feeds-from link waited (its upstream was not mirrored when it
    was written) at the upstream now mirrored: those fed by ``upstream_ids``, or all."""
    target = Equipment.objects.filter(external_id=OuterRef("feeds_from_external_id"))
    waiting = Equipment.objects.filter(feeds_from__isnull=True).exclude(feeds_from_external_id="")
    if upstream_ids is not None:
        waiting = waiting.filter(feeds_from_external_id__in=upstream_ids)
    return waiting.filter(Exists(target)).update(feeds_from_id=Subquery(target.values("pk")[:1]))


def _analyze_tables() -> None:
    tables = [m._meta.db_table for m in (*MODELS.values(), Conductor, Photo)]
    with connection.cursor() as cur:
        cur.execute("ANALYZE " + ", ".join(connection.ops.quote_name(t) for t in tables))


def _merge_warnings(old: list[dict], new: list[dict]) -> list[dict]:
    merged: dict[tuple, dict] = {}
    for w in [*(old or []), *new]:
        key = (w.get("code"), w.get("value"))
        if key in merged and "count" in w:
            merged[key] = {**w, "count": merged[key].get("count", 0) + w["count"]}
        else:
            merged[key] = w
    return list(merged.values())


def ingest_records(
    records: Iterable[tuple[str, Any]],
    *,
    source: str = SyncSource.FILE,
    label: str = "",
    missing_parent: str = "defer",
) -> SyncRun:
    """Convenience: ingest (kind, record) pairs as one sync run."""
    ing = Ingestor(source=source, label=label, missing_parent=missing_parent)
    for kind, record in records:
        ing.add(kind, record)
    return ing.finish()


def rerun_rejected(ids: list[int]) -> dict[str, int]:
    """Re-run rejected records (after staff fixed a mapping or a parent arrived)."""
    rejected = list(RejectedRecord.objects.filter(pk__in=ids, rerun_at__isnull=True))
    ing = Ingestor(
        source=SyncSource.RERUN,
        label=f"re-run of {len(rejected)} rejected record(s)",
        track_outcomes=True,
    )
    skipped = 0
    attempted: list[tuple[RejectedRecord, int]] = []
    for rec in rejected:
        if rec.raw_truncated or rec.kind not in CLEANERS:
            rec.rerun_outcome = "cannot re-run: raw record incomplete or kind unknown"
            skipped += 1
            continue
        try:
            raw = orjson.loads(rec.raw)
        except orjson.JSONDecodeError:
            rec.rerun_outcome = "cannot re-run: raw record is not JSON"
            skipped += 1
            continue
        attempted.append((rec, len(ing.outcomes)))
        ing.add(rec.kind, raw, line=rec.line)
        ing.flush()
    run = ing.finish()
    now = timezone.now()
    for rec, index in attempted:
        outcome = ing.outcomes[index] if index < len(ing.outcomes) else None
        rec.rerun_at = now
        if outcome is None:
            rec.rerun_outcome = "deferred"
        elif outcome.result == "rejected":
            rec.rerun_outcome = f"rejected again: {outcome.field} {outcome.reason}"[:500]
        else:
            rec.rerun_outcome = f"{outcome.result} (sync run #{run.pk})"
    RejectedRecord.objects.bulk_update(rejected, ["rerun_at", "rerun_outcome"])
    return {**run_counts(run), "skipped": skipped}


def run_counts(run: SyncRun) -> dict[str, int]:
    return {
        "created": run.created,
        "updated": run.updated,
        "unchanged": run.unchanged,
        "rejected": run.rejected,
        "deleted": run.deleted,
    }
