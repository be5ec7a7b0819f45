"""The one code path every Condoit door uses: validate, then upsert in batches.

An :class:`Ingestor` receives raw records (from a file, a pulled page or a pushed event),
validates each one (``schema``), and writes them set-based per kind: one query to read the
mirrored digests, one INSERT … ON CONFLICT DO UPDATE for the new and changed rows, and a few
set-based statements for children (conductors, photos) and links (feeds-from). A record that
fails validation is rejected on the sync run with its reason and nothing of it is written;
the rest of the batch lands.

This module is the entry point the doors import from; the pieces live beside it:
``ingestor`` (the Ingestor: intake, batches, what each record becomes, the sync run),
``prepare`` (a batch read and validated), ``writes`` (the set-based writes), ``overrides``
(staff overrides win), ``mapping`` (classes and materials), ``spill`` (records deferred
until their parent is in), ``rerun`` (rejected records run again) and ``records`` (what a
batch carries).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from facilities.choices import SyncSource
from facilities.models import SyncRun

from .ingestor import Ingestor
from .overrides import json_safe
from .records import KINDS, MODELS, Counts, MissingParent, Outcome, digest
from .rerun import rerun_rejected, run_counts
from .writes import ANALYZE_AFTER_ROWS
from .writes import NOT_COLUMNS as _NOT_COLUMNS  # the name the import benchmark reads

__all__ = [
    "ANALYZE_AFTER_ROWS",
    "KINDS",
    "MODELS",
    "_NOT_COLUMNS",
    "Counts",
    "Ingestor",
    "MissingParent",
    "Outcome",
    "digest",
    "ingest_records",
    "json_safe",
    "rerun_rejected",
    "run_counts",
]


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
