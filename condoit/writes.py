"""The database writes of validated Condoit records, set-based per kind.

One INSERT (COPY on PostgreSQL) for records never mirrored, one INSERT … ON CONFLICT DO
UPDATE for the others, then the children of equipment (conductors, photos), the feeds-from
links, the overrides' recorded Condoit values and the change records, all in the caller's
transaction. Also the statistics refresh after a large load. Deciding what to write (and
counting it) is the Ingestor's.
"""

from __future__ import annotations

from datetime import datetime

from django.db import connection
from django.db.models import Exists, OuterRef, Subquery

from equipment.models import Conductor, Equipment, Photo
from facilities.choices import RecordKind
from facilities.models import Facility, FieldOverride
from facilities.services import changes_record
from masterbus import audit
from masterbus.bulk import allocate_pks, bulk_insert, bulk_upsert, rows_where_in

from .overrides import changed_condoit_values
from .records import MODELS, Item

ANALYZE_AFTER_ROWS = 10_000


def _update_fields(model) -> list[str]:
    """Columns a Condoit update overwrites: all but the identity and MasterBus-own fields."""
    own = {"external_id", "life_years_override", "interval_months_override"}
    return [
        f.attname for f in model._meta.concrete_fields if not f.primary_key and f.name not in own
    ]


UPDATE_FIELDS = {kind: _update_fields(model) for kind, model in MODELS.items()}
_PHOTO_RESET_FIELDS = [
    "equipment_id", "url", "caption", "taken_at", "status", "image", "thumbnail",
    "content_type", "fetched_at", "error",
]  # fmt: skip
_PHOTO_KEEP_FIELDS = ["equipment_id", "caption", "taken_at"]
# Fields of the clean dicts that are not columns of the model itself.
NOT_COLUMNS = {"conductors", "photos", "facility_external_id", "equipment_external_id"}


def write_rows(
    kind: str,
    pairs: list[tuple[Item, str]],
    overrides: list[FieldOverride],
    *,
    fresh: set[str],
    now: datetime,
    change_source: str,
    link_waiting: bool,
) -> None:
    """Write ``pairs`` (item, result) of one kind; ``fresh`` holds the external ids never
    mirrored before. ``link_waiting``: resolve now the feeds-from links that waited for
    the equipment written (a file resolves them once, at its end)."""
    model = MODELS[kind]
    rows = []
    for it, _ in pairs:
        row = {k: v for k, v in it.clean.items() if k not in NOT_COLUMNS}
        row.update(content_hash=it.hash, synced_at=now, changed_at=now)
        rows.append(row)
    # Records never mirrored before go straight in (COPY on PostgreSQL); the others are
    # upserted. Only equipment needs its new ids back (for conductors and photos).
    new_rows = [r for r in rows if r["external_id"] in fresh]
    known_rows = [r for r in rows if r["external_id"] not in fresh]
    left = parents_left(kind, known_rows)
    pk_by_ext: dict[str, int] = {}
    if kind == RecordKind.EQUIPMENT:
        # New equipment get their ids up front where the database can hand them out, so
        # links to equipment of the same batch are written with the rows themselves.
        ids = allocate_pks(model, len(new_rows))
        if ids is not None:
            for row, pk in zip(new_rows, ids, strict=True):
                row["id"] = pk
                pk_by_ext[row["external_id"]] = pk
        link_known_feeds(rows, in_batch=pk_by_ext)
    bulk_insert(model, new_rows, with_pk=bool(pk_by_ext))
    pk_by_ext.update(
        bulk_upsert(
            model,
            known_rows,
            conflict=["external_id"],
            update=UPDATE_FIELDS[kind],
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
    # Condoit's value beside each override of these records, where it changed (recorded in
    # the overrides' audit history).
    changed = changed_condoit_values(overrides, {r["external_id"] for r in rows})
    if changed:
        audit.bulk_update(
            FieldOverride, changed, ["condoit_value"],
            reason=f"Condoit's value changed ({change_source})",
        )  # fmt: skip
    if kind == RecordKind.EQUIPMENT:
        write_equipment_children(
            [it for it, _ in pairs],
            pk_by_ext,
            existed=[
                pk_by_ext[it.clean["external_id"]]
                for it, _ in pairs
                if it.clean["external_id"] not in fresh
            ],
            link_waiting=link_waiting,
        )
    changes_record(
        kind=kind,
        items=[(it.clean["external_id"], facility_of(kind, it)) for it, _ in pairs],
        source=change_source,
    )
    if left:
        changes_record(kind=RecordKind.EQUIPMENT, items=left, source=change_source)


def parents_left(kind: str, rows: list[dict]) -> list[tuple[str, str]]:
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
        rows_where_in(Facility, "id", {fac for _, fac in equipment.values()}, ("id", "external_id"))
    )
    return sorted({(equipment[old][0], fac_ext[equipment[old][1]]) for _, old in moved})


def link_known_feeds(rows: list[dict], *, in_batch: dict[str, int]) -> None:
    """Resolve feeds-from links to equipment already mirrored or given an id in this
    batch (``in_batch``); the rest wait."""
    wanted = {r["feeds_from_external_id"] for r in rows if r["feeds_from_external_id"]}
    known = dict(
        rows_where_in(Equipment, "external_id", wanted - set(in_batch), ("external_id", "id"))
    )
    known.update(in_batch)
    for r in rows:
        r["feeds_from_id"] = known.get(r["feeds_from_external_id"])


def facility_of(kind: str, it: Item) -> str:
    """The external id of the facility whose figures a written record changes."""
    if kind == RecordKind.FACILITY:
        return it.clean["external_id"]
    if kind == RecordKind.EQUIPMENT:
        return it.clean["facility_external_id"]
    return ""


def write_equipment_children(
    items: list[Item], pk_by_ext: dict[str, int], existed: list[int], *, link_waiting: bool
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
    if link_waiting:
        link_waiting_feeds(list(pk_by_ext))


def link_waiting_feeds(upstream_ids: list[str] | None = None) -> int:
    """Point equipment whose feeds-from link waited (its upstream was not mirrored when it
    was written) at the upstream now mirrored: those fed by ``upstream_ids``, or all."""
    target = Equipment.objects.filter(external_id=OuterRef("feeds_from_external_id"))
    waiting = Equipment.objects.filter(feeds_from__isnull=True).exclude(feeds_from_external_id="")
    if upstream_ids is not None:
        waiting = waiting.filter(feeds_from_external_id__in=upstream_ids)
    return waiting.filter(Exists(target)).update(feeds_from_id=Subquery(target.values("pk")[:1]))


def analyze_tables() -> None:
    """Refresh PostgreSQL's statistics of the mirrored tables."""
    tables = [m._meta.db_table for m in (*MODELS.values(), Conductor, Photo)]
    with connection.cursor() as cur:
        cur.execute("ANALYZE " + ", ".join(connection.ops.quote_name(t) for t in tables))
