"""Writes on equipment after the fact: re-typing after a mapping change, staff overrides.

The import path types equipment through the same mapping tables; these functions bring
already-mirrored records in line when staff change a mapping or remove an override. Every
change goes into the RecordChange outbox in the same transaction, so the recompute picks it up.
"""

import re
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from facilities.choices import ChangeSource, RecordKind
from facilities.models import FieldOverride
from facilities.services import changes_record

from .choices import EquipmentType
from .models import (
    Conductor,
    Equipment,
    EquipmentClassMapping,
    MaintenanceRecord,
    MaterialMapping,
    normalize_key,
)

_CHUNK = 2000


def _key_regex(key: str) -> str:
    """A regex matching any spelling whose normalize_key() equals ``key`` (used with iregex).

    The database narrows the rows (case-insensitively, any run of whitespace between words);
    callers confirm each candidate with normalize_key() in Python, so both sides compare
    exactly as the mapping tables store their keys.
    """
    words = key.split()
    if not words:
        return r"^\s*$"
    return r"^\s*" + r"\s+".join(re.escape(w) for w in words) + r"\s*$"


def _chunks(items: list, size: int = _CHUNK) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def equipment_type_for_class(*, equipment_class: str) -> tuple[str, bool]:
    """(MasterBus type, class_mapped) for a Condoit class, per the mapping table."""
    mapping = EquipmentClassMapping.objects.filter(
        condoit_class=normalize_key(equipment_class)
    ).first()
    if mapping is None:
        return EquipmentType.OTHER, False
    return mapping.type, True


def material_for_code(*, material_code: str) -> str:
    """Mapped material for a Condoit code; "" (unknown) when the code has no mapping."""
    mapping = MaterialMapping.objects.filter(code=normalize_key(material_code)).first()
    return mapping.material if mapping else ""


@transaction.atomic
def class_mapping_apply(*, mapping_key: str) -> int:
    """Re-type every equipment whose Condoit class normalises to ``mapping_key``.

    Uses the mapping as it is now stored: typed per the mapping, or ``other`` and unmapped
    when the mapping is gone. Equipment with a staff override of ``type`` keeps it. Returns
    how many equipment changed.
    """
    key = normalize_key(mapping_key)
    new_type, mapped = equipment_type_for_class(equipment_class=key)
    type_overridden = FieldOverride.objects.filter(
        kind=RecordKind.EQUIPMENT, field="type", external_id=OuterRef("external_id")
    )
    candidates = (
        Equipment.objects.filter(equipment_class__iregex=_key_regex(key))
        .exclude(type=new_type, class_mapped=mapped)
        .exclude(Exists(type_overridden))
        .values_list("pk", "external_id", "facility__external_id", "equipment_class")
    )
    rows = [row for row in candidates if normalize_key(row[3]) == key]
    if not rows:
        return 0
    now = timezone.now()
    for chunk in _chunks([r[0] for r in rows]):
        Equipment.objects.filter(pk__in=chunk).update(
            type=new_type, class_mapped=mapped, changed_at=now
        )
    changes_record(
        kind=RecordKind.EQUIPMENT,
        items=[(r[1], r[2]) for r in rows],
        source=ChangeSource.MAPPING,
    )
    return len(rows)


@transaction.atomic
def material_mapping_apply(*, code_key: str) -> int:
    """Re-map ``Conductor.material`` for every conductor whose code normalises to ``code_key``.

    Unknown codes (no mapping any more) become "" (unknown). The owning equipment get their
    change marker bumped and an outbox row each. Returns how many conductors changed.
    """
    key = normalize_key(code_key)
    material = material_for_code(material_code=key)
    candidates = (
        Conductor.objects.filter(material_code__iregex=_key_regex(key))
        .exclude(material=material)
        .values_list(
            "pk",
            "material_code",
            "equipment_id",
            "equipment__external_id",
            "equipment__facility__external_id",
        )
    )
    rows = [row for row in candidates if normalize_key(row[1]) == key]
    if not rows:
        return 0
    for chunk in _chunks([r[0] for r in rows]):
        Conductor.objects.filter(pk__in=chunk).update(material=material)
    equipment = {r[2]: (r[3], r[4]) for r in rows}
    now = timezone.now()
    for chunk in _chunks(list(equipment)):
        Equipment.objects.filter(pk__in=chunk).update(changed_at=now)
    changes_record(
        kind=RecordKind.EQUIPMENT, items=list(equipment.values()), source=ChangeSource.MAPPING
    )
    return len(rows)


