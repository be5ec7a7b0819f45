"""Deferred records: those whose parent was not mirrored yet when their batch was written.

A file is one unit for references: a record may come before the facility or equipment it
belongs to. Such records are spilled to a temporary file (memory stays flat however many
wait) and read back, kind by kind, once the whole file is in (``Ingestor.finish``).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import Any

import orjson


class Spill:
    """Raw records written aside as JSON lines, read back by kind."""

    def __init__(self):
        self._file = tempfile.TemporaryFile()
        self.count = 0

    def add(self, kind: str, raw: Any, line: int | None) -> None:
        # The record as its own JSON fragment: wrapping it must not add a level to dump.
        fragment = orjson.Fragment(orjson.dumps(raw))
        self._file.write(orjson.dumps({"k": kind, "r": fragment, "l": line}) + b"\n")
        self.count += 1

    def read(self, kind: str) -> Iterator[tuple[Any, int | None]]:
        """The records of ``kind``, as (raw record, line), in the order they were added."""
        self._file.seek(0)
        for text in self._file:
            entry = orjson.loads(text)
            if entry["k"] == kind:
                yield entry["r"], entry["l"]

    def close(self) -> None:
        self._file.close()
