"""What a batch of Condoit records carries from one step of the upsert to the next.

The record kinds and their models, the digest a record is compared by, one buffered record
(:class:`Item`) and one kind's validated batch (:class:`Prepared`), the counts and per-record
outcomes of a sync run, and :class:`MissingParent` (a pushed record whose parent is not
mirrored). No step of the upsert itself lives here.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from equipment.models import Equipment, MaintenanceRecord
from facilities.choices import RecordKind
from facilities.models import Facility

KINDS = (RecordKind.FACILITY, RecordKind.EQUIPMENT, RecordKind.MAINTENANCE)
MODELS = {
    RecordKind.FACILITY: Facility,
    RecordKind.EQUIPMENT: Equipment,
    RecordKind.MAINTENANCE: MaintenanceRecord,
}


class MissingParent(Exception):
    """A record's facility/equipment is not mirrored (push answers 409)."""

    def __init__(self, kind: str, field_name: str, parent_id: str):
        super().__init__(f"{field_name} {parent_id!r} is not mirrored yet")
        self.kind = kind
        self.field = field_name
        self.parent_id = parent_id


def raw_id(record: Any) -> str | None:
    """The id a raw record will be stored under, when it has a usable one."""
    rid = record.get("id") if isinstance(record, dict) else None
    return rid.strip() or None if isinstance(rid, str) else None


def digest(record: Any) -> str:
    return hashlib.blake2b(
        orjson.dumps(record, option=orjson.OPT_SORT_KEYS), digest_size=16
    ).hexdigest()


@dataclass(slots=True)
class Item:
    clean: dict | None  # set once validated (records already mirrored as they are skip it)
    raw: Any
    line: int | None
    hash: str
    # Condoit's values of fields a staff override replaced (kept for a retried write).
    condoit_values: dict | None = None


@dataclass(slots=True)
class Prepared:
    items: list[Item]  # validated, one per id
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
