"""Events (consumers.md §2), written in the transaction of the change they record.

The receivers below subscribe to the in-transaction announcements of the lower layers
(``masterbus.changes``): a recompute's changed figures, a finished sync run, a published
model version, the VoltMetrics breaker. Each writes its events in a few set-based
statements, under one transaction-scoped lock so that ids become visible in id order (a
consumer reading after an id never misses a later commit). Deliveries start once the
transaction commits.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, date, datetime

from django.db import connection, transaction
from django.utils import timezone

from equipment.models import Equipment
from masterbus import changes
from masterbus.bulk import bulk_insert
from masterbus.changes import EquipmentRiskChange, FacilityRiskChange

from .choices import EventType
from .models import Event

log = logging.getLogger(__name__)

# pg_advisory_xact_lock key of the event writers ("MBEVENTS" as a number).
_LOCK_KEY = 0x4D42_4556_454E_5453 & 0x7FFF_FFFF_FFFF_FFFF


def events_write(rows: Iterable[tuple[str, int | None, dict]], *, now: datetime | None = None):
    """Insert events ``(type, facility_pk, data)`` in the current transaction; returns how many.

    The first insert of a transaction takes the event writers' lock (PostgreSQL), held until
    the commit: ids are handed out and made visible in the same order."""
    now = now or timezone.now()
    objs = [{"type": t, "facility_id": f, "data": d, "created_at": now} for t, f, d in rows]
    if not objs:
        return 0
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])
        bulk_insert(Event, objs)  # COPY on PostgreSQL: ids follow the rows' order
        transaction.on_commit(_events_committed)
    return len(objs)


def _events_committed() -> None:
    from .webhooks.dispatch import deliveries_kick

    deliveries_kick()


# --- the receivers ------------------------------------------------------------------------------


def _iso(d: date | datetime | None) -> str | None:
    if d is None:
        return None
    if isinstance(d, datetime):
        return d.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return d.isoformat()


def _risk_changed(
    sender,
    *,
    facilities: list[FacilityRiskChange] = (),
    equipment: list[EquipmentRiskChange] = (),
    as_of: date,
    model_version: str,
    **kwargs,
) -> None:
    rows: list[tuple[str, int | None, dict]] = []
    for c in facilities:
        b, a = c.before or {}, c.after
        if (b.get("risk_score"), b.get("risk_level")) != (a["risk_score"], a["risk_level"]):
            rows.append(
                (
                    EventType.FACILITY_RISK_CHANGED,
                    c.facility_pk,
                    {
                        "facility_id": c.facility_id,
                        "name": c.name,
                        "before": {
                            "risk_score": b.get("risk_score"),
                            "risk_level": b.get("risk_level"),
                        },
                        "after": {"risk_score": a["risk_score"], "risk_level": a["risk_level"]},
                        "as_of": _iso(as_of),
                        "model_version": model_version,
                    },
                )
            )
        if (b.get("overall"), b.get("status")) != (a["overall"], a["status"]):
            rows.append(
                (
                    EventType.FACILITY_COMPLIANCE_CHANGED,
                    c.facility_pk,
                    {
                        "facility_id": c.facility_id,
                        "before": {"overall": b.get("overall"), "status": b.get("status")},
                        "after": {"overall": a["overall"], "status": a["status"]},
                    },
                )
            )
    rows.extend(_equipment_rows(equipment, as_of))
    events_write(rows)


def _equipment_rows(changed: list[EquipmentRiskChange], as_of: date):
    wanted = [
        c
        for c in changed
        if (c.before or {}).get("risk_rating") != c.after["risk_rating"]
        or (
            c.after.get("maintenance_status") == "overdue"
            and (c.before or {}).get("maintenance_status") != "overdue"
        )
    ]
    if not wanted:
        return
    names: dict[int, tuple] = {}
    pks = [c.equipment_pk for c in wanted if c.identity is None]
    for i in range(0, len(pks), 10_000):
        names.update(
            (pk, rest)
            for pk, *rest in Equipment.objects.filter(pk__in=pks[i : i + 10_000]).values_list(
                "pk", "external_id", "facility__external_id", "name", "type"
            )
        )
    for c in wanted:
        ext, fac_ext, name, kind = c.identity or names.get(c.equipment_pk, ("", "", "", ""))
        b, a = c.before or {}, c.after
        if b.get("risk_rating") != a["risk_rating"]:
            yield (
                EventType.EQUIPMENT_RISK_CHANGED,
                c.facility_pk,
                {
                    "equipment_id": ext,
                    "facility_id": fac_ext,
                    "name": name,
                    "type": kind,
                    "before": {
                        "risk_score": b.get("risk_score"),
                        "risk_rating": b.get("risk_rating"),
                    },
                    "after": {"risk_score": a["risk_score"], "risk_rating": a["risk_rating"]},
                    "source": c.source,
                },
            )
        if a.get("maintenance_status") == "overdue" and b.get("maintenance_status") != "overdue":
            due = a.get("next_due")
            yield (
                EventType.EQUIPMENT_MAINTENANCE_OVERDUE,
                c.facility_pk,
                {
                    "equipment_id": ext,
                    "facility_id": fac_ext,
                    "name": name,
                    "next_due": _iso(due),
                    "days_overdue": (as_of - due).days if due else None,
                },
            )


def _sync_run_finished(sender, *, run, **kwargs) -> None:
    events_write(
        [
            (
                EventType.SYNC_RUN_FINISHED,
                None,
                {
                    "sync_run_id": run.pk,
                    "source": run.source,
                    "status": run.status,
                    "counts": {
                        "created": run.created,
                        "updated": run.updated,
                        "unchanged": run.unchanged,
                        "rejected": run.rejected,
                        "deleted": run.deleted,
                    },
                    "error": run.error or None,
                },
            )
        ]
    )


def _model_version_published(sender, *, version: str, published_at: datetime, **kwargs) -> None:
    events_write(
        [
            (
                EventType.MODEL_VERSION_PUBLISHED,
                None,
                {"version": version, "published_at": _iso(published_at)},
            )
        ]
    )


def _voltmetrics_status_changed(sender, *, status: str, since: datetime, **kwargs) -> None:
    try:
        events_write(
            [(EventType.VOLTMETRICS_STATUS_CHANGED, None, {"status": status, "since": _iso(since)})]
        )
    except Exception:  # the breaker's caller is an HTTP call: never fail it for this
        log.exception("could not record the VoltMetrics status event")


def connect() -> None:
    for signal, receiver in (
        (changes.risk_changed, _risk_changed),
        (changes.sync_run_finished, _sync_run_finished),
        (changes.model_version_published, _model_version_published),
        (changes.voltmetrics_status_changed, _voltmetrics_status_changed),
    ):
        signal.in_transaction.connect(receiver, dispatch_uid=f"consumers.{receiver.__name__}")
