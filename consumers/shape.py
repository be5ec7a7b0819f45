"""The one shape of an event as consumers read it (consumers.md §2): the feed's item, and the
body every webhook delivery sends (as bytes)."""

from __future__ import annotations

from datetime import UTC, datetime


def iso_z(moment: datetime) -> str:
    """A moment in UTC, ISO 8601 with a ``Z`` (as the API writes it)."""
    text = moment.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def event_item(public_id: str, type_: str, created_at: datetime, data) -> dict:
    """``{"id", "type", "created_at", "data"}``."""
    return {"id": public_id, "type": type_, "created_at": iso_z(created_at), "data": data}
