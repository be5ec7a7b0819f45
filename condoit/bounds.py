"""Bounds on the shape of Condoit JSON, checked without recursion (condoit-source.md §4).

Free-form objects (``specs``, ``observations`` and the unknown fields kept as ``extra``) nest
at most :data:`FREE_FORM_MAX_DEPTH` levels and serialize to at most
:data:`FREE_FORM_MAX_BYTES`. No door parses JSON nested deeper than :data:`JSON_MAX_DEPTH`
(orjson refuses it; the export document's check pass does too), yet that is far beyond
Python's recursion limit and orjson's 254 levels for writing: every walk here uses an
explicit stack, and :func:`dumps_bounded` writes what orjson cannot.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

FREE_FORM_MAX_DEPTH = 32
FREE_FORM_MAX_BYTES = 64 * 1024
# The deepest JSON any door parses: orjson's own limit, and the export document's check.
JSON_MAX_DEPTH = 1024
# orjson stores integers of at most 64 bits.
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1


class RecordError(ValueError):
    """A record is invalid: ``field`` names where, ``reason`` says why (raised here for the
    bounds, and by every check of ``schema``)."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def too_deep(field: str) -> RecordError:
    return RecordError(field, f"is nested more than {FREE_FORM_MAX_DEPTH} levels deep")


def json_error(exc: orjson.JSONDecodeError) -> str:
    """orjson's reason for refusing a JSON text, said plainly for nesting."""
    if "depth" in exc.msg:
        return f"nested more than {JSON_MAX_DEPTH} levels deep ({exc})"
    return str(exc)


def _path(chain) -> str:
    parts = []
    while chain is not None:
        chain, key = chain
        parts.append(f"[{key}]" if isinstance(key, int) else f".{key}")
    return "".join(reversed(parts))


def check_free_form(value: Any, field: str) -> None:
    """A free-form object: at most FREE_FORM_MAX_DEPTH levels (``value`` itself is the
    first), finite numbers of at most 64 bits, no NUL in strings or keys, and at most
    FREE_FORM_MAX_BYTES serialized (anything else orjson cannot write, such as a key that
    is not a string, is refused too). Raises :class:`RecordError`."""
    _check_nodes(value, field)
    size = _size(value, field)
    if size > FREE_FORM_MAX_BYTES:
        raise RecordError(
            field, f"is larger than 64 KB ({FREE_FORM_MAX_BYTES} bytes) as JSON, got {size}"
        )


def check_unknown_fields(extra: dict) -> None:
    """The fields MasterBus does not know, kept as they came: each is free-form, and
    together they serialize to at most FREE_FORM_MAX_BYTES."""
    for key, value in extra.items():
        if "\x00" in str(key):
            raise RecordError(str(key)[:200], "is a field name with NUL characters")
        _check_nodes(value, str(key)[:200])
    if not extra:
        return
    size = _size(extra, "record")
    if size > FREE_FORM_MAX_BYTES:
        biggest = max(extra, key=lambda k: len(orjson.dumps(extra[k])))
        raise RecordError(
            str(biggest)[:200],
            f"the fields MasterBus keeps as they came are larger than 64 KB "
            f"({FREE_FORM_MAX_BYTES} bytes) together as JSON, got {size}",
        )


def _size(value: Any, field: str) -> int:
    try:
        return len(orjson.dumps(value))
    except TypeError:
        raise RecordError(field, "must hold only JSON values") from None


def _check_nodes(value: Any, field: str) -> None:
    if not isinstance(value, dict | list):
        _check_scalar(value, field, None)
        return
    # Containers still to look into: (container, its depth counted from 1, chain of keys
    # from ``field``, for messages). Scalars are checked where they are found.
    stack: list[tuple[Any, int, Any]] = [(value, 1, None)]
    while stack:
        node, depth, chain = stack.pop()
        if depth > FREE_FORM_MAX_DEPTH:
            raise too_deep(field)
        for key, child in node.items() if isinstance(node, dict) else enumerate(node):
            if isinstance(key, str) and "\x00" in key:  # PostgreSQL's JSON cannot hold it
                raise RecordError(field + _path(chain), "must not have NUL characters in its keys")
            if isinstance(child, dict | list):
                stack.append((child, depth + 1, (chain, key)))
            elif child is not None and not isinstance(child, bool):
                _check_scalar(child, field, (chain, key))


