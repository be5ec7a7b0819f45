"""Batch preparation: one kind's buffered records made ready to be written.

Reads what is mirrored of these records (their digests, then the timestamps of those that
differ), skips the byte-identical ones, cleans (validates) the rest and keeps the newest of
an id repeated within the batch. Reads only the batch's own rows and writes nothing, so it
may run while an earlier batch is being written (``Ingestor.flush``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from facilities.choices import RecordKind
from masterbus.bulk import rows_where_in

from .records import MODELS, Item, Prepared, raw_id
from .schema import CLEANERS, RecordError


def prepare_kind(
    kind: str,
    items: list[Item],
    *,
    now: datetime,
    reject: Callable[..., None],
    outcome: Callable[[str, str, str], None],
    duplicate: Callable[[], None],
) -> Prepared:
    """Validate one kind's records of a batch. ``reject`` records an invalid one,
    ``outcome`` an unchanged one, ``duplicate`` each record dropped for a newer one."""
    model = MODELS[kind]
    # The digests first; the timestamps only of records that differ (re-importing an
    # unchanged file then parses no timestamps at all).
    existing: dict[str, tuple] = {
        ext: (pk, content_hash, None, None)
        for ext, pk, content_hash in rows_where_in(
            model,
            "external_id",
            {raw_id(it.raw) for it in items} - {None},
            ("external_id", "id", "content_hash"),
        )
    }
    clean = CLEANERS[kind]
    valid = []
    unchanged_equipment = []
    for it in items:
        rid = raw_id(it.raw)
        prev = existing.get(rid) if rid else None
        if prev is not None and prev[1] == it.hash:
            # Byte-for-byte what is mirrored (and was valid when stored): nothing to do.
            outcome(kind, rid, "unchanged")
            if kind == RecordKind.EQUIPMENT:
                unchanged_equipment.append(it.raw)
            continue
        try:
            it.clean = clean(it.raw, now=now)
        except RecordError as exc:
            reject(kind=kind, record=it.raw, field=exc.field, reason=exc.reason, line=it.line)
            continue
        valid.append(it)
    differing = {it.clean["external_id"] for it in valid} & existing.keys()
    for ext, updated, deleted in rows_where_in(
        model, "external_id", differing, ("external_id", "condoit_updated_at", "deleted_at")
    ):
        existing[ext] = (*existing[ext][:2], updated, deleted)
    return Prepared(dedupe(valid, duplicate), existing, unchanged_equipment)


def dedupe(items: list[Item], duplicate: Callable[[], None]) -> list[Item]:
    """Within one batch the same id twice: keep the newest (the later one on a tie)."""
    best: dict[str, Item] = {}
    for it in items:
        ext = it.clean["external_id"]
        cur = best.get(ext)
        if cur is not None:
            duplicate()
            if it.clean["condoit_updated_at"] < cur.clean["condoit_updated_at"]:
                continue
        best[ext] = it
    return list(best.values()) if len(best) != len(items) else items
