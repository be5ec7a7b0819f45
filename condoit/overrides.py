"""Staff overrides win over Condoit: the overridden fields of validated records.

Before a record is written, each field a member of staff overrode (``FieldOverride``) takes
the override's value, and Condoit's value is kept beside the override (``condoit_value``,
stored with the rows by ``writes.write_rows``).
"""

from __future__ import annotations

from datetime import date, datetime

from facilities.models import FieldOverride

from .records import MODELS, Item


def json_safe(value):
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def find_overrides(kind: str, items: list[Item]) -> list[FieldOverride]:
    """The overrides of these validated records (each remembering the Condoit value it had
    when read, so that only a changed one is written: ``changed_condoit_values``)."""
    ids = [it.clean["external_id"] for it in items]
    found = list(FieldOverride.objects.filter(kind=kind, external_id__in=ids))
    for ov in found:
        ov.stored_condoit_value = ov.condoit_value
    return found


def changed_condoit_values(
    overrides: list[FieldOverride], external_ids: set[str]
) -> list[FieldOverride]:
    """The overrides of the records ``external_ids`` (those being written) whose Condoit value
    differs from the stored one."""
    return [
        ov
        for ov in overrides
        if ov.external_id in external_ids
        and ov.condoit_value != getattr(ov, "stored_condoit_value", object())
    ]


def apply_overrides(
    kind: str, items: list[Item], found: list[FieldOverride]
) -> list[FieldOverride]:
    """Put the overrides ``found`` into the records' values, keeping Condoit's value beside
    each; applying them again (after the records were mapped) keeps Condoit's first value."""
    if not found:
        return []
    by_ext: dict[str, list[FieldOverride]] = {}
    for ov in found:
        by_ext.setdefault(ov.external_id, []).append(ov)
    model = MODELS[kind]
    for it in items:
        for ov in by_ext.get(it.clean["external_id"], ()):
            try:
                model_field = model._meta.get_field(ov.field)
            except Exception:
                continue
            if ov.field not in it.clean:
                continue
            if it.condoit_values is None:
                it.condoit_values = {}
            if ov.field not in it.condoit_values:
                it.condoit_values[ov.field] = it.clean[ov.field]
            ov.condoit_value = json_safe(it.condoit_values[ov.field])
            it.clean[ov.field] = model_field.to_python(ov.value)
    return found
