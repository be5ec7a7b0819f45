"""The change outbox (``facilities.RecordChange``) as a recompute after changes: the rows no
recompute has covered yet, read as the facilities to recompute and the records that changed,
and marked once their facilities are recomputed."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone

from equipment.models import Equipment, MaintenanceRecord
from facilities.choices import RecordKind
from facilities.models import Facility, RecordChange

from .batch_load import ChangedRecords


@dataclass(frozen=True)
class PendingChanges:
    row_ids: list[int]  # the outbox rows read
    facility_pks: list[int]  # the facilities they touch
    changed: ChangedRecords


def pending_changes(*, limit: int) -> PendingChanges | None:
    """The first ``limit`` outbox rows not yet recomputed (None: there are none).

    A changed facility record, or a change whose maintenance record cannot be found, changes
    its whole facility; an equipment or maintenance change, that equipment (in its facility
    now as well as when the change was recorded).
    """
    rows = list(
        RecordChange.objects.filter(recomputed_at__isnull=True)
        .order_by("id")
        .values_list("id", "kind", "external_id", "facility_external_id")[:limit]
    )
    if not rows:
        return None
    fac_ext = {r[3] for r in rows if r[3]}
    whole_ext = {r[2] for r in rows if r[1] == RecordKind.FACILITY}
    eq_ext = {r[2] for r in rows if r[1] == RecordKind.EQUIPMENT}
    maint = {r[2]: r[3] for r in rows if r[1] == RecordKind.MAINTENANCE}
    if maint:
        found = set()
        for ext, eq, fac in MaintenanceRecord.objects.filter(
            external_id__in=list(maint)
        ).values_list("external_id", "equipment__external_id", "equipment__facility__external_id"):
            found.add(ext)
            eq_ext.add(eq)
            fac_ext.add(fac)
        whole_ext |= {fac for ext, fac in maint.items() if ext not in found and fac}
    # The equipment's facility now as well as when the change was recorded.
    fac_ext |= set(
        Equipment.objects.filter(external_id__in=list(eq_ext)).values_list(
            "facility__external_id", flat=True
        )
    )
    by_ext = dict(
        Facility.objects.filter(external_id__in=fac_ext | whole_ext).values_list(
            "external_id", "pk"
        )
    )
    changed = ChangedRecords(
        facilities=frozenset(by_ext[e] for e in whole_ext if e in by_ext),
        equipment=frozenset(eq_ext),
    )
    return PendingChanges([r[0] for r in rows], list(by_ext.values()), changed)


def pending_mark_recomputed(row_ids: list[int]) -> None:
    RecordChange.objects.filter(id__in=row_ids).update(recomputed_at=timezone.now())


def pending_mark_covered(before) -> int:
    """Mark the outbox rows recorded before ``before`` as recomputed: a full recompute that
    started then read every record as they were, so it covers them. Returns how many."""
    return RecordChange.objects.filter(recomputed_at__isnull=True, created_at__lt=before).update(
        recomputed_at=timezone.now()
    )
