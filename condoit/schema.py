"""Validation of Condoit records (condoit-source.md §1 and §4).

Each ``clean_*`` function takes one record as Condoit sent it and returns the values
MasterBus stores, or raises :class:`RecordError` naming the field and the reason. Nothing
here touches the database; mapping of classes and materials happens in the upsert.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from masterbus.api import ids

from .bounds import (
    RecordError,
    check_free_form,
    check_storable,
    check_unknown_fields,
    dumps_bounded,
)

NAME_MAX = 200
SHORT_MAX = 500
TEXT_MAX = 10_000
ID_MAX = ids.ID_MAX
URL_MAX = 2000

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
LEVELS = frozenset({"none", "minimal", "moderate", "severe"})
EXPOSURES = frozenset({"minimal", "moderate", "severe"})
CONDITIONS = frozenset({"Excellent", "Good", "Fair", "Poor", "Critical"})
MAINTENANCE_TYPES = frozenset(
    {"preventive", "corrective", "inspection", "infrared_scan", "emergency"}
)

FACILITY_KEYS = frozenset(
    {
        "id", "name", "address", "latitude", "longitude", "yearBuilt", "contractor",
        "environment", "arcFlashStudyDate", "infraredScanDate", "lastInspectionDate",
        "createdAt", "updatedAt", "deletedAt",
    }
)  # fmt: skip
EQUIPMENT_KEYS = frozenset(
    {
        "id", "facilityId", "equipmentClass", "name", "manufacturer", "model", "serialNumber",
        "installDate", "building", "room", "latitude", "longitude", "feedsFromId", "specs",
        "conductors", "observations", "loadPercent", "arcFlashLabel", "servesCriticalLoad",
        "photos", "createdAt", "updatedAt", "deletedAt",
    }
)  # fmt: skip
MAINTENANCE_KEYS = frozenset(
    {
        "id", "equipmentId", "type", "performedAt", "technician", "findings", "actionsTaken",
        "nextServiceDue", "createdAt", "updatedAt", "deletedAt",
    }
)  # fmt: skip


def record_id_of(record: Any) -> str:
    """Best-effort id of a raw record, for rejection reports."""
    if isinstance(record, dict):
        rid = record.get("id")
        if isinstance(rid, str):
            return rid[:ID_MAX]
        if rid is not None:  # an id of any depth, written without recursion
            return dumps_bounded(rid, ID_MAX)[:ID_MAX]
    return ""


# --- primitives -----------------------------------------------------------------------------


def _missing(rec: dict, key: str) -> bool:
    return rec.get(key) is None


def req_str(rec: dict, key: str, max_len: int, path: str = "") -> str:
    value = rec.get(key)
    field = path + key
    if value is None:
        raise RecordError(field, "is required")
    if not isinstance(value, str):
        raise RecordError(field, f"must be a string, got {type(value).__name__}")
    value = value.strip()
    if not value:
        raise RecordError(field, "must not be empty")
    if len(value) > max_len:
        raise RecordError(field, f"is longer than {max_len} characters")
    if "\x00" in value:
        raise RecordError(field, "must not contain NUL characters")
    return value


def opt_str(rec: dict, key: str, max_len: int, path: str = "") -> str:
    value = rec.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise RecordError(path + key, f"must be a string, got {type(value).__name__}")
    if len(value) > max_len:
        raise RecordError(path + key, f"is longer than {max_len} characters")
    if "\x00" in value:
        raise RecordError(path + key, "must not contain NUL characters")
    return value


def opt_number(
    rec: dict, key: str, lo: float | None = None, hi: float | None = None, path: str = ""
) -> float | None:
    value = rec.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RecordError(path + key, f"must be a number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise RecordError(path + key, "must be a finite number")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise RecordError(path + key, f"must be between {lo:g} and {hi:g}, got {value:g}")
    return value


def opt_int(rec: dict, key: str, lo: int, hi: int, path: str = "") -> int | None:
    value = rec.get(key)
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise RecordError(path + key, "must be an integer")
    if not lo <= value <= hi:
        raise RecordError(path + key, f"must be between {lo} and {hi}, got {value}")
    return value


def opt_enum(rec: dict, key: str, allowed: frozenset[str], path: str = "") -> str:
    value = rec.get(key)
    if value is None:
        return ""
    if not isinstance(value, str) or value not in allowed:
        raise RecordError(path + key, f"must be one of {', '.join(sorted(allowed))}")
    return value


def opt_date(rec: dict, key: str, path: str = "") -> date | None:
    value = rec.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not _DATE_RE.match(value):
        raise RecordError(path + key, "must be a date YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise RecordError(path + key, f"is not a real date: {value}") from None


def opt_ts(rec: dict, key: str, path: str = "") -> datetime | None:
    value = rec.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not _TS_RE.match(value):
        raise RecordError(path + key, "must be an ISO 8601 timestamp with an offset")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise RecordError(path + key, f"is not a real timestamp: {value}") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise RecordError(path + key, "must carry a UTC offset")
    # Stored as UTC: any offset up to ±23:59 (PostgreSQL keeps none beyond ±15:59), and the
    # instant must be a UTC date between years 1 and 9999.
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise RecordError(path + key, f"is out of range: {value}") from None


def req_ts(rec: dict, key: str) -> datetime:
    value = opt_ts(rec, key)
    if value is None:
        raise RecordError(key, "is required")
    return value


def _optional(kind: type, message: str, absent: Any = None):
    """A check of an optional value of one JSON type: ``check(rec, key, path="")`` gives
    the value when it is a ``kind``, ``absent`` when there is none, and raises ``message``
    otherwise."""

    def check(rec: dict, key: str, path: str = ""):
        value = rec.get(key)
        if value is None:
            return absent
        if not isinstance(value, kind):
            raise RecordError(path + key, message)
        return value

    return check


opt_bool = _optional(bool, "must be true or false")
opt_obj = _optional(dict, "must be an object")
# An absent array reads as an empty one (only ever iterated).
opt_list = _optional(list, "must be an array", absent=())


def coordinates(rec: dict, path: str = "") -> tuple[float | None, float | None]:
    lat = opt_number(rec, "latitude", -90, 90, path)
    lng = opt_number(rec, "longitude", -180, 180, path)
    if (lat is None) != (lng is None):
        raise RecordError(path + "latitude", "latitude and longitude come together or not at all")
    return lat, lng


def _timestamps(rec: dict) -> dict:
    created = req_ts(rec, "createdAt")
    updated = req_ts(rec, "updatedAt")
    return {
        "condoit_created_at": created,
        "condoit_updated_at": updated,
        "deleted_at": opt_ts(rec, "deletedAt"),
    }


def _extra(rec: dict, known: frozenset[str]) -> dict:
    extra = {k: v for k, v in rec.items() if k not in known}
    if extra:
        check_unknown_fields(extra)  # kept as they came: free-form, within the bounds
    return extra


def _require_object(rec: Any) -> dict:
    if not isinstance(rec, dict):
        raise RecordError("record", "must be a JSON object")
    check_storable(rec)  # it is hashed and, when rejected, kept: at any depth
    return rec


# --- records --------------------------------------------------------------------------------


def clean_facility(rec: Any, *, now: datetime) -> dict:
    rec = _require_object(rec)
    out = {"external_id": req_str(rec, "id", ID_MAX), "name": req_str(rec, "name", NAME_MAX)}
    address = opt_obj(rec, "address") or {}
    for key in ("street", "city", "state", "zip"):
        out[key] = opt_str(address, key, SHORT_MAX, "address.")
    out["latitude"], out["longitude"] = coordinates(rec)
    out["year_built"] = opt_int(rec, "yearBuilt", 1800, now.year)
    contractor = opt_obj(rec, "contractor") or {}
    out["contractor"] = opt_str(contractor, "name", SHORT_MAX, "contractor.")
    env = opt_obj(rec, "environment") or {}
    out["humidity_avg"] = opt_number(env, "humidityAvg", 0, 100, "environment.")
    out["temperature_avg_f"] = opt_number(env, "temperatureAvgF", -100, 200, "environment.")
    out["outdoor_exposure"] = opt_enum(env, "outdoorExposure", EXPOSURES, "environment.")
    out["arc_flash_study_date"] = opt_date(rec, "arcFlashStudyDate")
    out["infrared_scan_date"] = opt_date(rec, "infraredScanDate")
    out["last_inspection_at"] = opt_ts(rec, "lastInspectionDate")
    latest = (now + timedelta(days=1)).date()
    for key in ("arc_flash_study_date", "infrared_scan_date"):
        if out[key] is not None and out[key] > latest:
            raise RecordError(_camel(key), "is in the future")
    out.update(_timestamps(rec))
    out["extra"] = _extra(rec, FACILITY_KEYS)
    return out


SPEC_NUMBERS = {"amperage": (0, 100_000), "mainDisconnectRating": (0, 100_000)}


def _clean_specs(specs: dict) -> dict:
    check_free_form(specs, "specs")  # unknown keys are kept, within the bounds
    if "voltage" in specs and specs["voltage"] is not None:
        opt_str(specs, "voltage", SHORT_MAX, "specs.")
    for key, (lo, hi) in SPEC_NUMBERS.items():
        opt_number(specs, key, lo, hi, "specs.")
    if specs.get("phases") is not None and opt_int(specs, "phases", 1, 3, "specs.") == 2:
        raise RecordError("specs.phases", "must be 1 or 3")
    for key in ("mountType", "enclosureType"):
        opt_str(specs, key, SHORT_MAX, "specs.")
    opt_int(specs, "slots", 0, 10_000, "specs.")
    opt_bool(specs, "mainDisconnect", "specs.")
    return specs


def _clean_conductors(items: list) -> list[dict]:
    out = []
    for i, item in enumerate(items):
        path = f"conductors[{i}]."
        if not isinstance(item, dict):
            raise RecordError(f"conductors[{i}]", "must be an object")
        size = item.get("size")
        if isinstance(size, int | float) and not isinstance(size, bool):
            size = str(size)
            item = {**item, "size": size}
        out.append(
            {
                "external_id": opt_str(item, "id", ID_MAX, path),
                "material_code": opt_str(item, "material", SHORT_MAX, path).strip(),
                "size": opt_str(item, "size", SHORT_MAX, path),
                "connection_type": opt_str(item, "connectionType", SHORT_MAX, path).strip(),
                "al_cu_transition": bool(opt_bool(item, "alCuTransition", path)),
            }
        )
    return out


def _clean_photos(items: list) -> list[dict]:
    out = []
    seen = set()
    for i, item in enumerate(items):
        path = f"photos[{i}]."
        if not isinstance(item, dict):
            raise RecordError(f"photos[{i}]", "must be an object")
        pid = req_str(item, "id", ID_MAX, path)
        if pid in seen:
            raise RecordError(path + "id", "is repeated")
        seen.add(pid)
        url = req_str(item, "url", URL_MAX, path)
        if not url.startswith(("https://", "http://")):
            raise RecordError(path + "url", "must be an http(s) URL")
        out.append(
            {
                "external_id": pid,
                "url": url,
                "caption": opt_str(item, "caption", SHORT_MAX, path),
                "taken_at": opt_ts(item, "takenAt", path),
            }
        )
    return out


def _clean_observations(obs: dict | None) -> dict | None:
    if obs is None:
        return None
    p = "observations."
    opt_enum(obs, "corrosion", LEVELS, p)
    opt_enum(obs, "rust", LEVELS, p)
    opt_enum(obs, "wear", LEVELS, p)
    opt_bool(obs, "heatDiscoloration", p)
    opt_bool(obs, "clearanceIssue", p)
    opt_number(obs, "operatingTempC", -60, 1000, p)
    opt_enum(obs, "overallCondition", CONDITIONS, p)
    check_free_form(obs, "observations")
    return obs


def clean_equipment(rec: Any, *, now: datetime) -> dict:
    rec = _require_object(rec)
    out = {
        "external_id": req_str(rec, "id", ID_MAX),
        "facility_external_id": req_str(rec, "facilityId", ID_MAX),
        "equipment_class": req_str(rec, "equipmentClass", SHORT_MAX),
        "name": req_str(rec, "name", NAME_MAX),
        "manufacturer": opt_str(rec, "manufacturer", SHORT_MAX),
        "model": opt_str(rec, "model", SHORT_MAX),
        "serial_number": opt_str(rec, "serialNumber", SHORT_MAX),
        "install_date": opt_date(rec, "installDate"),
        "building": opt_str(rec, "building", SHORT_MAX),
        "room": opt_str(rec, "room", SHORT_MAX),
        "feeds_from_external_id": opt_str(rec, "feedsFromId", ID_MAX).strip(),
    }
    if out["install_date"] is not None and out["install_date"] > (now + timedelta(days=1)).date():
        raise RecordError("installDate", "is later than tomorrow")
    if out["feeds_from_external_id"] == out["external_id"]:
        raise RecordError("feedsFromId", "equipment cannot feed itself")
    out["latitude"], out["longitude"] = coordinates(rec)
    out["specs"] = _clean_specs(opt_obj(rec, "specs") or {})
    out["conductors"] = _clean_conductors(opt_list(rec, "conductors"))
    out["observations"] = _clean_observations(opt_obj(rec, "observations"))
    out["load_percent"] = opt_number(rec, "loadPercent", 0, 250)
    label = opt_obj(rec, "arcFlashLabel") or {}
    out["label_present"] = bool(opt_bool(label, "present", "arcFlashLabel."))
    out["incident_energy_cal_cm2"] = opt_number(
        label, "incidentEnergyCalCm2", 0, 10_000, "arcFlashLabel."
    )
    out["ppe_category"] = opt_int(label, "ppeCategory", 0, 4, "arcFlashLabel.")
    out["label_date"] = opt_date(label, "labelDate", "arcFlashLabel.")
    out["serves_critical_load"] = bool(opt_bool(rec, "servesCriticalLoad"))
    out["photos"] = _clean_photos(opt_list(rec, "photos"))
    out.update(_timestamps(rec))
    out["extra"] = _extra(rec, EQUIPMENT_KEYS)
    return out


def clean_maintenance(rec: Any, *, now: datetime) -> dict:
    rec = _require_object(rec)
    out = {
        "external_id": req_str(rec, "id", ID_MAX),
        "equipment_external_id": req_str(rec, "equipmentId", ID_MAX),
        "type": opt_enum(rec, "type", MAINTENANCE_TYPES),
        "performed_at": req_ts(rec, "performedAt"),
        "technician": opt_str(rec, "technician", SHORT_MAX),
        "findings": opt_str(rec, "findings", TEXT_MAX),
        "actions_taken": opt_str(rec, "actionsTaken", TEXT_MAX),
        "next_service_due": opt_date(rec, "nextServiceDue"),
    }
    if not out["type"]:
        raise RecordError("type", "is required")
    if out["performed_at"] > now + timedelta(days=1):
        raise RecordError("performedAt", "is later than tomorrow")
    out.update(_timestamps(rec))
    out["extra"] = _extra(rec, MAINTENANCE_KEYS)
    return out


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


CLEANERS = {
    "facility": clean_facility,
    "equipment": clean_equipment,
    "maintenanceRecord": clean_maintenance,
}
