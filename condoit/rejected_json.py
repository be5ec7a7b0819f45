"""A rejected record's raw JSON as staff read it: pretty-printed (indent 2, sorted keys) with
the lines of the failing field marked.

A rejection names its field as the validation does (``condoit.schema``, ``condoit.bounds``):
a key (``name``), a nested key (``address.city``, ``specs.phases``), an item of a list or a
key inside one (``conductors[0]``, ``photos[1].url``), a path into a free-form object
(``specs.ratings[2].kA``), a key that itself holds dots (an unknown field, kept as it came),
or a word about the whole input (``record``, ``line``, ``kind``). :func:`raw_json_view` finds
that path in the parsed record and returns the pretty-printed lines, each marked when it
belongs to the failing field (its key line, everything inside it, its closing bracket).

No Django here, and no recursion: a record may nest as deep as the doors accept.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

INDENT = 2
_INDEX = re.compile(r"\[(\d+)\]")
# Fields naming the input as a whole rather than a path into it.
WHOLE_INPUT = {
    "record": "The reason concerns the record as a whole.",
    "line": "The reason concerns the line as a whole: it is not a JSON record.",
}

Path = tuple[str | int, ...]


@dataclass
class JsonLine:
    text: str
    marked: bool = False


@dataclass
class RawJsonView:
    """What the change page shows: ``lines`` (pretty-printed JSON) or, when the raw text is
    not JSON, ``text`` as it arrived; ``note`` says what is marked, or why nothing is."""

    lines: list[JsonLine] = field(default_factory=list)
    text: str = ""
    note: str = ""
    found: bool = False
    path: Path | None = None

    @property
    def is_json(self) -> bool:
        return bool(self.lines)


def pretty_lines(value: Any) -> list[tuple[Path, str]]:
    """``json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)`` line by line, each
    with the path of the value it belongs to (a closing bracket belongs to its container)."""
    out: list[tuple[Path, str]] = []
    # ("value", v, path, indent, prefix, suffix) to write a value; ("close", text, path).
    stack: list[tuple] = [("value", value, (), 0, "", "")]
    while stack:
        entry = stack.pop()
        if entry[0] == "close":
            out.append((entry[2], entry[1]))
            continue
        _, v, path, indent, prefix, suffix = entry
        pad = " " * indent
        if isinstance(v, dict | list) and v:
            opening, closing = ("{", "}") if isinstance(v, dict) else ("[", "]")
            out.append((path, f"{pad}{prefix}{opening}"))
            stack.append(("close", f"{pad}{closing}{suffix}", path))
            if isinstance(v, dict):
                members = [
                    (key, child, _dumps(key) + ": ")
                    for key, child in sorted(v.items(), key=lambda kv: kv[0])
                ]
            else:
                members = [(i, child, "") for i, child in enumerate(v)]
            last = len(members) - 1
            for i in range(last, -1, -1):
                key, child, child_prefix = members[i]
                comma = "," if i < last else ""
                stack.append(("value", child, (*path, key), indent + INDENT, child_prefix, comma))
        else:
            out.append((path, f"{pad}{prefix}{_dumps(v)}{suffix}"))
    return out


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def resolve(data: Any, field_name: str) -> Path | None:
    """The path ``field_name`` names in ``data``, or None when the record does not hold it
    (a required field that is missing, or a parent of it that is)."""
    rest, node, path = field_name, data, ()
    while rest:
        if isinstance(node, list):
            match = _INDEX.match(rest)
            if match is None or int(match[1]) >= len(node):
                return None
            index = int(match[1])
            node, path, rest = node[index], (*path, index), rest[match.end() :]
        elif isinstance(node, dict):
            if path and rest.startswith("."):
                rest = rest[1:]
            # The longest key the rest starts with: keys may hold dots or brackets themselves.
            keys = [
                k
                for k in node
                if isinstance(k, str) and (rest == k or rest.startswith((k + ".", k + "[")))
            ]
            if not keys:
                return None
            key = max(keys, key=len)
            node, path, rest = node[key], (*path, key), rest[len(key) :]
        else:
            return None
    return path


def show_path(path: Path) -> str:
    parts = []
    for key in path:
        parts.append(f"[{key}]" if isinstance(key, int) else (f".{key}" if parts else key))
    return "".join(parts)


def raw_json_view(raw: str, field_name: str, *, truncated: bool = False) -> RawJsonView:
    """The raw text pretty-printed, with the lines of ``field_name`` marked."""
    if not raw:
        return RawJsonView(note="Nothing was kept of the record.")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        note = "Shown as it arrived: "
        if truncated:
            note += "it was cut at the size kept for rejected records, so it is not whole JSON."
        else:
            note += "it is not JSON that can be laid out (invalid, or nested too deep)."
        if field_name in WHOLE_INPUT:
            note = f"{WHOLE_INPUT[field_name]} {note}"
        return RawJsonView(text=raw, note=note)
    path = resolve(data, field_name) if field_name else None
    try:
        lines = pretty_lines(data)
    except RecursionError:  # pragma: no cover - pretty_lines does not recurse
        return RawJsonView(text=raw, note="Shown as it arrived.")
    view = RawJsonView(path=path, found=path is not None)
    if path is not None and path != ():
        depth = len(path)
        view.lines = [JsonLine(text, marked=p[:depth] == path) for p, text in lines]
        view.note = f"The failing field, {show_path(path)}, is marked below."
        return view
    view.lines = [JsonLine(text) for _, text in lines]
    if not field_name:
        view.note = "The rejection names no field."
    elif field_name in WHOLE_INPUT and not (isinstance(data, dict) and field_name in data):
        view.note = WHOLE_INPUT[field_name]
    else:
        view.note = f"The failing field, {field_name}, is absent from the record" + (
            " (cut at the size kept for rejected records)." if truncated else "."
        )
    return view