# --- staff overrides ----------------------------------------------------------------------

KIND_MODELS: dict[str, type[models.Model]] = {}


def _kind_models() -> dict[str, type[models.Model]]:
    if not KIND_MODELS:
        from facilities.models import Facility

        KIND_MODELS.update(
            {
                RecordKind.FACILITY: Facility,
                RecordKind.EQUIPMENT: Equipment,
                RecordKind.MAINTENANCE: MaintenanceRecord,
            }
        )
    return KIND_MODELS


def facility_external_id_of(obj) -> str:
    """The facility Condoit id of a Facility, Equipment or MaintenanceRecord instance."""
    if isinstance(obj, Equipment):
        return obj.facility.external_id
    if isinstance(obj, MaintenanceRecord):
        return obj.equipment.facility.external_id
    return obj.external_id


def _value_from_json(model: type[models.Model], field_name: str, value):
    """Turn an override's JSON value back into a model value. Raises LookupError if it can't."""
    field = model._meta.get_field(field_name)
    if field.is_relation:
        if value in (None, ""):
            if not field.null:
                raise LookupError(field_name)
            return None
        # Stored under the column (facility_id) as a primary key, or under the name as a
        # Condoit id.
        by_pk = field_name == field.attname != field.name
        lookup = {"pk": value} if by_pk else {"external_id": value}
        target = field.related_model._default_manager.filter(**lookup).first()
        if target is None:
            raise LookupError(field_name)
        return target.pk if by_pk else target
    if value is None and not field.null:
        if isinstance(field, models.CharField | models.TextField):
            return ""
        raise LookupError(field_name)
    return field.to_python(value)


@transaction.atomic
def overrides_remove(*, ids: Iterable[int]) -> int:
    """Remove staff overrides, putting Condoit's last-known value back on each record now.

    Later Condoit updates of those fields apply again (the next sync also rewrites them).
    Returns how many overrides were removed.
    """
    overrides = list(FieldOverride.objects.filter(pk__in=list(ids)).order_by("kind", "pk"))
    if not overrides:
        return 0
    kind_models = _kind_models()
    by_record: dict[tuple[str, str], list[FieldOverride]] = {}
    for ov in overrides:
        by_record.setdefault((ov.kind, ov.external_id), []).append(ov)
    now = timezone.now()
    changed: dict[str, list[tuple[str, str]]] = {}
    for (kind, external_id), ovs in by_record.items():
        model = kind_models.get(kind)
        obj = model.objects.filter(external_id=external_id).first() if model else None
        if obj is None:
            continue
        update_fields = ["changed_at"]
        for ov in ovs:
            try:
                setattr(obj, ov.field, _value_from_json(model, ov.field, ov.condoit_value))
            except (LookupError, ValidationError, ValueError, TypeError):
                continue  # not restorable here: the next sync rewrites it
            update_fields.append(ov.field)
        if kind == RecordKind.EQUIPMENT and "equipment_class" in update_fields:
            obj.type, obj.class_mapped = equipment_type_for_class(
                equipment_class=obj.equipment_class
            )
            update_fields += ["type", "class_mapped"]
        if kind == RecordKind.EQUIPMENT and "feeds_from_external_id" in update_fields:
            obj.feeds_from = (
                Equipment.objects.filter(external_id=obj.feeds_from_external_id).first()
                if obj.feeds_from_external_id
                else None
            )
            update_fields.append("feeds_from")
        obj.changed_at = now
        obj.save(update_fields=update_fields)
        changed.setdefault(kind, []).append((external_id, facility_external_id_of(obj)))
    FieldOverride.objects.filter(pk__in=[ov.pk for ov in overrides]).delete()
    for kind, items in changed.items():
        changes_record(kind=kind, items=items, source=ChangeSource.STAFF)
    return len(overrides)