def _check_scalar(value: Any, field: str, chain) -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise RecordError(field + _path(chain), "must not contain NUL characters")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise RecordError(field + _path(chain), "must be a finite number")
    elif isinstance(value, int) and not isinstance(value, bool):
        if not _INT_MIN <= value <= _INT_MAX:
            raise RecordError(field + _path(chain), "is a number beyond 64 bits")


def check_storable(record: Any) -> None:
    """The whole raw record can be serialized (it is hashed, and kept when rejected):
    cheap when it can; otherwise :func:`unstorable` says where it cannot."""
    try:
        orjson.dumps(record)
    except TypeError:
        raise unstorable(record) from None


def unstorable(record: Any) -> RecordError:
    """Why ``record`` cannot be serialized: a field nested too deep, a number beyond 64
    bits, a non-string key, text that is not valid Unicode, or a value that is not JSON."""
    top = record.items() if isinstance(record, dict) else [("record", record)]
    for name, value in top:
        field = str(name)[:200]
        stack: list[tuple[Any, int]] = [(value, 1)]
        while stack:
            node, depth = stack.pop()
            if isinstance(node, dict):
                if depth > FREE_FORM_MAX_DEPTH:
                    return too_deep(field)
                if not all(isinstance(k, str) for k in node):
                    return RecordError(field, "must have string keys")
                stack.extend((v, depth + 1) for v in node.values())
            elif isinstance(node, list):
                if depth > FREE_FORM_MAX_DEPTH:
                    return too_deep(field)
                stack.extend((v, depth + 1) for v in node)
            elif isinstance(node, int) and not isinstance(node, bool):
                if not _INT_MIN <= node <= _INT_MAX:
                    return RecordError(field, "holds a number beyond 64 bits")
            elif isinstance(node, str):
                if not node.isascii():
                    try:
                        node.encode()
                    except UnicodeEncodeError:
                        return RecordError(field, "holds text that is not valid Unicode")
            elif node is not None and not isinstance(node, float | bool):
                return RecordError(field, f"holds a value that is not JSON ({type(node).__name__})")
    return RecordError("record", "cannot be stored as JSON")


class _Token(str):
    """Literal JSON text in :func:`dumps_bounded`'s stack (not a string value)."""


_OPEN_OBJ, _CLOSE_OBJ, _OPEN_ARR, _CLOSE_ARR, _COMMA = map(_Token, "{}[],")


def _scalar(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return orjson.dumps(repr(value)).decode()


def dumps_bounded(value: Any, limit: int) -> str:
    """JSON text of ``value`` at any depth, built iteratively; it stops once it is longer
    than ``limit`` characters (the caller truncates and marks it so)."""
    out: list[str] = []
    size = 0
    stack: list[Any] = [value]
    while stack and size <= limit:
        node = stack.pop()
        if type(node) is _Token:
            piece = node
        elif isinstance(node, dict):
            piece = _OPEN_OBJ
            stack.append(_CLOSE_OBJ)
            entries = list(node.items())
            for i in range(len(entries) - 1, -1, -1):
                key, child = entries[i]
                stack.append(child)
                stack.append(_Token(("," if i else "") + _scalar(str(key)) + ":"))
        elif isinstance(node, list):
            piece = _OPEN_ARR
            stack.append(_CLOSE_ARR)
            for i in range(len(node) - 1, -1, -1):
                stack.append(node[i])
                if i:
                    stack.append(_COMMA)
        else:
            piece = _scalar(node)
        out.append(piece)
        size += len(piece)
    return "".join(out)
