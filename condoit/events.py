"""The push door: Condoit's signed events (condoit-source.md §2.3)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from facilities.choices import RecordKind, SyncSource
from facilities.models import ProcessedEvent, SyncRun
from facilities.services import changes_record

from .ingest import MODELS, Ingestor, MissingParent
from .schema import CLEANERS, RecordError, opt_ts, req_str

ACTIONS = ("created", "updated", "deleted")


class EventInvalid(ValueError):
    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class EventConflict(Exception):
    def __init__(self, message: str, details: dict):
        super().__init__(message)
        self.details = details


@dataclass
class EventResult:
    duplicate: bool
    outcome: str
    record_id: str = ""


def _push_run() -> SyncRun:
    """One sync run per UTC day gathers every pushed event."""
    label = f"events {timezone.now():%Y-%m-%d}"
    run = SyncRun.objects.filter(source=SyncSource.PUSH, label=label).first()
    return run or SyncRun.objects.create(source=SyncSource.PUSH, label=label)


def parse_event(body) -> tuple[str, str, str, datetime | None, dict]:
    if not isinstance(body, dict):
        raise EventInvalid("body", "must be a JSON object")
    try:
        event_id = req_str(body, "id", 200)
        event_type = req_str(body, "type", 64)
        occurred_at = opt_ts(body, "occurredAt")
    except RecordError as exc:
        raise EventInvalid(exc.field, exc.reason) from None
    kind, _, action = event_type.partition(".")
    if kind not in CLEANERS or action not in ACTIONS:
        raise EventInvalid(
            "type", "must be <facility|equipment|maintenanceRecord>.<created|updated|deleted>"
        )
    data = body.get("data")
    if not isinstance(data, dict):
        raise EventInvalid("data", "must be an object (the record)")
    return event_id, kind, action, occurred_at, data


def event_apply(body) -> EventResult:
    """Apply one event once. Raises EventInvalid (400) or EventConflict (409)."""
    event_id, kind, action, occurred_at, data = parse_event(body)
    if ProcessedEvent.objects.filter(event_id=event_id).exists():
        return EventResult(duplicate=True, outcome="already processed")
    if action == "deleted" and data.get("deletedAt") is None:
        data = {**data, "deletedAt": body.get("occurredAt") or timezone.now().isoformat()}
    run = _push_run()
    ing = Ingestor(source=SyncSource.PUSH, run=run, missing_parent="raise", track_outcomes=True)
    try:
        CLEANERS[kind](data, now=ing.now)
    except RecordError as exc:
        deleted_id = data.get("id") if action == "deleted" else None
        if isinstance(deleted_id, str) and "\x00" not in deleted_id:
            # A deletion may carry only the id: soft-delete the mirror. (An id holding NUL
            # names no record: the record's own error is answered.)
            try:
                with transaction.atomic():
                    outcome = _soft_delete(run, kind, data["id"], occurred_at)
                    _mark_processed(event_id, kind, action, occurred_at, outcome)
            except IntegrityError:
                return EventResult(duplicate=True, outcome="already processed")
            return EventResult(False, outcome, data["id"])
        ing.reject(kind=kind, record=data, field=exc.field, reason=exc.reason)
        ing.finish()
        raise EventInvalid(exc.field, exc.reason) from None
    try:
        with transaction.atomic():
            ing.add(kind, data)
            ing.flush()
            result = ing.outcomes[-1]
            _mark_processed(event_id, kind, action, occurred_at, result.result)
    except MissingParent as exc:
        raise EventConflict(
            f"{exc.field} {exc.parent_id!r} is not mirrored yet; retry later",
            {exc.field: [f"unknown {exc.parent_id}"]},
        ) from None
    except IntegrityError:
        # The same event id delivered concurrently: the other delivery applied it.
        return EventResult(duplicate=True, outcome="already processed")
    ing.finish()
    return EventResult(False, result.result, result.external_id)


def _mark_processed(event_id, kind, action, occurred_at, outcome) -> None:
    ProcessedEvent.objects.create(
        event_id=event_id,
        event_type=f"{kind}.{action}",
        occurred_at=occurred_at,
        outcome=outcome[:32],
    )


def _soft_delete(run: SyncRun, kind: str, external_id: str, occurred_at: datetime | None) -> str:
    model = MODELS[kind]
    row = model.objects.filter(external_id=external_id).first()
    if row is None:
        return "ignored: unknown record"
    if row.deleted_at is not None:
        return "unchanged"
    if occurred_at is not None and occurred_at < row.condoit_updated_at:
        return "stale"
    now = timezone.now()
    model.objects.filter(pk=row.pk).update(deleted_at=occurred_at or now, changed_at=now)
    facility = ""
    if kind == RecordKind.FACILITY:
        facility = external_id
    elif kind == RecordKind.EQUIPMENT:
        facility = row.facility.external_id
    changes_record(kind=kind, items=[(external_id, facility)], source="push")
    SyncRun.objects.filter(pk=run.pk).update(deleted=F("deleted") + 1)
    return "deleted"
