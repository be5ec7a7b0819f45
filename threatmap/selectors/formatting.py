"""JSON-ready values of the payloads: dates ``YYYY-MM-DD``, timestamps ISO 8601 UTC with
``Z``, and the stored observations, factors and keys as ThreatMap shows them."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime


def iso_date(d: date | None) -> str | None:
    return None if d is None else d.isoformat()


def utc_date(ts: datetime | None) -> str | None:
    """A timestamp counts on its UTC date (risk-model.md)."""
    return None if ts is None else ts.astimezone(UTC).date().isoformat()


def iso_ts(ts: datetime | None) -> str | None:
    if ts is None:
        return None
    ts = ts.astimezone(UTC)
    # strftime's %Y does not pad years before 1000 to four digits.
    return f"{ts.year:04d}-{ts:%m-%dT%H:%M:%S}Z"


def latest(*stamps: datetime | None) -> datetime | None:
    known = [s for s in stamps if s is not None]
    return max(known) if known else None


def max_ts(values) -> datetime | None:
    """The latest of ISO timestamps (as ``iso_ts`` writes them); None when none is known."""
    known = [v for v in values if v]
    if not known:
        return None
    return max(datetime.fromisoformat(v) for v in known)


def coordinates(lat, lng) -> dict | None:
    return None if lat is None or lng is None else {"lat": lat, "lng": lng}


def eq_location(e) -> str:
    return ", ".join(p for p in (e.building, e.room) if p)


def level(value: str | None) -> str | None:
    """Observation levels as ThreatMap shows them: none → "None", … (null when unknown)."""
    return value.capitalize() if isinstance(value, str) and value else None


def temperature(obs: dict) -> str | None:
    t = obs.get("operatingTempC")
    if t is None or isinstance(t, bool):
        return None
    return f"{t:g}°C"


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def snake_case(key: str) -> str:
    """``mainDisconnectRating`` → ``main_disconnect_rating``; snake keys stay as they are."""
    return _CAMEL.sub("_", key).replace("-", "_").replace(" ", "_").lower()


def factors(rows) -> list[dict]:
    """Stored factors as the API shows them (the unrounded ``value`` stays internal)."""
    out = []
    for f in rows or ():
        if not isinstance(f, dict) or "factor" not in f:
            continue
        out.append(
            {
                "factor": str(f["factor"]),
                "score": int(f.get("score") or 0),
                "weight": float(f.get("weight") or 0.0),
                "description": str(f.get("description") or ""),
            }
        )
    return out
