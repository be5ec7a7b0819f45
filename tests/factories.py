"""Builders of raw Condoit records (camelCase, as Condoit sends them) and of export files."""

import itertools
import json

_seq = itertools.count(1)

TS = "2025-01-01T00:00:00Z"


def facility(**over):
    n = next(_seq)
    rec = {
        "id": f"fac_{n}",
        "name": f"Facility {n}",
        "address": {"street": "123 Main St", "city": "Springfield", "state": "IL", "zip": "62701"},
        "latitude": 39.78,
        "longitude": -89.65,
        "yearBuilt": 1990,
        "contractor": {"name": "Sparky Electric"},
        "environment": {"humidityAvg": 45, "temperatureAvgF": 72, "outdoorExposure": "minimal"},
        "arcFlashStudyDate": "2023-05-01",
        "infraredScanDate": "2024-02-01",
        "lastInspectionDate": "2024-06-01T10:00:00-05:00",
        "createdAt": TS,
        "updatedAt": TS,
        "deletedAt": None,
    }
    rec.update(over)
    return rec


def equipment(facility_id, **over):
    n = next(_seq)
    rec = {
        "id": f"eq_{n}",
        "facilityId": facility_id,
        "equipmentClass": "Panelboard",
        "name": f"Panel {n}",
        "manufacturer": "Square D",
        "model": "NQOD",
        "serialNumber": f"SN{n}",
        "installDate": "2005-03-15",
        "building": "Building 1",
        "room": "Electrical Room 3",
        "specs": {"voltage": "208Y/120V", "amperage": 225, "phases": 3},
        "conductors": [{"id": f"cd_{n}", "material": "CU", "size": "4/0", "connectionType": "lug"}],
        "observations": {"corrosion": "none", "rust": "minimal", "wear": "none"},
        "loadPercent": 55,
        "arcFlashLabel": {"present": True, "incidentEnergyCalCm2": 4.2, "ppeCategory": 2},
        "servesCriticalLoad": False,
        "photos": [],
        "createdAt": TS,
        "updatedAt": TS,
        "deletedAt": None,
    }
    rec.update(over)
    return rec


def maintenance(equipment_id, **over):
    n = next(_seq)
    rec = {
        "id": f"mr_{n}",
        "equipmentId": equipment_id,
        "type": "preventive",
        "performedAt": "2024-03-01T09:00:00Z",
        "technician": "J. Doe",
        "findings": "ok",
        "actionsTaken": "torqued lugs",
        "nextServiceDue": "2025-03-01",
        "createdAt": TS,
        "updatedAt": TS,
        "deletedAt": None,
    }
    rec.update(over)
    return rec


def export_doc(facilities=(), equipment=(), maintenance=()):
    """A Condoit JSON export document holding these records."""
    return {
        "exportedAt": "2025-03-01T00:00:00Z",
        "facilities": list(facilities),
        "equipment": list(equipment),
        "maintenanceRecords": list(maintenance),
    }


def write_export(path, facilities=(), equipment=(), maintenance=()):
    """Write :func:`export_doc` of these records to ``path``; returns ``path``."""
    path.write_text(json.dumps(export_doc(facilities, equipment, maintenance)))
    return path
