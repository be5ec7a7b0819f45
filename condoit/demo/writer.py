"""Streaming a demo portfolio into a Condoit export file (JSON document or NDJSON)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from datetime import date
from typing import IO, Any

import orjson

from .clock import exported_at
from .portfolio import KINDS, Record, generate_portfolio

_NDJSON_PREFIX = {k: b'{"kind":"' + k.encode() + b'","record":' for k in KINDS}
_BUFFER = 1 << 17


def write_export(
    out: str | os.PathLike | IO[bytes],
    *,
    facilities: int,
    equipment_per_facility: int,
    seed: int,
    as_of: date,
    fmt: str = "json",
    progress: Callable[[int], Any] | None = None,
) -> dict[str, int]:
    """Write a Condoit export file with bounded memory (independent of ``facilities``).

    ``out`` is a path (written to ``<path>.part`` and renamed when complete) or a binary file
    object. ``fmt="json"`` writes ``{"exportedAt", "facilities", "equipment",
    "maintenanceRecords"}``, one record per line: facilities go straight to the output while
    equipment and maintenance records are spooled to two temporary files (beside the output
    when ``out`` is a path) and appended at the end. ``fmt="ndjson"`` writes one
    ``{"kind": ..., "record": {...}}`` object per line in generation order. ``progress`` is
    called after each facility with the number of equipment records it added (e.g.
    ``tqdm.update``). ``exportedAt`` is midnight UTC at the start of ``as_of``.

    Returns the counts: ``facilities``, ``equipment``, ``maintenanceRecords`` and ``bytes``.
    """
    if fmt not in ("json", "ndjson"):
        raise ValueError("fmt must be 'json' or 'ndjson'")
    records = generate_portfolio(
        facilities=facilities, equipment_per_facility=equipment_per_facility, seed=seed, as_of=as_of
    )

    def write(fh: IO[bytes], tmp_dir: str | None) -> dict[str, int]:
        if fmt == "ndjson":
            return _write_ndjson(fh, records, progress)
        return _write_json(fh, records, progress, as_of, tmp_dir)

    if isinstance(out, (str, os.PathLike)):
        path = os.fspath(out)
        part = path + ".part"
        tmp_dir = os.path.dirname(os.path.abspath(path))
        try:
            with open(part, "wb", buffering=_BUFFER) as fh:
                counts = write(fh, tmp_dir)
            os.replace(part, path)
        except BaseException:
            try:
                os.unlink(part)
            except OSError:
                pass
            raise
        return counts
    return write(out, None)


def _write_ndjson(
    fh: IO[bytes], records: Iterator[Record], progress: Callable[[int], Any] | None
) -> dict[str, int]:
    """One ``{"kind": ..., "record": {...}}`` line per record, in generation order."""
    dumps = orjson.dumps
    prefix = _NDJSON_PREFIX
    n = dict.fromkeys(KINDS, 0)
    written = 0
    reported = 0
    for kind, rec in records:
        if kind == "facility":
            reported = _report(progress, n["equipment"], reported)
        line = prefix[kind] + dumps(rec) + b"}\n"
        fh.write(line)
        written += len(line)
        n[kind] += 1
    _report(progress, n["equipment"], reported)
    return _counts(n, written)


def _write_json(
    fh: IO[bytes],
    records: Iterator[Record],
    progress: Callable[[int], Any] | None,
    as_of: date,
    tmp_dir: str | None,
) -> dict[str, int]:
    """The export document; equipment and maintenance records wait in spools in ``tmp_dir``."""
    dumps = orjson.dumps
    n = dict.fromkeys(KINDS, 0)
    written = 0
    reported = 0
    with (
        tempfile.TemporaryFile(dir=tmp_dir, prefix="demo-eq-", buffering=_BUFFER) as teq,
        tempfile.TemporaryFile(dir=tmp_dir, prefix="demo-mr-", buffering=_BUFFER) as tmr,
    ):
        head = b'{"exportedAt":' + dumps(exported_at(as_of)) + b',"facilities":['
        fh.write(head)
        written += len(head)
        sinks = {"equipment": teq, "maintenanceRecord": tmr}
        for kind, rec in records:
            data = (b",\n" if n[kind] else b"\n") + dumps(rec)
            if kind == "facility":
                reported = _report(progress, n["equipment"], reported)
                fh.write(data)
                written += len(data)
            else:
                sinks[kind].write(data)
            n[kind] += 1
        _report(progress, n["equipment"], reported)
        for closing, opener, spool in (
            ("facility", b',"equipment":[', teq),
            ("equipment", b',"maintenanceRecords":[', tmr),
        ):
            data = (b"\n]" if n[closing] else b"]") + opener
            fh.write(data)
            written += len(data)
            spool.flush()
            spool.seek(0)
            while block := spool.read(_BUFFER):
                fh.write(block)
                written += len(block)
        data = (b"\n]" if n["maintenanceRecord"] else b"]") + b"}\n"
        fh.write(data)
        written += len(data)
    return _counts(n, written)


def _report(progress: Callable[[int], Any] | None, equipment: int, reported: int) -> int:
    """Tell ``progress`` how many equipment records came since the last report; returns the
    new reported total."""
    if progress is not None and equipment > reported:
        progress(equipment - reported)
    return equipment


def _counts(n: dict[str, int], written: int) -> dict[str, int]:
    """What :func:`write_export` returns, from the per-kind record counts and bytes written."""
    return {
        "facilities": n["facility"],
        "equipment": n["equipment"],
        "maintenanceRecords": n["maintenanceRecord"],
        "bytes": written,
    }
