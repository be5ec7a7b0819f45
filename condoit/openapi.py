"""OpenAPI schemas of Condoit's pushed events (``POST /api/v1/condoit/events``): the event
envelope (condoit-source.md §2.3) and the three records (§1) with the bounds their validation
enforces (§4, schema.py, bounds.py), built from the same constants.

What JSON Schema cannot say is stated in the descriptions: dates no later than the server's
clock plus one day, latitude and longitude given together, an equipment not fed from itself,
photo ids unique within a record, free-form objects at most 32 levels deep and 64 KB, and
that records referring to a facility or equipment not mirrored yet answer 409.

``register()`` adds the named schemas to the document (masterbus.api.schema.COMPONENTS);
``EVENT_BODY`` refers to them.
"""

from __future__ import annotations

from datetime import date

from masterbus.api.schema import COMPONENTS, NO_NUL, NOT_BLANK

from .bounds import FREE_FORM_MAX_BYTES, FREE_FORM_MAX_DEPTH
from .events import ACTIONS
from .schema import (
    CONDITIONS,
    EXPOSURES,
    ID_MAX,
    LEVELS,
    MAINTENANCE_TYPES,
    NAME_MAX,
    SHORT_MAX,
    SPEC_NUMBERS,
    TEXT_MAX,
    URL_MAX,
)

LATER_THAN_TOMORROW = "No later than the server's date plus one day."


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def req_text(max_len: int) -> dict:
    return {"type": "string", "minLength": 1, "maxLength": max_len, "pattern": NOT_BLANK}


def opt_text(max_len: int) -> dict:
    return {"type": "string", "nullable": True, "maxLength": max_len, "pattern": NO_NUL}


def number(lo: float, hi: float) -> dict:
    return {"type": "number", "nullable": True, "minimum": lo, "maximum": hi}


def integer(lo: int, hi: int) -> dict:
    return {"type": "integer", "nullable": True, "minimum": lo, "maximum": hi}


def choice(values) -> dict:
    return {"type": "string", "nullable": True, "enum": [*sorted(values), None]}


BOOL = {"type": "boolean", "nullable": True}
DATE = {"type": "string", "format": "date", "nullable": True}
TIMESTAMP = {"type": "string", "format": "date-time", "description": "With a UTC offset."}
OPT_TIMESTAMP = {**TIMESTAMP, "nullable": True}
FREE_FORM = _ref("CondoitFreeFormValue")
FREE_FORM_NOTE = (
    f"Free-form: kept as sent, at most {FREE_FORM_MAX_DEPTH} levels deep and "
    f"{FREE_FORM_MAX_BYTES // 1024} KB as JSON, no NUL in its strings or keys."
)


def _object(properties: dict, *, required=(), extra=None, nullable=False, **more) -> dict:
    out = {"type": "object", "properties": properties, **more}
    if required:
        out["required"] = list(required)
    if extra is not None:
        out["additionalProperties"] = extra
    if nullable:
        out["nullable"] = True
    return out


def _coordinates() -> dict:
    return {"latitude": number(-90, 90), "longitude": number(-180, 180)}


def _stamps() -> dict:
    return {"createdAt": TIMESTAMP, "updatedAt": TIMESTAMP, "deletedAt": OPT_TIMESTAMP}


def facility_schema() -> dict:
    address = {k: opt_text(SHORT_MAX) for k in ("street", "city", "state", "zip")}
    return _object(
        {
            "id": req_text(ID_MAX),
            "name": req_text(NAME_MAX),
            "address": _object(address, nullable=True),
            **_coordinates(),
            # The bound moves with the calendar: the schema is generated per request.
            "yearBuilt": integer(1800, date.today().year),
            "contractor": _object({"name": opt_text(SHORT_MAX)}, nullable=True),
            "environment": _object(
                {
                    "humidityAvg": number(0, 100),
                    "temperatureAvgF": number(-100, 200),
                    "outdoorExposure": choice(EXPOSURES),
                },
                nullable=True,
            ),
            "arcFlashStudyDate": {**DATE, "description": LATER_THAN_TOMORROW},
            "infraredScanDate": {**DATE, "description": LATER_THAN_TOMORROW},
            "lastInspectionDate": OPT_TIMESTAMP,
            **_stamps(),
        },
        required=("id", "name", "createdAt", "updatedAt"),
        extra=FREE_FORM,
        description="A Condoit facility (condoit-source §1). latitude and longitude come "
        "together or not at all. Unknown fields are kept. " + FREE_FORM_NOTE,
    )


