"""Writes shared by every door: the change outbox and staff overrides."""

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from masterbus.bulk import bulk_insert
from masterbus.changes import announce, records_changed

from .models import FieldOverride, RecordChange


def changes_record(
    *,
    kind: str,
    items: Iterable[tuple[str, str]],
    source: str,
) -> int:
    """Record changed records in the outbox. ``items`` are (external_id, facility_external_id).

    Call inside the transaction that made the change, so the change and its outbox row
    commit together or not at all.
    """
    now = timezone.now()
    rows = [
        {
            "kind": kind,
            "external_id": ext,
            "facility_external_id": fac or "",
            "source": source,
            "created_at": now,
        }
        for ext, fac in items
    ]
    bulk_insert(RecordChange, rows)
    if rows:
        # Figures follow the records shortly after the change commits (the recompute
        # subscribes: voltmetrics/apps.py).
        announce(records_changed, count=len(rows))
    return len(rows)


def overrides_for(*, kind: str, external_ids: Iterable[str]) -> dict[str, dict[str, object]]:
    """Staff overrides by external id: {external_id: {field: value}}."""
    out: dict[str, dict[str, object]] = {}
    ids = list(external_ids)
    for start in range(0, len(ids), 5000):
        for ov in FieldOverride.objects.filter(
            kind=kind, external_id__in=ids[start : start + 5000]
        ).only("external_id", "field", "value"):
            out.setdefault(ov.external_id, {})[ov.field] = ov.value
    return out


@transaction.atomic
def override_set(*, kind: str, external_id: str, field: str, value, condoit_value, user=None):
    """Create or update a staff override and record the change."""
    ov, created = FieldOverride.objects.get_or_create(
        kind=kind,
        external_id=external_id,
        field=field,
        defaults={"value": value, "condoit_value": condoit_value, "created_by": user},
    )
    if not created:
        ov.value = value
        ov.created_by = user
        ov.save(update_fields=["value", "created_by", "created_at"])
    return ov


def mark_changed(model, pks: Iterable[int]) -> None:
    """Bump the per-record change marker."""
    model.objects.filter(pk__in=list(pks)).update(changed_at=timezone.now())
