"""Check a payload against the response serializers, key for key: exact field set, JSON
types, enums, nullability, date and timestamp formats."""

import re

from rest_framework import serializers as s

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


def check(serializer, value, path="$"):
    if isinstance(serializer, s.ListSerializer):
        assert isinstance(value, list), f"{path}: expected a list, got {value!r}"
        for i, v in enumerate(value):
            check(serializer.child, v, f"{path}[{i}]")
        return
    fields = serializer.fields
    assert isinstance(value, dict), f"{path}: expected an object, got {value!r}"
    assert set(value) == set(fields), (
        f"{path}: keys differ: extra {set(value) - set(fields)}, missing {set(fields) - set(value)}"
    )
    for name, field in fields.items():
        _field(field, value[name], f"{path}.{name}")


def _field(field, v, path):
    if v is None:
        assert field.allow_null, f"{path}: null but not nullable"
        return
    if isinstance(field, s.Serializer | s.ListSerializer):
        check(field, v, path)
    elif isinstance(field, s.ChoiceField):
        assert v in field.choices, f"{path}: {v!r} not in {list(field.choices)}"
    elif isinstance(field, s.BooleanField):
        assert isinstance(v, bool), f"{path}: {v!r} is not a boolean"
    elif isinstance(field, s.IntegerField):
        assert isinstance(v, int) and not isinstance(v, bool), f"{path}: {v!r} is not an int"
        if field.min_value is not None:
            assert v >= field.min_value, f"{path}: {v} < {field.min_value}"
        if field.max_value is not None:
            assert v <= field.max_value, f"{path}: {v} > {field.max_value}"
    elif isinstance(field, s.FloatField):
        assert isinstance(v, int | float) and not isinstance(v, bool), f"{path}: {v!r} not a number"
    elif isinstance(field, s.DateTimeField):
        assert isinstance(v, str) and TS.match(v), f"{path}: {v!r} is not an ISO UTC timestamp"
    elif isinstance(field, s.DateField):
        assert isinstance(v, str) and DATE.match(v), f"{path}: {v!r} is not YYYY-MM-DD"
    elif isinstance(field, s.URLField):
        assert isinstance(v, str) and v.startswith(("http://", "https://")), f"{path}: {v!r}"
    elif isinstance(field, s.CharField):
        assert isinstance(v, str), f"{path}: {v!r} is not a string"
    elif isinstance(field, s.ListField):
        assert isinstance(v, list), f"{path}: {v!r} is not a list"
        for i, x in enumerate(v):
            _field(field.child, x, f"{path}[{i}]")
    elif isinstance(field, s.DictField):
        assert isinstance(v, dict), f"{path}: {v!r} is not an object"
    else:  # pragma: no cover
        raise AssertionError(f"{path}: unhandled field {field!r}")