def equipment_schema() -> dict:
    specs = {
        "voltage": opt_text(SHORT_MAX),
        **{key: number(lo, hi) for key, (lo, hi) in SPEC_NUMBERS.items()},
        "phases": {"type": "integer", "nullable": True, "enum": [1, 3, None]},
        "mountType": opt_text(SHORT_MAX),
        "enclosureType": opt_text(SHORT_MAX),
        "slots": integer(0, 10_000),
        "mainDisconnect": BOOL,
    }
    conductor = _object(
        {
            "id": opt_text(ID_MAX),
            "material": opt_text(SHORT_MAX),
            "size": {"anyOf": [opt_text(SHORT_MAX), {"type": "number"}]},
            "connectionType": opt_text(SHORT_MAX),
            "alCuTransition": BOOL,
        }
    )
    photo = _object(
        {
            "id": req_text(ID_MAX),
            "url": {
                "type": "string",
                "maxLength": URL_MAX,
                "pattern": "^\\s*https?://[^\\u0000]*$",
                "description": "Where Condoit serves the image (http or https).",
            },
            "caption": opt_text(SHORT_MAX),
            "takenAt": OPT_TIMESTAMP,
        },
        required=("id", "url"),
    )
    observations = {
        "corrosion": choice(LEVELS),
        "rust": choice(LEVELS),
        "wear": choice(LEVELS),
        "heatDiscoloration": BOOL,
        "clearanceIssue": BOOL,
        "operatingTempC": number(-60, 1000),
        "overallCondition": choice(CONDITIONS),
    }
    label = {
        "present": BOOL,
        "incidentEnergyCalCm2": number(0, 10_000),
        "ppeCategory": integer(0, 4),
        "labelDate": DATE,
    }
    return _object(
        {
            "id": req_text(ID_MAX),
            "facilityId": {
                **req_text(ID_MAX),
                "description": "A facility MasterBus mirrors (else 409 CONFLICT).",
            },
            "equipmentClass": req_text(SHORT_MAX),
            "name": req_text(NAME_MAX),
            **{k: opt_text(SHORT_MAX) for k in ("manufacturer", "model", "serialNumber")},
            "installDate": {**DATE, "description": LATER_THAN_TOMORROW},
            "building": opt_text(SHORT_MAX),
            "room": opt_text(SHORT_MAX),
            **_coordinates(),
            "feedsFromId": {**opt_text(ID_MAX), "description": "Not the record's own id."},
            "specs": _object(specs, extra=FREE_FORM, nullable=True, description=FREE_FORM_NOTE),
            "conductors": {"type": "array", "nullable": True, "items": conductor},
            "observations": _object(
                observations, extra=FREE_FORM, nullable=True, description=FREE_FORM_NOTE
            ),
            "loadPercent": number(0, 250),
            "arcFlashLabel": _object(label, nullable=True),
            "servesCriticalLoad": BOOL,
            "photos": {
                "type": "array",
                "nullable": True,
                "items": photo,
                "description": "Photo ids are unique within the record.",
            },
            **_stamps(),
        },
        required=("id", "facilityId", "equipmentClass", "name", "createdAt", "updatedAt"),
        extra=FREE_FORM,
        description="A Condoit equipment record (condoit-source §1). latitude and longitude "
        "come together or not at all. Unknown fields are kept. " + FREE_FORM_NOTE,
    )


def maintenance_schema() -> dict:
    return _object(
        {
            "id": req_text(ID_MAX),
            "equipmentId": {
                **req_text(ID_MAX),
                "description": "An equipment MasterBus mirrors (else 409 CONFLICT).",
            },
            "type": {"type": "string", "enum": sorted(MAINTENANCE_TYPES)},
            "performedAt": {**TIMESTAMP, "description": LATER_THAN_TOMORROW},
            "technician": opt_text(SHORT_MAX),
            "findings": opt_text(TEXT_MAX),
            "actionsTaken": opt_text(TEXT_MAX),
            "nextServiceDue": DATE,
            **_stamps(),
        },
        required=("id", "equipmentId", "type", "performedAt", "createdAt", "updatedAt"),
        extra=FREE_FORM,
        description="A Condoit maintenance record (condoit-source §1). Unknown fields are "
        "kept. " + FREE_FORM_NOTE,
    )


FREE_FORM_VALUE = {
    "description": "Any JSON value without NUL in its strings or keys.",
    "anyOf": [
        {"type": "string", "nullable": True, "pattern": NO_NUL},
        {"type": "number"},
        {"type": "boolean"},
        {"type": "array", "items": FREE_FORM},
        {"type": "object", "additionalProperties": FREE_FORM},
    ],
}

KINDS = {
    "facility": "CondoitFacility",
    "equipment": "CondoitEquipment",
    "maintenanceRecord": "CondoitMaintenanceRecord",
}


def _event(types: list[str], data: dict, description: str) -> dict:
    return _object(
        {
            "id": {**req_text(200), "description": "Event id; a repeat answers 200."},
            "type": {"type": "string", "enum": types},
            "occurredAt": OPT_TIMESTAMP,
            "data": data,
        },
        required=("id", "type", "data"),
        description=description,
    )


def event_schemas() -> dict[str, dict]:
    upserts = {
        f"{name}Event": _event(
            [f"{kind}.{action}" for action in ACTIONS if action != "deleted"],
            _ref(name),
            f"A {kind} created or updated in Condoit.",
        )
        for kind, name in KINDS.items()
    }
    deletion = _event(
        [f"{kind}.deleted" for kind in KINDS],
        _object(
            {"id": {"type": "string", "pattern": NO_NUL}},
            required=("id",),
            description="The deleted record, or only its id.",
        ),
        "A record deleted in Condoit: soft-deletes the mirror (an unknown id is ignored).",
    )
    return {**upserts, "CondoitDeletionEvent": deletion}


def register() -> None:
    """Put the schemas in the document's components (refreshed with every generation)."""
    COMPONENTS["CondoitFreeFormValue"] = lambda: FREE_FORM_VALUE
    COMPONENTS["CondoitFacility"] = facility_schema
    COMPONENTS["CondoitEquipment"] = equipment_schema
    COMPONENTS["CondoitMaintenanceRecord"] = maintenance_schema
    for name, schema in event_schemas().items():
        COMPONENTS[name] = lambda schema=schema: schema


EVENT_BODY = {
    "oneOf": [_ref(f"{name}Event") for name in KINDS.values()] + [_ref("CondoitDeletionEvent")]
}
