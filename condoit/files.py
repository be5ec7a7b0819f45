"""The export-file door: a JSON export document or NDJSON, streamed with bounded memory."""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable
from itertools import accumulate, compress, repeat, tee
from operator import itemgetter
from pathlib import Path
from typing import IO

import ijson
import orjson

from facilities.choices import SyncSource
from facilities.models import SyncRun

from .bounds import JSON_MAX_DEPTH, json_error
from .ingest import Ingestor

SECTIONS = (
    ("facilities", "facility"),
    ("equipment", "equipment"),
    ("maintenanceRecords", "maintenanceRecord"),
)
NDJSON_KINDS = {"facility", "equipment", "maintenanceRecord"}


class FileFormatError(ValueError):
    """The file as a whole is malformed; nothing from it was written."""


ProgressFactory = Callable[[IO[bytes], int, str], IO[bytes]]


def _plain(fh: IO[bytes], total: int, desc: str) -> IO[bytes]:
    return fh


def detect_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".ndjson", ".jsonl"):
        return "ndjson"
    with path.open("rb") as fh:
        first = fh.readline(1 << 20).strip()
    if first.startswith(b"{") and first.endswith(b"}"):
        try:
            obj = orjson.loads(first)
        except orjson.JSONDecodeError:
            return "json"
        if isinstance(obj, dict) and "kind" in obj and "record" in obj:
            return "ndjson"
    return "json"


def import_file(
    path: str | os.PathLike,
    *,
    progress: ProgressFactory | None = None,
    batch_size: int | None = None,
) -> SyncRun:
    """Import one Condoit export file; returns its finished sync run.

    Raises :class:`FileFormatError` (after recording a failed sync run) when a JSON document
    does not parse: it fails as a whole and writes nothing.
    """
    path = Path(path)
    progress = progress or _plain
    if not path.is_file():
        raise FileFormatError(f"{path}: no such file")
    fmt = detect_format(path)
    ing = Ingestor(
        source=SyncSource.FILE,
        label=str(path)[:500],
        missing_parent="defer",
        batch_size=batch_size,
        overlap=True,
    )
    try:
        if fmt == "ndjson":
            _read_ndjson(path, ing, progress)
        else:
            _read_document(path, ing, progress)
    except FileFormatError as exc:
        ing.finish(error=str(exc))
        raise
    except BaseException as exc:
        # Interrupted (or a batch failed to write): the batches already written stay, the
        # run is marked failed with the reason, and the worker is stopped before re-raising.
        ing.finish(error=f"import stopped: {type(exc).__name__}: {exc}"[:2000])
        raise
    return ing.finish()


_SECTION_KEYS = frozenset(key for key, _ in SECTIONS)
# How an event of ijson.basic_parse changes the nesting depth.
_DEPTH_STEP = defaultdict(int, start_map=1, start_array=1, end_map=-1, end_array=-1)
# Depths (open containers before an event) whose events the check pass looks at: the
# document's own level, and (the default) anything deeper than JSON_MAX_DEPTH.
_LOOK_AT = {0: True, 1: True} | dict.fromkeys(range(2, JSON_MAX_DEPTH + 1), False)


def _check_document(path: Path, progress: ProgressFactory) -> None:
    """Pass 0: the whole document parses, its sections are arrays, and it nests at most
    JSON_MAX_DEPTH levels (writes nothing).

    The parser's events carry no paths (a path per event costs memory quadratic in the
    depth); their depths are summed and only the few events at the document's own level
    (or too deep) are selected, with C-level iterator tools, so the check costs about what
    parsing does. The depth bound keeps the later passes, which do name paths, cheap.
    """
    size = path.stat().st_size
    with path.open("rb") as raw:
        fh = progress(raw, size, "checking")
        try:
            events = ijson.basic_parse(fh, use_float=True)
            first = next(events, None)
            if first is None:
                raise FileFormatError(f"{path.name}: the file is empty")
            if first[0] != "start_map":
                raise FileFormatError(
                    f"{path.name}: the export must be a JSON object with "
                    "facilities, equipment and maintenanceRecords arrays"
                )
            events, for_depth = tee(events)
            steps = map(_DEPTH_STEP.__getitem__, map(itemgetter(0), for_depth))
            # The depth before each event (one more value, after the last, is never read).
            depths, for_select = tee(accumulate(steps, initial=1))
            selected = compress(
                zip(events, depths, strict=False), map(_LOOK_AT.get, for_select, repeat(True))
            )
            key = None
            for (event, value), depth in selected:
                if depth > JSON_MAX_DEPTH:
                    raise FileFormatError(
                        f"{path.name}: nested more than {JSON_MAX_DEPTH} levels deep; "
                        "nothing was imported"
                    )
                if event == "map_key":
                    key = value
                    continue
                if key in _SECTION_KEYS and event not in ("start_array", "null"):
                    raise FileFormatError(f"{path.name}: {key!r} must be an array")
                key = None
        except ijson.JSONError as exc:
            if _is_blank(path):
                raise FileFormatError(f"{path.name}: the file is empty") from None
            raise FileFormatError(
                f"{path.name}: not valid JSON ({exc}); nothing was imported"
            ) from None
        except UnicodeDecodeError:
            raise FileFormatError(f"{path.name}: not UTF-8 text; nothing was imported") from None


def _is_blank(path: Path) -> bool:
    """True when the file holds nothing but whitespace (read in bounded chunks)."""
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 16):
            if chunk.strip():
                return False
    return True


def _read_document(path: Path, ing: Ingestor, progress: ProgressFactory) -> None:
    _check_document(path, progress)
    size = path.stat().st_size
    # One pass per section, parents first, so references resolve whatever the key order.
    for key, kind in SECTIONS:
        with path.open("rb") as raw:
            fh = progress(raw, size, key)
            for record in ijson.items(fh, f"{key}.item", use_float=True):
                ing.add(kind, record)
        ing.flush()


def _read_ndjson(path: Path, ing: Ingestor, progress: ProgressFactory) -> None:
    size = path.stat().st_size
    seen_any = False
    with path.open("rb") as raw:
        fh = progress(raw, size, "records")
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            seen_any = True
            try:
                entry = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                ing.reject(
                    kind="",
                    record=None,
                    field="line",
                    reason=f"not valid JSON: {json_error(exc)}",
                    line=number,
                    raw_text=line.decode(errors="replace"),
                )
                continue
            if (
                not isinstance(entry, dict)
                or not isinstance(entry.get("kind"), str)
                or entry["kind"] not in NDJSON_KINDS
                or "record" not in entry
            ):
                ing.reject(
                    kind="",
                    record=entry,
                    field="kind",
                    reason='must be {"kind": facility|equipment|maintenanceRecord, "record": {…}}',
                    line=number,
                )
                continue
            ing.add(entry["kind"], entry["record"], line=number)
    if not seen_any:
        raise FileFormatError(f"{path.name}: the file is empty")
